/**
 * Path operations confined to a root directory, with *at() semantics built from what Node offers: every
 * directory is opened component by component with O_NOFOLLOW|O_DIRECTORY, and a name is then reached as
 * `/proc/self/fd/<dirfd>/<name>`. The kernel resolves that magic link to the open directory itself (not
 * by path), so only the single last component is looked up, and the calls used on it (open with
 * O_NOFOLLOW, mkdir, symlink, link, lchown, lutimes, unlink, rmdir) never follow a symlink there.
 */
import * as fs from 'node:fs';
import { ArchiveError, errnoCode, errnoText } from '../archive/errors';

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = fs.constants;
/** Most symlinks followed during one in-root resolution (the kernel's limit). */
const MAX_LINKS = 40;
/** Directory fds kept open for reuse. */
const CACHE_SIZE = 64;

/** `/proc/self/fd/<fd>/<name>`: `name` inside the directory open as `fd`. */
export function at(fd: number, name: string): string {
  return `/proc/self/fd/${fd}/${name}`;
}

/** A root directory and the directories opened below it. */
export class SafeRoot {
  readonly rootFd: number;
  private readonly cache = new Map<string, number>();

  constructor(readonly root: string) {
    try {
      this.rootFd = fs.openSync(root, O_RDONLY | O_DIRECTORY);
    } catch (err) {
      throw new ArchiveError('usage', `cannot open rootfs ${root}: ${errnoText(err)}`);
    }
  }

  /**
   * The fd of directory `rel` (clean relative path), walking it without following any symlink. Missing
   * components are created (mode 0755) when `create`; a component that is a symlink or not a directory is
   * an 'unsafe' error naming it. The fd belongs to the cache: do not close it.
   */
  dir(rel: string, create: boolean): number {
    if (rel === '') return this.rootFd;
    const hit = this.cache.get(rel);
    if (hit !== undefined) return hit;
    const slash = rel.lastIndexOf('/');
    const parentFd = this.dir(slash < 0 ? '' : rel.slice(0, slash), create);
    const name = slash < 0 ? rel : rel.slice(slash + 1);
    let fd: number;
    try {
      fd = fs.openSync(at(parentFd, name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' && create) {
        fs.mkdirSync(at(parentFd, name), { mode: 0o755 });
        fd = fs.openSync(at(parentFd, name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      } else if (code === 'ELOOP' || code === 'ENOTDIR') {
        // O_DIRECTORY|O_NOFOLLOW on a symlink gives ENOTDIR or ELOOP depending on the kernel path: ask lstat.
        const what = fs.lstatSync(at(parentFd, name)).isSymbolicLink() ? 'a symlink' : 'not a directory';
        throw new ArchiveError('unsafe', `${rel} is ${what}: refusing to write through it`);
      } else throw new ArchiveError('system', `cannot open ${rel} in ${this.root}: ${errnoText(err)}`);
    }
    // Make room by dropping the oldest entry that is not an ancestor of rel (the caller may hold those).
    if (this.cache.size >= CACHE_SIZE) {
      for (const k of this.cache.keys()) {
        if (!rel.startsWith(`${k}/`)) {
          fs.closeSync(this.cache.get(k)!);
          this.cache.delete(k);
          break;
        }
      }
    }
    this.cache.set(rel, fd);
    return fd;
  }

  /** A caller-owned fd of directory `rel` (walked like `dir`, never following a symlink); close it. */
  own(rel: string): number {
    if (rel === '') return fs.openSync(this.root, O_RDONLY | O_DIRECTORY);
    const slash = rel.lastIndexOf('/');
    const parentFd = this.dir(slash < 0 ? '' : rel.slice(0, slash), false);
    try {
      return fs.openSync(at(parentFd, slash < 0 ? rel : rel.slice(slash + 1)), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    } catch (err) {
      throw new ArchiveError('unsafe', `${rel} is not a directory inside the root: ${errnoText(err)}`);
    }
  }

  /**
   * The directory fd holding the last component of `rel`, with the parents resolved the way the container
   * would see them: symlinks are followed, but an absolute target starts again at the root and `..` stops
   * there, so the result is always inside the root. Undefined when a parent does not exist. The returned
   * fd is the caller's to close (it may be rootFd: compare before closing).
   */
  parentInRoot(rel: string): { fd: number; name: string } | undefined {
    const parts = rel.split('/');
    const name = parts.pop()!;
    const stack: number[] = [this.rootFd];
    const closeAll = () => {
      while (stack.length > 1) fs.closeSync(stack.pop()!);
    };
    let links = 0;
    const pending = parts;
    while (pending.length) {
      const part = pending.shift()!;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (stack.length > 1) fs.closeSync(stack.pop()!);
        continue;
      }
      const top = stack[stack.length - 1];
      try {
        stack.push(fs.openSync(at(top, part), O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
        continue;
      } catch (err) {
        const code = errnoCode(err);
        if (code !== 'ELOOP' && code !== 'ENOTDIR') {
          closeAll();
          if (code === 'ENOENT') return undefined;
          throw new ArchiveError('system', `cannot open ${rel} in ${this.root}: ${errnoText(err)}`);
        }
      }
      const st = fs.lstatSync(at(top, part));
      if (!st.isSymbolicLink() || ++links > MAX_LINKS) {
        closeAll();
        return undefined; // a file where a directory should be: the path does not exist
      }
      const target = fs.readlinkSync(at(top, part));
      if (target.startsWith('/')) closeAll();
      pending.unshift(...target.split('/'));
    }
    const fd = stack.pop()!;
    closeAll();
    return { fd, name };
  }

  /** Drops cached fds of `rel` and everything below it (after it was removed or replaced). */
  forgetBelow(rel: string): void {
    for (const [k, fd] of this.cache) {
      if (k === rel || k.startsWith(`${rel}/`)) {
        fs.closeSync(fd);
        this.cache.delete(k);
      }
    }
  }

  /** Drops every cached directory fd. Never while an fd from `dir` is still in use. */
  forget(): void {
    for (const fd of this.cache.values()) fs.closeSync(fd);
    this.cache.clear();
  }

  /** Closes everything. */
  close(): void {
    this.forget();
    fs.closeSync(this.rootFd);
  }
}
