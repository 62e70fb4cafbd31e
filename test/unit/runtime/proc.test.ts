import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStartTime, processStartTime, isSameProcessAlive } from '../../../src/state/proc';

test('start time is field 22 even when the command name has spaces and parentheses', () => {
  const stat = '1234 (a b) c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 200';
  assert.equal(parseStartTime(stat), '987654');
});

test('the current process is alive with its own start time and not with another', () => {
  const st = processStartTime(process.pid);
  assert.ok(st && /^\d+$/.test(st));
  assert.equal(isSameProcessAlive(process.pid, st), true);
  assert.equal(isSameProcessAlive(process.pid, String(Number(st) + 1)), false);
  assert.equal(isSameProcessAlive(0, undefined), false);
});
