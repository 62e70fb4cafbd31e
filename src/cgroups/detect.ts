/**
 * Which cgroup layout the host has, read from mountinfo rather than statfs so that a fixture mountinfo file
 * can describe a fake tree under a temp dir.
 */
import { readFileSync } from 'node:fs';
import { CgroupError, describeErrno } from './errors';

/** v1: controller hierarchies only; v2: unified hierarchy at the root; hybrid: v1 plus a cgroup2 side mount. */
export type CgroupMode = 'v1' | 'v2' | 'hybrid';

/** The v1 controllers the library knows how to manage (named hierarchies like name=systemd are ignored). */
export const KNOWN_V1_CONTROLLERS = [
  'cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'pids', 'blkio', 'hugetlb',
  'net_cls', 'net_prio', 'perf_event', 'rdma', 'misc',
] as const;

/** Result of detection. In hybrid mode resources go through v1; the cgroup2 mount is only reported. */
export interface CgroupSetup {
  mode: CgroupMode;
  /** The cgroup root that was searched (/sys/fs/cgroup). */
  root: string;
  /** v1 controller → mountpoint; co-mounted controllers (cpu,cpuacct) share one mountpoint. */
  v1Controllers: Map<string, string>;
  /** v1 controller → the hierarchy path mounted there ("/" on a host, deeper inside a container). */
  v1MountRoots: Map<string, string>;
  /** Mountpoint of the cgroup2 hierarchy, if any. */
  v2Mount?: string;
  /** Hierarchy path mounted at v2Mount ("/" on a host). */
  v2MountRoot?: string;
}

import { parseMountinfo } from '../util/mountinfo';

// The mountinfo parser is shared with the runtime (checkpoint, shared mount namespaces).
export { parseMountinfo, type MountinfoEntry } from '../util/mountinfo';

function isUnder(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith('/') ? root : root + '/');
}

/** Build a CgroupSetup from mountinfo text, considering only cgroup mounts at or below `root`. */
export function setupFromMountinfo(text: string, root = '/sys/fs/cgroup'): CgroupSetup {
  const v1Controllers = new Map<string, string>();
  const v1MountRoots = new Map<string, string>();
  let v2Mount: string | undefined;
  let v2MountRoot: string | undefined;
  const known = new Set<string>(KNOWN_V1_CONTROLLERS);
  for (const m of parseMountinfo(text)) {
    if (!isUnder(m.mountpoint, root)) continue;
    if (m.fstype === 'cgroup2') {
      // A cgroup2 mounted right at the root wins over one mounted deeper (the hybrid "unified" side mount).
      if (v2Mount === undefined || m.mountpoint === root) {
        v2Mount = m.mountpoint;
        v2MountRoot = m.root;
      }
    } else if (m.fstype === 'cgroup') {
      for (const opt of m.superOptions) {
        if (!known.has(opt) || v1Controllers.has(opt)) continue; // first mount of a hierarchy wins (bind mounts repeat it)
        v1Controllers.set(opt, m.mountpoint);
        v1MountRoots.set(opt, m.root);
      }
    }
  }
  let mode: CgroupMode;
  if (v2Mount === root || (v2Mount !== undefined && v1Controllers.size === 0)) mode = 'v2';
  else if (v1Controllers.size > 0) mode = v2Mount !== undefined ? 'hybrid' : 'v1';
  else throw new CgroupError(`no cgroup hierarchy is mounted under ${root}`);
  if (mode === 'v2') {
    v1Controllers.clear();
    v1MountRoots.clear();
  }
  return { mode, root, v1Controllers, v1MountRoots, v2Mount, v2MountRoot };
}

/** Detect the host's cgroup layout; both paths are injectable so tests can point at a fixture tree. */
export function detectCgroupSetup(root = '/sys/fs/cgroup', mountinfo = '/proc/self/mountinfo'): CgroupSetup {
  let text: string;
  try {
    text = readFileSync(mountinfo, 'utf8');
  } catch (err) {
    throw new CgroupError(`cannot read ${mountinfo}: ${describeErrno(err)}`, { cause: err });
  }
  return setupFromMountinfo(text, root.replace(/\/+$/, '') || '/');
}
