/** Directory-level helpers shared by both drivers: mkdir -p, recursive process listing, leaf-first removal. */
import * as posix from 'node:path/posix';
import { CgroupError, describeErrno, errnoCode } from './errors';
import { CgroupFs } from './fs';
import { pollUntil } from './wait';

/** The directories from just below `top` down to `dir` (both absolute, dir inside top). */
export function componentsBelow(top: string, dir: string): string[] {
  const rel = posix.relative(top, dir);
  if (rel === '') return [];
  if (rel.startsWith('..')) throw new CgroupError(`cgroup ${dir} is not inside ${top}`);
  const out: string[] = [];
  let cur = top;
  for (const part of rel.split('/')) out.push((cur = posix.join(cur, part)));
  return out;
}

/** mkdir -p below a hierarchy's mountpoint; `beforeEach(parent)` runs before each level (v2 enables controllers). */
export async function mkdirBelow(
  fs: CgroupFs,
  top: string,
  dir: string,
  beforeEach?: (parent: string) => Promise<void>,
): Promise<boolean> {
  let created = false;
  let parent = top;
  for (const d of componentsBelow(top, dir)) {
    if (beforeEach) await beforeEach(parent);
    try {
      created = await fs.mkdir(d);
    } catch (err) {
      throw new CgroupError(`cannot create cgroup ${d}: ${describeErrno(err)}`, { cause: err });
    }
    parent = d;
  }
  return created;
}

/** Numbers in a cgroup.procs file. */
export function parsePidList(text: string): number[] {
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => Number(l.trim()));
}

async function subdirs(fs: CgroupFs, dir: string): Promise<string[]> {
  return (await fs.readdir(dir)).filter((e) => e.isDirectory).map((e) => posix.join(dir, e.name));
}

/** Pids in `dir` and every cgroup below it (a container may create sub-cgroups of its own). */
export async function listPidsRecursive(fs: CgroupFs, dir: string): Promise<number[]> {
  let text: string;
  try {
    text = await fs.readFile(posix.join(dir, 'cgroup.procs'));
  } catch (err) {
    throw new CgroupError(`cannot list processes: reading ${posix.join(dir, 'cgroup.procs')}: ${describeErrno(err)}`, { cause: err });
  }
  const pids = parsePidList(text);
  for (const sub of await subdirs(fs, dir)) pids.push(...(await listPidsRecursive(fs, sub)));
  return pids;
}

/**
 * rmdir `dir` and its sub-cgroups, deepest first. rmdir fails with EBUSY while exiting tasks are still being
 * reaped, so each rmdir is retried until `timeoutMs`; a directory that is already gone is fine.
 */
export async function removeCgroupTree(fs: CgroupFs, dir: string, timeoutMs: number): Promise<void> {
  let children: string[];
  try {
    children = await subdirs(fs, dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw new CgroupError(`cannot remove cgroup ${dir}: ${describeErrno(err)}`, { cause: err });
  }
  for (const child of children) await removeCgroupTree(fs, child, timeoutMs);
  let lastErr: unknown;
  const done = await pollUntil(async () => {
    try {
      await fs.rmdir(dir);
      return true;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return true;
      if (errnoCode(err) !== 'EBUSY' && errnoCode(err) !== 'ENOTEMPTY') throw new CgroupError(`cannot remove cgroup ${dir}: ${describeErrno(err)}`, { cause: err });
      lastErr = err;
      return false;
    }
  }, timeoutMs, { maxStepMs: 50 });
  if (!done) {
    let left = '';
    try {
      left = ` (${parsePidList(await fs.readFile(posix.join(dir, 'cgroup.procs'))).length} processes still inside)`;
    } catch {
      /* best effort only */
    }
    throw new CgroupError(`cannot remove cgroup ${dir}: ${describeErrno(lastErr)}${left}`, { cause: lastErr });
  }
}

/** Read a file that may legitimately be missing (controller absent, older kernel): undefined then. */
export async function readOptional(fs: CgroupFs, path: string): Promise<string | undefined> {
  try {
    return await fs.readFile(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw new CgroupError(`cannot read ${path}: ${describeErrno(err)}`, { cause: err });
  }
}
