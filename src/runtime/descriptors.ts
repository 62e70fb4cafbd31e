/**
 * The container init's stdio across a checkpoint, kept in `descriptors.json` next to the images (the file
 * runc writes, so tools that read runc images understand ours).
 *
 * At dump: the readlink of fds 0-2 ("pipe:[123]", "/dev/pts/0", "/dev/null", …). At restore: every pipe
 * becomes an inherit_fd entry, so the restored init reads and writes the pipes `restore` was given as its
 * own stdio instead of fresh pipes nobody holds the other end of.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { InheritFd } from '../criu/types';
import { RuntimeError, errnoText, isErrno } from './errors';

/** Name of the file in the image directory. */
export const DESCRIPTORS_FILE = 'descriptors.json';

/** descriptors.json content from the stdio read at dump: the links of fds 0-2, "" for a closed fd. */
export function descriptorLinks(fds: readonly StdioFd[]): string[] {
  return [0, 1, 2].map((fd) => fds.find((f) => f.fd === fd)?.link ?? '');
}

/** Writes descriptors.json into the image directory. */
export function writeDescriptors(imagesDir: string, links: readonly string[]): void {
  fs.writeFileSync(path.join(imagesDir, DESCRIPTORS_FILE), JSON.stringify(links), { mode: 0o600 });
}

/** Checks that parsed JSON is a list of strings; `file` names the source in the error. */
export function parseDescriptors(text: string, file: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new RuntimeError('invalid-spec', `${file} is corrupt: not valid JSON`);
  }
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new RuntimeError('invalid-spec', `${file} is corrupt: expected a list of strings`);
  }
  return value;
}

/** Reads descriptors.json; a missing file means "nothing to re-attach" (images made by plain CRIU). */
export function readDescriptorsFile(imagesDir: string): string[] {
  const file = path.join(imagesDir, DESCRIPTORS_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw new RuntimeError('system', `cannot read ${file}: ${errnoText(err)}`);
  }
  return parseDescriptors(text, file);
}

/**
 * inherit_fd entries for a restore: the pipe that was fd i at dump is replaced by CRIU's fd i (CRIU runs
 * with restore's own stdio). A pipe that was on several fds (2>&1) is listed once, from its first fd.
 */
export function inheritStdio(links: readonly string[]): InheritFd[] {
  const seen = new Set<string>();
  const out: InheritFd[] = [];
  links.forEach((link, fd) => {
    if (fd > 2 || !/^pipe:\[\d+\]$/.test(link) || seen.has(link)) return;
    seen.add(link);
    out.push({ key: link, fd });
  });
  return out;
}

/** One stdio fd of the init as the dump sees it. */
export interface StdioFd {
  fd: number;
  /** readlink of /proc/<pid>/fd/N */
  link: string;
  /** mnt_id from /proc/<pid>/fdinfo/N */
  mntId?: number;
  /** inode of the open file */
  ino?: number;
}

/** A stdio fd that is a file of the host, with the key CRIU names it by (`file[mnt_id:inode]`, hex). */
export interface ExternalStdio {
  fd: number;
  key: string;
}

/** CRIU's name for an external file: the format of its dump_one_reg_file ("file[%x:%lx]"). */
export function externalFileKey(mntId: number, ino: number): string {
  return `file[${mntId.toString(16)}:${ino.toString(16)}]`;
}

/**
 * Stdio fds on files of a mount the container cannot see: the init of `run -d </dev/null` reads the
 * host's /dev/null. CRIU cannot dump those, but can leave them external and take a replacement at restore
 * (inherit_fd with the same key). Pipes, sockets and anon inodes have no path and are not listed.
 */
export function hostFileStdio(fds: readonly StdioFd[], containerMountIds: ReadonlySet<number>): ExternalStdio[] {
  return fds
    .filter((f) => f.link.startsWith('/') && f.mntId !== undefined && f.ino !== undefined && !containerMountIds.has(f.mntId))
    .map((f) => ({ fd: f.fd, key: externalFileKey(f.mntId!, f.ino!) }));
}

/**
 * Init's stdio from two reads, before and after the freeze. A shell that redirects a builtin's output
 * (`echo $i > /tmp/count`) points fd 1 at a container file for a moment and keeps its real stdout on a
 * spare fd: a read in that moment would leave the host file undeclared, and CRIU would fail on the spare
 * copy ("Can't lookup mount"). Per fd, a read on anything but a container file wins. Pure.
 */
export function settleStdio(first: readonly StdioFd[], second: readonly StdioFd[], containerMountIds: ReadonlySet<number>): StdioFd[] {
  const inContainer = (f: StdioFd | undefined) => f !== undefined && f.link.startsWith('/') && f.mntId !== undefined && containerMountIds.has(f.mntId);
  const out: StdioFd[] = [];
  for (const fd of [0, 1, 2]) {
    const a = first.find((f) => f.fd === fd);
    const b = second.find((f) => f.fd === fd);
    const pick = inContainer(a) && b !== undefined && !inContainer(b) ? b : (a ?? b);
    if (pick) out.push(pick);
  }
  return out;
}

/**
 * inherit_fd entries for host-file stdio at restore: the key recorded at dump, replaced by restore's own
 * fd of the same number. A file that was on several fds is listed once, from its first fd.
 */
export function inheritHostFiles(external: readonly ExternalStdio[]): InheritFd[] {
  const seen = new Set<string>();
  return external.filter((e) => e.fd <= 2 && !seen.has(e.key) && seen.add(e.key)).map((e) => ({ key: e.key, fd: e.fd }));
}

/** Reads fds 0-2 of a process: link, mount id and inode (missing fds are left out). */
export function readStdio(pid: number, procRoot = '/proc'): StdioFd[] {
  const out: StdioFd[] = [];
  for (const fd of [0, 1, 2]) {
    let link: string;
    try {
      link = fs.readlinkSync(`${procRoot}/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    const entry: StdioFd = { fd, link };
    try {
      const m = /^mnt_id:\s*(\d+)/m.exec(fs.readFileSync(`${procRoot}/${pid}/fdinfo/${fd}`, 'utf8'));
      if (m) entry.mntId = Number(m[1]);
      entry.ino = fs.statSync(`${procRoot}/${pid}/fd/${fd}`).ino;
    } catch {
      /* closed meanwhile: the dump reports it if it matters */
    }
    out.push(entry);
  }
  return out;
}
