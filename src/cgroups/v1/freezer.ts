/** v1 freezer: write freezer.state and wait until reading it back says the transition finished. */
import * as posix from 'node:path/posix';
import { CgroupError, describeErrno } from '../errors';
import { CgroupFs } from '../fs';
import { FreezerState } from '../manager';
import { pollUntil } from '../wait';
import { writeValue } from '../writer';

/** Raw freezer.state: THAWED, FREEZING or FROZEN. */
export async function readFreezerState(fs: CgroupFs, dir: string): Promise<string> {
  const path = posix.join(dir, 'freezer.state');
  try {
    return (await fs.readFile(path)).trim();
  } catch (err) {
    throw new CgroupError(`cannot read freezer state: ${path}: ${describeErrno(err)}`, { cause: err });
  }
}

/**
 * Freeze and wait for FROZEN. Tasks forked while FREEZING can escape a single write, so the write is repeated
 * every few polls; on timeout the cgroup is thawed again so the container is not left half frozen.
 */
export async function freezeV1(fs: CgroupFs, dir: string, timeoutMs: number): Promise<void> {
  const path = posix.join(dir, 'freezer.state');
  await writeValue(fs, path, 'FROZEN', 'freeze cgroup');
  let last = '';
  const ok = await pollUntil(async () => (last = await readFreezerState(fs, dir)) === 'FROZEN', timeoutMs, {
    onRetry: async (attempt) => {
      if (attempt % 8 === 0) await writeValue(fs, path, 'FROZEN', 'freeze cgroup');
    },
  });
  if (!ok) {
    await writeValue(fs, path, 'THAWED', 'thaw cgroup after a failed freeze');
    throw new CgroupError(`cannot freeze cgroup ${dir}: freezer.state still ${last} after ${timeoutMs} ms, thawed it again`);
  }
}

/** Thaw and wait for THAWED (immediate on current kernels, but do not assume it). */
export async function thawV1(fs: CgroupFs, dir: string, timeoutMs: number): Promise<void> {
  await writeValue(fs, posix.join(dir, 'freezer.state'), 'THAWED', 'thaw cgroup');
  let last = '';
  const ok = await pollUntil(async () => (last = await readFreezerState(fs, dir)) === 'THAWED', timeoutMs);
  if (!ok) throw new CgroupError(`cannot thaw cgroup ${dir}: freezer.state still ${last} after ${timeoutMs} ms`);
}

/** FROZEN → 'frozen'; THAWED and FREEZING (not fully stopped) → 'thawed'. */
export async function stateV1(fs: CgroupFs, dir: string): Promise<FreezerState> {
  return (await readFreezerState(fs, dir)) === 'FROZEN' ? 'frozen' : 'thawed';
}
