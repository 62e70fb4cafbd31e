import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSignal } from '../../../src/runtime/kill';

test('signals parse by name, SIG-prefixed name, lower case and number', () => {
  assert.equal(parseSignal('TERM'), 15);
  assert.equal(parseSignal('SIGKILL'), 9);
  assert.equal(parseSignal('sigusr1'), 10);
  assert.equal(parseSignal('9'), 9);
  assert.equal(parseSignal('SIGRTMIN+2'), 36);
});

test('unknown signals are refused', () => {
  assert.throws(() => parseSignal('SIGFOO'), /unknown signal "SIGFOO"/);
  assert.throws(() => parseSignal('0'), /invalid signal number 0/);
});
