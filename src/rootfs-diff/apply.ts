/**
 * applyRootfsDiff: deleted.files, then rootfs-diff.tar, into a fresh rootfs, never touching anything
 * outside it.
 *
 * - Deletions come first: an opaque directory is recorded as a deletion of the whole base directory, and
 *   the tar then brings back its new content. Each path's parents are resolved inside the root (symlinks
 *   followed as the container would, absolute targets restarting at the root); the last component is
 *   removed without being followed.
 * - Tar members are checked by name (no absolute paths, no `..`), and their parent directories are opened
 *   one component at a time without following symlinks (safe-root.ts): a member below a symlink, whether
 *   the symlink came from the base or from an earlier member, is refused. The archive is applied in one
 *   pass; a refused member stops it.
 * - Regular files, directories, symlinks and hard links are made by stasis itself. Device nodes, fifos and
 *   members carrying xattrs are handed to GNU tar as one-member archives extracted with the parent
 *   directory as working directory (`/proc/self/fd/N`), so tar only ever sees a single-component name
 *   (Node can neither mknod nor set xattrs).
 * - Directory owners, modes and times are applied at the end, once their content is in place.
 */
import type { Writable } from 'node:stream';
import { startTar } from '../archive/tar-process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import { ArchiveError, errnoCode, errnoText } from '../archive/errors';
import { memberPath, splitParent } from '../archive/member-path';
import { encodeHeader, endOfArchive, padding, type TarHeader } from '../archive/tar-format';
import { readTar } from '../archive/tar-reader';
import { SafeRoot, at } from './safe-root';

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY, O_DIRECTORY } = fs.constants;

/** What applyRootfsDiff did. */
export interface ApplyResult {
  /** deleted.files entries that existed and were removed. */
  deleted: number;
  /** Tar members applied. */
  members: number;
}

/** Cleans one deleted.files entry ("/etc/x" or "etc/x") to a relative path; refuses `..` and the root. */
export function deletedPath(p: string): string {
  if (typeof p !== 'string' || p.includes('\0')) throw new ArchiveError('unsafe', `deleted.files: bad entry ${JSON.stringify(p)}`);
  const parts = p.split('/').filter((x) => x !== '' && x !== '.');
  if (parts.includes('..')) throw new ArchiveError('unsafe', `deleted.files: entry ${p} contains ".."`);
  if (parts.length === 0) throw new ArchiveError('unsafe', `deleted.files: entry ${JSON.stringify(p)} names the root`);
  return parts.join('/');
}

/** Removes whatever is at `name` in directory `fd` (recursively for a directory, never following it). */
function removeAt(fd: number, name: string): boolean {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(at(fd, name));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
  if (st.isDirectory()) fs.rmSync(at(fd, name), { recursive: true, force: true });
  else fs.unlinkSync(at(fd, name));
  return true;
}

/** Applies deleted.files entries; returns how many existed. */
function applyDeletions(root: SafeRoot, deleted: readonly string[]): number {
  let n = 0;
  for (const entry of deleted) {
    const rel = deletedPath(entry);
    const where = root.parentInRoot(rel);
    if (!where) continue;
    try {
      if (removeAt(where.fd, where.name)) n++;
    } catch (err) {
      throw new ArchiveError('system', `cannot delete ${entry} in ${root.root}: ${errnoText(err)}`);
    } finally {
      if (where.fd !== root.rootFd) fs.closeSync(where.fd);
    }
  }
  root.forget();
  return n;
}

/** GNU tar extracting one member with its owner, mode and xattrs, as root. */
const TAR_EXTRACT_ONE = [
  '--extract',
  '--file=-',
  '--xattrs',
  '--xattrs-include=*',
  '--numeric-owner',
  '--same-owner',
  '--same-permissions',
  '--no-recursion',
];

/** Extracts one member (single-component name) into directory fd `dirFd` with GNU tar. */
async function extractWithTar(dirFd: number, h: TarHeader, name: string, body: AsyncIterable<Buffer>): Promise<void> {
  const tar = startTar(TAR_EXTRACT_ONE, ['pipe', 'ignore'], { cwd: `/proc/self/fd/${dirFd}` });
  const child = tar.child as typeof tar.child & { stdin: Writable };
  const done = tar.done;
  const put = async (b: Buffer) => {
    if (!child.stdin.write(b)) await Promise.race([once(child.stdin, 'drain'), done]);
  };
  await put(encodeHeader({ ...h, path: name, linkpath: '' }));
  if (h.type === 'file') {
    for await (const chunk of body) await put(chunk);
    const pad = padding(h.size);
    if (pad) await put(Buffer.alloc(pad));
  }
  child.stdin.end(endOfArchive());
  const code = await done;
  if (code !== 0) throw new ArchiveError('system', `tar could not create ${h.path}: ${tar.firstErrorLine() || `exit ${code}`}`);
}

/** Directory attributes applied after all members. */
interface DirAttrs {
  rel: string;
  h: TarHeader;
}

/**
 * Applies deleted.files (`deletedFiles`) and then the tar `tarFile` (none: deletions only, as in a Podman
 * checkpoint whose container only removed files) to `rootfs`. Root is needed for owners.
 */
