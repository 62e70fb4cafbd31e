/**
 * update: change a live container's limits. The new values are merged into the recorded spec (so a later
 * checkpoint/restore re-applies what is in force now) and written through the cgroup driver.
 */
import * as fs from 'node:fs';
import type { Context } from '../cli/context';
import type { LinuxResources } from '../cgroups';
import { withContainer } from './container';
import { requireStatus } from './lifecycle';
import { openContainerCgroup } from './cgroup';
import { RuntimeError, errnoText } from './errors';

/** Reads `--resources FILE` (or `-` for stdin) as OCI linux.resources JSON. */
export function readResourcesFile(file: string): LinuxResources {
  let text: string;
  try {
    text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new RuntimeError('usage', `cannot read resources from ${file}: ${errnoText(err)}`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('expected a JSON object');
    return v as LinuxResources;
  } catch (err) {
    throw new RuntimeError('usage', `${file}: invalid resources JSON: ${(err as Error).message}`);
  }
}

/** Deep-merges b into a (objects merge, everything else replaces). */
export function mergeResources(a: LinuxResources, b: LinuxResources): LinuxResources {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' && !Array.isArray(prev)
        ? { ...(prev as object), ...(v as object) }
        : v;
  }
  return out as LinuxResources;
}

/** Applies `changes` to container `id`; returns the driver's warnings. */
export async function updateContainer(ctx: Context, id: string, changes: LinuxResources): Promise<string[]> {
  return withContainer(ctx, id, async (c) => {
    requireStatus('update', id, c.status);
    const { warnings } = await openContainerCgroup(c.record).update(changes);
    const spec = c.record.spec;
    spec.linux = { ...spec.linux, resources: mergeResources((spec.linux?.resources ?? {}) as LinuxResources, changes) as never };
    c.lock.write(c.record);
    return warnings;
  });
}
