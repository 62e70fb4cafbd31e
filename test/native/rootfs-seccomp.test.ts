/**
 * SECCOMP: a libseccomp filter built from the plan is loaded before exec; blocked calls fail with the
 * errno folded into the action, argument conditions narrow a rule, unknown syscalls are skipped, and
 * unsupported flags or architectures are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { str, strlist, u32, u64, type Arg, type Step } from '../../src/helper/protocol';
import { basicMounts, enterAndBind, makeRootfs, runPlan, shell, skipUnlessReady, step } from './rootfs-fixture';

const ACT_ALLOW = 0x7fff0000;
const actErrno = (e: number): number => 0x00050000 | e;
const EPERM = 1;
const SCMP_CMP_EQ = 4;
const SECCOMP_FILTER_FLAG_LOG = 2;
const SECCOMP_FILTER_FLAG_NEW_LISTENER = 8;
const PER_LINUX32 = 0x0008;

interface Rule {
  name: string;
  action: number;
  args?: { index: number; op: number; value: bigint | number; valueTwo?: bigint | number }[];
}

function seccomp(defaultAction: number, arches: string[], flags: number, rules: Rule[]): Step {
  const args: Arg[] = [u32(defaultAction), strlist(arches), u32(flags), u32(rules.length)];
  for (const r of rules) {
    args.push(str(r.name), u32(r.action), u32(r.args?.length ?? 0));
    for (const a of r.args ?? []) args.push(u32(a.index), u32(a.op), u64(a.value), u64(a.valueTwo ?? 0));
  }
  return { op: 'SECCOMP', args, what: 'load the seccomp filter' };
}

const BLOCK_MKDIR: Rule[] = [
  { name: 'mkdir', action: actErrno(EPERM) },
  { name: 'mkdirat', action: actErrno(EPERM) },
  { name: 'personality', action: actErrno(EPERM), args: [{ index: 0, op: SCMP_CMP_EQ, value: PER_LINUX32 }] },
  { name: 'no_such_syscall', action: actErrno(EPERM) },
  { name: 'getpid', action: ACT_ALLOW },
];

test('a seccomp filter blocks what the plan lists and nothing else', async (t) => {
  if (skipUnlessReady(t)) return;
  const root = makeRootfs(t);
  const logs: string[] = [];
  const res = await runPlan(
    [
      ...enterAndBind(root),
      ...basicMounts(),
      step.pivot(),
      seccomp(ACT_ALLOW, ['x86_64', 'x86', 'x32'], SECCOMP_FILTER_FLAG_LOG, BLOCK_MKDIR),
      ...shell(
        [
          'echo "mkdir=$(mkdir /tmp/x 2>&1)"',
          'echo "write=$(echo ok > /tmp/f && cat /tmp/f)"',
          'echo "linux32=$(linux32 true 2>&1 && echo ok)"',
          'echo "linux64=$(linux64 true 2>&1 && echo ok)"',
        ].join('; '),
      ),
    ],
    { logs },
  );
  assert.equal(res.error, undefined, res.error?.message);
  assert.equal(res.status, 0, res.stderr);
  const out = res.stdout.trim().split('\n');
  assert.equal(out[0], "mkdir=mkdir: can't create directory '/tmp/x': Operation not permitted");
  assert.equal(out[1], 'write=ok');
  assert.match(out[2], /^linux32=.*Operation not permitted$/);
  assert.equal(out[3], 'linux64=ok');
  assert.ok(logs.some((l) => l.includes('unknown syscall no_such_syscall')), logs.join('\n'));
  assert.ok(logs.some((l) => l.includes('getpid has the default action')), logs.join('\n'));
});

test('unsupported seccomp flags and unknown architectures are refused', async (t) => {
  if (skipUnlessReady(t)) return;
  const root = makeRootfs(t);
  const flag = await runPlan([
    ...enterAndBind(root),
    seccomp(ACT_ALLOW, ['x86_64'], SECCOMP_FILTER_FLAG_NEW_LISTENER, BLOCK_MKDIR),
    ...shell('echo unreachable'),
  ]);
  assert.equal(flag.error?.op, 'SECCOMP');
  assert.match(flag.error?.detail ?? '', /unsupported seccomp filter flags 0x8/);
  assert.equal(flag.stdout, '');

  const arch = await runPlan([...enterAndBind(root), seccomp(ACT_ALLOW, ['vax'], 0, []), ...shell('echo unreachable')]);
  assert.equal(arch.error?.op, 'SECCOMP');
  assert.match(arch.error?.detail ?? '', /unknown seccomp architecture vax/);
});
