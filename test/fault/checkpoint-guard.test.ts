/** The rule that decides whether a checkpoint-freeze mark is stale (runtime/checkpoint-guard.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkpointOwnerGone } from '../../src/runtime/checkpoint-guard';
import { processStartTime } from '../../src/state/proc';

test('no mark: nothing to heal', () => {
  assert.equal(checkpointOwnerGone(undefined, () => false), false);
});

test('a mark whose owner still runs is left alone (that checkpoint is still working)', () => {
  assert.equal(checkpointOwnerGone({ pid: 42, startTime: '7' }, (pid, st) => pid === 42 && st === '7'), false);
});

test('a mark whose pid was reused by another process is stale', () => {
  const seen: [number, string][] = [];
  const gone = checkpointOwnerGone({ pid: 42, startTime: '7' }, (pid, st) => (seen.push([pid, st]), false));
  assert.equal(gone, true);
  assert.deepEqual(seen, [[42, '7']], 'the start time is part of the check');
});

test('with the real /proc: this process is alive, a wrong start time is not', () => {
  const st = processStartTime(process.pid)!;
  assert.equal(checkpointOwnerGone({ pid: process.pid, startTime: st }), false);
  assert.equal(checkpointOwnerGone({ pid: process.pid, startTime: `${st}1` }), true);
});
