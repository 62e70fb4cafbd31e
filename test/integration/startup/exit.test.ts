/**
 * bin/stasis ends with _exit(2) when nothing is left to flush (src/cli/exit.ts): what a command printed must
 * still all arrive, through a pipe and through a file, and the exit status must be the command's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { STASIS_BIN } from '../../support/run';
import { nothingToFlush } from '../../../src/cli/exit';

test('nothing to flush only when every made stdio stream is empty', () => {
  // In this test process trackStdio() never ran, so nothing can be vouched for.
  assert.equal(nothingToFlush([]), false);
});

test('features prints its whole document through a pipe and exits 0', () => {
  const r = spawnSync(STASIS_BIN, ['features'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { ociVersionMin?: string; mountOptions?: string[] };
  assert.ok(doc.ociVersionMin, 'features document lacks ociVersionMin');
  assert.ok((doc.mountOptions ?? []).length > 10, 'features document lost its mount options');
});

test('output written to a file arrives whole, and a failing command keeps its status and message', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-exit-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'out');
  const fd = fs.openSync(out, 'w');
  const r = spawnSync(STASIS_BIN, ['--help'], { stdio: ['ignore', fd, 'pipe'] });
  fs.closeSync(fd);
  assert.equal(r.status, 0);
  assert.match(fs.readFileSync(out, 'utf8'), /global options:[\s\S]*--version/);
  const bad = spawnSync(STASIS_BIN, ['--root', dir, 'state', 'no-such-container'], { encoding: 'utf8' });
  assert.notEqual(bad.status, 0);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /^stasis: .*does not exist\n$/);
});
