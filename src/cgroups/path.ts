/**
 * OCI `linux.cgroupsPath` → host directories, with runc's cgroupfs semantics:
 * - absolute ("/a/b"): relative to each hierarchy's (visible) root;
 * - relative ("a/b"): relative to the cgroup the calling process is in, per v1 controller / the v2 line;
 * - empty: `/stasis/<id>`. runc nests an empty path under the caller's cgroup instead; a fixed absolute parent
 *   keeps all stasis containers in one place and makes `delete` from another shell find the same directory;
 * - systemd style ("slice:prefix:name"): rejected, systemd cgroups are not supported;
 * - ".." segments: rejected so a spec cannot escape the hierarchy.
 */
import { readFileSync } from 'node:fs';
import * as posix from 'node:path/posix';
import { CgroupSetup, KNOWN_V1_CONTROLLERS } from './detect';
import { CgroupError, describeErrno } from './errors';

/** Parent used when cgroupsPath is empty. */
export const DEFAULT_CGROUP_PARENT = '/stasis';

/** A cgroupsPath after validation: `path` is normalised ("/a/b" or "a/b"), never empty. */
export interface NormalizedCgroupsPath {
  absolute: boolean;
  path: string;
}

/** Where a container's cgroup lives on the host. */
export interface CgroupLocation {
  version: 'v1' | 'v2';
  /** v1: controller → host directory (co-mounted controllers map to the same directory). */
  v1: Map<string, string>;
  /** v2: the host directory. */
  v2?: string;
  /** v1: controller → its hierarchy mountpoint; v2: '' → the cgroup2 mountpoint. */
  mounts: Map<string, string>;
}

/** Validate and normalise cgroupsPath (pure). Throws CgroupError for systemd paths, ".." and bad ids. */
export function normalizeCgroupsPath(cgroupsPath: string | undefined, id: string): NormalizedCgroupsPath {
  if (!cgroupsPath) {
    if (!id || id.includes('/') || id === '.' || id === '..') {
      throw new CgroupError(`container id "${id}" cannot be used as a cgroup name`);
    }
    return { absolute: true, path: `${DEFAULT_CGROUP_PARENT}/${id}` };
  }
  if (/^[^/:]+:[^/:]*:[^/:]+$/.test(cgroupsPath)) {
    throw new CgroupError(
      `cgroupsPath "${cgroupsPath}" is a systemd slice:prefix:name path; systemd cgroups are not supported, use a cgroupfs path`,
    );
  }
  const parts = cgroupsPath.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new CgroupError(`cgroupsPath "${cgroupsPath}" must not contain ".."`);
  const absolute = cgroupsPath.startsWith('/');
  if (parts.length === 0) {
    throw new CgroupError(`cgroupsPath "${cgroupsPath}" names the cgroup root; a container needs its own cgroup`);
  }
  return { absolute, path: (absolute ? '/' : '') + parts.join('/') };
}

/** /proc/<pid>/cgroup parsed: v1 controller → path, and the v2 ("0::") path. */
export interface ProcCgroup {
  v1: Map<string, string>;
  v2?: string;
}

/** Parse /proc/<pid>/cgroup text ("hierarchy-id:controller,list:path" per line). */
export function parseProcCgroup(text: string): ProcCgroup {
  const v1 = new Map<string, string>();
  let v2: string | undefined;
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === '0' && m[2] === '') v2 = m[3];
    else for (const c of m[2].split(',')) if (c) v1.set(c, m[3]);
  }
  return { v1, v2 };
}

/** Strip the mount's root from a hierarchy path so it can be appended to the mountpoint. */
function visiblePart(hierarchyPath: string, mountRoot: string | undefined, what: string): string {
  const root = mountRoot ?? '/';
  if (root === '/') return hierarchyPath;
  if (hierarchyPath === root) return '/';
  if (hierarchyPath.startsWith(root + '/')) return hierarchyPath.slice(root.length);
  throw new CgroupError(`cgroup ${hierarchyPath} of the calling process is outside the ${what} mount (${root})`);
}

/**
 * Host directories for a container's cgroup (pure apart from reading `procSelfCgroup`, which is needed only
 * for relative paths). Hybrid hosts resolve through v1.
 */
export function resolveCgroupLocation(
  setup: CgroupSetup,
  cgroupsPath: string | undefined,
  id: string,
  procSelfCgroup: string | ProcCgroup = '/proc/self/cgroup',
): CgroupLocation {
  const norm = normalizeCgroupsPath(cgroupsPath, id);
  let own: ProcCgroup | undefined;
  const ownCgroup = (): ProcCgroup => {
    if (own) return own;
    if (typeof procSelfCgroup !== 'string') return (own = procSelfCgroup);
    try {
      return (own = parseProcCgroup(readFileSync(procSelfCgroup, 'utf8')));
    } catch (err) {
      throw new CgroupError(`cannot read ${procSelfCgroup}: ${describeErrno(err)}`, { cause: err });
    }
  };
  const hostDir = (mountpoint: string, mountRoot: string | undefined, ownPath: string | undefined, what: string) => {
    if (norm.absolute) return posix.join(mountpoint, norm.path);
    if (ownPath === undefined) throw new CgroupError(`cannot resolve relative cgroupsPath: no ${what} line in /proc/self/cgroup`);
    return posix.join(mountpoint, visiblePart(ownPath, mountRoot, what), norm.path);
  };

  if (setup.mode === 'v2') {
    const mount = setup.v2Mount as string;
    const dir = hostDir(mount, setup.v2MountRoot, norm.absolute ? undefined : ownCgroup().v2, 'cgroup2');
    return { version: 'v2', v1: new Map(), v2: dir, mounts: new Map([['', mount]]) };
  }
  const v1 = new Map<string, string>();
  const mounts = new Map<string, string>();
  for (const c of KNOWN_V1_CONTROLLERS) {
    const mp = setup.v1Controllers.get(c);
    if (!mp) continue;
    mounts.set(c, mp);
    v1.set(c, hostDir(mp, setup.v1MountRoots.get(c), norm.absolute ? undefined : ownCgroup().v1.get(c), c));
  }
  return { version: 'v1', v1, mounts };
}
