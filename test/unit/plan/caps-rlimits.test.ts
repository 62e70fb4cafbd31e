import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CAPABILITIES, capMask, capMasks } from '../../../src/plan/caps';
import { RLIM_INFINITY, rlimitSteps, rlimitValue } from '../../../src/plan/rlimits';

test('capability numbers follow the kernel', () => {
  assert.equal(CAPABILITIES.CAP_CHOWN, 0);
  assert.equal(CAPABILITIES.CAP_SYS_ADMIN, 21);
  assert.equal(CAPABILITIES.CAP_AUDIT_READ, 37);
  assert.equal(CAPABILITIES.CAP_CHECKPOINT_RESTORE, 40);
  assert.equal(Object.keys(CAPABILITIES).length, 41);
});

test('masks are bigints with one bit per capability', () => {
  assert.equal(capMask([]), 0n);
  assert.equal(capMask(undefined), 0n);
  assert.equal(capMask(['CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_AUDIT_WRITE']), (1n << 5n) | (1n << 10n) | (1n << 29n));
  assert.equal(capMask(['CAP_CHECKPOINT_RESTORE']), 1n << 40n);
  assert.equal(capMask(Object.keys(CAPABILITIES)), (1n << 41n) - 1n);
  assert.equal(capMask(['CAP_KILL', 'CAP_KILL']), 1n << 5n);
});

test('unknown capability names are rejected', () => {
  assert.throws(() => capMask(['CAP_KILL', 'CAP_FOO']), { message: 'unknown capability "CAP_FOO"' });
  assert.throws(() => capMask(['cap_kill']), /unknown capability/);
});

test('absent capabilities mean empty sets', () => {
  assert.deepEqual(capMasks(undefined), { bounding: 0n, effective: 0n, permitted: 0n, inheritable: 0n, ambient: 0n });
  assert.equal(capMasks({ ambient: ['CAP_BPF'] }).ambient, 1n << 39n);
});

test('rlimits become SETRLIMIT steps with resource numbers', () => {
  const steps = rlimitSteps([
    { type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 },
    { type: 'RLIMIT_CORE', soft: 0, hard: 18446744073709551615 },
    { type: 'RLIMIT_RTTIME', soft: 1, hard: 2 },
  ]);
  assert.deepEqual(steps.map((s) => s.args.map((a) => a.v)), [
    [7, 1024n, 4096n],
    [4, 0n, RLIM_INFINITY],
    [15, 1n, 2n],
  ]);
  assert.equal(rlimitValue(2 ** 64), RLIM_INFINITY);
  assert.throws(() => rlimitSteps([{ type: 'RLIMIT_FOO', soft: 1, hard: 1 }]), /unknown rlimit type "RLIMIT_FOO"/);
});
