/**
 * The in-place export (src/archive/export-in-place.ts): the biggest image becomes the uncompressed archive
 * without being copied. Shown by the archive's inode (the pages file's own) and by every reader: stasis's
 * strict import, GNU tar, and the bytes compared with the directory they came from. A failure half-way
 * gives the pages file back as it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { exportCheckpoint, importCheckpoint } from '../../../src/archive';
import { imageHeader, planPrefix } from '../../../src/archive/export-in-place';
import { readTar } from '../../../src/archive/tar-reader';
import { HOST, makeCheckpointDir, scratch, snapshot } from './layout-fixture';

const PAGES = 20 << 20;

test('prefix plan: the base data starts on the block boundary whatever the manifest size; the manifest stays JSON', async () => {
  for (const align of [512, 4096, 65536]) {
    for (const n of [10, 511, 512, 513, 3000, 4096, 70000]) {
      const json = Buffer.from(`${JSON.stringify({ pad: 'x'.repeat(n) })}\n`);
      const p = planPrefix(json, [imageHeader('checkpoint/pages-1.img', 123 * 4096, 1700000000)], 1700000000, { multipleOf: align })!;
      assert.equal(p.prefix.length % align, 0, `align ${align}, manifest ${n}`);
      assert.deepEqual(JSON.parse(p.manifest.toString()), JSON.parse(json.toString()));
      assert.ok(p.prefix.length - json.length < align + 3 * 512, 'no more slack than one block');
      // Read as a tar: manifest, checkpoint/, then the base member's header, which ends the prefix.
      const seen: string[] = [];
      async function* one() {
        yield Buffer.concat([p.prefix, Buffer.alloc(123 * 4096), Buffer.alloc(1024)]);
      }
      await readTar(one(), async (h, body) => {
        seen.push(`${h.path}:${h.size}`);
        for await (const c of body) void c;
      }, { strict: true });
      assert.deepEqual(seen, [`stasis-manifest.json:${p.manifest.length}`, 'checkpoint/:0', `checkpoint/pages-1.img:${123 * 4096}`]);
    }
  }
});

test('uncompressed export of a consumed directory: the pages file becomes the archive, which every reader accepts', async (t) => {
  const base = scratch(t);
  const dir = await makeCheckpointDir(base, PAGES);
  const before = snapshot(dir);
  const pagesIno = fs.statSync(path.join(dir, 'checkpoint', 'pages-1.img')).ino;
  const file = path.join(base, 'ckpt.tar');
  const ex = await exportCheckpoint(dir, file, { compress: 'none', verify: false, consume: true });
  assert.equal(fs.statSync(file).ino, pagesIno, 'the archive is the pages file itself: no copy was made');
  assert.ok(!fs.existsSync(path.join(dir, 'checkpoint', 'pages-1.img')), 'the directory gave its pages file away');
  assert.deepEqual(fs.readdirSync(base).sort(), ['ckpt', 'ckpt.tar'], 'no temporary file left');
  const list = spawnSync('tar', ['-tf', file], { encoding: 'utf8' });
  assert.equal(list.status, 0, list.stderr);
  const names = list.stdout.trim().split('\n');
  assert.equal(names[0], 'stasis-manifest.json');
  assert.deepEqual([...names].sort(), ['checkpoint/', ...[...before.keys()]].sort());

  const out = path.join(base, 'imported');
  await importCheckpoint(file, out, { host: HOST, expectManifestSha256: ex.manifestSha256 });
  const after = snapshot(out);
  const manifest = after.get('stasis-manifest.json')!;
  assert.equal(createHash('sha256').update(manifest).digest('hex'), ex.manifestSha256);
  assert.deepEqual(JSON.parse(manifest.toString()), JSON.parse(before.get('stasis-manifest.json')!.toString()));
  after.delete('stasis-manifest.json');
  before.delete('stasis-manifest.json');
  assert.deepEqual(after, before, 'every image byte as it was dumped');

  const x = path.join(base, 'gnu');
  fs.mkdirSync(x);
  assert.equal(spawnSync('tar', ['-xf', file, '-C', x]).status, 0);
  assert.ok(fs.readFileSync(path.join(x, 'checkpoint', 'pages-1.img')).equals(fs.readFileSync(path.join(out, 'checkpoint', 'pages-1.img'))));
});

test('a directory that is kept, or a small checkpoint, is copied by tar as before', async (t) => {
  const base = scratch(t);
  const dir = await makeCheckpointDir(base, PAGES);
  const pagesIno = fs.statSync(path.join(dir, 'checkpoint', 'pages-1.img')).ino;
  await exportCheckpoint(dir, path.join(base, 'kept.tar'), { compress: 'none', verify: false });
  assert.notEqual(fs.statSync(path.join(base, 'kept.tar')).ino, pagesIno);
  assert.equal(fs.statSync(path.join(dir, 'checkpoint', 'pages-1.img')).ino, pagesIno);
  const small = await makeCheckpointDir(scratch(t));
  const file = path.join(base, 'small.tar');
  await exportCheckpoint(small, file, { compress: 'none', verify: false, consume: true });
  assert.ok(fs.existsSync(path.join(small, 'checkpoint', 'pages-1.img')), 'a 3 MiB image is not worth moving');
  await importCheckpoint(file, path.join(base, 'small-in'), { host: HOST });
});

test('a failure after the range was inserted gives the pages file back, byte for byte', async (t) => {
  const base = scratch(t);
  const dir = await makeCheckpointDir(base, PAGES);
  const before = snapshot(dir);
  // The archive's name is taken by a non-empty directory: the final rename fails after everything else.
  const file = path.join(base, 'taken');
  fs.mkdirSync(file);
  fs.writeFileSync(path.join(file, 'x'), 'x');
  await assert.rejects(exportCheckpoint(dir, file, { compress: 'none', verify: false, consume: true }), /export to .*taken failed/);
  const after = snapshot(dir);
  assert.ok(after.get('checkpoint/pages-1.img')!.equals(before.get('checkpoint/pages-1.img')!));
  assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort());
  assert.deepEqual(fs.readdirSync(base).sort(), ['ckpt', 'taken'], 'no partial archive left');
});
