/**
 * Checkpoint and restore of real busybox containers with real CRIU (root; skipped with the reason when CRIU
 * or the build is missing). Every assertion is about what the container does afterwards: its in-memory
 * counter goes on from where it was, its /dev/shm survives, its stdout pipe is re-attached.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World, cgroupExists, detachedWithPipes, freezerState, skipReason, sleep, waitFor } from './harness';

const skip = skipReason();

test('checkpoint stops the container; restore continues its counter, /dev/shm and stdout pipe', { skip }, async (t) => {
  const w = new World('echo marker > /dev/shm/marker; i=0; while true; do i=$((i+1)); echo $i > /tmp/count; echo tick $i; usleep 50000; done');
  t.after(() => w.cleanup());
  const id = w.id('basic');
  const first = await detachedWithPipes(w, ['run', '-d', '--bundle', w.bundle, id]);
  await waitFor('the counter to reach 10', () => w.count() >= 10);
  assert.match(first.output(), /tick 1\n/);

  const images = w.images('images');
  w.ok(['checkpoint', '--image-path', images, id]);
  const atDump = w.count();
  assert.equal(w.state(id), undefined, 'the checkpointed container still exists');
  assert.equal(cgroupExists(id), false, 'the checkpointed container left its cgroup');
  await sleep(200);
  assert.equal(w.count(), atDump, 'the counter moved while the container was checkpointed');
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(images, 'descriptors.json'), 'utf8')).slice(1).map((l: string) => /^pipe:/.test(l)), [true, true]);

  // The loop would rewrite /tmp/count from its memory; remove it so a restart from scratch would show.
  fs.rmSync(path.join(w.bundle, 'rootfs', 'tmp', 'count'));
  const second = await detachedWithPipes(w, ['restore', '-d', '--bundle', w.bundle, '--image-path', images, id]);
  const st = w.state(id);
  assert.equal(st?.status, 'running');
  await waitFor('the restored counter to move', () => w.count() > atDump + 3);
  const lines = second.output().trim().split('\n');
  // The restored shell writes its next ticks into restore's own stdout pipe, numbered after the dump.
  await waitFor('ticks on the new stdout pipe', () => second.output().includes(`tick ${atDump + 2}\n`));
  assert.ok(!second.output().includes('tick 1\n'), `the restored loop restarted: ${lines.slice(0, 3).join(' | ')}`);
  const marker = fs.readFileSync(`/proc/${st!.pid}/root/dev/shm/marker`, 'utf8');
  assert.equal(marker, 'marker\n', '/dev/shm content was lost');
  assert.equal(freezerState(id), 'THAWED');
  // Masked directories come back masked: an empty read-only tmpfs (restored from one, not from a tar).
  const mountinfo = fs.readFileSync(`/proc/${st!.pid}/mountinfo`, 'utf8');
  for (const dir of ['/proc/acpi', '/sys/firmware']) {
    const line = mountinfo.split('\n').find((l) => l.split(' ')[4] === dir);
    assert.ok(line, `${dir} is not masked after restore`);
    assert.match(line!, / - tmpfs \S+ ro,/, `${dir} is not a read-only tmpfs: ${line}`);
    assert.deepEqual(fs.readdirSync(`/proc/${st!.pid}/root${dir}`), [], `${dir} is not empty`);
  }
});

test('--leave-running keeps the container; the image restores under a new id after deleting it', { skip }, async (t) => {
  const w = new World();
  t.after(() => w.cleanup());
  const id = w.id('leave');
  w.ok(['run', '-d', '--bundle', w.bundle, id]);
  await waitFor('the counter to reach 5', () => w.count() >= 5);
  const images = w.images('images');
  w.ok(['checkpoint', '--leave-running', '--image-path', images, id]);
  const atDump = w.count();
  assert.equal(w.state(id)?.status, 'running');
  assert.equal(freezerState(id), 'THAWED', 'the pre-freeze was not undone');
  await waitFor('the original to keep counting', () => w.count() > atDump + 3);
  w.ok(['delete', '--force', id]);

  fs.rmSync(path.join(w.bundle, 'rootfs', 'tmp', 'count'));
  const copy = w.id('copy');
  w.ok(['restore', '-d', '--bundle', w.bundle, '--image-path', images, copy]);
  assert.equal(w.state(copy)?.status, 'running');
  assert.ok(cgroupExists(copy), 'the restored container has no cgroup of its own');
  await waitFor('the copy to count', () => w.count() > 0);
  const first = w.count();
  // The copy starts from the value at the dump (it may have done a step or two since), never from 1.
  assert.ok(first >= atDump && first < atDump + 20, `copy counts from ${first}, dumped at ${atDump}`);
  const procCgroup = fs.readFileSync(`/proc/${w.state(copy)!.pid}/cgroup`, 'utf8');
  assert.match(procCgroup, new RegExp(`freezer:/stasis/${copy}\\n`), 'restored tasks are not in the new cgroup');
});

test('two checkpoint/restore cycles in a row', { skip }, async (t) => {
  const w = new World();
  t.after(() => w.cleanup());
  const id = w.id('cycles');
  w.ok(['run', '-d', '--bundle', w.bundle, id]);
  let last = 0;
  for (const round of [1, 2]) {
    await waitFor(`the counter to move (round ${round})`, () => w.count() > last + 3);
    const images = w.images(`images-${round}`);
    w.ok(['checkpoint', '--image-path', images, id]);
    const atDump = w.count();
    fs.rmSync(path.join(w.bundle, 'rootfs', 'tmp', 'count'));
    w.ok(['restore', '-d', '--bundle', w.bundle, '--image-path', images, id]);
    await waitFor(`the restored counter (round ${round})`, () => w.count() > 0);
    assert.ok(w.count() >= atDump, `round ${round}: restored at ${w.count()}, dumped at ${atDump}`);
    last = w.count();
  }
  assert.equal(w.state(id)?.status, 'running');
});

test('--print-stats prints the phases and saves stats.json', { skip }, async (t) => {
  const w = new World();
  t.after(() => w.cleanup());
  const id = w.id('stats');
  w.ok(['run', '-d', '--bundle', w.bundle, id]);
  await waitFor('the counter to start', () => w.count() > 1);
  const images = w.images('images');
  const out = w.ok(['checkpoint', '--print-stats', '--image-path', images, id]);
  for (const phase of ['freezing', 'frozen', 'memdump', 'memwrite', 'total']) {
    assert.match(out, new RegExp(`^\\s+${phase}\\s+\\d+\\.\\d ms$`, 'm'), `no ${phase} line in:\n${out}`);
  }
  const saved = JSON.parse(fs.readFileSync(path.join(images, 'stats.json'), 'utf8'));
  assert.ok(saved.checkpoint.memdump > 0 && saved.checkpoint.total >= saved.checkpoint.criu, JSON.stringify(saved));
  const rout = w.ok(['restore', '-d', '--print-stats', '--bundle', w.bundle, '--image-path', images, id]);
  assert.match(rout, /^\s+restore\s+\d+\.\d ms$/m);
  assert.match(rout, /^\s+forking\s+\d+\.\d ms$/m);
});

test('foreground restore waits for the container and returns its exit status', { skip }, async (t) => {
  const w = new World('i=0; while [ $i -lt 30 ]; do i=$((i+1)); echo $i > /tmp/count; usleep 50000; done; exit 7');
  t.after(() => w.cleanup());
  const id = w.id('fg');
  w.ok(['run', '-d', '--bundle', w.bundle, id]);
  await waitFor('the counter to reach 5', () => w.count() >= 5);
  const images = w.images('images');
  w.ok(['checkpoint', '--image-path', images, id]);
  const r = w.stasis(['restore', '--bundle', w.bundle, '--image-path', images, id]);
  assert.equal(r.status, 7, `restore returned ${r.status}: ${r.stderr}`);
  assert.equal(w.count(), 30);
  assert.equal(w.state(id), undefined, 'the container was not removed after it exited');
  assert.equal(cgroupExists(id), false);
});
