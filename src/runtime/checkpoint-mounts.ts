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

/** One line of /proc/<pid>/mountinfo. */
export type MountEntry = MountinfoEntry;

/** Why a mount is external (shown with --debug and kept in the checkpoint metadata). */
export type ExternalReason = 'bind' | 'cgroup' | 'device' | 'masked';

/** One external mount at dump time: CRIU's key is the mount point, the value is the id in the image. */
export interface DumpExternal extends ExtMountMap {
  reason: ExternalReason;
}

/** The id every masked file's /dev/null bind gets in the image (restored from the host's /dev/null). */
export const MASKED_FILE_ID = '/dev/null';
/** The id every masked directory's empty read-only tmpfs gets (restored from such a tmpfs, criu-start.ts). */
export const MASKED_DIR_ID = 'stasis:masked-dir';

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
