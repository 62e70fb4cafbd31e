/** Executes a WritePlan against controller directories, turning kernel refusals into one-line CgroupErrors. */
import * as posix from 'node:path/posix';
import { CgroupError, describeErrno, errnoCode } from './errors';
import { CgroupFs } from './fs';
import { CgroupWrite, WritePlan } from './resources-common';

/** Write one value; the error names the action, value, file and the kernel's reason. */
export async function writeValue(fs: CgroupFs, path: string, value: string, what: string): Promise<void> {
  try {
    await fs.writeFile(path, value);
  } catch (err) {
    throw new CgroupError(`cannot ${what}: writing ${JSON.stringify(value)} to ${path}: ${describeErrno(err)}`, { cause: err });
  }
}

/**
 * Perform `plan.writes` in order. `dirOf` maps a controller to its directory, or undefined when the controller
 * is unavailable (`unavailable` then explains why). Returns the plan's warnings plus skipped optional writes.
 */
export async function applyWritePlan(
  fs: CgroupFs,
  plan: WritePlan,
  dirOf: (controller: string) => string | undefined,
  unavailable: (controller: string) => string,
): Promise<string[]> {
  const warnings = [...plan.warnings];
  for (const w of plan.writes) {
    const skipped = await applyOne(fs, w, dirOf, unavailable);
    if (skipped) warnings.push(skipped);
  }
  return warnings;
}

async function applyOne(
  fs: CgroupFs,
  w: CgroupWrite,
  dirOf: (controller: string) => string | undefined,
  unavailable: (controller: string) => string,
): Promise<string | undefined> {
  const dir = dirOf(w.controller);
  if (dir === undefined) {
    const why = unavailable(w.controller);
    if (w.optional) return `${w.what} skipped: ${why}`;
    throw new CgroupError(`cannot ${w.what}: ${why}`);
  }
  const path = posix.join(dir, w.file);
  try {
    await fs.writeFile(path, w.value);
    return undefined;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      if (w.fallback) {
        await writeValue(fs, posix.join(dir, w.fallback.file), w.fallback.value, w.what);
        return undefined;
      }
      if (w.optional) return `${w.what} skipped: ${path} does not exist`;
    }
    throw new CgroupError(`cannot ${w.what}: writing ${JSON.stringify(w.value)} to ${path}: ${describeErrno(err)}`, { cause: err });
  }
}
