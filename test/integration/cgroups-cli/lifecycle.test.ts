/**
 * Cgroups through the CLI on whichever cgroup version the host has (the v1 host, or the v2 guest of
 * scripts/cgv2/run-tests.sh): limits from the spec, `update`, pause/resume, `events --stats`, `ps`,
 * `kill --all`, and that `delete` leaves no cgroup behind.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TestEnv } from '../../support/env';
import { bundleSkipReason } from '../../support/bundle';
import { show } from '../../support/run';
import { alive, waitFor } from '../../support/proc';
import { sharesToWeight } from '../../../src/cgroups';
import { cgroupLeft, leakedOnAnyVersion, readCg, run, skipReason, startDetached, version } from './support';

const skip = skipReason(bundleSkipReason());
const env = new TestEnv('cgcli');
after(() => env.dispose());
const slow = { skip, timeout: 600_000 };
const MiB = 1024 * 1024;
const procs = (c: Parameters<typeof readCg>[0]) => readCg(c, 'pids', 'cgroup.procs').split('\n').filter(Boolean).map(Number);
const statusOf = async (id: string) => (JSON.parse((await run(env, ['state', id])).stdout) as { status: string }).status;

test(`${version}: spec limits are written, the process is inside, delete removes the cgroup`, slow, async (t) => {
  const { c, pid } = await startDetached(env, t, {
    tweak: (s) => {
      s.linux!.resources = { ...s.linux!.resources, memory: { limit: 100 * MiB }, pids: { limit: 50 }, cpu: { shares: 512, quota: 50000, period: 100000 } };
    },
  });
  assert.ok(procs(c).includes(pid), `pid ${pid} in the cgroup`);
  assert.equal(readCg(c, 'pids', 'pids.max'), '50');
  if (version === 'v2') {
    assert.equal(readCg(c, 'memory', 'memory.max'), String(100 * MiB));
    assert.equal(readCg(c, 'cpu', 'cpu.weight'), String(sharesToWeight(512)));
    assert.equal(readCg(c, 'cpu', 'cpu.max'), '50000 100000');
  } else {
    assert.equal(readCg(c, 'memory', 'memory.limit_in_bytes'), String(100 * MiB));
    assert.equal(readCg(c, 'cpu', 'cpu.shares'), '512');
    assert.equal(readCg(c, 'cpu', 'cpu.cfs_quota_us'), '50000');
  }
  const inside = await run(env, ['exec', c.id, 'cat', '/proc/self/cgroup']);
  assert.equal(inside.code, 0, show(inside));
  assert.doesNotMatch(inside.stdout, new RegExp(c.cgroupsPath), 'the cgroup namespace hides the host path');
  const del = await run(env, ['delete', '--force', c.id]);
  assert.equal(del.code, 0, show(del));
  assert.deepEqual(cgroupLeft(c.cgroupsPath), []);
  assert.ok(await waitFor(() => !alive(pid)));
});

test(`${version}: update with flags and with --resources changes the files`, slow, async (t) => {
  const { c } = await startDetached(env, t, { tweak: (s) => (s.linux!.resources = { ...s.linux!.resources, memory: { limit: 128 * MiB } }) });
  const u = await run(env, ['update', '--memory', '64m', '--cpu-quota', '20000', '--cpu-period', '100000', c.id]);
  assert.equal(u.code, 0, show(u));
  const file = env.scratch(`resources-${c.id}.json`);
  fs.writeFileSync(file, JSON.stringify({ pids: { limit: 33 }, cpu: { shares: 300 } }));
  const r = await run(env, ['update', '-r', file, c.id]);
  assert.equal(r.code, 0, show(r));
  assert.equal(readCg(c, 'pids', 'pids.max'), '33');
  if (version === 'v2') {
    assert.equal(readCg(c, 'memory', 'memory.max'), String(64 * MiB));
    assert.equal(readCg(c, 'cpu', 'cpu.max'), '20000 100000');
    assert.equal(readCg(c, 'cpu', 'cpu.weight'), String(sharesToWeight(300)));
  } else {
    assert.equal(readCg(c, 'memory', 'memory.limit_in_bytes'), String(64 * MiB));
    assert.equal(readCg(c, 'cpu', 'cpu.cfs_quota_us'), '20000');
    assert.equal(readCg(c, 'cpu', 'cpu.shares'), '300');
  }
  // The new limits are what `state`-independent readers see too: events --stats reports them.
  const ev = JSON.parse((await run(env, ['events', '--stats', c.id])).stdout) as { data: { memory: { usage: { limit: number } }; pids: { limit: number } } };
  assert.equal(ev.data.memory.usage.limit, 64 * MiB);
  assert.equal(ev.data.pids.limit, 33);
});

test(`${version}: pause stops the container's work, resume restarts it`, slow, async (t) => {
  const { c } = await startDetached(env, t, { args: ['sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i > /tmp/counter; done'] });
  const counter = path.join(c.rootfs, 'tmp', 'counter');
  const read = () => Number(fs.readFileSync(counter, 'utf8').trim() || 0);
  assert.ok(await waitFor(() => fs.existsSync(counter) && read() > 0, 30_000), 'counter runs');
  const p = await run(env, ['pause', c.id]);
  assert.equal(p.code, 0, show(p));
  assert.equal(await statusOf(c.id), 'paused');
  if (version === 'v2') assert.match(readCg(c, 'freezer', 'cgroup.events'), /^frozen 1$/m);
  else assert.equal(readCg(c, 'freezer', 'freezer.state'), 'FROZEN');
  const frozenAt = read();
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(read(), frozenAt, 'the counter does not move while paused');
  const r = await run(env, ['resume', c.id]);
  assert.equal(r.code, 0, show(r));
  assert.equal(await statusOf(c.id), 'running');
  assert.ok(await waitFor(() => read() > frozenAt, 30_000), 'the counter moves again');
});

test(`${version}: events --stats prints one runc-shaped stats object`, slow, async (t) => {
  const { c } = await startDetached(env, t, { tweak: (s) => (s.linux!.resources = { ...s.linux!.resources, memory: { limit: 96 * MiB }, pids: { limit: 20 } }) });
  const r = await run(env, ['events', '--stats', c.id]);
  assert.equal(r.code, 0, show(r));
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1);
  const ev = JSON.parse(lines[0]) as { type: string; id: string; data: Record<string, any> };
  assert.equal(ev.type, 'stats');
  assert.equal(ev.id, c.id);
  assert.ok(ev.data.cpu.usage.total > 0, 'cpu time was used');
  assert.ok(ev.data.memory.usage.usage > 0, 'memory is in use');
  assert.equal(ev.data.memory.usage.limit, 96 * MiB);
  assert.equal(ev.data.pids.current, 1);
  assert.equal(ev.data.pids.limit, 20);
});

test(`${version}: ps lists the processes; kill --all reaches every one of them`, slow, async (t) => {
  const { c, pid } = await startDetached(env, t, { args: ['sh', '-c', 'sleep 1000 & sleep 1001 & wait'] });
  const three = await waitFor(() => (procs(c).length >= 3 ? procs(c) : undefined), 30_000);
  assert.ok(three, 'sh and two sleeps');
  const j = await run(env, ['ps', '--format', 'json', c.id]);
  assert.equal(j.code, 0, show(j));
  assert.deepEqual((JSON.parse(j.stdout) as number[]).sort(), [...three].sort());
  const k = await run(env, ['kill', '--all', c.id, 'KILL']);
  assert.equal(k.code, 0, show(k));
  assert.ok(await waitFor(() => three.every((p) => !alive(p)), 10_000), 'every process is gone');
  assert.ok(await waitFor(async () => (await statusOf(c.id)) === 'stopped', 10_000));
  assert.deepEqual(procs(c), []);
  assert.ok(!alive(pid));
  const del = await run(env, ['delete', c.id]);
  assert.equal(del.code, 0, show(del));
  assert.deepEqual(cgroupLeft(c.cgroupsPath), []);
});

test(`${version}: a failed create leaves no cgroup behind`, slow, async (t) => {
  const c = env.bundle(t, { args: ['/no/such/binary'], tweak: (s) => (s.linux!.resources = { ...s.linux!.resources, pids: { limit: 10 } }) });
  const bad = env.bundle(t, { tweak: (s) => (s.linux!.resources = { ...s.linux!.resources, memory: { limit: 1 << 20 , swap: 1 << 19 } }) });
  const r = await run(env, ['run', '-b', bad.dir, bad.id]);
  assert.notEqual(r.code, 0, 'swap below the limit is refused');
  assert.match(r.stderr, /memory\.swap/);
  assert.deepEqual(cgroupLeft(bad.cgroupsPath), []);
  const r2 = await run(env, ['run', '-b', c.dir, c.id]);
  assert.notEqual(r2.code, 0);
  assert.deepEqual(cgroupLeft(c.cgroupsPath), []);
});

test('leaves no cgroups, mounts or state behind', { skip }, async () => {
  const leaks = await env.dispose();
  assert.deepEqual({ ...leaks, cgroups: [...leaks.cgroups, ...leakedOnAnyVersion(env)] }, { cgroups: [], mounts: [], state: [] });
});
