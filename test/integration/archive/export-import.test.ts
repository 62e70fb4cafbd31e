/**
 * Archives end to end with the real tar, gzip and zstd: export → import round trips for each compression,
 * and every kind of damaged or hostile archive is refused with a line naming the problem, leaving nothing
 * behind (no destination directory, nothing written outside it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { exportCheckpoint, importCheckpoint, type HostInfo } from '../../../src/archive';
import { HOST, hasZstd, makeCheckpointDir, scratch, snapshot } from './layout-fixture';
import { encodeHeader, endOfArchive, padding, type TarHeader } from '../../../src/archive/tar-format';

for (const compress of ['none', 'gzip', 'zstd'] as const) {
  test(`export → import round trip (${compress})`, { skip: compress === 'zstd' && !hasZstd ? 'zstd not installed' : undefined }, async (t) => {
    const base = scratch(t);
    const dir = await makeCheckpointDir(base);
    const file = path.join(base, `ckpt.tar${compress === 'none' ? '' : compress === 'gzip' ? '.gz' : '.zst'}`);
    const ex = await exportCheckpoint(dir, file, { compress });
    assert.ok(fs.statSync(file).size > 0);
    assert.equal(ex.manifest.files.length, 8);
    assert.deepEqual(fs.readdirSync(base).sort(), ['ckpt', path.basename(file)].sort(), 'no temporary file left');
    // The manifest is the first member, and the images live under checkpoint/ (the layout checkpointctl reads).
    const list = spawnSync('tar', ['-tf', file], { encoding: 'utf8' }).stdout.trim().split('\n');
    assert.equal(list[0], 'stasis-manifest.json');
    assert.ok(list.includes('checkpoint/pages-1.img'), list.join(' '));
    assert.ok(list.includes('spec.dump') && list.includes('config.dump') && list.includes('deleted.files'));

    const out = path.join(base, 'restored');
    const im = await importCheckpoint(file, out, { host: HOST, expectManifestSha256: ex.manifestSha256 });
    assert.equal(im.compression, compress);
    assert.deepEqual(im.warnings, []);
    assert.deepEqual(snapshot(out), snapshot(dir));
  });
}

test('import refuses damaged archives, naming the file, and leaves no directory behind', async (t) => {
  const base = scratch(t);
  const dir = await makeCheckpointDir(base);
  const file = path.join(base, 'ckpt.tar');
  const ex = await exportCheckpoint(dir, file, { compress: 'none' });
  const bytes = fs.readFileSync(file);
  const pagesAt = bytes.indexOf(fs.readFileSync(path.join(dir, 'checkpoint', 'pages-1.img')).subarray(0, 64));
  assert.ok(pagesAt > 0);
  const cases: [string, Buffer, RegExp, HostInfo?][] = [
    ['flipped byte in an image', Buffer.from(bytes).fill(0, pagesAt + 100000, pagesAt + 100001), /checkpoint\/pages-1\.img is corrupt: sha256 differs from the manifest$/],
    ['truncated archive', bytes.subarray(0, pagesAt + 1000), /archive is truncated$/],
    ['other architecture', bytes, /checkpoint is for x86_64, this host is aarch64$/, { ...HOST, arch: 'aarch64' }],
    ['missing CPU feature', bytes, /lacks feature the checkpoint may use: avx$/, { ...HOST, cpuFeatures: ['sse2'] }],
    ['gzip garbage', Buffer.concat([zlib.gzipSync(bytes).subarray(0, 3000), Buffer.alloc(2000, 0x55)]), /gzip data is corrupt|truncated/],
    ['not an archive', Buffer.alloc(4096, 0x41), /is not a tar archive \(plain, gzip or zstd\)$/],
  ];
  for (const [name, data, want, host] of cases) {
    const f = path.join(base, 'bad.tar');
    fs.writeFileSync(f, data);
    const out = path.join(base, 'out');
    await assert.rejects(importCheckpoint(f, out, { host: host ?? HOST }), want, name);
    assert.ok(!fs.existsSync(out), `${name}: destination removed`);
  }
  await assert.rejects(importCheckpoint(file, path.join(base, 'o2'), { host: HOST, expectManifestSha256: 'f'.repeat(64) }), /expected f{64}$/);
  // A tampered manifest that still matches the tampered file is only caught by the out-of-band digest.
  assert.match(ex.manifestSha256, /^[0-9a-f]{64}$/);
  // The destination must be new or empty.
  fs.mkdirSync(path.join(base, 'full'));
  fs.writeFileSync(path.join(base, 'full', 'x'), '');
  await assert.rejects(importCheckpoint(file, path.join(base, 'full'), { host: HOST }), /full is not empty$/);
});

/** A hostile archive: a valid manifest first (listing `listed`), then the given members. */
function hostile(members: [Partial<TarHeader> & { path: string }, Buffer?][], listed: { path: string; data: Buffer }[] = []): Buffer {
  const manifest = Buffer.from(
    JSON.stringify({
      version: 1,
      stasisVersion: 't',
      createdAt: '',
      criuVersion: null,
      kernel: HOST.kernel,
      arch: HOST.arch,
      cpu: { source: '/proc/cpuinfo', features: [] },
      files: listed.map((l) => ({ path: l.path, size: l.data.length, sha256: createHash('sha256').update(l.data).digest('hex') })),
    }),
  );
  const h = (p: Partial<TarHeader> & { path: string }): TarHeader => ({ type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0, linkpath: '', devmajor: 0, devminor: 0, xattrs: new Map(), ...p });
  const parts = [encodeHeader(h({ path: 'stasis-manifest.json', size: manifest.length })), manifest, Buffer.alloc(padding(manifest.length))];
  for (const [m, data] of members) {
    parts.push(encodeHeader(h({ ...m, size: data?.length ?? 0 })));
    if (data) parts.push(data, Buffer.alloc(padding(data.length)));
  }
  parts.push(endOfArchive());
  return Buffer.concat(parts);
}

