/**
 * PURE compiler from OCI device rules to a BPF_PROG_TYPE_CGROUP_DEVICE program (cgroup v2 has no devices.allow
 * file: the kernel asks an attached eBPF program instead). The program reads `struct bpf_cgroup_dev_ctx`
 * { u32 access_type; u32 major; u32 minor; } and returns 1 to allow, 0 to deny.
 *
 * Semantics, chosen to match what the v1 devices cgroup does with the same list written in order:
 * - the LAST rule that matches decides, so rules are emitted in reverse and the first hit returns;
 * - a type "a" rule matches every device and every access (the kernel ignores its numbers in v1 too), so
 *   nothing written before it can ever be reached and emission stops there;
 * - an allow rule matches when it covers every requested access bit (v1 checks "request ⊆ rule");
 * - a deny rule matches when it covers any requested bit (denying "w" must stop an open for "rw");
 * - when no rule matches the answer is deny: the v1 driver starts every list with "deny a" as well.
 */
import { CgroupError } from '../errors';
import { checkInt } from '../resources-common';
import { LinuxDeviceCgroup } from '../types';

/** Size of one eBPF instruction in bytes. */
export const BPF_INSN_SIZE = 8;

// Instruction classes, operations and sources (linux/bpf_common.h, linux/bpf.h).
const BPF_LDX = 0x01, BPF_ALU = 0x04, BPF_JMP = 0x05, BPF_ALU64 = 0x07;
const BPF_W = 0x00, BPF_MEM = 0x60;
const BPF_K = 0x00, BPF_X = 0x08;
const BPF_AND = 0x50, BPF_RSH = 0x70, BPF_MOV = 0xb0;
const BPF_JEQ = 0x10, BPF_JNE = 0x50, BPF_EXIT = 0x90;

/** Device type codes in the low 16 bits of access_type (BPF_DEVCG_DEV_*). */
export const DEVCG_DEV_BLOCK = 1;
export const DEVCG_DEV_CHAR = 2;
/** Access bits in the high 16 bits of access_type (BPF_DEVCG_ACC_*). */
export const DEVCG_ACC_MKNOD = 1;
export const DEVCG_ACC_READ = 2;
export const DEVCG_ACC_WRITE = 4;
const ACC_ALL = DEVCG_ACC_MKNOD | DEVCG_ACC_READ | DEVCG_ACC_WRITE;

/** Registers the program keeps its decoded context in (r1 holds the ctx pointer on entry, then is scratch). */
const R0 = 0, R1 = 1, R_TYPE = 2, R_ACCESS = 3, R_MAJOR = 4, R_MINOR = 5;

/** One decoded instruction; `off` of a forward jump is filled in once the block length is known. */
export interface BpfInsn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

const insn = (code: number, dst: number, src: number, off: number, imm: number): BpfInsn => ({ code, dst, src, off, imm });

/** A device rule after validation: numbers as the kernel sees them, -1 = any. */
export interface NormalizedDeviceRule {
  allow: boolean;
  /** 'a' (all), 'b' or 'c'. */
  type: 'a' | 'b' | 'c';
  major: number;
  minor: number;
  /** DEVCG_ACC_* bits. */
  access: number;
}

/** Validate one OCI rule and turn it into numbers (errors name the field). */
export function normalizeDeviceRule(rule: LinuxDeviceCgroup, field: string): NormalizedDeviceRule {
  const type = rule.type ?? 'a';
  if (type !== 'a' && type !== 'b' && type !== 'c') throw new CgroupError(`${field}.type "${type}" must be a, b or c`);
  const accessText = rule.access ?? 'rwm';
  if (!/^[rwm]{1,3}$/.test(accessText) || new Set(accessText).size !== accessText.length) {
    throw new CgroupError(`${field}.access "${accessText}" must be a combination of r, w and m`);
  }
  let access = 0;
  for (const ch of accessText) access |= ch === 'r' ? DEVCG_ACC_READ : ch === 'w' ? DEVCG_ACC_WRITE : DEVCG_ACC_MKNOD;
  const num = (n: number | undefined, what: string): number => {
    if (n === undefined || n === -1) return -1;
    // The jump immediates are signed 32-bit; real device numbers are far smaller (12-bit major, 20-bit minor).
    checkInt(`${field}.${what}`, n, 0, 0x7fffffff);
    return n;
  };
  return { allow: !!rule.allow, type, major: num(rule.major, 'major'), minor: num(rule.minor, 'minor'), access };
}

