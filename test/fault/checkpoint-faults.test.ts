/**
 * Fault injection in checkpoint and restore: stasis SIGKILLed at each addressable point (STASIS_FAULT). A
 * checkpoint killed while the container is frozen leaves it running: the next command thaws it
 * (runtime/checkpoint-guard.ts). Otherwise state tells the truth and delete --force leaves no process, cgroup
 * or state behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { World, skipReason, waitFor, cgroupExists, freezerState } from '../integration/checkpoint/harness';

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

/** The checkpoint-freeze mark in the container's state.json (undefined when there is none). */
function freezeMark(w: World, id: string): unknown {
  return (JSON.parse(fs.readFileSync(path.join(w.root, id, 'state.json'), 'utf8')) as { checkpointFreeze?: unknown }).checkpointFreeze;
}

/**
 * Kills stasis right after it froze the container for a checkpoint, checks the kill left the container frozen
 * and marked, then runs `first` (the next command of a user or an engine) and checks the container is running
 * again: thawed, unmarked, its counter moving.
 */
async function healedBy(t: { after(fn: () => unknown): void }, name: string, first: (w: World, id: string) => void): Promise<void> {
  const w = new World();
  t.after(() => w.cleanup());
  const id = w.id(name);
  w.ok(['run', '-d', '-b', w.bundle, id]);
  await waitFor('counter', () => w.count() > 3);
  const r = withFault('checkpoint:frozen', () => w.stasis(['checkpoint', '--image-path', w.images('img'), id]));
  assert.equal(r.status, null, 'stasis was killed');
  assert.equal(freezerState(id), 'FROZEN', 'the kill left the container frozen');
  assert.ok(freezeMark(w, id), 'state.json names the checkpoint that froze it');
  first(w, id);
  assert.equal(freezerState(id), 'THAWED');
  assert.equal(freezeMark(w, id), undefined, 'the mark is cleared');
  assert.equal(w.state(id)?.status, 'running');
  const before = w.count();
  await waitFor('counter moves again', () => w.count() > before + 2);
}

test('killed at checkpoint:frozen: the next state thaws the container, which runs on', { skip }, async (t) => {
  await healedBy(t, 'fs', (w, id) => assert.equal(w.state(id)?.status, 'running', 'state reports running, not paused'));
});

test('killed at checkpoint:frozen: list heals too', { skip }, async (t) => {
  await healedBy(t, 'fl', (w, id) => {
    const all = JSON.parse(w.ok(['list', '--format', 'json'])) as { id: string; status: string }[];
    assert.equal(all.find((s) => s.id === id)?.status, 'running');
  });
});

test('killed at checkpoint:frozen: exec works at once (no resume needed)', { skip }, async (t) => {
  await healedBy(t, 'fe', (w, id) => assert.equal(w.ok(['exec', id, 'echo', 'in']).trim(), 'in'));
});

test('killed at checkpoint:frozen: a second checkpoint --leave-running succeeds and leaves no mark', { skip }, async (t) => {
  await healedBy(t, 'fc', (w, id) => w.ok(['checkpoint', '--leave-running', '--image-path', w.images('img2'), id]));
});

test('a checkpoint that ends normally clears its mark, so a later pause is not undone', { skip }, async (t) => {
  const w = new World();
  t.after(() => w.cleanup());
  const id = w.id('fa');
  w.ok(['run', '-d', '-b', w.bundle, id]);
  await waitFor('counter', () => w.count() > 3);
  w.ok(['checkpoint', '--leave-running', '--image-path', w.images('img'), id]);
  assert.equal(freezeMark(w, id), undefined, 'a checkpoint that ends normally clears its mark');
  w.ok(['pause', id]);
  assert.equal(w.state(id)?.status, 'paused', 'a pause by the user is not undone');
  w.ok(['resume', id]);
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
