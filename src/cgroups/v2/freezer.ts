/** v2 freezer: cgroup.freeze is the request, the "frozen" key of cgroup.events is the kernel's answer. */
import * as posix from 'node:path/posix';
import { CgroupError, describeErrno } from '../errors';
import { CgroupFs } from '../fs';
import { FreezerState } from '../manager';
import { parseFlatKeyed } from '../parse';
import { pollUntil } from '../wait';
import { writeValue } from '../writer';

/** Value of `frozen` in cgroup.events (0 or 1). */
export async function readFrozen(fs: CgroupFs, dir: string): Promise<number> {
  const path = posix.join(dir, 'cgroup.events');
  try {
    return parseFlatKeyed(await fs.readFile(path)).frozen ?? 0;
  } catch (err) {
    throw new CgroupError(`cannot read freezer state: ${path}: ${describeErrno(err)}`, { cause: err });
  }
}

async function setFrozen(fs: CgroupFs, dir: string, want: 0 | 1, timeoutMs: number): Promise<boolean> {
  await writeValue(fs, posix.join(dir, 'cgroup.freeze'), String(want), want ? 'freeze cgroup' : 'thaw cgroup');
  return pollUntil(async () => (await readFrozen(fs, dir)) === want, timeoutMs);
}

/** Freeze and wait for "frozen 1"; on timeout thaw again and fail. */
export async function freezeV2(fs: CgroupFs, dir: string, timeoutMs: number): Promise<void> {
  if (await setFrozen(fs, dir, 1, timeoutMs)) return;
  await writeValue(fs, posix.join(dir, 'cgroup.freeze'), '0', 'thaw cgroup after a failed freeze');
  throw new CgroupError(`cannot freeze cgroup ${dir}: cgroup.events did not report frozen within ${timeoutMs} ms, thawed it again`);
}

/** Thaw and wait for "frozen 0". */
export async function thawV2(fs: CgroupFs, dir: string, timeoutMs: number): Promise<void> {
  if (!(await setFrozen(fs, dir, 0, timeoutMs))) {
    throw new CgroupError(`cannot thaw cgroup ${dir}: cgroup.events still reports frozen after ${timeoutMs} ms`);
  }
}

/** 'frozen' when cgroup.events says frozen 1. */
export async function stateV2(fs: CgroupFs, dir: string): Promise<FreezerState> {
  return (await readFrozen(fs, dir)) === 1 ? 'frozen' : 'thawed';
}
