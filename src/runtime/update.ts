/**
 * update: change a live container's limits. The new values are merged into the recorded spec (so a later
 * checkpoint/restore re-applies what is in force now) and written through the cgroup driver.
 */
import * as fs from 'node:fs';
import type { Context } from '../cli/context';
import type { LinuxResources } from '../cgroups';
import { withContainer } from './container';
import { requireStatus } from './lifecycle';
import { openContainerCgroup, resourcesForCreate } from './cgroup';
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
    const spec = c.record.spec;
    const merged = mergeResources((spec.linux?.resources ?? {}) as LinuxResources, changes);
    const cg = openContainerCgroup(c.record);
    // New device rules replace the old list; the driver needs the whole list with the runtime's defaults, as at
    // create. v2 swaps its eBPF program; v1 keeps its rules (the driver says so in a warning).
    const toApply = changes.devices
      ? { ...changes, devices: resourcesForCreate({ ...spec, linux: { ...spec.linux, resources: merged as never } }).devices }
      : changes;
    // Record first, then apply: if the state cannot be written (disk full) nothing has changed; if the kernel
    // refuses a value, the previous record is written back, so state and cgroup never disagree.
    const previous = structuredClone(c.record);
    spec.linux = { ...spec.linux, resources: merged as never };
    c.lock.write(c.record);
    let warnings: string[];
    try {
      ({ warnings } = await cg.update(toApply));
    } catch (err) {
      c.lock.write(previous);
      throw err;
    }
    if (changes.devices && cg.version === 'v1') warnings.push('device rules are not changed by update on cgroup v1');
    return warnings;
  });
}
