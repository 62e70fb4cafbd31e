/**
 * A checkpoint that travels, through the public pieces only: a real container is checkpointed by the CLI
 * into the archive layout, exported (zstd), listed by checkpointctl (when installed), imported into a new
 * directory, and restored from there; the restored shell goes on counting from where it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { exportCheckpoint, importCheckpoint, makeConfigDump, writeLayoutFiles, writeManifest } from '../../../src/archive';
import { World, skipReason, waitFor } from '../checkpoint/harness';
import { checkpointctl } from './portable-world';

const skip = skipReason() ?? (spawnSync('zstd', ['--version']).status === 0 ? undefined : 'zstd not installed');

test('checkpoint → export → (checkpointctl show) → import → restore', { skip }, async (t) => {
  const w = new World();
  t.after(() => w.cleanup());
  const id = w.id('travel');
  w.ok(['run', '-d', '--bundle', w.bundle, id]);
  await waitFor('the counter', () => w.count() >= 3);
  const dir = w.images('ckpt');
  w.ok(['checkpoint', '--image-path', path.join(dir, 'checkpoint'), id]);
  const atDump = w.count();
  writeLayoutFiles(dir, {
    spec: JSON.parse(fs.readFileSync(path.join(w.bundle, 'config.json'), 'utf8')),
    config: makeConfigDump({ id, checkpointedTime: new Date() }),
    deletedFiles: [],
  });
  await writeManifest(dir);
  const file = w.images('ckpt.tar.zst');
  const ex = await exportCheckpoint(dir, file, { compress: 'zstd' });
  assert.ok(ex.manifest.files.some((f) => f.path.startsWith('checkpoint/pages-')));

  const ctl = checkpointctl();
  if (ctl) {
    const r = spawnSync(ctl, ['show', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stdout.includes(id.slice(0, 12)), r.stdout);
    assert.match(r.stdout, /stasis/);
    assert.match(r.stdout, /CHKPT SIZE/i);
  } else {
    t.diagnostic('checkpointctl not installed (scripts/install-checkpointctl.sh): show not checked');
  }

  fs.rmSync(dir, { recursive: true }); // the archive is all that travels
  const there = w.images('imported');
  const im = await importCheckpoint(file, there);
  assert.equal(im.compression, 'zstd');
  w.ok(['restore', '-d', '--bundle', w.bundle, '--image-path', path.join(there, 'checkpoint'), id]);
  await waitFor('the counter to pass its value at the dump', () => w.count() > atDump + 2);
  assert.equal(w.state(id)?.status, 'running');
});
