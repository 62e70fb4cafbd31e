/**
 * Disk full while writing state: the state root is a tiny tmpfs that the test fills up. Commands that must
 * write state fail with one clear line, and what was recorded before stays intact and usable.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { TestEnv } from '../support/env';
import { bundleSkipReason } from '../support/bundle';
import { stasis, show } from '../support/run';

const skip = bundleSkipReason();
const env = new TestEnv('diskfull');
const root = env.scratch('tiny-root');
let mounted = false;
after(async () => {
  if (mounted) {
    for (const id of fs.existsSync(root) ? fs.readdirSync(root) : []) await stasis(['--root', root, 'delete', '--force', id]);
    execFileSync('umount', [root]);
  }
  await env.dispose();
});

/** Fills the filesystem of `dir` completely; returns the filler file. */
function fill(dir: string): string {
  const filler = path.join(dir, 'filler');
  const fd = fs.openSync(filler, 'w');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    fs.closeSync(fd);
  }
  return filler;
}

test('a full state filesystem gives a clear error and keeps the existing state intact', { skip }, async (t) => {
  fs.mkdirSync(root, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', root]);
  mounted = true;
  const a = env.bundle(t, { args: ['sleep', '1000'] });
  const b = env.bundle(t, { args: ['sleep', '1000'] });
  const run = (args: string[]) => stasis(['--root', root, ...args]);
  assert.equal((await run(['run', '-d', '-b', a.dir, a.id])).code, 0);
  const before = fs.readFileSync(path.join(root, a.id, 'state.json'), 'utf8');
  const filler = fill(root);

  const second = await run(['create', '-b', b.dir, b.id]);
  assert.notEqual(second.code, 0, show(second));
  assert.match(second.stderr, /no space left on device/i, show(second));
  assert.equal(second.stderr.trim().split('\n').length, 1, 'one line');
  assert.ok(!fs.existsSync(path.join(root, b.id)), 'the failed create left no state directory');

  const upd = await run(['update', '--memory', '64m', a.id]);
  assert.notEqual(upd.code, 0, show(upd));
  assert.match(upd.stderr, /no space left on device/i, show(upd));
  assert.equal(fs.readFileSync(path.join(root, a.id, 'state.json'), 'utf8'), before, 'previous state untouched');
  const limit = Number(fs.readFileSync(`/sys/fs/cgroup/memory${a.cgroupsPath}/memory.limit_in_bytes`, 'utf8'));
  assert.notEqual(limit, 64 * 2 ** 20, 'the limit was not changed behind the recorded state');
  assert.deepEqual(fs.readdirSync(path.join(root, a.id)).filter((f) => f.endsWith('.tmp')), [], 'no temp file left');

  fs.rmSync(filler);
  const st = await run(['state', a.id]);
  assert.equal(JSON.parse(st.stdout).status, 'running', show(st));
  assert.equal((await run(['delete', '--force', a.id])).code, 0);
});
