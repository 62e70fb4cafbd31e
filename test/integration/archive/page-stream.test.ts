/**
 * Page streaming without CRIU: writers stand in for it on the FIFOs, stasis-pagestream splices their bytes
 * into the archive, and the finished archive is read back by stasis's strict import and by GNU tar.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PageStream, exportCheckpoint, importCheckpoint, unstream, writeManifest } from '../../../src/archive';
import { HOST, makeCheckpointDir, scratch, snapshot } from './layout-fixture';

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i += 4) b.writeUInt32LE(((i + seed) * 2654435761) >>> 0, i);
  return b;
}

/** Writes `data` into the FIFO the way CRIU does: open, write everything, close. */
function feed(fifo: string, data: Buffer): void {
  const fd = fs.openSync(fifo, 'w');
  try {
    for (let at = 0; at < data.length; ) at += fs.writeSync(fd, data, at, Math.min(1 << 20, data.length - at));
  } finally {
    fs.closeSync(fd);
  }
}

test('streamed images, one after another, an empty one and an unused FIFO: the archive reads back byte for byte', async (t) => {
  const base = scratch(t);
  const dir = await makeCheckpointDir(base);
  const images = path.join(dir, 'checkpoint');
  fs.rmSync(path.join(images, 'pages-1.img'));
  const want = new Map([['pages-1.img', pattern(9 << 20, 1)], ['pages-2.img', Buffer.alloc(0)], ['pages-3.img', pattern(3 << 20, 3)]]);
  const file = path.join(base, 'out.tar');
  const stream = new PageStream(images, path.join(base, '.out.tar.partial'), 64 * 1024, 4);
  await stream.start();
  t.after(() => stream.abort());
  for (const [name, data] of want) feed(path.join(images, name), data);
  const { members, spilled } = await stream.finish();
  assert.deepEqual(members.map((m) => [m.name, m.size]), [['pages-1.img', 9 << 20], ['pages-2.img', 0], ['pages-3.img', 3 << 20]]);
  assert.deepEqual(spilled, []);
  assert.deepEqual(fs.readdirSync(images).filter((n) => n.startsWith('pages-')), [], 'no FIFO is left');

  const inArchive = members.map((m) => ({ path: `checkpoint/${m.name}`, size: m.size, sha256: m.sha256 }));
  await writeManifest(dir, { host: HOST, inArchive });
  const ex = await exportCheckpoint(dir, file, { compress: 'none', verify: false, streamed: { archive: stream.archive, reserve: stream.reserve, members } });
  assert.ok(!fs.existsSync(stream.archive));
  const out = path.join(base, 'in');
  await importCheckpoint(file, out, { host: HOST, expectManifestSha256: ex.manifestSha256 });
  const got = snapshot(out);
  for (const [name, data] of want) assert.ok(got.get(`checkpoint/${name}`)?.equals(data), name);
  const list = spawnSync('tar', ['-tf', file], { encoding: 'utf8' });
  assert.equal(list.status, 0, list.stderr);
  assert.deepEqual(list.stdout.split('\n').slice(0, 3), ['stasis-manifest.json', 'checkpoint/', 'checkpoint/pages-1.img']);
});

test('a stream that starts while another runs is spilled to a file; unstream puts the rest back', async (t) => {
  const base = scratch(t);
  const images = path.join(base, 'images');
  fs.mkdirSync(images);
  const stream = new PageStream(images, path.join(base, 'partial'), 8192, 2);
  await stream.start();
  t.after(() => stream.abort());
  const a = pattern(2 << 20, 7);
  const b = pattern(1 << 20, 9);
  // Both writers open before either finishes: the second one to start must not wait for the first.
  const fa = fs.openSync(path.join(images, 'pages-1.img'), 'w');
  fs.writeSync(fa, a, 0, 4096);
  await new Promise((r) => setTimeout(r, 100));
  feed(path.join(images, 'pages-2.img'), b);
  fs.writeSync(fa, a, 4096, a.length - 4096);
  fs.closeSync(fa);
  const { members, spilled } = await stream.finish();
  assert.deepEqual(members.map((m) => m.name), ['pages-1.img']);
  assert.deepEqual(spilled, ['pages-2.img']);
  assert.ok(fs.readFileSync(path.join(images, 'pages-2.img')).equals(b), 'the spilled image is a regular file with its bytes');
  fs.mkdirSync(path.join(base, 'checkpoint'));
  unstream(base, { archive: stream.archive, members });
  assert.ok(fs.readFileSync(path.join(base, 'checkpoint', 'pages-1.img')).equals(a), 'the streamed image is back');
  assert.ok(!fs.existsSync(stream.archive));
});

