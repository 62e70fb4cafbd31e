import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildInitPlan } from '../../../src/plan/init-plan';
import { encodePlan, ParentMode } from '../../../src/helper/protocol';
import { MS } from '../../../src/plan/mount-options';
import { describe, initOptions, ops, typicalSpec } from './fixtures';

test('golden: the whole plan of a typical container, in order', () => {
  const plan = buildInitPlan(initOptions(typicalSpec()));
  assert.deepEqual(describe(plan.steps), [
    'OPEN_FIFO open start fifo /run/stasis/c1/exec.fifo',
    'CLONE create the container process',
    'SYNC wait for the runtime to set up ids and cgroups',
    'LOOPBACK_UP bring up the loopback interface',
    'JOIN_KEYRING join a new session keyring',
    'SETSID start a new session',
    'PROPAGATION make / rslave',
    'MOUNT bind the root filesystem /var/lib/b/rootfs onto itself',
    'SET_ROOTFS open the root filesystem /var/lib/b/rootfs',
    'MOUNT mount proc on /proc',
    'MOUNT mount tmpfs on /dev',
    'MOUNT mount devpts on /dev/pts',
    'MOUNT bind mount /etc/resolv.conf on /etc/resolv.conf',
    'REMOUNT apply mount options to /etc/resolv.conf',
    'MKDIR create directory /dev/shm',
    'MKNOD create device /dev/null',
    'MKNOD create device /dev/zero',
    'MKNOD create device /dev/full',
    'MKNOD create device /dev/random',
    'MKNOD create device /dev/urandom',
    'MKNOD create device /dev/tty',
    'SYMLINK link /dev/fd to /proc/self/fd',
    'SYMLINK link /dev/stdin to /proc/self/fd/0',
    'SYMLINK link /dev/stdout to /proc/self/fd/1',
    'SYMLINK link /dev/stderr to /proc/self/fd/2',
    'SYMLINK link /dev/ptmx to pts/ptmx',
    'PIVOT_ROOT pivot into the root filesystem',
    'WRITE_FILE set sysctl net.ipv4.ip_forward',
    'MASK_PATH mask /proc/kcore',
    'READONLY_PATH make /proc/sys read-only',
    'SETHOSTNAME set hostname to box',
    'REMOUNT remount / read-only',
    'CHDIR change directory to /',
    'LOOKUP_EXEC find executable sh',
    'SETRLIMIT set RLIMIT_NOFILE to soft 1024 hard 1024',
    'UMASK set umask to 0022',
    'CLOSE_FDS close inherited file descriptors on exec',
    'READY report the container created',
    'WAIT_START wait for start',
    'SETUSER switch to user 0:0',
    'CAPS set capabilities',
    'NO_NEW_PRIVS set no_new_privs',
    'SECCOMP apply seccomp filter (1 rules)',
    'EXEC execute sh',
  ]);
  assert.equal(plan.userns, false);
  assert.equal(plan.hookSync, false);
  // CLONE creates pid, net, ipc, uts, mount namespaces and the parent exits
  const clone = plan.steps[1];
  assert.deepEqual(clone.args.map((a) => a.v), [0x20000000n | 0x40000000n | 0x08000000n | 0x04000000n | 0x00020000n, ParentMode.EXIT]);
  // the plan encodes (every arg well-typed, no NUL)
  assert.ok(encodePlan(plan.steps).length > 100);
});

