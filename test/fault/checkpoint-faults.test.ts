/**
 * Fault injection in checkpoint and restore: stasis SIGKILLed at each addressable point (STASIS_FAULT). The
 * container is never left dead or silently frozen: state tells the truth, a documented command recovers it, and
 * delete --force leaves no process, cgroup or state behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World, skipReason, waitFor, cgroupExists } from '../integration/checkpoint/harness';

const skip = skipReason();

/** Runs one stasis command with STASIS_FAULT set for it only. */
function withFault<T>(point: string, fn: () => T): T {
  process.env.STASIS_FAULT = point;
  try {
    return fn();
  } finally {
    delete process.env.STASIS_FAULT;
  }
}

test('killed at checkpoint:frozen: the container reads as paused and resume brings it back running', { skip }, async (t) => {
  const w = new World();
  t.after(() => w.cleanup());
  const id = w.id('ff');
  w.ok(['run', '-d', '-b', w.bundle, id]);
  await waitFor('counter', () => w.count() > 3);
  const r = withFault('checkpoint:frozen', () => w.stasis(['checkpoint', '--image-path', w.images('img'), id]));
  assert.equal(r.status, null, 'stasis was killed');
  assert.equal(w.state(id)?.status, 'paused', 'the freeze stasis made is visible, not hidden');
  w.ok(['resume', id]);
  const before = w.count();
  await waitFor('counter moves again', () => w.count() > before + 2);
  assert.equal(w.state(id)?.status, 'running');
});

test('killed at checkpoint:dumped: state says stopped, the images restore, delete --force cleans up', { skip }, async (t) => {
  const w = new World();
  t.after(() => w.cleanup());
  const id = w.id('fd');
  w.ok(['run', '-d', '-b', w.bundle, id]);
  await waitFor('counter', () => w.count() > 3);
  const r = withFault('checkpoint:dumped', () => w.stasis(['checkpoint', '--image-path', w.images('img'), id]));
  assert.equal(r.status, null);
  assert.equal(w.state(id)?.status, 'stopped', 'CRIU ended the tasks; the record says so');
  w.ok(['delete', '--force', id]);
  assert.equal(cgroupExists(id), false);
  const id2 = w.id('fd2');
  w.ok(['restore', '-d', '-b', w.bundle, '--image-path', w.images('img'), id2]);
  const at = w.count();
  await waitFor('restored counter moves', () => w.count() > at + 2);
});

for (const point of ['restore:cgroup', 'restore:restored']) {
  test(`killed at ${point}: delete --force removes the half-restored container completely`, { skip }, async (t) => {
    const w = new World();
    t.after(() => w.cleanup());
    const id = w.id('fr');
    w.ok(['run', '-d', '-b', w.bundle, id]);
    await waitFor('counter', () => w.count() > 3);
    w.ok(['checkpoint', '--image-path', w.images('img'), id]);
    const id2 = w.id('fr2');
    const r = withFault(point, () => w.stasis(['restore', '-d', '-b', w.bundle, '--image-path', w.images('img'), id2]));
    assert.equal(r.status, null);
    const st = w.state(id2);
    assert.ok(st === undefined || ['stopped', 'running', 'created', 'paused'].includes(st.status), JSON.stringify(st));
    w.ok(['delete', '--force', id2]);
    assert.equal(w.state(id2), undefined);
    assert.equal(cgroupExists(id2), false, 'no cgroup left');
    const frozenAt = w.count();
    await new Promise((r2) => setTimeout(r2, 300));
    assert.equal(w.count(), frozenAt, 'no restored process is still running untracked');
  });
}
