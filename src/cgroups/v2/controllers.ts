/**
 * cgroup v2 only offers a controller's files in a cgroup whose parent lists it in cgroup.subtree_control.
 * Enabling happens top-down, one level at a time, and never in the leaf: a cgroup that delegates controllers
 * to children may not hold processes itself ("no internal process" rule).
 */
import * as posix from 'node:path/posix';
import { describeErrno } from '../errors';
import { CgroupFs } from '../fs';
import { readOptional } from '../tree';

/** Words of a space separated controller list file. */
export async function readControllerList(fs: CgroupFs, path: string): Promise<Set<string>> {
  return new Set(((await readOptional(fs, path)) ?? '').trim().split(/\s+/).filter((s) => s !== ''));
}

/** Enable every controller `dir` has but does not yet delegate. Returns warnings for the ones refused. */
export async function enableAllControllers(fs: CgroupFs, dir: string): Promise<string[]> {
  const available = await readControllerList(fs, posix.join(dir, 'cgroup.controllers'));
  const enabled = await readControllerList(fs, posix.join(dir, 'cgroup.subtree_control'));
  const missing = [...available].filter((c) => !enabled.has(c));
  if (missing.length === 0) return [];
  const path = posix.join(dir, 'cgroup.subtree_control');
  try {
    await fs.writeFile(path, missing.map((c) => `+${c}`).join(' '));
    return [];
  } catch {
    // One refused controller fails the whole write; retry one by one so the others still get enabled.
    const warnings: string[] = [];
    for (const c of missing) {
      try {
        await fs.writeFile(path, `+${c}`);
      } catch (err) {
        warnings.push(`cannot enable the ${c} controller: writing "+${c}" to ${path}: ${describeErrno(err)}`);
      }
    }
    return warnings;
  }
}
