/** Shared inputs for the plan tests. */
import type { HostFacts } from '../../../src/plan/host';
import type { InitPlanOptions } from '../../../src/plan/init-plan';
import type { Spec } from '../../../src/spec/types';
import type { Step } from '../../../src/helper/protocol';

/** A fixed host: /etc/resolv.conf is a file, everything else a directory, / the only mount. */
export const fakeHost: HostFacts = {
  fileKind: (p) => (p.endsWith('.conf') ? 'file' : 'dir'),
  mountPointOf: () => '/var/lib',
};

/** A typical container spec (fresh copy per call). */
export function typicalSpec(): Spec {
  return {
    ociVersion: '1.2.0',
    root: { path: 'rootfs', readonly: true },
    process: {
      args: ['sh', '-c', 'echo hi'],
      cwd: '/',
      env: ['PATH=/usr/bin:/bin', 'TERM=xterm'],
      user: { uid: 0, gid: 0 },
      capabilities: { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] },
      rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 1024 }],
      noNewPrivileges: true,
    },
    hostname: 'box',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance'] },
      { destination: '/etc/resolv.conf', type: 'bind', source: '/etc/resolv.conf', options: ['rbind', 'ro'] },
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: ['/proc/kcore'],
      readonlyPaths: ['/proc/sys'],
      sysctl: { 'net.ipv4.ip_forward': '1' },
      seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['kexec_load'], action: 'SCMP_ACT_ERRNO' }] },
    },
  };
}

/** Options around a spec. */
export function initOptions(spec: Spec, extra: Partial<InitPlanOptions> = {}): InitPlanOptions {
  return {
    spec, rootfs: '/var/lib/b/rootfs', fifoPath: '/run/stasis/c1/exec.fifo', noPivot: false, preserveFds: 0,
    foreground: false, host: fakeHost, ...extra,
  };
}

/** "OP what" per step, for order assertions. */
export function describe(steps: readonly Step[]): string[] {
  return steps.map((s) => `${s.op} ${s.what}`);
}

/** Just the op names. */
export function ops(steps: readonly Step[]): string[] {
  return steps.map((s) => s.op);
}