test('import refuses hostile members and writes nothing outside the destination', async (t) => {
  const base = scratch(t);
  const outside = path.join(base, 'outside');
  fs.mkdirSync(outside);
  const x = Buffer.from('x');
  const cases: [string, Buffer, RegExp][] = [
    ['.. in a name', hostile([[{ path: '../outside/pwned' }, x]], [{ path: 'a', data: x }]), /member \.\.\/outside\/pwned: "\.\." in path$/],
    ['absolute name', hostile([[{ path: `${outside}/pwned` }, x]]), /absolute path$/],
    ['symlink then file through it', hostile([[{ path: 'checkpoint/esc', type: 'symlink', linkpath: outside }], [{ path: 'checkpoint/esc/pwned' }, x]]), /member checkpoint\/esc is a symlink: not allowed in a checkpoint archive$/],
    ['device node in the CRIU part', hostile([[{ path: 'checkpoint/mem', type: 'char', devmajor: 1, devminor: 1 }]]), /member checkpoint\/mem is a char: not allowed/],
    ['hard link', hostile([[{ path: 'checkpoint/h', type: 'link', linkpath: '/etc/shadow' }]]), /member checkpoint\/h is a hard link: not allowed/],
    ['extra file', hostile([[{ path: 'checkpoint/extra.img' }, x]]), /member checkpoint\/extra\.img is not in the manifest \(extra file\)$/],
    ['missing file', hostile([], [{ path: 'checkpoint/pages-1.img', data: x }]), /checkpoint\/pages-1\.img is missing from the archive/],
    ['wrong size', hostile([[{ path: 'checkpoint/a' }, Buffer.from('xy')]], [{ path: 'checkpoint/a', data: x }]), /checkpoint\/a is larger than recorded: 2 bytes, the manifest says 1$/],
    ['duplicate member', hostile([[{ path: 'a' }, x], [{ path: 'a' }, x]], [{ path: 'a', data: x }]), /member a appears twice$/],
    ['no manifest first', Buffer.concat([encodeHeader({ path: 'x', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0, linkpath: '', devmajor: 0, devminor: 0, xattrs: new Map() }), endOfArchive()]), /first member is x, not stasis-manifest\.json/],
  ];
  for (const [name, data, want] of cases) {
    const f = path.join(base, 'hostile.tar');
    fs.writeFileSync(f, data);
    const out = path.join(base, 'out');
    await assert.rejects(importCheckpoint(f, out, { host: HOST }), want, name);
    assert.ok(!fs.existsSync(out), `${name}: destination removed`);
    assert.deepEqual(fs.readdirSync(outside), [], `${name}: nothing written outside`);
  }
});

test('export fails, naming the file, when the directory no longer matches its manifest', async (t) => {
  const base = scratch(t);
  const dir = await makeCheckpointDir(base);
  fs.appendFileSync(path.join(dir, 'checkpoint', 'core-1.img'), '!');
  await assert.rejects(exportCheckpoint(dir, path.join(base, 'x.tar'), { compress: 'gzip' }), /checkpoint\/core-1\.img is larger than recorded: 5 bytes, the manifest says 4$/);
  fs.writeFileSync(path.join(dir, 'checkpoint', 'core-1.img'), 'CORE');
  await assert.rejects(exportCheckpoint(dir, path.join(base, 'x.tar'), { compress: 'none' }), /checkpoint\/core-1\.img changed since the manifest was written: sha256 differs$/);
  assert.deepEqual(fs.readdirSync(base), ['ckpt'], 'no partial archive left');
  await assert.rejects(exportCheckpoint(base, path.join(base, 'y.tar'), { compress: 'none' }), /has no checkpoint\/ directory/);
});
