/**
 * Which of a container's mounts CRIU must treat as external, for a dump and for a restore. Pure: the
 * container's mountinfo and spec come in as values.
 *
 * An external mount is not dumped: the image keeps only an id, and on restore the caller says which host
 * path to bind there. That is right for everything whose content lives on the host (bind mounts, the v1
 * cgroup directories, host devices, the /dev/null binds of masked files); CRIU dumps the rest itself
 * (proc, sysfs, tmpfs with its content, devpts, mqueue, binds inside proc).
 */
import { posix } from 'node:path';
import type { Spec } from '../spec/types';
import type { ExtMountMap } from '../criu/types';
import { cleanPath, isBindMount } from '../plan/mounts';
import { mergedDevices } from '../plan/devices';
import type { MountinfoEntry } from '../util/mountinfo';
import { emptyTmpfsExtMnt, type EmptyTmpfs } from './checkpoint-empty-tmpfs';

/** Mounts a dump leaves external besides the spec's: those a restore rebuilds from the checkpoint note. */
export interface RebuiltMounts {
  cgroupTmpfs?: CgroupTmpfsLayout;
  emptyTmpfs?: readonly EmptyTmpfs[];
}

/** One line of /proc/<pid>/mountinfo. */
export type MountEntry = MountinfoEntry;

/** Why a mount is external (shown with --debug and kept in the checkpoint metadata). */
export type ExternalReason = 'bind' | 'cgroup' | 'cgroup-tmpfs' | 'empty-tmpfs' | 'device' | 'masked';

/** One external mount at dump time: CRIU's key is the mount point, the value is the id in the image. */
export interface DumpExternal extends ExtMountMap {
  reason: ExternalReason;
}

/** The id every masked file's /dev/null bind gets in the image (restored from the host's /dev/null). */
export const MASKED_FILE_ID = '/dev/null';
/** The id every masked directory's empty read-only tmpfs gets (restored from such a tmpfs, criu-start.ts). */
export const MASKED_DIR_ID = 'stasis:masked-dir';

/** The id of the v1 cgroup tmpfs when it is external: restore rebuilds it from CgroupTmpfsLayout (criu-start.ts). */
export const CGROUP_TMPFS_ID = 'stasis:cgroup-tmpfs';

/**
 * What the read-only tmpfs under v1 cgroup mounts holds (plan/mounts.ts): one directory per hierarchy, each
 * the mount point of that hierarchy's bind, and a link per controller of a co-mounted one (cpu → cpu,cpuacct).
 */
export interface CgroupTmpfsLayout {
  /** Where it is mounted in the container. */
  mountpoint: string;
  dirs: string[];
  links: { name: string; target: string }[];
}

/** Checks a layout read back from a checkpoint note: plain entry names, nothing that could walk out of the tmpfs. */
export function isCgroupTmpfsLayout(v: unknown): v is CgroupTmpfsLayout {
  const plain = (n: unknown) => typeof n === 'string' && n !== '' && n !== '.' && n !== '..' && !n.includes('/') && !n.includes('\0');
  const l = v as CgroupTmpfsLayout | null;
  return (
    !!l &&
    typeof l === 'object' &&
    typeof l.mountpoint === 'string' &&
    l.mountpoint.startsWith('/') &&
    Array.isArray(l.dirs) &&
    l.dirs.every(plain) &&
    Array.isArray(l.links) &&
    l.links.every((k) => k && plain(k.name) && typeof k.target === 'string' && k.target !== '' && !k.target.includes('\0'))
  );
}

/** One entry of a directory listing (cgroupTmpfsLayout's input). */
export interface ListedEntry {
  name: string;
  kind: 'dir' | 'link' | 'other';
  /** Link target, for kind 'link'. */
  target?: string;
}

/**
 * The layout of the container's v1 cgroup tmpfs when a restore can rebuild it exactly instead of CRIU
 * dumping it with tar (one tar at dump, one at restore, ~5 ms each): the spec's cgroup mount (not a bind)
 * is a tmpfs, read-only (its superblock, as create leaves it: nothing in the container can add to it
 * without CAP_SYS_ADMIN, which it must not have), and `list` shows only links and directories that are
 * mount points of cgroup hierarchies. Otherwise undefined: CRIU dumps it. Pure given `list`.
 */
export function cgroupTmpfsLayout(
  spec: Spec,
  mounts: readonly MountEntry[],
  list: (mountpoint: string) => ListedEntry[] | undefined,
  resolve: (dest: string) => string = (d) => d,
): CgroupTmpfsLayout | undefined {
  const m = (spec.mounts ?? []).find((x) => x.type === 'cgroup' && !isBindMount(x));
  if (!m || (spec.process?.capabilities?.bounding ?? []).includes('CAP_SYS_ADMIN')) return undefined;
  const dest = resolve(cleanPath(m.destination));
  const top = lastMountAt(mounts, dest);
  if (!top || top.fstype !== 'tmpfs' || top.root !== '/' || !top.superOptions.includes('ro')) return undefined;
  const cgroupPoints = new Set(
    mounts.filter((e) => (e.fstype === 'cgroup' || e.fstype === 'cgroup2') && posix.dirname(e.mountpoint) === dest).map((e) => posix.basename(e.mountpoint)),
  );
  const entries = list(dest);
  if (!entries) return undefined;
  const layout: CgroupTmpfsLayout = { mountpoint: dest, dirs: [], links: [] };
  for (const e of entries) {
    if (e.kind === 'dir' && cgroupPoints.has(e.name)) layout.dirs.push(e.name);
    else if (e.kind === 'link' && e.target !== undefined && !e.target.includes('\0')) layout.links.push({ name: e.name, target: e.target });
    else return undefined;
  }
  return layout;
}

