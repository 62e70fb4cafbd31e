/**
 * The judged round trip of a portable checkpoint: a container that wrote files, deleted files from its
 * image, made directories, links, a fifo and filled /dev/shm is checkpointed with `--export`; its bundle and
 * state are deleted; `restore --import` brings it back in a fresh bundle made from the same base image. The
 * restored rootfs must equal the checkpointed one entry by entry (type, mode, owner, content, links), the
 * deletions must hold, /dev/shm must have the same bytes and the shell's in-memory counter must go on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { skipReason, waitFor } from '../checkpoint/harness';
import { PortableWorld, snapshotTree, treeDiff } from './portable-world';

const skip = skipReason();

for (const kind of ['overlay', 'copy'] as const) {
  test(`export → delete everything → import into a fresh bundle (${kind} rootfs)`, { skip }, async (t) => {
    const w = new PortableWorld();
    t.after(() => w.cleanup());
    const id = w.id(`port-${kind}`);
    const a = w.bundleFrom('a', kind);
    w.ok(['run', '-d', '--bundle', a, id]);
    await waitFor('the counter', () => w.countIn(a) >= 3);
    const shm = w.ok(['exec', id, 'md5sum', '/dev/shm/blob']).split(' ')[0];

    const archive = w.images('c.tar.zst');
    const extra = kind === 'copy' ? ['--rootfs-base', w.base] : [];
    w.ok(['checkpoint', '--export', archive, ...extra, id]);
    const atDump = w.countIn(a);
    assert.equal(w.state(id), undefined, 'the checkpointed container is gone');
    const was = snapshotTree(path.join(a, 'rootfs'), ['/tmp/count']);
    assert.equal(was.has('/etc/motd'), false);
    assert.equal(was.get('/new.txt')?.nlink, 2);
    w.dropBundle(a);

    const b = w.bundleFrom('b', kind);
    const newId = w.id(`port-${kind}-back`);
    w.ok(['restore', '-d', '--import', archive, '--bundle', b, newId]);
    assert.equal(w.state(newId)?.status, 'running');
    const now = snapshotTree(path.join(b, 'rootfs'), ['/tmp/count']);
    assert.deepEqual(treeDiff(was, now), []);
    for (const gone of ['/etc/motd', '/olddir']) assert.equal(fs.existsSync(path.join(b, 'rootfs', gone)), false, `${gone} is deleted`);
    assert.equal(fs.readFileSync(path.join(w.base, 'etc', 'motd'), 'utf8'), 'base motd\n', 'the base image is untouched');
    assert.equal(w.ok(['exec', newId, 'md5sum', '/dev/shm/blob']).split(' ')[0], shm);
    await waitFor('the counter to pass its value at the dump', () => w.countIn(b) > atDump + 2);
    // Nothing of the import is left in the state root but the container's own directory.
    assert.deepEqual(fs.readdirSync(w.root).sort(), [newId]);
  });
}

test('a plain-directory rootfs without --rootfs-base: exported with a warning that names the way out', { skip }, async (t) => {
  const w = new PortableWorld('i=0; while true; do i=$((i+1)); echo $i > /tmp/count; usleep 50000; done');
  t.after(() => w.cleanup());
  const id = w.id('port-plain');
  const a = w.bundleFrom('a', 'copy');
  w.ok(['run', '-d', '--bundle', a, id]);
  await waitFor('the counter', () => w.countIn(a) >= 3);
  const archive = w.images('c.tar');
  const r = w.stasis(['checkpoint', '--leave-running', '--export', archive, id]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /rootfs changes are not recorded: .* is a plain directory, not an overlay: give --rootfs-base DIR/);
  assert.equal(w.state(id)?.status, 'running');
  assert.ok(fs.statSync(archive).size > 0);
  // No staging directory is left, beside the archive or in /dev/shm (where a small one goes).
  assert.deepEqual(fs.readdirSync(w.images('.')).filter((n) => n.includes('.stasis-')), []);
  assert.deepEqual(fs.readdirSync('/dev/shm').filter((n) => n.startsWith('.c.tar.stasis-')), []);
});

test('restore --import --clone 2: one unpack, each clone gets the rootfs changes on its own overlay', { skip }, async (t) => {
  const w = new PortableWorld();
  const cloneId = w.id('port-clones');
  t.after(async () => {
    for (const k of [1, 2]) w.stasis(['delete', '--force', `${cloneId}-${k}`]);
    await w.cleanup();
  });
  const id = w.id('port-clone');
  const a = w.bundleFrom('a', 'overlay');
  w.ok(['run', '-d', '--bundle', a, id]);
  await waitFor('the counter', () => w.countIn(a) >= 3);
  const archive = w.images('c.tar');
  w.ok(['checkpoint', '--export', archive, id]);
  w.dropBundle(a);
  // The clones' lower layer is the base image itself: a bundle that uses it as its rootfs.
  const base = w.bundle;
  w.ok(['restore', '-d', '--import', archive, '--clone', '2', '--bundle', base, cloneId]);
  for (const k of [1, 2]) {
    const c = `${cloneId}-${k}`;
    assert.equal(w.state(c)?.status, 'running');
    assert.equal(w.ok(['exec', c, 'cat', '/new.txt']), 'new\n');
    assert.notEqual(w.stasis(['exec', c, 'test', '-e', '/etc/motd']).status, 0, `clone ${k}: /etc/motd stays deleted`);
  }
  assert.equal(fs.readFileSync(path.join(w.base, 'etc', 'motd'), 'utf8'), 'base motd\n', 'the base image is untouched');
  assert.equal(fs.existsSync(path.join(w.base, 'new.txt')), false);
  assert.deepEqual(fs.readdirSync(w.root).filter((n) => n.startsWith('.import')), []);
});
