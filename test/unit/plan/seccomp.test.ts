import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seccompAction, seccompStep } from '../../../src/plan/seccomp';
import type { Arg } from '../../../src/helper/protocol';

const vals = (args: Arg[]) => args.map((a) => a.v);

test('action values match libseccomp', () => {
  const f = 'x';
  assert.equal(seccompAction('SCMP_ACT_KILL', undefined, f), 0);
  assert.equal(seccompAction('SCMP_ACT_KILL_THREAD', undefined, f), 0);
  assert.equal(seccompAction('SCMP_ACT_KILL_PROCESS', undefined, f), 0x80000000);
  assert.equal(seccompAction('SCMP_ACT_TRAP', undefined, f), 0x00030000);
  assert.equal(seccompAction('SCMP_ACT_ERRNO', undefined, f), 0x00050001);
  assert.equal(seccompAction('SCMP_ACT_ERRNO', 38, f), 0x00050026);
  assert.equal(seccompAction('SCMP_ACT_TRACE', undefined, f), 0x7ff00001);
  assert.equal(seccompAction('SCMP_ACT_TRACE', 5, f), 0x7ff00005);
  assert.equal(seccompAction('SCMP_ACT_LOG', undefined, f), 0x7ffc0000);
  assert.equal(seccompAction('SCMP_ACT_ALLOW', undefined, f), 0x7fff0000);
  assert.throws(() => seccompAction('SCMP_ACT_NOTIFY', undefined, 'linux.seccomp.defaultAction'), {
    message: 'linux.seccomp.defaultAction: SCMP_ACT_NOTIFY is not supported',
  });
});

test('a profile becomes the flat SECCOMP argument list', () => {
  const step = seccompStep({
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 38,
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64'],
    flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
    syscalls: [
      { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
      { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 97, args: [{ index: 0, value: 16, op: 'SCMP_CMP_EQ' }, { index: 2, value: 9, valueTwo: 0, op: 'SCMP_CMP_NE' }] },
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
    ],
  });
  assert.equal(step.op, 'SECCOMP');
  assert.deepEqual(vals(step.args), [
    0x00050026, ['x86_64', 'x86', 'x32', 'aarch64'], 6, 4,
    'read', 0x7fff0000, 0,
    'write', 0x7fff0000, 0,
    'socket', 0x00050061, 2, 0, 4, 16n, 0n, 2, 1, 9n, 0n,
    'clone', 0x7fff0000, 1, 0, 7, 2114060288n, 0n,
  ]);
  assert.deepEqual(step.args.slice(0, 4).map((a) => a.t), ['u32', 'strlist', 'u32', 'u32']);
});

test('conditions on the same argument are split into one rule each', () => {
  const step = seccompStep({
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [
      { index: 0, value: 0, op: 'SCMP_CMP_EQ' }, { index: 0, value: 8, op: 'SCMP_CMP_EQ' },
    ] }],
  });
  assert.deepEqual(vals(step.args), [0x7fff0000, [], 0, 2,
    'personality', 0x7fff0000, 1, 0, 4, 0n, 0n,
    'personality', 0x7fff0000, 1, 0, 4, 8n, 0n]);
});

test('flags map to SECCOMP_FILTER_FLAG values; unsupported features are refused', () => {
  assert.equal(seccompStep({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_TSYNC'] }).args[2].v, 1);
  assert.throws(() => seccompStep({ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/x' }), {
    message: 'linux.seccomp.listenerPath: seccomp user notification is not supported',
  });
  assert.throws(() => seccompStep({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'] }), /is not supported/);
  assert.throws(() => seccompStep({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_Z80'] }), /unknown architecture/);
});
