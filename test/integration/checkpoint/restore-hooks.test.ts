/**
 * Hooks on restore: prestart and createRuntime at CRIU's setup-namespaces (the restored init exists, not yet
 * running), poststart once it runs again, poststop when the restored container is deleted; createContainer
 * and startContainer are not run again (docs/checkpoint.md). A failing createRuntime hook fails the restore
 * and leaves nothing behind; a failing poststart hook is a warning.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World, cgroupExists, skipReason, waitFor } from './harness';

const skip = skipReason();

/** A hook that saves the OCI state it gets on stdin as DIR/<name>.json (appending one line per run). */
function recorder(dir: string, name: string) {
  return { path: '/bin/sh', args: ['sh', '-c', `cat >> ${path.join(dir, `${name}.json`)}; echo >> ${path.join(dir, `${name}.json`)}`] };
}

/** The states a recorder saved, one per run. */
function runs(dir: string, name: string): { status: string; pid: number; id: string }[] {
  try {
    return fs.readFileSync(path.join(dir, `${name}.json`), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

function setHooks(w: World, hooks: Record<string, unknown[]>): void {
  const file = path.join(w.bundle, 'config.json');
  const spec = JSON.parse(fs.readFileSync(file, 'utf8'));
  spec.hooks = hooks;
  fs.writeFileSync(file, JSON.stringify(spec, null, 2));
}

const PHASES = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];

test('restore runs prestart, createRuntime, poststart with the restored pid; delete runs poststop', { skip }, async (t) => {
  const w = new World();
  t.after(() => w.cleanup());
  const log = path.join(w.dir, 'hooks');
  fs.mkdirSync(log);
  // startContainer runs inside the container, after pivot_root: it records into the container's /tmp.
  const inside = path.join(w.bundle, 'rootfs', 'tmp');
  const where = (p: string) => (p === 'startContainer' ? inside : log);
  setHooks(w, Object.fromEntries(PHASES.map((p) => [p, [recorder(p === 'startContainer' ? '/tmp' : log, p)]])));
  const id = await w.runCounting('hooks');
  for (const p of PHASES.filter((p) => p !== 'poststop')) assert.equal(runs(where(p), p).length, 1, `${p} did not run at create/start`);
  const images = w.images('images');
  w.ok(['checkpoint', '--image-path', images, id]);
  assert.equal(runs(log, 'poststop').length, 1, 'a checkpoint that ends the container runs poststop');
  for (const p of PHASES) fs.rmSync(path.join(where(p), `${p}.json`), { force: true });

  w.ok(['restore', '-d', '--bundle', w.bundle, '--image-path', images, id]);
  const pid = w.state(id)!.pid;
  for (const p of ['prestart', 'createRuntime']) {
    assert.deepEqual(runs(log, p).map((s) => [s.id, s.status, s.pid]), [[id, 'creating', pid]], `${p} on restore`);
  }
  assert.deepEqual(runs(log, 'poststart').map((s) => [s.id, s.status, s.pid]), [[id, 'running', pid]]);
  for (const p of ['createContainer', 'startContainer', 'poststop']) assert.equal(runs(where(p), p).length, 0, `${p} ran on restore`);

  w.ok(['delete', '--force', id]);
  assert.deepEqual(runs(log, 'poststop').map((s) => [s.id, s.status]), [[id, 'stopped']]);
});

test('a failing createRuntime hook fails the restore and leaves nothing; a failing poststart hook is a warning', { skip }, async (t) => {
  const w = new World();
  t.after(() => w.cleanup());
  const id = await w.runCounting('hookfail');
  const images = w.images('images');
  w.ok(['checkpoint', '--image-path', images, id]);

  setHooks(w, { createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', 'echo no room >&2; exit 3'] }] });
  const before = w.count();
  const r = w.stasis(['restore', '-d', '--bundle', w.bundle, '--image-path', images, id]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /createRuntime hook \/bin\/sh failed: exit status 3: no room/);
  assert.equal(w.state(id), undefined);
  assert.ok(!cgroupExists(id), 'the failed restore left its cgroup');
  assert.ok(!fs.existsSync(path.join(w.root, id)), 'the failed restore left its state directory');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(w.count(), before, 'a restored process went on running');

  setHooks(w, { poststart: [{ path: '/bin/sh', args: ['sh', '-c', 'exit 4'] }] });
  const ok = w.stasis(['restore', '-d', '--bundle', w.bundle, '--image-path', images, id]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stderr, /poststart hook \/bin\/sh failed: exit status 4/);
  assert.equal(w.state(id)?.status, 'running');
  await waitFor('the counter to go on', () => w.count() > before + 2);
});
