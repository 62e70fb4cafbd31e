/**
 * PURE translation of OCI `linux.resources` into ordered cgroup file writes, one function per cgroup version.
 * Nothing here touches the filesystem: drivers read whatever current state an ordering decision needs and pass
 * it in. Conventions (runc's): 0 means "not set" for memory, cpu and blkio numbers; -1 means unlimited.
 */
import { LinuxResources } from './types';
import { V1Current, V2Current, WriteOptions, WritePlan } from './resources-common';
import { v1WritesImpl } from './resources-v1';
import { v2WritesImpl } from './resources-v2';

export type { CgroupWrite, WritePlan, V1Current, V2Current, WriteOptions } from './resources-common';
export { sharesToWeight, blkioWeightToIoWeight, memorySwapToV2 } from './resources-common';

/** Writes for cgroup v1; `current` lets the memory/memsw pair be ordered so each write stays valid. */
export function v1Writes(resources: LinuxResources, current: V1Current = {}, options: WriteOptions = {}): WritePlan {
  return v1WritesImpl(resources, current, options);
}

/**
 * Writes for cgroup v2 (unified hierarchy). Device rules are not part of the plan: v2 has no device files, the
 * driver compiles them to an eBPF program (v2/device-program.ts). `current` keeps a period-only cpu change from
 * dropping the quota in force.
 */
export function v2Writes(resources: LinuxResources, options: WriteOptions = {}, current: V2Current = {}): WritePlan {
  return v2WritesImpl(resources, options, current);
}