// Parsing is shared (src/util/mountinfo.ts); re-exported for the checkpoint code and its tests.
export { parseMountinfo } from '../util/mountinfo';

function isUnder(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir === '/' ? '/' : `${dir}/`);
}

/**
 * The external mounts of a dump. `resolve` maps a spec destination to the path the kernel shows for it
 * (symlinks inside the rootfs followed); identity by default. Each mount point appears once, the most
 * specific reason winning (a bind that is also a device is a device).
 */
export function dumpExternalMounts(
  spec: Spec,
  mounts: readonly MountEntry[],
  resolve: (dest: string) => string = (d) => d,
  rebuilt: RebuiltMounts = {},
): DumpExternal[] {
  const present = new Set(mounts.map((m) => m.mountpoint));
  const out = new Map<string, DumpExternal>();
  const add = (key: string, val: string, reason: ExternalReason) => {
    if (key !== '/' && present.has(key)) out.set(key, { key, val, reason });
  };

  for (const m of spec.mounts ?? []) {
    const dest = cleanPath(m.destination);
    if (isBindMount(m)) add(resolve(dest), dest, 'bind');
  }
  // v1 cgroup directories are bound from the host under the cgroup mount's tmpfs (plan/mounts.ts).
  for (const m of spec.mounts ?? []) {
    if (m.type !== 'cgroup' || isBindMount(m)) continue;
    const dest = resolve(cleanPath(m.destination));
    for (const e of mounts) {
      if ((e.fstype === 'cgroup' || e.fstype === 'cgroup2') && e.mountpoint !== dest && isUnder(e.mountpoint, dest)) {
        add(e.mountpoint, e.mountpoint, 'cgroup');
      }
    }
  }
  // The cgroup tmpfs itself, when restore can rebuild it (cgroupTmpfsLayout).
  if (rebuilt.cgroupTmpfs) add(rebuilt.cgroupTmpfs.mountpoint, CGROUP_TMPFS_ID, 'cgroup-tmpfs');
  for (const e of emptyTmpfsExtMnt(rebuilt.emptyTmpfs ?? [])) add(e.key, e.val, 'empty-tmpfs');
  const devices = [...mergedDevices(spec.linux?.devices)].map((d) => cleanPath(d.path));
  for (const d of devices) add(resolve(d), d, 'device');
  // A masked file is a bind of a /dev/null node (its mount root is a file); a masked directory is an
  // empty read-only tmpfs, external too: CRIU would run tar twice for each (dump and restore) to save
  // nothing.
  for (const p of spec.linux?.maskedPaths ?? []) {
    const dest = cleanPath(p);
    const entry = lastMountAt(mounts, dest);
    if (entry && entry.root !== '/') add(dest, MASKED_FILE_ID, 'masked');
    else if (entry && entry.fstype === 'tmpfs') add(dest, MASKED_DIR_ID, 'masked');
  }
  return [...out.values()];
}

/** The topmost mount at a mount point (a later line over-mounts an earlier one). */
function lastMountAt(mounts: readonly MountEntry[], mountpoint: string): MountEntry | undefined {
  let hit: MountEntry | undefined;
  for (const m of mounts) if (m.mountpoint === mountpoint) hit = m;
  return hit;
}

/** What a restore needs to map external mounts back to host paths. */
export interface RestoreMountInputs {
  spec: Spec;
  /** Absolute bundle directory: relative bind sources are relative to it. */
  bundle: string;
  /** The new container's cgroup directory per v1 hierarchy name (e.g. memory → /sys/fs/cgroup/memory/x). */
  cgroupPaths: Record<string, string>;
}

/**
 * ext_mnt for a restore: image id → host path. Ids the image does not use are harmless (CRIU only looks
 * up the ones it recorded), so every possible one is listed.
 */
export function restoreExternalMounts(o: RestoreMountInputs): ExtMountMap[] {
  const out = new Map<string, string>();
  for (const m of o.spec.mounts ?? []) {
    const dest = cleanPath(m.destination);
    if (isBindMount(m) && m.source) out.set(dest, posix.isAbsolute(m.source) ? m.source : posix.join(o.bundle, m.source));
    if (m.type === 'cgroup' && !isBindMount(m)) {
      for (const [controller, hostPath] of Object.entries(o.cgroupPaths)) {
        if (controller !== '') out.set(`${dest}/${controller}`, hostPath);
      }
    }
  }
  for (const d of mergedDevices(o.spec.linux?.devices)) {
    const p = cleanPath(d.path);
    if (!out.has(p)) out.set(p, p);
  }
  out.set(MASKED_FILE_ID, '/dev/null');
  return [...out.entries()].map(([key, val]) => ({ key, val }));
}
