/**
 * Fidelity: a real program (programs/fidelity.c) checks its own state after restore: 256 MiB of private
 * anonymous memory verified page by page, 64 MiB of shared memory written by its child, the process tree,
 * threads, data left in a pipe and in a unix socketpair, a ping/pong between the two processes, an open
 * file's offset, a deleted-but-open file, a timerfd and a 10 ms setitimer, pending blocked signals and a
 * /dev/shm mapping.
 *
 * One container goes through: --leave-running (the original keeps working), restore of that image under a
 * new id, then a second cycle (checkpoint, restore under the first id). Every step ends with the program's
 * own report.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World, skipReason, waitFor } from './harness';
import { failures, fidelityWorld, toolchainMissing, verify, waitReady } from './programs';

const skip = skipReason() ?? toolchainMissing();

/** Asserts a full, all-ok report from the program running now. */
async function assertFaithful(w: World, when: string): Promise<void> {
  const report = await verify(w);
  assert.deepEqual(failures(report), [], `${when}:\n${report.join('\n')}`);
}

test('fidelity: memory, processes, threads, pipes, sockets, files, timers and signals survive, twice', { skip }, async (t) => {
  const w = fidelityWorld(256, 64);
  t.after(() => w.cleanup());
  const id = w.id('fidelity');
  w.ok(['run', '-d', '--bundle', w.bundle, id]);
  await waitReady(w);
  await assertFaithful(w, 'before any checkpoint');

  // 1. --leave-running: the original is unaffected by the dump.
  const first = w.images('first');
  w.ok(['checkpoint', '--leave-running', '--image-path', first, id]);
  assert.equal(w.state(id)?.status, 'running');
  await assertFaithful(w, 'the original after checkpoint --leave-running');
  w.ok(['delete', '--force', id]);

  // 2. The image restored under a new id.
  const copy = w.id('fidelity-copy');
  w.ok(['restore', '-d', '--bundle', w.bundle, '--image-path', first, copy]);
  assert.equal(w.state(copy)?.status, 'running');
  await assertFaithful(w, 'restored under a new id');

  // 3. A second cycle of the restored container, back under the first id.
  const second = w.images('second');
  w.ok(['checkpoint', '--image-path', second, copy]);
  assert.equal(w.state(copy), undefined);
  w.ok(['restore', '-d', '--bundle', w.bundle, '--image-path', second, id]);
  await assertFaithful(w, 'after the second cycle');
  const count = w.count();
  await waitFor('the restored program to keep counting', () => w.count() > count + 2);
});
