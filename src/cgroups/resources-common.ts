/** Types and small pure helpers shared by the v1 and v2 resource translators. */
import { CgroupError } from './errors';

/** One write of `value` into `<controller dir>/<file>`. */
export interface CgroupWrite {
  /** v1: hierarchy name ('memory'…); v2: controller the file belongs to ('memory', 'io'…, 'cgroup' for core files). */
  controller: string;
  file: string;
  value: string;
  /** What the write does, for errors: "cannot <what>: …" ("set memory limit"). */
  what: string;
  /** A missing file (or unmounted controller) is a warning, not an error: e.g. kmem files on newer kernels. */
  optional?: boolean;
  /** Written instead when `file` does not exist (blkio.weight → blkio.bfq.weight). */
  fallback?: { file: string; value: string };
}

/** Ordered writes plus warnings for settings that were ignored. */
export interface WritePlan {
  writes: CgroupWrite[];
  warnings: string[];
}

/** Current kernel values a v1 plan needs to choose a safe order. */
export interface V1Current {
  /** memory.memsw.limit_in_bytes now (undefined if swap accounting is off). */
  memswLimit?: number;
}

/** Current kernel values a v2 plan needs. */
export interface V2Current {
  /** The quota half of cpu.max now ("max" or microseconds): a period-only change must keep it. */
  cpuQuota?: string;
}

/** Options shared by both translators. */
export interface WriteOptions {
  /** Leave device rules alone (`update`: rewriting "deny a" would briefly cut off a running container). */
  skipDevices?: boolean;
}

/** cpu.shares (2..262144) → cpu.weight (1..10000), the linear mapping runc and crun use. */
export function sharesToWeight(shares: number): number {
  return Math.floor(1 + ((shares - 2) * 9999) / 262142);
}

/** blkio.weight (10..1000) → io.weight (1..10000), the same linear idea as for cpu. */
export function blkioWeightToIoWeight(weight: number): number {
  return Math.floor(1 + ((weight - 10) * 9999) / 990);
}

/**
 * OCI swap (memory+swap, v1 semantics) → v2 memory.swap.max (swap only).
 * undefined/0 → not set; -1 → 'max'; otherwise swap - limit, which needs a positive limit no larger than swap.
 */
export function memorySwapToV2(limit: number | undefined, swap: number | undefined): number | 'max' | undefined {
  if (swap === undefined || swap === 0) return undefined;
  if (swap === -1) return 'max';
  if (limit === undefined || limit <= 0) {
    throw new CgroupError('memory.swap needs a memory.limit on cgroup v2 (swap is memory+swap)');
  }
  if (swap < limit) throw new CgroupError(`memory.swap (${swap}) must not be lower than memory.limit (${limit})`);
  return swap - limit;
}

/** Reject non-integers early with the field name; the kernel would say only "invalid argument". */
export function checkInt(field: string, v: number | undefined, min = -Infinity, max = Infinity): void {
  if (v === undefined) return;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    const range = min > -Infinity || max < Infinity ? ` (expected ${min}..${max})` : '';
    throw new CgroupError(`${field} has invalid value ${v}${range}`);
  }
}

/** "major:minor" with validation. */
export function deviceId(field: string, major: number, minor: number): string {
  checkInt(`${field}.major`, major, 0);
  checkInt(`${field}.minor`, minor, 0);
  return `${major}:${minor}`;
}

/** Huge page size as used in file names ("2MB", "1GB"). */
export function checkPageSize(pageSize: string): string {
  if (!/^[1-9][0-9]*[KMG]B$/.test(pageSize)) {
    throw new CgroupError(`hugepageLimits.pageSize "${pageSize}" must look like 2MB or 1GB`);
  }
  return pageSize;
}
