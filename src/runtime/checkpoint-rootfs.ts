/**
 * Resolving a container path the way the kernel saw it when the helper mounted there: symlinks inside the
 * rootfs are followed, but never out of it (an absolute link target is taken relative to the rootfs).
 * mountinfo shows resolved mount points, so spec destinations must be resolved the same way to match.
 */
import * as fs from 'node:fs';
import { posix } from 'node:path';

/** Most links followed before giving up (the kernel's limit). */
const MAX_LINKS = 40;

/** The container path `p` resolves to inside `rootfs`; components that do not exist are kept as they are. */
export function resolveInRoot(rootfs: string, p: string): string {
  const pending = posix.normalize(p).split('/').filter(Boolean);
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const host = posix.join(rootfs, ...done, part);
    let target: string | undefined;
    try {
      if (fs.lstatSync(host).isSymbolicLink()) target = fs.readlinkSync(host);
    } catch {
      target = undefined;
    }
    if (target === undefined || ++links > MAX_LINKS) {
      done.push(part);
      continue;
    }
    if (target.startsWith('/')) done.length = 0;
    pending.unshift(...target.split('/').filter(Boolean));
  }
  return `/${done.join('/')}`;
}
