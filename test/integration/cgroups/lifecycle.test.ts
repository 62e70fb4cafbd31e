import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { openCgroupManager } from '../../../src/cgroups/index';
import { allDirs, goneEverywhere, openForTest, procState, readTrim, setup, skip, spawnGated, waitForOutput } from './helpers';

test('create, apply, addProcess, pids, freeze/thaw, stats and destroy on the real v1 hierarchy', { skip }, async (t) => {
  const { m, cgroupsPath } = openForTest(t);
  const created = await m.create();
  assert.equal(created.created, true);
  for (const d of allDirs(cgroupsPath)) assert.ok(existsSync(d), `${d} exists`);
  const paths = m.paths();
  assert.equal(paths.memory, path.join(setup!.v1Controllers.get('memory')!, cgroupsPath));

  const applied = await m.apply({
    memory: { limit: 64 << 20, reservation: 32 << 20 },
    cpu: { shares: 512, quota: 50000, period: 100000 },
    pids: { limit: 20 },
  });
  assert.equal(readTrim(path.join(paths.memory, 'memory.limit_in_bytes')), String(64 << 20));
  assert.equal(readTrim(path.join(paths.memory, 'memory.soft_limit_in_bytes')), String(32 << 20));
  assert.equal(readTrim(path.join(paths.cpu, 'cpu.shares')), '512');
  assert.equal(readTrim(path.join(paths.cpu, 'cpu.cfs_quota_us')), '50000');
  assert.equal(readTrim(path.join(paths.pids, 'pids.max')), '20');
  assert.deepEqual(applied.warnings, []);
  assert.notEqual(readTrim(path.join(paths.cpuset, 'cpuset.cpus')), '', 'cpuset seeded from the parent');

  const sleeper = spawnGated(t, 'sleep', ['30']);
  await m.addProcess(sleeper.pid!);
  const procCgroup = readFileSync(`/proc/${sleeper.pid}/cgroup`, 'utf8');
  for (const c of ['memory', 'pids', 'freezer', 'cpu']) {
    assert.match(procCgroup, new RegExp(`^\\d+:${c}:${cgroupsPath}$`, 'm'), `${c} line of /proc/pid/cgroup`);
  }
  assert.deepEqual(await m.pids(), [sleeper.pid]);

  await m.freeze();
  assert.equal(await m.state(), 'frozen');
  assert.equal(readTrim(path.join(paths.freezer, 'freezer.state')), 'FROZEN');
  assert.equal(procState(sleeper.pid!), 'D', 'frozen tasks show as D in /proc/<pid>/stat');
  await m.thaw();
  assert.equal(await m.state(), 'thawed');
  assert.equal(procState(sleeper.pid!), 'S');

  await m.update({ pids: { limit: 10 }, cpu: { quota: -1 } });
  assert.equal(readTrim(path.join(paths.pids, 'pids.max')), '10');
  assert.equal(readTrim(path.join(paths.cpu, 'cpu.cfs_quota_us')), '-1');

  const s = await m.stats();
  assert.equal(s.pids.current, 1);
  assert.equal(s.pids.limit, 10);
  assert.equal(s.memory.usage.limit, 64 << 20);
  assert.ok(s.cpu.usage.total >= 0 && s.cpu.usage.percpu!.length >= 1, 'per-cpu usage present');
  assert.ok(Object.keys(s.memory.raw).includes('total_rss'), 'memory.stat parsed');
  assert.equal(await m.oomKillCount(), 0);

  // destroy must refuse while the task is alive, then succeed once it is gone.
  await assert.rejects(m.destroy(), /cannot remove cgroup .*: device or resource busy \(1 processes still inside\)/);
  sleeper.kill('SIGKILL');
  await m.destroy();
  assert.ok(goneEverywhere(cgroupsPath), 'no directory left in any hierarchy');
});

test('a cgroup that already existed is joined and not removed by a non-owning manager', { skip }, async (t) => {
  const { m, cgroupsPath } = openForTest(t);
  await m.create();
  const joiner = openCgroupManager({ id: 'it', cgroupsPath, setup });
  const r = await joiner.create();
  assert.equal(r.created, false);
  await joiner.destroy();
  assert.ok(allDirs(cgroupsPath).every((d) => existsSync(d)), 'joined cgroup left in place');
});

test('lowering the memory limit below current usage reports the kernel EBUSY clearly', { skip }, async (t) => {
  const { m } = openForTest(t);
  await m.create();
  const child = spawnGated(t, process.execPath, ['-e', `process.stdin.once('data', () => { globalThis.b = Buffer.alloc(24 << 20, 1); console.log('ready'); setInterval(() => {}, 1000); })`]);
  await m.addProcess(child.pid!);
  child.stdin!.write('go\n');
  await waitForOutput(child, (o) => o.includes('ready'));
  await assert.rejects(m.update({ memory: { limit: 1 << 20 } }), (err: Error) => {
    assert.match(err.message, /^cannot set memory limit: writing "1048576" to \/sys\/fs\/cgroup\/memory\/.*\/memory.limit_in_bytes: device or resource busy$/);
    return true;
  });
});