test('SECCOMP is the last step before EXEC with no_new_privs, before the user change without it', () => {
  const spec = typicalSpec();
  spec.process!.user = { uid: 1000, gid: 1000, additionalGids: [10, 20] };
  let s = ops(buildInitPlan(initOptions(spec)).steps);
  assert.deepEqual(s.slice(s.indexOf('WAIT_START')), ['WAIT_START', 'KEEPCAPS', 'SETUSER', 'CAPS', 'KEEPCAPS', 'NO_NEW_PRIVS', 'SECCOMP', 'EXEC']);
  spec.process!.noNewPrivileges = false;
  s = ops(buildInitPlan(initOptions(spec)).steps);
  assert.deepEqual(s.slice(s.indexOf('WAIT_START')), ['WAIT_START', 'SECCOMP', 'KEEPCAPS', 'SETUSER', 'CAPS', 'KEEPCAPS', 'EXEC']);
  const setuser = buildInitPlan(initOptions(spec)).steps.find((x) => x.op === 'SETUSER')!;
  assert.deepEqual(setuser.args.map((a) => a.v), [1000, 1000, ['10', '20'], 1]);
});

test('root user: no KEEPCAPS; caps masks are passed', () => {
  const plan = buildInitPlan(initOptions(typicalSpec()));
  assert.ok(!ops(plan.steps).includes('KEEPCAPS'));
  const caps = plan.steps.find((x) => x.op === 'CAPS')!;
  assert.deepEqual(caps.args.map((a) => a.v), [1n << 5n, 1n << 5n, 1n << 5n, 0n, 0n]);
});

