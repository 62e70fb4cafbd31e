import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { StateStore, validateId, writeFileAtomic } from '../../../src/state/store';
import { LockMode } from '../../../src/state/lock';
import type { ContainerRecord } from '../../../src/state/record';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-store-'));
const record = (id: string) => ({ version: 1, id, pid: 1, bundle: '/b', rootfs: '/b/rootfs', created: 'now', owner: '', spec: {}, cgroup: { paths: {}, owned: false } }) as unknown as ContainerRecord;

test('ids are validated like runc: letters, digits and _+-. only', () => {
  assert.equal(validateId('abc-1.2_3+x'), 'abc-1.2_3+x');
  for (const bad of ['', '.', '..', '../x', 'a/b', 'a b', '.hidden', 'x'.repeat(2000)]) assert.throws(() => validateId(bad), /container id/);
});

test('claiming an id twice fails with "already exists" and the first claim stays intact', (t) => {
  const root = tmp();
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const store = new StateStore(root);
  const lock = store.claim('c1');
  lock.write(record('c1'));
  lock.release();
  assert.throws(() => store.claim('c1'), /container with id "c1" already exists/);
  const { lock: l2, record: r } = store.open('c1');
  assert.equal(r.id, 'c1');
  l2.release();
  assert.deepEqual(store.list(), ['c1']);
});

test('opening a missing container says "does not exist" (containerd matches these words)', (t) => {
  const root = tmp();
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  assert.throws(() => new StateStore(root).open('nope'), /container "nope" does not exist/);
});

test('an atomic write leaves either the old or the new content, never a temp file', (t) => {
  const dir = tmp();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'state.json');
  writeFileAtomic(file, 'old');
  writeFileAtomic(file, 'new');
  assert.equal(fs.readFileSync(file, 'utf8'), 'new');
  assert.deepEqual(fs.readdirSync(dir), ['state.json']);
  // A write that cannot happen (directory in the way of the temp file) keeps the old content.
  fs.mkdirSync(`${file}.${process.pid}.tmp`);
  assert.throws(() => writeFileAtomic(file, 'newer'), /cannot write/);
  assert.equal(fs.readFileSync(file, 'utf8'), 'new');
});

test('an exclusive lock makes another process wait; a shared lock does not block readers', (t) => {
  const root = tmp();
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const store = new StateStore(root);
  const lock = store.claim('c1');
  lock.write(record('c1'));
  // A second process tries a non-blocking exclusive flock on the directory while we hold ours.
  const probe = (op: string) =>
    spawnSync('flock', ['-n', op, path.join(root, 'c1'), 'true']).status;
  assert.notEqual(probe('-x'), 0, 'exclusive lock must be refused while held');
  lock.release();
  assert.equal(probe('-x'), 0);
  const { lock: shared } = store.open('c1', LockMode.Shared);
  assert.equal(probe('-s'), 0, 'shared locks coexist');
  assert.notEqual(probe('-x'), 0);
  shared.release();
});
