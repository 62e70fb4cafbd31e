/**
 * Capability names to kernel numbers (linux/capability.h) and the bit masks the CAPS op takes.
 * The table stops at CAP_CHECKPOINT_RESTORE (40), the newest capability this kernel and libcap know.
 */
import type { Capabilities } from '../spec/types';

/** Every capability stasis knows, name → number, in kernel order. */
export const CAPABILITIES: Readonly<Record<string, number>> = Object.freeze({
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETPCAP: 8,
  CAP_LINUX_IMMUTABLE: 9,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11,
  CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13,
  CAP_IPC_LOCK: 14,
  CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16,
  CAP_SYS_RAWIO: 17,
  CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_BOOT: 22,
  CAP_SYS_NICE: 23,
  CAP_SYS_RESOURCE: 24,
  CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26,
  CAP_MKNOD: 27,
  CAP_LEASE: 28,
  CAP_AUDIT_WRITE: 29,
  CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31,
  CAP_MAC_OVERRIDE: 32,
  CAP_MAC_ADMIN: 33,
  CAP_SYSLOG: 34,
  CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36,
  CAP_AUDIT_READ: 37,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
  CAP_CHECKPOINT_RESTORE: 40,
});

/** All capability names, in number order (used by `features`). */
export const CAPABILITY_NAMES: readonly string[] = Object.keys(CAPABILITIES);

/** True when `name` is a capability stasis knows. */
export function isCapability(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(CAPABILITIES, name);
}

/** Bit mask (bit n = capability n) of a list of names; throws on an unknown name. */
export function capMask(names: readonly string[] | undefined): bigint {
  let mask = 0n;
  for (const name of names ?? []) {
    if (!isCapability(name)) throw new Error(`unknown capability ${JSON.stringify(name)}`);
    mask |= 1n << BigInt(CAPABILITIES[name]);
  }
  return mask;
}

/** The five masks of the CAPS op. */
export interface CapMasks {
  bounding: bigint;
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
  ambient: bigint;
}

/**
 * Masks for `process.capabilities`. An absent `capabilities` object means no capabilities at all (the
 * spec's reading, and runc's): a process that wants root's powers must list them.
 */
export function capMasks(caps: Capabilities | undefined): CapMasks {
  return {
    bounding: capMask(caps?.bounding),
    effective: capMask(caps?.effective),
    permitted: capMask(caps?.permitted),
    inheritable: capMask(caps?.inheritable),
    ambient: capMask(caps?.ambient),
  };
}
