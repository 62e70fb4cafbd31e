import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { exited, openForTest, skip, spawnGated } from './helpers';

test('pids.max=5 stops the sixth task from forking', { skip }, async (t) => {
  const { m } = openForTest(t);
  await m.create();
  await m.apply({ pids: { limit: 5 } });
  // sh waits for "go" so it is inside the cgroup before it forks; sh itself is task 1 of 5.
  const sh = spawnGated(t, 'sh', ['-c', 'read go; for i in 1 2 3 4 5 6; do sleep 5 & done; wait']);
  await m.addProcess(sh.pid!);
  sh.stdin!.write('go\n');
  // dash gives up at the first failed fork ("Cannot fork") and exits; the sleeps it did start stay behind.
  const { code } = await exited(sh);
  assert.notEqual(code, 0);
  assert.match(sh.output(), /cannot fork|resource temporarily unavailable/i, 'sh reports the failed fork');
  const pids = await m.pids();
  assert.equal(pids.length, 4, `the 4 sleeps that fit beside sh, got ${pids.length}`);
  assert.match(readFileSync(path.join(m.paths().pids, 'pids.events'), 'utf8'), /^max [1-9]/m, 'pids.events counted the refusal');
  assert.equal((await m.stats()).pids.current, 4);
});

test('memory limit of 32M kills a process allocating 64M and oomKillCount rises', { skip }, async (t) => {
  const { m } = openForTest(t);
  await m.create();
  await m.apply({ memory: { limit: 32 << 20 } });
  assert.equal(await m.oomKillCount(), 0);
  const hog = spawnGated(t, process.execPath, ['-e', `process.stdin.once('data', () => { const b = Buffer.alloc(64 << 20, 1); console.log('survived', b.length); process.exit(0); })`]);
  await m.addProcess(hog.pid!);
  hog.stdin!.write('go\n');
  const { signal } = await exited(hog);
  assert.equal(signal, 'SIGKILL', `expected an OOM kill, output: ${hog.output()}`);
  assert.doesNotMatch(hog.output(), /survived/);
  assert.ok((await m.oomKillCount()) >= 1, 'memory.oom_control oom_kill counted it');
  const s = await m.stats();
  assert.ok(s.memory.usage.failcnt > 0, 'failcnt rose');
  assert.equal(s.memory.usage.max <= 32 << 20, true);
});
