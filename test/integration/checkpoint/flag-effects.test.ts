/**
 * Pass-through CRIU flags shown to have their own effect (flags.test.ts has the others in one round trip).
 */
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World, skipReason, waitFor } from './harness';

const skip = skipReason();

test('--empty-ns network: the network namespace comes back empty (its veth pair is not restored)', { skip }, async (t) => {
  const w = new World();
  t.after(() => w.cleanup());
  const id = w.id('emptyns');
  w.ok(['run', '-d', '--bundle', w.bundle, id]);
  await waitFor('the counter to start', () => w.count() > 2);
  const pid = w.state(id)!.pid;
  const r = spawnSync('nsenter', ['-t', String(pid), '-n', 'ip', 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(w.ok(['exec', id, 'ip', 'link']), /v0@v1/);
  const full = w.images('full');
  w.ok(['checkpoint', '--image-path', full, id]);
  w.ok(['restore', '-d', '--bundle', w.bundle, '--image-path', full, id]);
  assert.match(w.ok(['exec', id, 'ip', 'link']), /v0@v1/, 'without the flag the veth pair is restored');
  const empty = w.images('empty');
  w.ok(['checkpoint', '--empty-ns', 'network', '--image-path', empty, id]);
  w.ok(['restore', '-d', '--empty-ns', 'network', '--bundle', w.bundle, '--image-path', empty, id]);
  const links = w.ok(['exec', id, 'ip', 'link']);
  assert.doesNotMatch(links, /v0/);
  assert.match(links, /lo:/);
});