test('abort removes the FIFOs, spill files and the partial archive', async (t) => {
  const base = scratch(t);
  const stream = new PageStream(base, path.join(base, 'partial'), 8192, 3);
  await stream.start();
  feed(path.join(base, 'pages-1.img'), pattern(1 << 20, 1));
  await stream.abort();
  assert.deepEqual(fs.readdirSync(base), []);
});

/** Opens `fifo` for writing in a child and writes 4 MiB (CRIU's open and an image), which must not hang. */
function openForWriting(fifo: string): { status: number | null; stderr: string } {
  const r = spawnSync('sh', ['-c', `exec 3>"$1" && head -c 4194304 /dev/zero >&3`, 'sh', fifo], { encoding: 'utf8', timeout: 10000 });
  return { status: r.status, stderr: r.stderr };
}

test('a streamer that dies leaves no FIFO for CRIU to wait on forever: the next open fails', async (t) => {
  const base = scratch(t);
  const stream = new PageStream(base, path.join(base, 'partial'), 8192, 2);
  await stream.start();
  t.after(() => stream.abort());
  process.kill(stream.pid!, 'SIGKILL');
  // Its guard replaces the FIFOs at once; CRIU's open(O_WRONLY|O_CREAT) then fails, not blocks.
  const r = openForWriting(path.join(base, 'pages-1.img'));
  assert.notEqual(r.status, null, 'the open did not wait for a reader that will never come');
  assert.notEqual(r.status, 0, r.stderr);
  // Killed by SIGPIPE (141) when the open was released, refused (Is a directory) when it came later.
  assert.ok(r.status === 141 || /Is a directory/.test(r.stderr), `status ${r.status}: ${r.stderr}`);
  await stream.abort();
  assert.deepEqual(fs.readdirSync(base), [], 'FIFOs, directories and the partial archive are gone');
});

test('a streamer that cannot write: the stream being written breaks (EPIPE), later FIFOs refuse CRIU', async (t) => {
  const base = scratch(t);
  // An offset beyond any file size the filesystem allows: the first splice into the archive fails.
  const stream = new PageStream(base, path.join(base, 'partial'), 2 ** 50, 2);
  t.after(() => stream.abort());
  await stream.start();
  const first = openForWriting(path.join(base, 'pages-1.img'));
  assert.notEqual(first.status, null, 'the writer was not left blocked');
  const second = openForWriting(path.join(base, 'pages-2.img'));
  assert.notEqual(second.status, null);
  assert.match(second.stderr, /Is a directory/);
  await assert.rejects(stream.finish(), /page streaming failed: splice \d+ .*pages-1\.img/);
  await stream.abort();
  assert.deepEqual(fs.readdirSync(base), []);
});

test('drained: once the writers are gone, where each image is; a writer still open, or a dead streamer, is an error', async (t) => {
  const base = scratch(t);
  const stream = new PageStream(base, path.join(base, 'partial'), 8192, 3);
  await stream.start();
  t.after(() => stream.abort());
  feed(path.join(base, 'pages-1.img'), pattern(3 << 20, 5));
  const open = fs.openSync(path.join(base, 'pages-2.img'), 'w');
  fs.writeSync(open, pattern(4096, 6));
  // CRIU's post-dump comes after it closed its images: a writer still there means an image is not in.
  await assert.rejects(stream.drained(300), /did not take every image within 0\.3 s/);
  fs.closeSync(open);
  const d = await stream.drained();
  // The second image follows the first, from the next 512-byte boundary after its header hole.
  const second = 8192 + 512 + (3 << 20);
  assert.deepEqual(d.spliced, [{ name: 'pages-1.img', header: 8192, size: 3 << 20 }, { name: 'pages-2.img', header: second, size: 4096 }]);
  assert.deepEqual(d.spilled, []);
  const { members } = await stream.finish();
  assert.deepEqual(members.map(({ name, header, size }) => ({ name, header, size })), d.spliced);

  const again = new PageStream(base, path.join(base, 'partial2'), 8192, 1);
  await again.start();
  t.after(() => again.abort());
  process.kill(again.pid!, 'SIGKILL');
  await assert.rejects(again.drained(), /the page streamer is gone/);
});