test('a user-namespace spec binds devices instead of mknod, becomes root, and sets rlimits on the host side', () => {
  const spec = typicalSpec();
  spec.linux!.namespaces!.push({ type: 'user' });
  spec.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  spec.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
  spec.linux!.devices = [{ type: 'c', path: '/dev/fuse', major: 10, minor: 229 }, { type: 'p', path: '/dev/pipe' }];
  const plan = buildInitPlan(initOptions(spec, { rootless: true }));
  const s = ops(plan.steps);
  assert.equal(plan.userns, true);
  assert.deepEqual(plan.uidMappings, spec.linux!.uidMappings);
  assert.deepEqual(plan.gidMappings, spec.linux!.gidMappings);
  assert.deepEqual(plan.steps.filter((x) => x.op === 'MKNOD').map((x) => x.what), ['create device /dev/pipe'], 'fifos can still be made');
  assert.deepEqual(plan.steps.filter((x) => x.op === 'BIND_DEVICE').map((x) => x.args[0].v),
    ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty', '/dev/fuse']);
  assert.equal(s[0], 'SETRLIMIT');
  assert.equal(s.filter((x) => x === 'SETRLIMIT').length, 1);
  assert.deepEqual(s.slice(s.indexOf('SYNC'), s.indexOf('SYNC') + 5), ['SYNC', 'SETID', 'LOOPBACK_UP', 'JOIN_KEYRING', 'SETSID']);
  const clone = plan.steps.find((x) => x.op === 'CLONE')!;
  assert.equal((clone.args[0].v as bigint) & 0x10000000n, 0x10000000n);
  assert.equal(plan.steps.find((x) => x.op === 'SETUSER')!.args[3].v, 0, 'rootless: setgroups denied');
});

test('namespaces given by path are joined after the host paths are opened, user first', () => {
  const spec = typicalSpec();
  spec.linux!.namespaces = [
    { type: 'network', path: '/var/run/netns/n1' }, { type: 'mount' }, { type: 'uts' },
    { type: 'user', path: '/proc/42/ns/user' }, { type: 'ipc', path: '/proc/42/ns/ipc' },
  ];
  const plan = buildInitPlan(initOptions(spec));
  assert.deepEqual(describe(plan.steps.slice(0, 5)), [
    'SETRLIMIT set RLIMIT_NOFILE to soft 1024 hard 1024',
    `OPEN_FIFO open start fifo ${initOptions(spec).fifoPath}`,
    'SETNS join user namespace /proc/42/ns/user',
    'SETNS join ipc namespace /proc/42/ns/ipc',
    'SETNS join network namespace /var/run/netns/n1',
  ]);
  assert.equal(plan.steps[2].args[1].v, 0x10000000);
  assert.equal(plan.userns, false, 'a joined user namespace needs no maps');
  assert.ok(ops(plan.steps).includes('SETID'));
  spec.linux!.namespaces = [{ type: 'mount', path: '/proc/42/ns/mnt' }];
  assert.ok(ops(buildInitPlan(initOptions(spec)).steps).includes('PIVOT_ROOT'), 'a joined mount namespace is set up like a new one');
});

test('cgroup and time namespaces are unshared outside CLONE, with offsets written on the host side', () => {
  const spec = typicalSpec();
  spec.linux!.namespaces!.push({ type: 'cgroup' }, { type: 'time' });
  spec.linux!.timeOffsets = { monotonic: { secs: 3600, nanosecs: 5 }, boottime: { secs: -10 } };
  const plan = buildInitPlan(initOptions(spec));
  assert.deepEqual(describe(plan.steps.slice(1, 3)), ['UNSHARE create time namespace', 'WRITE_FILE set time namespace offsets']);
  assert.deepEqual(plan.steps[2].args.map((a) => a.v), [0, '/proc/self/timens_offsets', 'monotonic 3600 5\nboottime -10 0\n']);
  const clone = plan.steps.find((x) => x.op === 'CLONE')!;
  assert.equal((clone.args[0].v as bigint) & (0x02000000n | 0x80n), 0n);
  const s = ops(plan.steps);
  assert.deepEqual(s.slice(s.indexOf('SYNC'), s.indexOf('SYNC') + 5), ['SYNC', 'UNSHARE', 'LOOPBACK_UP', 'JOIN_KEYRING', 'SETSID']);
  assert.equal(plan.steps[s.indexOf('SYNC') + 1].args[0].v, 0x02000000n);
});

test('hooks: sync point only with hooks, createContainer before pivot, startContainer after start', () => {
  const spec = typicalSpec();
  assert.equal(buildInitPlan(initOptions(spec)).hookSync, false);
  assert.ok(!buildInitPlan(initOptions(spec)).steps.some((x) => x.op === 'SYNC' && x.args[0].v === 'hooks'));
  spec.hooks = { poststart: [{ path: '/bin/p' }] };
  assert.equal(buildInitPlan(initOptions(spec)).hookSync, false, 'poststart alone needs no sync');
  spec.hooks = {
    createContainer: [{ path: '/bin/cc', args: ['cc', '-x'], env: ['A=1'], timeout: 5 }],
    startContainer: [{ path: '/bin/sc' }],
  };
  const plan = buildInitPlan(initOptions(spec));
  assert.equal(plan.hookSync, true);
  const d = describe(plan.steps);
  const at = (w: string) => d.indexOf(w);
  assert.ok(at('SYMLINK link /dev/ptmx to pts/ptmx') < at('SYNC wait for the runtime hooks'));
  assert.equal(at('RUN_HOOK run createContainer hook /bin/cc'), at('SYNC wait for the runtime hooks') + 1);
  assert.equal(at('PIVOT_ROOT pivot into the root filesystem'), at('RUN_HOOK run createContainer hook /bin/cc') + 1);
  assert.equal(at('RUN_HOOK run startContainer hook /bin/sc'), at('WAIT_START wait for start') + 1);
  const cc = plan.steps[at('RUN_HOOK run createContainer hook /bin/cc')];
  assert.deepEqual(cc.args.map((a) => a.v), ['/bin/cc', ['cc', '-x'], ['A=1'], 5000]);
  assert.deepEqual(plan.steps[at('RUN_HOOK run startContainer hook /bin/sc')].args.map((a) => a.v), ['/bin/sc', ['/bin/sc'], [], 0]);
});

test('terminal, preserved fds, foreground, no-pivot, oom score, personality, umask', () => {
  const spec = typicalSpec();
  spec.process!.terminal = true;
  spec.process!.consoleSize = { height: 40, width: 120 };
  spec.process!.oomScoreAdj = 100;
  spec.process!.user!.umask = 0o077;
  spec.linux!.personality = { domain: 'LINUX32' };
  assert.throws(() => buildInitPlan(initOptions(spec)), { message: 'process.terminal: a terminal needs a console socket (--console-socket), or run it in the foreground' });
  assert.ok(ops(buildInitPlan({ ...initOptions(spec), consoleFd: 6 }).steps).includes('USE_CONSOLE_FD'), 'stasis can hand the socket over as an fd');
  const plan = buildInitPlan(initOptions(spec, { consoleSocket: '/tmp/console.sock', preserveFds: 2, foreground: true, noPivot: true }));
  const d = describe(plan.steps);
  assert.deepEqual(d.slice(0, 4), [
    'WRITE_FILE set oom_score_adj to 100',
    'CONNECT_CONSOLE connect to console socket /tmp/console.sock',
    'OPEN_FIFO open start fifo /run/stasis/c1/exec.fifo',
    'CLONE create the container process',
  ]);
  assert.equal(plan.steps[3].args[1].v, ParentMode.WAIT);
  assert.ok(d.includes('MOVE_ROOT move the root filesystem onto / (no pivot_root)'));
  assert.ok(!d.some((x) => x.startsWith('PIVOT_ROOT')));
  const s = ops(plan.steps);
  assert.deepEqual(s.slice(s.indexOf('CONSOLE'), s.indexOf('READY') + 1),
    ['CONSOLE', 'CHDIR', 'LOOKUP_EXEC', 'SETRLIMIT', 'PERSONALITY', 'UMASK', 'FDMAP', 'CLOSE_FDS', 'READY']);
  assert.deepEqual(plan.steps[s.indexOf('CONSOLE')].args.map((a) => a.v), [40, 120]);
  assert.deepEqual(plan.steps[s.indexOf('FDMAP')].args[0].v, ['5:3', '6:4']);
  assert.equal(plan.steps[s.indexOf('CLOSE_FDS')].args[0].v, 4);
  assert.equal(plan.steps[s.indexOf('PERSONALITY')].args[0].v, 8);
  assert.equal(plan.steps[s.indexOf('UMASK')].args[0].v, 0o077);
});

test('rootfs propagation: shared makes the parent mount private and is re-applied after pivot', () => {
  const spec = typicalSpec();
  spec.linux!.rootfsPropagation = 'rshared';
  const plan = buildInitPlan(initOptions(spec));
  const d = describe(plan.steps);
  assert.ok(d.includes('PROPAGATION make / rshared'));
  assert.ok(d.includes('PROPAGATION make /var/lib private (pivot_root refuses a shared parent mount)'));
  assert.equal(d[d.indexOf('PIVOT_ROOT pivot into the root filesystem') + 1], 'PROPAGATION make the new / rshared');
  const after = plan.steps[d.indexOf('PROPAGATION make the new / rshared')];
  assert.deepEqual(after.args.map((a) => a.v), [0, '/', BigInt(MS.SHARED | MS.REC)]);
});

test('/dev bound from the host: no device nodes or links are created', () => {
  const spec = typicalSpec();
  spec.mounts = [{ destination: '/dev', type: 'bind', source: '/dev', options: ['rbind'] }];
  const s = ops(buildInitPlan(initOptions(spec)).steps);
  assert.ok(!s.includes('MKNOD') && !s.includes('SYMLINK') && !s.includes('MKDIR'));
});

test('sysctl keys with slashes are used as paths', () => {
  const spec = typicalSpec();
  spec.linux!.sysctl = { 'net/ipv4/conf/eth0.100/forwarding': '1', 'net.core.somaxconn': '512' };
  const writes = buildInitPlan(initOptions(spec)).steps.filter((x) => x.op === 'WRITE_FILE').map((x) => x.args[1].v);
  assert.deepEqual(writes, ['/proc/sys/net/ipv4/conf/eth0.100/forwarding', '/proc/sys/net/core/somaxconn']);
});

test('LOOKUP_EXEC uses the container PATH, or a default', () => {
  const spec = typicalSpec();
  let look = buildInitPlan(initOptions(spec)).steps.find((x) => x.op === 'LOOKUP_EXEC')!;
  assert.deepEqual(look.args.map((a) => a.v), ['sh', '/usr/bin:/bin']);
  spec.process!.env = [];
  look = buildInitPlan(initOptions(spec)).steps.find((x) => x.op === 'LOOKUP_EXEC')!;
  assert.equal(look.args[1].v, '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
});

test('a new session keyring is joined unless --no-new-keyring', () => {
  const spec = typicalSpec();
  const withKeyring = buildInitPlan({ ...initOptions(spec), id: 'c9' }).steps.find((x) => x.op === 'JOIN_KEYRING');
  assert.equal(withKeyring?.args[0].v, '_ses.c9');
  assert.ok(!buildInitPlan({ ...initOptions(spec), newKeyring: false }).steps.some((x) => x.op === 'JOIN_KEYRING'));
});

test('a new network namespace gets its loopback brought up; a joined one is left alone', () => {
  const spec = typicalSpec();
  spec.linux!.namespaces = [{ type: 'mount' }, { type: 'network' }];
  assert.ok(buildInitPlan(initOptions(spec)).steps.some((x) => x.op === 'LOOPBACK_UP'));
  spec.linux!.namespaces = [{ type: 'mount' }, { type: 'network', path: '/var/run/netns/x' }];
  assert.ok(!buildInitPlan(initOptions(spec)).steps.some((x) => x.op === 'LOOPBACK_UP'));
});

test('without a mount namespace the host mount table is left alone: no propagation change, chroot, a private self-bind', () => {
  const spec = typicalSpec();
  spec.linux!.namespaces = [{ type: 'pid' }];
  const steps = buildInitPlan(initOptions(spec)).steps;
  const s = ops(steps);
  assert.ok(!steps.some((x) => x.op === 'PROPAGATION' && x.args[1].v === '/'), 'the host root propagation is not touched');
  assert.ok(s.includes('CHROOT') && !s.includes('PIVOT_ROOT') && !s.includes('MOVE_ROOT'));
  const bind = s.indexOf('MOUNT');
  assert.deepEqual(s.slice(bind, bind + 3), ['MOUNT', 'PROPAGATION', 'SET_ROOTFS']);
  assert.equal(steps[bind + 1].args[2].v, 0x40000n | 0x4000n, 'the self-bind is made rprivate');
});

test('cgroup v2: a fresh cgroup2 with a cgroup namespace, else a bind with a bind remount — never a remount of the host superblock', () => {
  const spec = typicalSpec();
  spec.mounts = [...(spec.mounts ?? []), { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid'] }];
  const v2 = [{ controller: '', hostPath: '/sys/fs/cgroup/stasis/c1' }];
  spec.linux!.namespaces = [{ type: 'mount' }, { type: 'cgroup' }];
  let steps = buildInitPlan({ ...initOptions(spec), cgroupMounts: v2 }).steps.filter((x) => String(x.args[2]?.v ?? '').startsWith('/sys/fs/cgroup') || String(x.args[1]?.v ?? '').startsWith('/sys/fs/cgroup'));
  assert.deepEqual(steps.map((x) => x.op), ['MOUNT']);
  assert.equal(steps[0].args[3].v, 'cgroup2');
  spec.linux!.namespaces = [{ type: 'mount' }];
  steps = buildInitPlan({ ...initOptions(spec), cgroupMounts: v2 }).steps.filter((x) => x.what.includes('/sys/fs/cgroup'));
  assert.deepEqual(steps.map((x) => x.op), ['MOUNT', 'REMOUNT']);
  assert.equal((steps[1].args[2].v as bigint) & 0x1000n, 0x1000n, 'the remount carries MS_BIND');
});