export async function applyRootfsDiff(rootfs: string, tarFile: string | undefined, deletedFiles: readonly string[]): Promise<ApplyResult> {
  const root = new SafeRoot(rootfs);
  const dirs: DirAttrs[] = [];
  let members = 0;
  try {
    // Check every entry's syntax before deleting anything.
    deletedFiles.forEach(deletedPath);
    const deleted = applyDeletions(root, deletedFiles);
    if (tarFile === undefined) return { deleted, members: 0 };
    const input = fs.createReadStream(tarFile, { highWaterMark: 1 << 20 });
    try {
      await readTar(input as AsyncIterable<Buffer>, async (h, body) => {
        const rel = memberPath(h.path);
        if (rel === '') return; // the upper directory's own root: not part of the container's changes
        const [parent, name] = splitParent(rel);
        const pfd = root.dir(parent, true);
        members++;
        await applyMember(root, pfd, rel, name, h, body, dirs);
      });
    } finally {
      input.destroy();
    }
    // Deepest first, so a restrictive parent mode cannot block its children; times last of all.
    for (const d of dirs.sort((a, b) => b.rel.length - a.rel.length)) setDirAttrs(root, d);
    return { deleted, members };
  } catch (err) {
    if (err instanceof ArchiveError) throw err;
    throw new ArchiveError('system', `applying ${tarFile ?? 'deleted.files'} to ${rootfs} failed: ${errnoText(err)}`);
  } finally {
    root.close();
  }
}

async function applyMember(
  root: SafeRoot,
  pfd: number,
  rel: string,
  name: string,
  h: TarHeader,
  body: AsyncIterable<Buffer>,
  dirs: DirAttrs[],
): Promise<void> {
  const p = at(pfd, name);
  const existing = fs.lstatSync(p, { throwIfNoEntry: false });
  if (h.type === 'dir') {
    if (existing && !existing.isDirectory()) fs.unlinkSync(p);
    if (!existing || !existing.isDirectory()) fs.mkdirSync(p, { mode: 0o700 });
    if (h.xattrs.size) await extractWithTar(pfd, h, name, body); // sets the xattrs on the existing directory
    dirs.push({ rel, h });
    return;
  }
  // Anything else replaces what is there, a whole directory included (the upper layer hid it).
  if (existing) {
    if (existing.isDirectory()) root.forgetBelow(rel);
    removeAt(pfd, name);
  }
  if (h.type === 'char' || h.type === 'block' || h.type === 'fifo' || h.xattrs.size) {
    if (h.type === 'link') throw new ArchiveError('unsafe', `member ${rel}: hard link with xattrs`);
    if (h.type === 'symlink') {
      // Symlink xattrs are rare (only trusted.* / security.* can exist); keep the link, drop them.
      h = { ...h, xattrs: new Map() };
    } else {
      await extractWithTar(pfd, h, name, body);
      return;
    }
  }
  if (h.type === 'file') {
    const fh = await fs.promises.open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    try {
      for await (const chunk of body) await fh.write(chunk);
      await fh.chown(h.uid, h.gid);
      await fh.chmod(h.mode); // after chown, which clears setuid/setgid
      await fh.utimes(h.mtime, h.mtime);
    } finally {
      await fh.close();
    }
  } else if (h.type === 'symlink') {
    fs.symlinkSync(h.linkpath, p);
    fs.lchownSync(p, h.uid, h.gid);
    fs.lutimesSync(p, h.mtime, h.mtime);
  } else if (h.type === 'link') {
    const target = memberPath(h.linkpath);
    const [tparent, tname] = splitParent(target);
    // An owned fd for the target's directory, then the member's directory again: cached fds may have been
    // recycled by the walk to the target.
    const tfd = root.own(tparent);
    try {
      const tst = fs.lstatSync(at(tfd, tname), { throwIfNoEntry: false });
      if (!tst || tst.isDirectory()) throw new ArchiveError('unsafe', `member ${rel}: hard link to ${target}, which is ${tst ? 'a directory' : 'missing'}`);
      const [parent] = splitParent(rel);
      fs.linkSync(at(tfd, tname), at(root.dir(parent, false), name)); // link(2) does not follow a symlink source
    } finally {
      fs.closeSync(tfd);
    }
  }
}

/** Owner, mode and times of a directory member; skipped when a later member replaced the directory. */
function setDirAttrs(root: SafeRoot, d: DirAttrs): void {
  const [parent, name] = splitParent(d.rel);
  let fd: number;
  try {
    fd = fs.openSync(at(root.dir(parent, false), name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (err) {
    if (err instanceof ArchiveError || ['ENOENT', 'ENOTDIR', 'ELOOP'].includes(errnoCode(err) ?? '')) return;
    throw err;
  }
  try {
    fs.fchownSync(fd, d.h.uid, d.h.gid);
    fs.fchmodSync(fd, d.h.mode);
    fs.futimesSync(fd, d.h.mtime, d.h.mtime);
  } finally {
    fs.closeSync(fd);
  }
}
