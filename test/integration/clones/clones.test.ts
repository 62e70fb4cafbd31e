/**
 * `restore --clone N` with real CRIU (root; skipped with the reason otherwise). One container writes a file and
 * holds a random pattern and a counter in its shell's memory; it is checkpointed and cloned. Every assertion
 * is about the clones themselves: their processes, cgroups, network namespaces, roots and what they write, and
 * that delete (or a failure) leaves no mount, cgroup, state or directory behind.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { STASIS, World, cgroupExists, skipReason, waitFor } from '../checkpoint/harness';

const skip = skipReason();

/** Reads a random pattern into memory, writes it to /written, then writes "<pattern> <counter>" every 50 ms. */
const SCRIPT =
  'read -r pat < /proc/sys/kernel/random/uuid; echo "$pat" > /written; i=0; ' +
  'while true; do i=$((i+1)); echo "$pat $i" > /tmp/count; usleep 50000; done';

/** A world with a checkpointed container; `/tmp/count` is then removed from the base so clones must write theirs. */
async function checkpointed(w: World, name: string): Promise<{ images: string; pattern: string; atDump: number }> {
  const id = w.id(name);
  w.ok(['run', '-d', '--bundle', w.bundle, id]);
  const countFile = path.join(w.bundle, 'rootfs', 'tmp', 'count');
  const read = () => (fs.existsSync(countFile) ? fs.readFileSync(countFile, 'utf8').trim().split(' ') : []);
  await waitFor('the counter to reach 5', () => Number(read()[1] ?? 0) >= 5);
  const images = w.images(`${name}-images`);
  w.ok(['checkpoint', '--image-path', images, id]);
  const [pattern, n] = read();
  fs.rmSync(countFile);
  return { images, pattern, atDump: Number(n) };
}

/**
 * A world whose clean-up first deletes the clone ids `<base>-1…n` (whatever happened), then the world's own.
 * Node runs after-hooks in the order they were added, so there is one hook doing both, in that order.
 */
function worldWithClones(t: { after: (fn: () => Promise<void>) => void }, edit?: (spec: Record<string, any>) => void): World & { clones: (name: string, n: number) => string[] } {
  const w = new World(SCRIPT, edit);
  const all: string[] = [];
  t.after(async () => {
    for (const id of all) w.stasis(['delete', '--force', id]);
    await w.cleanup();
  });
  return Object.assign(w, {
    clones(name: string, n: number): string[] {
      const base = w.id(name);
      const ids = Array.from({ length: n }, (_, i) => `${base}-${i + 1}`);
      all.push(...ids);
      return ids;
    },
  });
}

/** True while `pid` runs (a zombie waiting for its reaper does not count). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Everything of `ids` that is still there: state, cgroups, mounts, clone directories. */
function leftovers(w: World, ids: string[]): string[] {
  const out: string[] = [];
  const mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  for (const id of ids) {
    if (fs.existsSync(path.join(w.root, id))) out.push(`state of ${id}`);
    if (cgroupExists(id)) out.push(`cgroup of ${id}`);
    if (fs.existsSync(path.join(w.root, '.clones', id))) out.push(`clone directory of ${id}`);
  }
  for (const line of mountinfo.split('\n')) if (line.includes(w.root)) out.push(`mount ${line}`);
  return out;
}

const pidOf = (w: World, id: string): number => w.state(id)!.pid;

