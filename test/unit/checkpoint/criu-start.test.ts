/** How CRIU is started (pure parts): its private mount namespace, the cgroup yard, the kdat cache. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CRIU_SOCKET_FD, cgroupYardBinds, criuEnv, criuNamespaceSteps } from '../../../src/runtime/criu-start';
import { TMPFS_MAGIC, ensureKdatDir, fnv1a64, kdatCacheDir, underRun, type KdatHost } from '../../../src/criu/kdat-cache';
import { parseMountinfo } from '../../../src/util/mountinfo';
import { criuJoinsPristineNetns } from '../../../src/runtime/checkpoint-criu';
import { criuCgroupJoin } from '../../../src/runtime/restore-prepare';

const HYBRID_MOUNTS = parseMountinfo(
  [
    '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
    '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
    '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
    '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
    '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
    // a bind of a sub-cgroup is not the hierarchy's root: never used
    '50 23 0:32 /stasis/c /mnt/memory rw,relatime - cgroup cgroup rw,memory',
  ].join('\n'),
);

test('cgroupYardBinds names each hierarchy as criu looks it up and binds its root mount', () => {
  const self = '9:name=systemd:/\n4:memory:/a/b\n2:cpu,cpuacct:/\n0::/\n';
  const { binds, complete } = cgroupYardBinds(self, HYBRID_MOUNTS);
  assert.equal(complete, true);
  assert.deepEqual(binds, [
    { name: 'systemd', source: '/sys/fs/cgroup/systemd' },
    { name: 'memory', source: '/sys/fs/cgroup/memory' },
    { name: 'cpu,cpuacct', source: '/sys/fs/cgroup/cpu,cpuacct' },
    { name: 'unified', source: '/sys/fs/cgroup/unified' },
  ]);
});

test('cgroupYardBinds reports a hierarchy without a root mount as incomplete', () => {
  const { binds, complete } = cgroupYardBinds('7:pids:/\n4:memory:/\n', HYBRID_MOUNTS);
  assert.equal(complete, false);
  assert.deepEqual(binds, [{ name: 'memory', source: '/sys/fs/cgroup/memory' }]);
});

test('the namespace plan: private first, rootfs bound, cache as /run with the xtables lock, yard, then criu', () => {
  const steps = criuNamespaceSteps({
    criuPath: '/usr/sbin/criu',
    env: ['PATH=/bin'],
    rootfs: '/b/rootfs',
    kdatDir: '/dev/shm/.k',
    xtablesLock: true,
    yard: { path: '/run/cgroup-yard', binds: [{ name: 'memory', source: '/sys/fs/cgroup/memory' }] },
  });
  assert.deepEqual(steps.map((s) => s.op), ['UNSHARE', 'PROPAGATION', 'MOUNT', 'MOUNT', 'MOUNT', 'MOUNT', 'MOUNT', 'LOOKUP_EXEC', 'READY', 'EXEC']);
  // MS_REC | MS_PRIVATE on /, before any mount: nothing propagates to the host.
  assert.deepEqual(steps[1].args.slice(1), [{ t: 'str', v: '/' }, { t: 'u64', v: BigInt(16384 | (1 << 18)) }]);
  const targets = steps.filter((s) => s.op === 'MOUNT').map((s) => [s.args[0].v, s.args[2].v]);
  assert.deepEqual(targets, [
    ['/b/rootfs', '/b/rootfs'],
    ['/run/xtables.lock', '/dev/shm/.k/xtables.lock'],
    ['/dev/shm/.k', '/run'],
    ['tmpfs', '/run/cgroup-yard'],
    ['/sys/fs/cgroup/memory', '/run/cgroup-yard/memory'],
  ]);
  // the cache bind is recursive, so that it carries the lock's bind along
  assert.equal(steps[4].args[4].v, BigInt(4096 | 16384));
  assert.deepEqual(steps.at(-1)!.args[0], { t: 'strlist', v: ['/usr/sbin/criu', 'swrk', String(CRIU_SOCKET_FD)] });
  assert.deepEqual(steps.at(-1)!.args[1], { t: 'strlist', v: ['PATH=/bin'] });
});

test('the namespace plan without cache, rootfs or yard only makes the namespace private', () => {
  const steps = criuNamespaceSteps({ criuPath: 'criu', env: [] });
  assert.deepEqual(steps.map((s) => s.op), ['UNSHARE', 'PROPAGATION', 'LOOKUP_EXEC', 'READY', 'EXEC']);
});

test('a dump of a pristine netns runs criu inside it; its restore runs criu in a fresh one with lo up', () => {
  const dump = criuNamespaceSteps({ criuPath: 'criu', env: [], netns: { join: '/proc/42/ns/net' } });
  assert.deepEqual(dump.map((s) => s.op), ['UNSHARE', 'PROPAGATION', 'SETNS', 'LOOKUP_EXEC', 'READY', 'EXEC']);
  assert.deepEqual(dump[2].args, [{ t: 'str', v: '/proc/42/ns/net' }, { t: 'u32', v: 0x40000000 }]);
  const restore = criuNamespaceSteps({ criuPath: 'criu', env: [], rootfs: '/r', netns: 'fresh' });
  assert.deepEqual(restore.map((s) => s.op), ['UNSHARE', 'PROPAGATION', 'UNSHARE', 'LOOPBACK_UP', 'MOUNT', 'LOOKUP_EXEC', 'READY', 'EXEC']);
  assert.deepEqual(restore[2].args, [{ t: 'u64', v: 0x40000000n }]);
});

test('on cgroup v1 criu joins the container\'s cgroup itself, first thing, through `tasks`', () => {
  const join = criuCgroupJoin('v1', { memory: '/sys/fs/cgroup/memory/s/c', cpu: '/sys/fs/cgroup/cpu,cpuacct/s/c', cpuacct: '/sys/fs/cgroup/cpu,cpuacct/s/c' });
  assert.deepEqual(join, ['/sys/fs/cgroup/memory/s/c/tasks', '/sys/fs/cgroup/cpu,cpuacct/s/c/tasks']);
  assert.equal(criuCgroupJoin('v2', { '': '/sys/fs/cgroup/s/c' }), undefined, 'v2: stasis writes cgroup.procs');
  const steps = criuNamespaceSteps({ criuPath: 'criu', env: [], cgroupJoin: join });
  assert.deepEqual(steps.map((s) => s.op), ['WRITE_FILE', 'WRITE_FILE', 'UNSHARE', 'PROPAGATION', 'LOOKUP_EXEC', 'READY', 'EXEC']);
  assert.deepEqual(steps[0].args.slice(1), [{ t: 'str', v: '/sys/fs/cgroup/memory/s/c/tasks' }, { t: 'str', v: '0' }]);
});

test('restore rebuilds the cgroup tmpfs: tmpfs, entries relative to it, then read-only', () => {
  const layout = { mountpoint: '/sys/fs/cgroup', dirs: ['memory', 'cpu,cpuacct'], links: [{ name: 'cpu', target: 'cpu,cpuacct' }] };
  const steps = criuNamespaceSteps({ criuPath: 'criu', env: [], cgroupTmpfs: { path: '/run/y/stasis-cgroupfs', layout } });
  assert.deepEqual(steps.map((s) => s.op), ['UNSHARE', 'PROPAGATION', 'MOUNT', 'SET_ROOTFS', 'MKDIR', 'MKDIR', 'SYMLINK', 'REMOUNT', 'LOOKUP_EXEC', 'READY', 'EXEC']);
  assert.deepEqual(steps[2].args.slice(2, 6).map((a) => a.v), ['/run/y/stasis-cgroupfs', 'tmpfs', BigInt(2 | 4 | 8), 'mode=755']);
  assert.deepEqual(steps[5].args.map((a) => a.v), [1, '/cpu,cpuacct', 0o755]);
  assert.deepEqual(steps[6].args.map((a) => a.v), ['cpu,cpuacct', '/cpu']);
  assert.deepEqual(steps[7].args.map((a) => a.v), [0, '/run/y/stasis-cgroupfs', BigInt(1 | 2 | 4 | 8)]);
});

test('criuJoinsPristineNetns: only a plain dump of a pristine namespace, never with a page server', () => {
  assert.equal(criuJoinsPristineNetns(true, {}, 'DUMP'), true);
  assert.equal(criuJoinsPristineNetns(false, {}, 'DUMP'), false);
  assert.equal(criuJoinsPristineNetns(true, { lazyPages: true }, 'DUMP'), false);
  assert.equal(criuJoinsPristineNetns(true, { pageServer: '127.0.0.1:27' }, 'DUMP'), false);
  assert.equal(criuJoinsPristineNetns(true, {}, 'PRE_DUMP'), false);
});

test('criuEnv drops Node variables', () => {
  assert.deepEqual(criuEnv({ PATH: '/bin', NODE_OPTIONS: '-x', NODE_EXTRA_CA_CERTS: 'f', HOME: '/root' }), ['PATH=/bin', 'HOME=/root']);
});

function host(over: Partial<KdatHost> & { run?: number; shm?: number } = {}): KdatHost {
  return {
    fsType: (p) => (p === '/run' ? (over.run ?? 0xef53) : (over.shm ?? TMPFS_MAGIC)),
    bootId: over.bootId ?? (() => 'boot-1'),
    binaryId: over.binaryId ?? (() => '/usr/sbin/criu:100:5:7'),
  };
}

test('kdatCacheDir: none when /run is a tmpfs or /dev/shm is not, keyed by boot and binary otherwise', () => {
  assert.equal(kdatCacheDir('/c', host({ run: TMPFS_MAGIC })), undefined);
  assert.equal(kdatCacheDir('/c', host({ shm: 0xef53 })), undefined);
  assert.equal(kdatCacheDir('/c', host({ binaryId: () => undefined })), undefined);
  const a = kdatCacheDir('/c', host());
  assert.match(a!, /^\/dev\/shm\/\.stasis-criu-kdat-[0-9a-f]{16}$/);
  assert.equal(kdatCacheDir('/c', host()), a);
  assert.notEqual(kdatCacheDir('/c', host({ bootId: () => 'boot-2' })), a);
  assert.notEqual(kdatCacheDir('/c', host({ binaryId: () => '/usr/sbin/criu:101:5:7' })), a);
});

test('ensureKdatDir creates a 0700 directory and refuses one others could write', (t) => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-kdat-'));
  t.after(() => fs.rmSync(base, { recursive: true, force: true }));
  const dir = path.join(base, 'k');
  assert.equal(ensureKdatDir(dir), true);
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  assert.equal(ensureKdatDir(dir), true);
  fs.chmodSync(dir, 0o777);
  assert.equal(ensureKdatDir(dir), false);
  const link = path.join(base, 'l');
  fs.symlinkSync(base, link);
  assert.equal(ensureKdatDir(link), false);
});

test('ensureKdatDir removes a stale criu.kdat.tmp (it would block every later save)', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-kdat-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tmp = path.join(dir, 'criu.kdat.tmp');
  fs.writeFileSync(tmp, '');
  assert.equal(ensureKdatDir(dir), true);
  assert.equal(fs.existsSync(tmp), true, 'a fresh one may belong to a running criu');
  const old = new Date(Date.now() - 120_000);
  fs.utimesSync(tmp, old, old);
  assert.equal(ensureKdatDir(dir), true);
  assert.equal(fs.existsSync(tmp), false);
});

test('underRun', () => {
  assert.equal(underRun('/run'), true);
  assert.equal(underRun('/run/containers/x'), true);
  assert.equal(underRun('/running'), false);
  assert.equal(underRun('/var/run'), false);
});

test('fnv1a64 matches the reference vectors', () => {
  assert.equal(fnv1a64(''), 'cbf29ce484222325');
  assert.equal(fnv1a64('a'), 'af63dc4c8601ec8c');
  assert.equal(fnv1a64('foobar'), '85944171f73967e8');
});

test('the namespace plan runs other criu commands (the lazy-pages daemon) with their own arguments', () => {
  const steps = criuNamespaceSteps({ criuPath: '/c', env: [], kdatDir: '/dev/shm/.k', args: ['lazy-pages', '--daemon'] });
  assert.deepEqual(steps.at(-1)!.args[0], { t: 'strlist', v: ['/c', 'lazy-pages', '--daemon'] });
  assert.deepEqual(steps.map((s) => s.op), ['UNSHARE', 'PROPAGATION', 'MOUNT', 'LOOKUP_EXEC', 'READY', 'EXEC']);
});

test('a restore namespace gets the empty read-only tmpfs masked directories are bound from', () => {
  const steps = criuNamespaceSteps({ criuPath: '/c', env: [], yard: { path: '/y', binds: [] }, maskedDir: '/y/stasis-masked' });
  const masked = steps.find((s) => s.op === 'MOUNT' && s.args[2].v === '/y/stasis-masked')!;
  assert.equal(masked.args[3].v, 'tmpfs');
  // MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, the flags of create's mask
  assert.equal(masked.args[4].v, BigInt(1 | 2 | 4 | 8));
  assert.equal(masked.args[5].v, 'size=4k,nr_inodes=1');
});
