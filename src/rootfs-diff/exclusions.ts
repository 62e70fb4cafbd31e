/**
 * Which paths a rootfs diff leaves out: what the runtime or the kernel provides again on restore (mount
 * points and everything under them, masked paths, /proc, /sys, /dev), plus what the caller adds. Pure.
 */
import { isAtOrBelow } from '../archive/member-path';

/** Always left out: pseudo filesystems, recreated by every start. */
export const ALWAYS_EXCLUDED = ['/proc', '/sys', '/dev'];

/** The parts of an OCI spec the exclusions come from. */
export interface ExclusionSpec {
  mounts?: { destination: string }[];
  linux?: { maskedPaths?: string[] };
}

/** "/a//b/" → "a/b"; "/" → "" (never excluded: that would drop everything). `..` is resolved lexically. */
export function cleanContainerPath(p: string): string {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out.join('/');
}

/**
 * The exclusion list, as clean relative paths, deduplicated and without entries already covered by a
 * shorter one. Mount destinations should be given as the kernel resolved them (symlinks in the rootfs
 * followed), which is how they appear in the upper directory; src/runtime's resolveInRoot does that.
 */
export function diffExclusions(spec: ExclusionSpec = {}, extra: readonly string[] = []): string[] {
  const all = [
    ...ALWAYS_EXCLUDED,
    ...(spec.mounts ?? []).map((m) => m.destination),
    ...(spec.linux?.maskedPaths ?? []),
    ...extra,
  ]
    .map(cleanContainerPath)
    .filter((p) => p !== '');
  const sorted = [...new Set(all)].sort((a, b) => a.length - b.length || (a < b ? -1 : 1));
  const kept: string[] = [];
  for (const p of sorted) if (!kept.some((k) => isAtOrBelow(p, k))) kept.push(p);
  return kept.sort();
}

/** True when the clean relative path `rel` is excluded by `exclusions` (itself or below one). */
export function isExcluded(rel: string, exclusions: readonly string[]): boolean {
  return exclusions.some((e) => isAtOrBelow(rel, e));
}
