import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { HostInfo } from '../../../src/archive/host-info';
import { MANIFEST_FILE, parseManifest, verifyCheckpointDir, writeManifest } from '../../../src/archive/manifest';
import { makeConfigDump, GO_ZERO_TIME } from '../../../src/archive/layout';

const HOST: HostInfo = { arch: 'x86_64', kernel: '6.18.0', criuVersion: '4.2.1', cpuFeatures: ['avx', 'avx2', 'sse2'] };

/** A checkpoint directory with a few files and a manifest made for HOST. */
async function fixture(t: { after(fn: () => void): void }): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-manifest-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'checkpoint'));
  fs.writeFileSync(path.join(dir, 'checkpoint', 'pages-1.img'), Buffer.alloc(3 * 4096, 7));
  fs.writeFileSync(path.join(dir, 'checkpoint', 'core-1.img'), 'core');
  fs.writeFileSync(path.join(dir, 'spec.dump'), '{}');
  await writeManifest(dir, { host: HOST, now: new Date('2026-01-02T03:04:05Z') });
  return dir;
}

test('writeManifest lists every file sorted, with size and sha256, and host facts', async (t) => {
  const dir = await fixture(t);
  const m = parseManifest(fs.readFileSync(path.join(dir, MANIFEST_FILE), 'utf8'));
  assert.deepEqual(m.files.map((f) => f.path), ['checkpoint/core-1.img', 'checkpoint/pages-1.img', 'spec.dump']);
  assert.equal(m.files[1].size, 3 * 4096);
  assert.equal(m.files[2].sha256, '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
  assert.equal(m.arch, 'x86_64');
  assert.deepEqual(m.cpu.features, ['avx', 'avx2', 'sse2']);
  assert.equal(m.createdAt, '2026-01-02T03:04:05.000Z');
  const r = await verifyCheckpointDir(dir, HOST);
  assert.deepEqual(r.warnings, []);
});

test('verifyCheckpointDir names the changed, truncated, extra or missing file', async (t) => {
  const cases: [string, (dir: string) => void, RegExp][] = [
    ['flipped byte', (d) => {
      const f = path.join(d, 'checkpoint', 'pages-1.img');
      const b = fs.readFileSync(f);
      b[5000] ^= 0xff;
      fs.writeFileSync(f, b);
    }, /checkpoint\/pages-1\.img is corrupt: sha256 differs from the manifest$/],
    ['truncated', (d) => fs.truncateSync(path.join(d, 'checkpoint', 'pages-1.img'), 4096), /checkpoint\/pages-1\.img is truncated: 4096 bytes, the manifest says 12288$/],
    ['extra', (d) => fs.writeFileSync(path.join(d, 'checkpoint', 'evil.img'), 'x'), /checkpoint\/evil\.img is not in the manifest \(extra file\)$/],
    ['missing', (d) => fs.rmSync(path.join(d, 'checkpoint', 'core-1.img')), /checkpoint\/core-1\.img is missing$/],
    ['symlink', (d) => fs.symlinkSync('/etc/passwd', path.join(d, 'checkpoint', 'link')), /checkpoint\/link is a symlink: not allowed in a checkpoint$/],
    ['no manifest', (d) => fs.rmSync(path.join(d, MANIFEST_FILE)), /has no stasis-manifest\.json/],
    ['bad json', (d) => fs.writeFileSync(path.join(d, MANIFEST_FILE), '{'), /stasis-manifest\.json is corrupt: not valid JSON$/],
  ];
  for (const [name, damage, want] of cases) {
    const dir = await fixture(t);
    damage(dir);
    await assert.rejects(verifyCheckpointDir(dir, HOST), want, name);
  }
});

test('incompatible hosts are refused before any file is read; differences that usually work are warnings', async (t) => {
  const dir = await fixture(t);
  // Damage a file too: the compatibility error must come first.
  fs.writeFileSync(path.join(dir, 'spec.dump'), 'changed');
  await assert.rejects(verifyCheckpointDir(dir, { ...HOST, arch: 'aarch64' }), /checkpoint is for x86_64, this host is aarch64$/);
  await assert.rejects(verifyCheckpointDir(dir, { ...HOST, cpuFeatures: ['sse2'] }), /this host's CPU lacks features the checkpoint may use: avx avx2/);
  const ok = await fixture(t);
  const r = await verifyCheckpointDir(ok, { ...HOST, kernel: '6.1.0', criuVersion: '4.1', cpuFeatures: [...HOST.cpuFeatures, 'avx512f'] });
  assert.deepEqual(r.warnings, ['checkpoint made on kernel 6.18.0, this host runs 6.1.0', 'checkpoint made with criu 4.2.1, this host has older 4.1']);
});

test('parseManifest refuses unsafe or malformed file entries', () => {
  const m = { version: 1, arch: 'x86_64', kernel: 'k', criuVersion: null, cpu: { source: '/proc/cpuinfo', features: [] }, files: [] as unknown[] };
  const sha = 'a'.repeat(64);
  assert.throws(() => parseManifest(JSON.stringify({ ...m, files: [{ path: '../x', size: 1, sha256: sha }] })), /unsafe file path/);
  assert.throws(() => parseManifest(JSON.stringify({ ...m, files: [{ path: '/x', size: 1, sha256: sha }] })), /unsafe file path/);
  assert.throws(() => parseManifest(JSON.stringify({ ...m, files: [{ path: 'x', size: 1, sha256: 'nope' }] })), /bad file entry/);
  assert.throws(() => parseManifest(JSON.stringify({ ...m, files: [{ path: 'x', size: 1, sha256: sha }, { path: 'x', size: 1, sha256: sha }] })), /listed twice/);
  assert.throws(() => parseManifest(JSON.stringify({ ...m, version: 2 })), /unsupported version 2/);
  assert.equal(parseManifest(JSON.stringify(m)).files.length, 0);
});

test('config.dump has the fields checkpointctl reads', () => {
  const c = makeConfigDump({ id: 'web', checkpointedTime: new Date('2026-01-01T00:00:00Z') });
  assert.deepEqual(c, {
    id: 'web',
    name: 'web',
    runtime: 'stasis',
    createdTime: GO_ZERO_TIME,
    checkpointedTime: '2026-01-01T00:00:00.000Z',
    restoredTime: GO_ZERO_TIME,
    restored: false,
  });
});
