/**
 * `linux.seccomp` → the SECCOMP op. Names become libseccomp numbers here so that the helper only feeds
 * numbers to libseccomp (docs/protocol.md, "SECCOMP args").
 */
import { str, strlist, u32, u64, type Arg, type Step } from '../helper/protocol';
import type { Seccomp, SeccompArg } from '../spec/types';
import { PlanError } from './errors';

const EPERM = 1;

/** Action name → libseccomp base value; `errno` marks actions whose low 16 bits carry errnoRet. */
export const SECCOMP_ACTIONS: Readonly<Record<string, { value: number; errno?: true }>> = Object.freeze({
  SCMP_ACT_KILL: { value: 0x00000000 },
  SCMP_ACT_KILL_THREAD: { value: 0x00000000 },
  SCMP_ACT_KILL_PROCESS: { value: 0x80000000 },
  SCMP_ACT_TRAP: { value: 0x00030000 },
  SCMP_ACT_ERRNO: { value: 0x00050000, errno: true },
  SCMP_ACT_TRACE: { value: 0x7ff00000, errno: true },
  SCMP_ACT_LOG: { value: 0x7ffc0000 },
  SCMP_ACT_ALLOW: { value: 0x7fff0000 },
  SCMP_ACT_NOTIFY: { value: 0x7fc00000 },
});

/** Actions stasis cannot honour: user notification needs a listener socket, which is not implemented. */
export const UNSUPPORTED_SECCOMP_ACTIONS: readonly string[] = ['SCMP_ACT_NOTIFY'];

/** Operator name → libseccomp `enum scmp_compare`. */
export const SECCOMP_OPERATORS: Readonly<Record<string, number>> = Object.freeze({
  SCMP_CMP_NE: 1,
  SCMP_CMP_LT: 2,
  SCMP_CMP_LE: 3,
  SCMP_CMP_EQ: 4,
  SCMP_CMP_GE: 5,
  SCMP_CMP_GT: 6,
  SCMP_CMP_MASKED_EQ: 7,
});

/** Spec architecture name → libseccomp architecture name (seccomp_arch_resolve_name). */
export const SECCOMP_ARCHS: Readonly<Record<string, string>> = Object.freeze({
  SCMP_ARCH_X86: 'x86',
  SCMP_ARCH_X86_64: 'x86_64',
  SCMP_ARCH_X32: 'x32',
  SCMP_ARCH_ARM: 'arm',
  SCMP_ARCH_AARCH64: 'aarch64',
  SCMP_ARCH_MIPS: 'mips',
  SCMP_ARCH_MIPS64: 'mips64',
  SCMP_ARCH_MIPS64N32: 'mips64n32',
  SCMP_ARCH_MIPSEL: 'mipsel',
  SCMP_ARCH_MIPSEL64: 'mipsel64',
  SCMP_ARCH_MIPSEL64N32: 'mipsel64n32',
  SCMP_ARCH_PPC: 'ppc',
  SCMP_ARCH_PPC64: 'ppc64',
  SCMP_ARCH_PPC64LE: 'ppc64le',
  SCMP_ARCH_S390: 's390',
  SCMP_ARCH_S390X: 's390x',
  SCMP_ARCH_PARISC: 'parisc',
  SCMP_ARCH_PARISC64: 'parisc64',
  SCMP_ARCH_RISCV64: 'riscv64',
  SCMP_ARCH_LOONGARCH64: 'loongarch64',
  SCMP_ARCH_M68K: 'm68k',
  SCMP_ARCH_SH: 'sh',
  SCMP_ARCH_SHEB: 'sheb',
});

/** Filter flags stasis supports, name → SECCOMP_FILTER_FLAG_* value. */
export const SECCOMP_FLAGS: Readonly<Record<string, number>> = Object.freeze({
  SECCOMP_FILTER_FLAG_TSYNC: 1,
  SECCOMP_FILTER_FLAG_LOG: 2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
});

/** Flags the spec defines that stasis rejects (they only make sense with a notify listener). */
export const UNSUPPORTED_SECCOMP_FLAGS: readonly string[] = [
  'SECCOMP_FILTER_FLAG_NEW_LISTENER',
  'SECCOMP_FILTER_FLAG_TSYNC_ESRCH',
  'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV',
];

/** The full libseccomp action value for a name, with errnoRet folded in (default EPERM). */
export function seccompAction(name: string, errnoRet: number | undefined, field: string): number {
  const a = SECCOMP_ACTIONS[name];
  if (!a) throw new PlanError(field, `unknown seccomp action ${JSON.stringify(name)}`);
  if (UNSUPPORTED_SECCOMP_ACTIONS.includes(name)) throw new PlanError(field, `${name} is not supported`);
  if (!a.errno) return a.value;
  return (a.value | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
}

const U64_MAX = (1n << 64n) - 1n;
function u64Value(n: number | undefined): bigint {
  if (n === undefined) return 0n;
  if (n >= 2 ** 64) return U64_MAX;
  return BigInt(Math.trunc(n));
}

/**
 * Groups of argument conditions, one group per libseccomp rule. libseccomp refuses two conditions on the
 * same argument index in one rule, so a rule that has them is read as "any of these" and split into one
 * rule per condition — the reading the common container profiles rely on (e.g. several allowed
 * `personality` values).
 */
function conditionGroups(args: readonly SeccompArg[]): SeccompArg[][] {
  const indexes = new Set(args.map((a) => a.index));
  if (indexes.size === args.length) return [[...args]];
  return args.map((a) => [a]);
}

/** The SECCOMP step for a spec's seccomp section. */
export function seccompStep(s: Seccomp): Step {
  if (s.listenerPath !== undefined) {
    throw new PlanError('linux.seccomp.listenerPath', 'seccomp user notification is not supported');
  }
  const defaultAction = seccompAction(s.defaultAction, s.defaultErrnoRet, 'linux.seccomp.defaultAction');
  const archs = (s.architectures ?? []).map((a, i) => {
    const name = SECCOMP_ARCHS[a];
    if (!name) throw new PlanError(`linux.seccomp.architectures[${i}]`, `unknown architecture ${JSON.stringify(a)}`);
    return name;
  });
  let flags = 0;
  (s.flags ?? []).forEach((f, i) => {
    const v = SECCOMP_FLAGS[f];
    if (v === undefined) throw new PlanError(`linux.seccomp.flags[${i}]`, `${f} is not supported`);
    flags |= v;
  });
  const rules: Arg[] = [];
  let ruleCount = 0;
  (s.syscalls ?? []).forEach((sc, i) => {
    const action = seccompAction(sc.action, sc.errnoRet, `linux.seccomp.syscalls[${i}].action`);
    const groups = conditionGroups(sc.args ?? []);
    for (const name of sc.names) {
      for (const group of groups) {
        ruleCount++;
        rules.push(str(name), u32(action), u32(group.length));
        for (const [j, a] of group.entries()) {
          const op = SECCOMP_OPERATORS[a.op];
          if (op === undefined) {
            throw new PlanError(`linux.seccomp.syscalls[${i}].args[${j}].op`, `unknown operator ${JSON.stringify(a.op)}`);
          }
          rules.push(u32(a.index), u32(op), u64(u64Value(a.value)), u64(u64Value(a.valueTwo)));
        }
      }
    }
  });
  return {
    op: 'SECCOMP',
    args: [u32(defaultAction), strlist(archs), u32(flags), u32(ruleCount), ...rules],
    what: `apply seccomp filter (${ruleCount} rules)`,
  };
}
