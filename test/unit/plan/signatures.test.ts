import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildInitPlan } from '../../../src/plan/init-plan';
import { buildExecPlan } from '../../../src/plan/exec-plan';
import type { Step } from '../../../src/helper/protocol';
import { initOptions, typicalSpec } from './fixtures';

/** Arg types per op, as docs/protocol.md lists them (SECCOMP checked separately). */
const SIGNATURES: Record<string, string> = {
  SETNS: 'str u32', UNSHARE: 'u64', WRITE_FILE: 'u32 str str', CONNECT_CONSOLE: 'str', OPEN_FIFO: 'str',
  CLONE: 'u64 u32', SYNC: 'str', SETID: 'u32 u32', SET_ROOTFS: 'str',
  MOUNT: 'str u32 str str u64 str u32 u32', REMOUNT: 'u32 str u64', PROPAGATION: 'u32 str u64',
  MKNOD: 'str u32 u32 u32 u32 u32', SYMLINK: 'str str', PIVOT_ROOT: '', MOVE_ROOT: '', MASK_PATH: 'str',
  READONLY_PATH: 'str', SETHOSTNAME: 'str', SETDOMAINNAME: 'str', RUN_HOOK: 'str strlist strlist u32',
  CONSOLE: 'u32 u32', READY: '', WAIT_START: '', SETRLIMIT: 'u32 u64 u64', PERSONALITY: 'u32', UMASK: 'u32',
  NO_NEW_PRIVS: '', KEEPCAPS: 'u32', SETUSER: 'u32 u32 strlist u32', CAPS: 'u64 u64 u64 u64 u64', CHDIR: 'str',
  LOOKUP_EXEC: 'str str', FDMAP: 'strlist', CLOSE_FDS: 'u32', EXEC: 'strlist strlist', SETSID: '',
  BIND_DEVICE: 'str str', MKDIR: 'u32 str u32', JOIN_KEYRING: 'str', LOOPBACK_UP: '', USE_CONSOLE_FD: 'u32', CHROOT: '', UMOUNT: 'str u32',
};

function check(steps: readonly Step[]): void {
  for (const [i, s] of steps.entries()) {
    assert.ok(s.what.length > 0, `step ${i} has a description`);
    if (s.op === 'SECCOMP') {
      assert.deepEqual(s.args.slice(0, 4).map((a) => a.t), ['u32', 'strlist', 'u32', 'u32']);
      continue;
    }
    assert.equal(s.args.map((a) => a.t).join(' '), SIGNATURES[s.op], `step ${i} ${s.op} (${s.what})`);
  }
}

test('every step of the plans has the argument types of its op', () => {
  const spec = typicalSpec();
  spec.process!.terminal = true;
  spec.process!.user = { uid: 1, gid: 1, additionalGids: [2] };
  spec.process!.oomScoreAdj = 5;
  spec.domainname = 'example';
  spec.hooks = { createContainer: [{ path: '/h' }], startContainer: [{ path: '/h' }] };
  spec.linux!.namespaces!.push({ type: 'user' }, { type: 'cgroup' }, { type: 'time' });
  spec.linux!.uidMappings = [{ containerID: 0, hostID: 1000, size: 10 }];
  spec.linux!.gidMappings = [{ containerID: 0, hostID: 1000, size: 10 }];
  spec.linux!.timeOffsets = { boottime: { secs: 1 } };
  spec.linux!.personality = { domain: 'LINUX' };
  spec.linux!.devices = [{ type: 'p', path: '/dev/p' }];
  spec.linux!.rootfsPropagation = 'shared';
  spec.mounts!.push({ destination: '/sys/fs/cgroup', type: 'cgroup', options: ['ro', 'rslave'] });
  const plan = buildInitPlan(initOptions(spec, {
    consoleSocket: '/c', preserveFds: 1, cgroupMounts: [{ controller: 'cpu,cpuacct', hostPath: '/sys/fs/cgroup/cpu,cpuacct/x' }],
  }));
  check(plan.steps);
  const seen = new Set(plan.steps.map((s) => s.op));
  check(buildInitPlan(initOptions(typicalSpec(), { noPivot: true })).steps);
  check(buildExecPlan({ spec, process: spec.process!, pid: 1, consoleSocket: '/c', detach: false, preserveFds: 2 }).steps);
  assert.ok(seen.size >= 35, `the rich plan exercises most ops (${seen.size})`);
});
