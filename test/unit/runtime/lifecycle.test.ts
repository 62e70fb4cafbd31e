import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveStatus, requireStatus, type StatusProbe } from '../../../src/runtime/lifecycle';
import type { ContainerRecord } from '../../../src/state/record';

const record = { id: 'c1', pid: 42, startTime: '100' } as ContainerRecord;
const probe = (p: Partial<StatusProbe>): StatusProbe => ({ alive: () => true, fifoExists: () => false, frozen: () => false, ...p });

test('status is derived in order: dead → stopped, fifo → created, frozen → paused, else running', async () => {
  assert.equal(await deriveStatus(record, probe({ alive: () => false, fifoExists: () => true })), 'stopped');
  assert.equal(await deriveStatus(record, probe({ fifoExists: () => true, frozen: () => true })), 'created');
  assert.equal(await deriveStatus(record, probe({ frozen: async () => true })), 'paused');
  assert.equal(await deriveStatus(record, probe({})), 'running');
});

test('the liveness check receives the recorded start time (pid reuse guard)', async () => {
  let seen: unknown[] = [];
  await deriveStatus(record, probe({ alive: (...a) => ((seen = a), true) }));
  assert.deepEqual(seen, [42, '100']);
});

test('operations are refused with runc-like messages in the wrong status', () => {
  assert.doesNotThrow(() => requireStatus('start', 'c1', 'created'));
  assert.throws(() => requireStatus('start', 'c1', 'running'), /cannot start an already running container/);
  assert.throws(() => requireStatus('start', 'c1', 'stopped'), /cannot start a container that has stopped/);
  assert.throws(() => requireStatus('delete', 'c1', 'running'), /cannot delete container c1 that is not stopped: running/);
  assert.throws(() => requireStatus('kill', 'c1', 'stopped'), /container c1 is not running/);
  assert.throws(() => requireStatus('pause', 'c1', 'paused'), /cannot pause container c1 in state paused/);
});
