/**
 * What happens when a checkpoint or restore cannot succeed: the container must keep running (and thawed)
 * after a failed dump, a failed restore must leave no state, cgroup or process behind, and refused flags
 * must say in one line what is missing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World, cgroupExists, freezerState, skipReason, waitFor } from './harness';

const skip = skipReason();

/** Asserts the container still runs, thawed, and its counter still moves. */
async function assertStillRunning(w: World, id: string): Promise<void> {
  assert.equal(w.state(id)?.status, 'running');
  assert.equal(freezerState(id), 'THAWED');
  const now = w.count();
  await waitFor('the counter to keep moving', () => w.count() > now + 2);
}

test('a dump that criu fails leaves the container running and thawed', { skip }, async (t) => {
  const w = new World();
  t.after(() => w.cleanup());
  const id = await w.runCounting('dumpfail');
  // Nothing listens on port 1: criu fails after the freeze, when it connects to the page server.
  const r = w.stasis(['checkpoint', '--page-server', '127.0.0.1:1', '--image-path', w.images('images'), id]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^stasis: criu dump failed: .*"Error .*\(log .*dump\.log\)\n$/);
  assert.equal(r.stderr.split('\n').length, 2, 'the error is not one line');
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'a stack trace was printed');
  await assertStillRunning(w, id);
});

test('a work path that cannot be created is refused before the container is touched', { skip }, async (t) => {
  const w = new World();
  t.after(() => w.cleanup());
  const id = await w.runCounting('workpath');
  const file = w.images('a-file');
  fs.writeFileSync(file, '');
  const r = w.stasis(['checkpoint', '--work-path', path.join(file, 'work'), '--image-path', w.images('images'), id]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^stasis: cannot create work directory .*a-file\/work: not a directory\n$/);
  await assertStillRunning(w, id);
});

test('--pre-dump and --parent-path are refused: no soft-dirty tracking', { skip }, async (t) => {
  const w = new World();
  t.after(() => w.cleanup());
  const id = await w.runCounting('predump');
  const r = w.stasis(['checkpoint', '--pre-dump', '--image-path', w.images('pre'), id]);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, 'stasis: --pre-dump: this kernel has no memory change tracking (soft-dirty, CONFIG_MEM_SOFT_DIRTY), which pre-dump images need\n');
  const p = w.stasis(['checkpoint', '--parent-path', '../pre', '--image-path', w.images('images'), id]);
  assert.match(p.stderr, /^stasis: --parent-path: this kernel has no memory change tracking/);
  assert.equal(fs.existsSync(w.images('pre')), false, 'the refused pre-dump created its image directory');
  await assertStillRunning(w, id);
});

test('restore from a corrupt or missing image fails cleanly and leaves nothing behind', { skip }, async (t) => {
  const w = new World();
  t.after(() => w.cleanup());
  const id = await w.runCounting('corrupt');
  const images = w.images('images');
  w.ok(['checkpoint', '--image-path', images, id]);

  const missing = w.stasis(['restore', '-d', '--bundle', w.bundle, '--image-path', w.images('nowhere'), id]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^stasis: image directory .*nowhere: no such file or directory\n$/);

  // Garble the pages and the process tree: CRIU reads them only during the restore itself.
  for (const name of fs.readdirSync(images).filter((n) => /^(core|pstree|mm)-?.*\.img$/.test(n))) {
    const file = path.join(images, name);
    const buf = fs.readFileSync(file);
    buf.fill(0x5a, 8);
    fs.writeFileSync(file, buf);
  }
  const r = w.stasis(['restore', '-d', '--bundle', w.bundle, '--image-path', images, id]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^stasis: criu restore failed: .*\(log .*restore\.log\)\n$/);
  assert.equal(fs.existsSync(path.join(w.root, id)), false, 'the state directory was left behind');
  assert.equal(cgroupExists(id), false, 'the cgroup was left behind');
  assert.equal(w.state(id), undefined);
  const leaked = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(w.dir));
  assert.deepEqual(leaked, [], 'a mount leaked into the host namespace');
});

test('a missing criu is reported in one line', { skip }, async (t) => {
  const w = new World();
  t.after(() => w.cleanup());
  const id = await w.runCounting('nocriu');
  const r = w.stasis(['--criu', '/nonexistent/criu', 'checkpoint', '--image-path', w.images('images'), id]);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, 'stasis: criu not found: --criu /nonexistent/criu is not an executable file\n');
  await assertStillRunning(w, id);
});
