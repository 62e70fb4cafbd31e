/**
 * Empty tmpfs mounts (an unused /dev/shm, a /run or /tmp tmpfs nothing wrote to) left external at dump and
 * rebuilt at restore. CRIU dumps every tmpfs with tar (tar, sh and gzip processes: ~6 ms at dump and ~6 ms
 * at restore each here), even an empty one, whose whole content is its mount options and the mode and owner
 * of its root. Those are recorded in the checkpoint note instead, and the restore mounts an identical empty
 * tmpfs in CRIU's namespace (criu-start.ts) for CRIU to bind there.
 *
 * "Empty" is decided while the container is frozen (nothing can write to it any more until the dump ends):
 * no entry in its root, no mount below it, the root's mode and owner exactly what the mount options give a
 * fresh tmpfs. Anything else is dumped by CRIU as before.
 */
import { posix } from 'node:path';
import type { MountEntry } from './checkpoint-mounts';
import { MS } from '../plan/mount-options';

/** The id prefix of an empty tmpfs in the image; the note's `emptyTmpfs[i]` is `${EMPTY_TMPFS_ID}${i}`. */
export const EMPTY_TMPFS_ID = 'stasis:empty-tmpfs:';

/** One empty tmpfs, as the restore mounts it again. */
export interface EmptyTmpfs {
  /** Where it is mounted in the container. */
  mountpoint: string;
  /** The mount's source name (e.g. "shm"), as shown in mountinfo. */
  source: string;
  /** Per-mount flags (MS_* bits: ro, nosuid, nodev, noexec, atime). */
  flags: number;
  /** The superblock options (size=, nr_inodes=, mode=, uid=, gid=…), without rw. */
  data: string;
}

/** A tmpfs whose root was found as the options make it (EmptyTmpfs plus what the check compares). */
export interface EmptyTmpfsCandidate extends EmptyTmpfs {
  /** Mode of a fresh root (mode=, default 01777), owner (uid=, gid=, default 0). */
  mode: number;
  uid: number;
  gid: number;
}

/** What the check needs to know of a candidate's root, read through /proc/<pid>/root (injectable). */
export interface RootFacts {
  entries: number;
  mode: number;
  uid: number;
  gid: number;
}

const PER_MOUNT_FLAGS: Record<string, number> = {
  ro: MS.RDONLY,
  nosuid: MS.NOSUID,
  nodev: MS.NODEV,
  noexec: MS.NOEXEC,
  noatime: MS.NOATIME,
  nodiratime: MS.NODIRATIME,
  relatime: MS.RELATIME,
  strictatime: MS.STRICTATIME,
  nosymfollow: MS.NOSYMFOLLOW,
};

/** Per-mount options (mountinfo's 6th field) of the topmost mount at each mount point. Pure. */
export function perMountOptions(mountinfo: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of mountinfo.split('\n')) {
    const f = line.trim().split(' ');
    if (f.length < 7) continue;
    out.set(f[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))), f[5].split(','));
  }
  return out;
}

/**
 * The tmpfs mounts that may be left external if found empty: topmost at their mount point, whole (root "/"),
 * writable superblock with only options a fresh mount takes back, nothing mounted below, and not already
 * external (`external`: mount points the dump maps otherwise). Pure.
 */
export function emptyTmpfsCandidates(
  mounts: readonly MountEntry[],
  options: Map<string, string[]>,
  external: ReadonlySet<string>,
): EmptyTmpfsCandidate[] {
  const out: EmptyTmpfsCandidate[] = [];
  const top = new Map<string, MountEntry>();
  for (const m of mounts) top.set(m.mountpoint, m);
  for (const m of top.values()) {
    if (m.fstype !== 'tmpfs' || m.root !== '/' || m.mountpoint === '/' || external.has(m.mountpoint)) continue;
    if (mounts.some((o) => o.mountpoint !== m.mountpoint && o.mountpoint.startsWith(`${m.mountpoint}/`))) continue;
    if (!m.superOptions.includes('rw') || /[\s,]/.test(m.source)) continue;
    const data = m.superOptions.filter((o) => o !== 'rw');
    // Options a fresh mount takes the same way; anything else (a quota, a huge= policy …) is left to CRIU.
    if (!data.every((o) => /^(size|nr_inodes|mode|uid|gid)=[0-9a-zA-Z]+$/.test(o) || o === 'inode64' || o === 'noswap')) continue;
    const value = (k: string) => data.find((o) => o.startsWith(`${k}=`))?.slice(k.length + 1);
    const mode = value('mode') !== undefined ? parseInt(value('mode')!, 8) : 0o1777;
    const uid = Number(value('uid') ?? 0);
    const gid = Number(value('gid') ?? 0);
    if (![mode, uid, gid].every(Number.isInteger)) continue;
    let flags = 0;
    for (const o of options.get(m.mountpoint) ?? []) {
      if (o === 'rw') continue;
      const f = PER_MOUNT_FLAGS[o];
      if (f === undefined) {
        flags = -1; // an option stasis cannot set again: let CRIU dump it
        break;
      }
      flags |= f;
    }
    if (flags < 0) continue;
    out.push({ mountpoint: m.mountpoint, source: m.source, flags, data: data.join(','), mode, uid, gid });
  }
  return out.sort((a, b) => (a.mountpoint < b.mountpoint ? -1 : 1));
}

/**
 * The candidates found empty (run while the container is frozen): `facts` reads a mount point's root,
 * undefined when it cannot. Pure given `facts`.
 */
export function emptyTmpfsFound(candidates: readonly EmptyTmpfsCandidate[], facts: (mountpoint: string) => RootFacts | undefined): EmptyTmpfs[] {
  const out: EmptyTmpfs[] = [];
  for (const c of candidates) {
    const f = facts(c.mountpoint);
    if (!f || f.entries !== 0 || (f.mode & 0o7777) !== c.mode || f.uid !== c.uid || f.gid !== c.gid) continue;
    out.push({ mountpoint: c.mountpoint, source: c.source, flags: c.flags, data: c.data });
  }
  return out;
}

/** The dump's ext_mnt entries for the empty tmpfs found (key: mount point, value: id). Pure. */
export function emptyTmpfsExtMnt(found: readonly EmptyTmpfs[]): { key: string; val: string }[] {
  return found.map((t, i) => ({ key: t.mountpoint, val: `${EMPTY_TMPFS_ID}${i}` }));
}

/** Checks the note's list (it comes from a file): absolute mount points, plain source names and options. */
export function isEmptyTmpfsList(v: unknown): v is EmptyTmpfs[] {
  return (
    Array.isArray(v) &&
    v.every(
      (t) =>
        t &&
        typeof t === 'object' &&
        typeof t.mountpoint === 'string' &&
        posix.isAbsolute(t.mountpoint) &&
        typeof t.source === 'string' &&
        /^[^\s,\0]+$/.test(t.source) &&
        Number.isInteger(t.flags) &&
        t.flags >= 0 &&
        typeof t.data === 'string' &&
        /^[0-9a-zA-Z=,]*$/.test(t.data),
    )
  );
}