test('three clones run apart: own pid, cgroup, netns and overlay root; same memory and files; delete leaves nothing', { skip }, async (t) => {
  const w = worldWithClones(t);
  const { images, pattern, atDump } = await checkpointed(w, 'three');
  const ids = w.clones('clone', 3);
  const base = ids[0].slice(0, -2);

  w.ok(['restore', '--clone', '3', '-d', '--bundle', w.bundle, '--image-path', images, base]);
  const pids = ids.map((id) => {
    assert.equal(w.state(id)?.status, 'running', `${id} is not running`);
    return pidOf(w, id);
  });
  assert.equal(new Set(pids).size, 3, `clones share a pid: ${pids}`);

  const baseRootfs = path.join(w.bundle, 'rootfs');
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  for (const [k, id] of ids.entries()) {
    const pid = pids[k];
    assert.match(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8'), new RegExp(`freezer:/stasis/${id}\\n`), `${id} is not in its own cgroup`);
    // The root is an overlay whose only lower layer is the base rootfs: no copy of the image.
    const m = mounts.find((l) => l.split(' ')[4] === path.join(w.root, '.clones', id, 'rootfs'));
    assert.ok(m, `no mount at the root of ${id}`);
    assert.match(m!, / - overlay overlay .*lowerdir=([^,]+)/);
    assert.equal(/lowerdir=([^,]+)/.exec(m!)![1], baseRootfs);
    // Memory: the pattern only the dumped shell knew, and a counter that goes on from the dump.
    const countFile = `/proc/${pid}/root/tmp/count`;
    await waitFor(`${id} to write its counter`, () => fs.existsSync(countFile) && fs.readFileSync(countFile, 'utf8').includes(' '));
    const [pat, n] = fs.readFileSync(countFile, 'utf8').trim().split(' ');
    assert.equal(pat, pattern, `${id} lost the in-memory pattern`);
    assert.ok(Number(n) >= atDump && Number(n) < atDump + 200, `${id} counts from ${n}, dumped at ${atDump}`);
    // Files: what the container wrote before the dump, read from inside the clone.
    assert.equal(w.ok(['exec', id, 'cat', '/written']).trim(), pattern);
  }

  const netns = pids.map((pid) => fs.statSync(`/proc/${pid}/ns/net`).ino);
  assert.equal(new Set([...netns, fs.statSync('/proc/self/ns/net').ino]).size, 4, `network namespaces shared: ${netns}`);

  // A write in one clone stays in that clone's upper layer.
  w.ok(['exec', ids[0], 'sh', '-c', 'echo one > /only-in-1']);
  assert.equal(fs.readFileSync(`/proc/${pids[0]}/root/only-in-1`, 'utf8'), 'one\n');
  assert.equal(fs.readFileSync(path.join(w.root, '.clones', ids[0], 'upper', 'only-in-1'), 'utf8'), 'one\n');
  assert.equal(fs.existsSync(`/proc/${pids[1]}/root/only-in-1`), false, 'clone 2 sees clone 1\'s write');
  assert.equal(fs.existsSync(`/proc/${pids[2]}/root/only-in-1`), false, 'clone 3 sees clone 1\'s write');
  assert.equal(fs.existsSync(path.join(baseRootfs, 'only-in-1')), false, 'the base rootfs got clone 1\'s write');
  assert.equal(fs.existsSync(path.join(baseRootfs, 'tmp', 'count')), false, 'the base rootfs got a clone\'s counter');

  for (const id of ids) w.ok(['delete', '--force', id]);
  for (const pid of pids) assert.equal(running(pid), false, `pid ${pid} survived delete`);
  assert.deepEqual(leftovers(w, ids), []);
  assert.deepEqual(fs.readdirSync(path.join(w.root, '.clones')), []);
});

test('refused before anything starts: no -d, a taken id, a bad count, --auto-dedup', { skip }, async (t) => {
  const w = worldWithClones(t);
  const { images } = await checkpointed(w, 'refuse');
  const ids = w.clones('taken', 3);
  const base = ids[0].slice(0, -2);
  const restore = (...extra: string[]) => w.stasis(['restore', ...extra, '--bundle', w.bundle, '--image-path', images, base]);

  let r = restore('--clone', '3');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /more than one clone needs --detach \(-d\)/);

  r = restore('--clone', 'x', '-d');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /invalid value "x" for --clone/);
  r = restore('--clone', '0', '-d');
  assert.match(r.stderr, /--clone: expected a number of clones from 1 to 1000, got 0/);
  r = restore('--clone', '2', '-d', '--auto-dedup');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--clone cannot be used with --auto-dedup: criu frees the memory images as the first clone reads them/);

  // A real container holds <base>-2.
  w.ok(['run', '-d', '--bundle', w.bundle, ids[1]]);
  r = restore('--clone', '3', '-d');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, new RegExp(`container with id "${ids[1]}" already exists`));
  assert.equal(w.state(ids[0]), undefined, 'clone 1 was made despite the refusal');
  assert.equal(w.state(ids[1])?.status, 'running', 'the container holding the id was touched');
  w.ok(['delete', '--force', ids[1]]);
  assert.deepEqual(leftovers(w, ids), []);
});

