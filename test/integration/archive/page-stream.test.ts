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
  stream.start();
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
  stream.start();
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
  unstream(base, { archive: stream.archive, reserve: stream.reserve, members });
  assert.ok(fs.readFileSync(path.join(base, 'checkpoint', 'pages-1.img')).equals(a), 'the streamed image is back');
  assert.ok(!fs.existsSync(stream.archive));
});

test('abort removes the FIFOs, spill files and the partial archive', async (t) => {
  const base = scratch(t);
  const stream = new PageStream(base, path.join(base, 'partial'), 8192, 3);
  stream.start();
  feed(path.join(base, 'pages-1.img'), pattern(1 << 20, 1));
  await stream.abort();
  assert.deepEqual(fs.readdirSync(base), []);
});
