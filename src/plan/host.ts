/**
 * Host facts the plan builders need (what a bind source is, which mount holds a path). They sit behind an
 * interface so that unit tests can give fixed answers and the builders stay pure.
 */
import { readFileSync, realpathSync, statSync } from 'node:fs';

/** What a host path is, following symlinks. */
export type FileKind = 'dir' | 'file' | 'missing';

/** Questions the plan builders ask about the host. */
export interface HostFacts {
  /** Kind of the file at an absolute host path ('file' covers every non-directory: devices, sockets, …). */
  fileKind(path: string): FileKind;
  /** Mount point of the mount that contains an absolute host path (from /proc/self/mountinfo). */
  mountPointOf(path: string): string;
}

/** Decodes the octal escapes (\040 for space, …) the kernel uses in mountinfo fields. */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points listed in a mountinfo text (field 5 of each line). */
export function mountPoints(mountinfo: string): string[] {
  const out: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ');
    if (fields.length > 4) out.push(unescapeMountField(fields[4]));
  }
  return out;
}

/** The longest mount point that is `path` or one of its ancestors. */
export function longestMountPrefix(points: readonly string[], path: string): string {
  let best = '/';
  for (const p of points) {
    const inside = p === '/' || path === p || path.startsWith(p.endsWith('/') ? p : `${p}/`);
    if (inside && p.length > best.length) best = p;
  }
  return best;
}

/** HostFacts answered from the real filesystem of the calling process. */
export const realHost: HostFacts = {
  fileKind(path) {
    try {
      return statSync(path).isDirectory() ? 'dir' : 'file';
    } catch {
      return 'missing';
    }
  },
  mountPointOf(path) {
    let real = path;
    try {
      real = realpathSync(path);
    } catch {
      // keep the path as given; the helper will report the real problem
    }
    return longestMountPrefix(mountPoints(readFileSync('/proc/self/mountinfo', 'utf8')), real);
  },
};
