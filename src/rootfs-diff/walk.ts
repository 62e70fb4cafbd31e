/** Walking a tree without following symlinks, skipping excluded subtrees. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ArchiveError, errnoText } from '../archive/errors';
import { isExcluded } from './exclusions';

/** One entry found by `walkTree`. */
export interface TreeEntry {
  /** Clean relative path. */
  rel: string;
  st: fs.BigIntStats;
}

/**
 * Every entry below `root` (not the root itself), parents before children, siblings sorted. Excluded
 * paths and everything under them are skipped; symlinks are reported, never followed.
 */
export function walkTree(root: string, exclusions: readonly string[]): TreeEntry[] {
  const out: TreeEntry[] = [];
  const visit = (rel: string) => {
    const abs = rel ? path.join(root, rel) : root;
    let names: string[];
    try {
      names = fs.readdirSync(abs).sort();
    } catch (err) {
      throw new ArchiveError('system', `cannot read directory ${abs}: ${errnoText(err)}`);
    }
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      if (isExcluded(r, exclusions)) continue;
      const st = fs.lstatSync(path.join(root, r), { bigint: true });
      out.push({ rel: r, st });
      if (st.isDirectory()) visit(r);
    }
  };
  visit('');
  return out;
}

/** An overlay whiteout: a character device with device number 0:0. */
export function isWhiteout(st: fs.BigIntStats): boolean {
  return st.isCharacterDevice() && st.rdev === 0n;
}
