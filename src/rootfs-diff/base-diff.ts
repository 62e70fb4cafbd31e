/**
 * Rootfs diff of a plain directory root against the directory it started from (`--rootfs-base DIR`):
 * new and changed entries go into rootfs-diff.tar, vanished ones into deleted.files.
 *
 * "Changed" is decided from lstat: type, mode, owner, device number, symlink target, and for regular files
 * size and mtime (nanoseconds), like rsync's quick check; `compareContent` also compares bytes of files whose
 * metadata match. A change of xattrs alone is not seen (Node cannot read xattrs); a file whose content or
 * metadata changed carries all its xattrs. Directories are compared by mode and owner only, since their
 * mtime moves with every child.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeDiffTar } from './diff-tar';
import { toContainerPaths, type RootfsDiff } from './overlay-diff';
import { walkTree, type TreeEntry } from './walk';

/** Options of diffAgainstBase. */
export interface BaseDiffOptions {
  exclusions: readonly string[];
  /** Compare file bytes when metadata match (slow on big trees; default false). */
  compareContent?: boolean;
}

function kind(st: fs.BigIntStats): string {
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return 'socket';
}

/** Same bytes in two files (streamed in 1 MiB blocks). */
function sameContent(a: string, b: string): boolean {
  const fa = fs.openSync(a, 'r');
  const fb = fs.openSync(b, 'r');
  try {
    const ba = Buffer.alloc(1 << 20);
    const bb = Buffer.alloc(1 << 20);
    for (;;) {
      const na = fs.readSync(fa, ba, 0, ba.length, null);
      const nb = fs.readSync(fb, bb, 0, bb.length, null);
      if (na !== nb || !ba.subarray(0, na).equals(bb.subarray(0, nb))) return false;
      if (na === 0) return true;
    }
  } finally {
    fs.closeSync(fa);
    fs.closeSync(fb);
  }
}

/** Whether entry `now` differs from `was` (same relative path) in a way the diff must carry. Pure but for links. */
export function entryChanged(now: fs.BigIntStats, was: fs.BigIntStats, linkNow?: string, linkWas?: string): boolean {
  if (kind(now) !== kind(was)) return true;
  if (now.mode !== was.mode || now.uid !== was.uid || now.gid !== was.gid) return true;
  if (now.isDirectory()) return false;
  if (now.isSymbolicLink()) return linkNow !== linkWas;
  if (now.isCharacterDevice() || now.isBlockDevice()) return now.rdev !== was.rdev;
  if (now.isFile()) return now.size !== was.size || now.mtimeNs !== was.mtimeNs;
  return false;
}

/** Writes `outTar` with what differs in `rootfs` from `base`; returns the deleted paths. */
export async function diffAgainstBase(rootfs: string, base: string, outTar: string, opts: BaseDiffOptions): Promise<RootfsDiff> {
  const now = walkTree(rootfs, opts.exclusions);
  const was = new Map<string, TreeEntry>(walkTree(base, opts.exclusions).map((e) => [e.rel, e]));
  const nowByPath = new Map(now.map((e) => [e.rel, e]));
  const included = new Set<string>();
  for (const e of now) {
    const b = was.get(e.rel);
    let changed = !b;
    if (b) {
      const link = (root: string) => (e.st.isSymbolicLink() ? fs.readlinkSync(path.join(root, e.rel)) : undefined);
      changed = entryChanged(e.st, b.st, link(rootfs), b.st.isSymbolicLink() ? link(base) : undefined);
      if (!changed && opts.compareContent && e.st.isFile()) changed = !sameContent(path.join(rootfs, e.rel), path.join(base, e.rel));
    }
    if (changed) included.add(e.rel);
  }
  // A changed file with other names must bring them along, or the link would become two copies.
  const byInode = new Map<string, string[]>();
  for (const e of now) {
    if (!e.st.isFile() || e.st.nlink < 2n) continue;
    const key = `${e.st.dev}:${e.st.ino}`;
    byInode.set(key, [...(byInode.get(key) ?? []), e.rel]);
  }
  for (const names of byInode.values()) if (names.some((n) => included.has(n))) for (const n of names) included.add(n);
  // Deleted: present in the base, absent now, and the parent still a directory (else the parent covers it).
  const deleted: string[] = [];
  for (const rel of was.keys()) {
    if (nowByPath.has(rel)) continue;
    const slash = rel.lastIndexOf('/');
    const parent = slash < 0 ? '' : rel.slice(0, slash);
    if (parent === '' || nowByPath.get(parent)?.st.isDirectory()) deleted.push(rel);
  }
  // Parents come before children in `now`, which is the order tar needs.
  const paths = now.filter((e) => included.has(e.rel)).map((e) => e.rel);
  const r = await writeDiffTar(rootfs, paths, outTar);
  return { deleted: toContainerPaths(deleted), members: r.members };
}