/** Instructions that test one rule and return its verdict, falling through to the next rule on a mismatch. */
function ruleBlock(r: NormalizedDeviceRule): BpfInsn[] {
  const tests: BpfInsn[] = [];
  if (r.type !== 'a') {
    tests.push(insn(BPF_JMP | BPF_JNE | BPF_K, R_TYPE, 0, 0, r.type === 'b' ? DEVCG_DEV_BLOCK : DEVCG_DEV_CHAR));
    if (r.access !== ACC_ALL) {
      tests.push(insn(BPF_ALU64 | BPF_MOV | BPF_X, R1, R_ACCESS, 0, 0));
      if (r.allow) {
        // Allow only when no requested bit lies outside the rule: (request & ~rule) == 0.
        tests.push(insn(BPF_ALU | BPF_AND | BPF_K, R1, 0, 0, ~r.access & ACC_ALL));
        tests.push(insn(BPF_JMP | BPF_JNE | BPF_K, R1, 0, 0, 0));
      } else {
        // Deny as soon as one requested bit is in the rule: (request & rule) != 0.
        tests.push(insn(BPF_ALU | BPF_AND | BPF_K, R1, 0, 0, r.access));
        tests.push(insn(BPF_JMP | BPF_JEQ | BPF_K, R1, 0, 0, 0));
      }
    }
    if (r.major !== -1) tests.push(insn(BPF_JMP | BPF_JNE | BPF_K, R_MAJOR, 0, 0, r.major));
    if (r.minor !== -1) tests.push(insn(BPF_JMP | BPF_JNE | BPF_K, R_MINOR, 0, 0, r.minor));
  }
  const verdict = [insn(BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, r.allow ? 1 : 0), insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)];
  const block = [...tests, ...verdict];
  // Every conditional jump skips to the end of this block (the next rule): off counts the insns after it.
  block.forEach((b, i) => {
    if ((b.code & 0x07) === BPF_JMP && b.code !== (BPF_JMP | BPF_EXIT)) b.off = block.length - i - 1;
  });
  return block;
}

/** The program as decoded instructions (exported for tests and for debugging output). */
export function deviceProgramInsns(rules: readonly LinuxDeviceCgroup[]): BpfInsn[] {
  const normalized = rules.map((r, i) => normalizeDeviceRule(r, `devices[${i}]`));
  const out: BpfInsn[] = [
    // access_type: low 16 bits the device type, high 16 bits the access mask.
    insn(BPF_LDX | BPF_MEM | BPF_W, R_TYPE, R1, 0, 0),
    insn(BPF_ALU64 | BPF_MOV | BPF_X, R_ACCESS, R_TYPE, 0, 0),
    insn(BPF_ALU | BPF_AND | BPF_K, R_TYPE, 0, 0, 0xffff),
    insn(BPF_ALU | BPF_RSH | BPF_K, R_ACCESS, 0, 0, 16),
    insn(BPF_LDX | BPF_MEM | BPF_W, R_MAJOR, R1, 4, 0),
    insn(BPF_LDX | BPF_MEM | BPF_W, R_MINOR, R1, 8, 0),
  ];
  let catchAll = false;
  for (let i = normalized.length - 1; i >= 0 && !catchAll; i--) {
    out.push(...ruleBlock(normalized[i]));
    catchAll = normalized[i].type === 'a';
  }
  if (!catchAll) out.push(insn(BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, 0), insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
  return out;
}

/** Encode instructions as the kernel reads `struct bpf_insn` (little endian, dst in the low nibble). */
export function encodeInsns(insns: readonly BpfInsn[]): Buffer {
  const buf = Buffer.alloc(insns.length * BPF_INSN_SIZE);
  insns.forEach((x, i) => {
    const o = i * BPF_INSN_SIZE;
    buf.writeUInt8(x.code, o);
    buf.writeUInt8((x.dst & 0x0f) | ((x.src & 0x0f) << 4), o + 1);
    buf.writeInt16LE(x.off, o + 2);
    buf.writeInt32LE(x.imm | 0, o + 4);
  });
  return buf;
}

/** Compile OCI device rules into the bytes BPF_PROG_LOAD takes as `insns`. */
export function compileDeviceProgram(rules: readonly LinuxDeviceCgroup[]): Buffer {
  return encodeInsns(deviceProgramInsns(rules));
}
