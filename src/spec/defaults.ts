/**
 * The config.json that `stasis spec` writes: a shell in a fresh set of namespaces with a small capability
 * set, the usual pseudo filesystems, and the kernel interfaces a container should not see masked or made
 * read-only. The rootless variant maps the caller's uid/gid to root in a user namespace and drops what an
 * unprivileged user cannot set up.
 */
import type { Mount, Namespace, Spec } from './types';
import { OCI_VERSION } from './types';

/** Options of defaultSpec. */
export interface DefaultSpecOptions {
  rootless?: boolean;
  /** host uid/gid to map to root when rootless (default: the caller's) */
  uid?: number;
  gid?: number;
}

/** Capabilities a default container keeps: enough to bind low ports, signal its processes and audit-log. */
const DEFAULT_CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

/** Paths of kernel information that a container should not read at all. */
const MASKED_PATHS = [
  '/proc/acpi', '/proc/asound', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
  '/proc/sched_debug', '/proc/scsi', '/proc/timer_list', '/proc/timer_stats', '/sys/devices/virtual/powercap',
  '/sys/firmware',
];

/** Paths of kernel knobs a container may read but must not change. */
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

function defaultMounts(rootless: boolean): Mount[] {
  const mounts: Mount[] = [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      // gid=5 is the conventional tty group; a rootless container has no mapping for it.
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', ...(rootless ? [] : ['gid=5'])],
    },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  ];
  if (rootless) {
    // sysfs can only be mounted by the owner of the network namespace; the rootless container shares the
    // host's, so it gets a read-only view of the host's /sys instead (which includes /sys/fs/cgroup).
    mounts.push({ destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] });
  } else {
    mounts.push(
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    );
  }
  return mounts;
}

function defaultNamespaces(rootless: boolean): Namespace[] {
  if (rootless) {
    // No network namespace (an unprivileged user could not connect it anywhere) and no cgroup namespace
    // (nothing delegates a cgroup to the user, so there is nothing to root it at).
    return [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'user' }];
  }
  return [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }];
}

/** A fresh default config.json object (a new object on every call, safe to modify). */
export function defaultSpec(opts: DefaultSpecOptions = {}): Spec {
  const rootless = opts.rootless ?? false;
  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: {
        bounding: [...DEFAULT_CAPS],
        effective: [...DEFAULT_CAPS],
        permitted: [...DEFAULT_CAPS],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'stasis',
    mounts: defaultMounts(rootless),
    linux: {
      namespaces: defaultNamespaces(rootless),
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
    },
  };
  if (rootless) {
    const uid = opts.uid ?? process.getuid?.() ?? 0;
    const gid = opts.gid ?? process.getgid?.() ?? 0;
    spec.linux!.uidMappings = [{ containerID: 0, hostID: uid, size: 1 }];
    spec.linux!.gidMappings = [{ containerID: 0, hostID: gid, size: 1 }];
  } else {
    // Deny every device by default; the runtime allows the default devices on top of this.
    spec.linux!.resources = { devices: [{ allow: false, access: 'rwm' }] };
  }
  return spec;
}
