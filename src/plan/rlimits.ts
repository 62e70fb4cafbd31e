/**
 * RLIMIT_* names to resource numbers (asm-generic/resource.h, the same on every Linux arch stasis targets)
 * and the SETRLIMIT steps for `process.rlimits`.
 */
import { u32, u64, type Step } from '../helper/protocol';
import type { Rlimit } from '../spec/types';

/** Resource numbers by OCI name. */
export const RLIMITS: Readonly<Record<string, number>> = Object.freeze({
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
});

/** True when `name` is a known RLIMIT_* name. */
export function isRlimit(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(RLIMITS, name);
}

/** RLIM_INFINITY as the kernel sees it. */
export const RLIM_INFINITY = (1n << 64n) - 1n;

/**
 * A JSON rlimit value as u64. JSON.parse turns 18446744073709551615 (the usual way to write "unlimited")
 * into 2^64 exactly, which does not fit; anything at or above 2^64 therefore means RLIM_INFINITY.
 */
export function rlimitValue(n: number): bigint {
  if (n >= 2 ** 64) return RLIM_INFINITY;
  return BigInt(Math.trunc(n));
}

/** One SETRLIMIT step per entry, in spec order. */
export function rlimitSteps(rlimits: readonly Rlimit[] | undefined): Step[] {
  return (rlimits ?? []).map((r) => {
    if (!isRlimit(r.type)) throw new Error(`unknown rlimit type ${JSON.stringify(r.type)}`);
    return {
      op: 'SETRLIMIT',
      args: [u32(RLIMITS[r.type]), u64(rlimitValue(r.soft)), u64(rlimitValue(r.hard))],
      what: `set ${r.type} to soft ${r.soft} hard ${r.hard}`,
    };
  });
}