test('clone 2 fails (its prestart hook refuses): clone 1 is removed, the error names clone 2, nothing is left', { skip }, async (t) => {
  const w = worldWithClones(t, (spec) => {
    // The hook gets the OCI state on stdin: it fails for one id only, so clone 1 restores and clone 2 does not.
    spec.hooks = { prestart: [{ path: '/bin/sh', args: ['sh', '-c', 'if grep -q "\\"id\\":\\"$0\\""; then exit 7; fi', 'PLACEHOLDER'] }] };
  });
  const { images } = await checkpointed(w, 'fail');
  const ids = w.clones('fail', 3);
  const base = ids[0].slice(0, -2);
  const file = path.join(w.bundle, 'config.json');
  const spec = JSON.parse(fs.readFileSync(file, 'utf8'));
  spec.hooks.prestart[0].args[3] = ids[1];
  fs.writeFileSync(file, JSON.stringify(spec));

  const r = w.stasis(['restore', '--clone', '3', '-d', '--bundle', w.bundle, '--image-path', images, base]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, new RegExp(`clone 2 of 3 \\(${ids[1]}\\) failed, no clone was kept`));
  for (const id of ids) assert.equal(w.state(id), undefined, `${id} exists after the failed clone`);
  assert.deepEqual(leftovers(w, ids), []);
  assert.deepEqual(fs.readdirSync(path.join(w.root, '.clones')), []);
});

test('stasis killed with a clone overlay mounted: restore names the leftover, delete --force removes it', { skip }, async (t) => {
  const w = worldWithClones(t);
  const { images } = await checkpointed(w, 'killed');
  const ids = w.clones('killed', 2);
  const base = ids[0].slice(0, -2);
  const args = ['--root', w.root, 'restore', '--clone', '2', '-d', '--bundle', w.bundle, '--image-path', images, base];
  const killed = spawnSync(STASIS, args, { env: { ...process.env, STASIS_FAULT: 'restore:clone-mounted' }, stdio: 'ignore' });
  assert.equal(killed.signal, 'SIGKILL');
  const rootfs = path.join(w.root, '.clones', ids[0], 'rootfs');
  assert.ok(fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${rootfs} `), 'the fault point was not reached with the overlay mounted');

  const again = w.stasis(['restore', '--clone', '2', '-d', '--bundle', w.bundle, '--image-path', images, base]);
  assert.notEqual(again.status, 0);
  assert.match(again.stderr, new RegExp(`run stasis delete --force ${ids[0]}`));

  w.ok(['delete', '--force', ids[0]]);
  assert.deepEqual(leftovers(w, ids), []);
  // And the id is usable again.
  w.ok(['restore', '--clone', '2', '-d', '--bundle', w.bundle, '--image-path', images, base]);
  assert.equal(w.state(ids[1])?.status, 'running');
  for (const id of ids) w.ok(['delete', '--force', id]);
  assert.deepEqual(leftovers(w, ids), []);
});

test('a checkpoint that joined a network namespace by path is refused: clones cannot share it', { skip }, async (t) => {
  const ns = `stasis-clone-${process.pid}`;
  const add = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8' });
  if (add.status !== 0) return t.skip(`ip netns add failed: ${add.stderr.trim()}`);
  t.after(() => void spawnSync('ip', ['netns', 'delete', ns]));
  const w = worldWithClones(t, (spec) => {
    spec.linux.namespaces = spec.linux.namespaces.map((n: { type: string }) => (n.type === 'network' ? { type: 'network', path: `/var/run/netns/${ns}` } : n));
  });
  const { images } = await checkpointed(w, 'netns');
  const ids = w.clones('netns', 2);
  const r = w.stasis(['restore', '--clone', '2', '-d', '--bundle', w.bundle, '--image-path', images, ids[0].slice(0, -2)]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /the checkpoint joined a network namespace by path .*clones cannot share it/);
  assert.deepEqual(leftovers(w, ids), []);
});
