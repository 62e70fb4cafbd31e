/**
 * Limits are enforced, not only written, through the CLI on either cgroup version: the OOM killer fires at the
 * memory limit and `stasis events` reports it, a fork bomb stops at the pids limit, a cpu quota of 0.2 cpu
 * holds a busy loop near 20%, `update` changes behaviour, and device rules (v1 devices cgroup, v2 eBPF
 * program) refuse mknod and open of a device the container may not use while /dev/null keeps working.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TestEnv } from '../../support/env';
import { bundleSkipReason } from '../../support/bundle';
import { STASIS_BIN, show } from '../../support/run';
import { alive, waitFor } from '../../support/proc';
import { addCapability, leakedOnAnyVersion, readCg, run, skipReason, startDetached, version } from './support';

const skip = skipReason(bundleSkipReason());
const env = new TestEnv('cgenf');
after(() => env.dispose());
const slow = { skip, timeout: 600_000 };
const MiB = 1024 * 1024;
/** Busybox sh waiting for the test to create /tmp/go in the rootfs, without forking (read -t is a builtin). */
const WAIT_GO = 'mkfifo /tmp/tick; exec 3<>/tmp/tick; while [ ! -e /tmp/go ]; do read -t 1 x <&3; done';

test(`${version}: 32 MiB limit: allocating 64 MiB is OOM-killed and stasis events prints an oom event`, slow, async (t) => {
  const { c, pid } = await startDetached(env, t, {
    args: ['sh', '-c', `${WAIT_GO}; dd if=/dev/zero of=/dev/null bs=64M count=1; echo "dd=$?" > /tmp/dd.out; exec sleep 1000`],
    tweak: (s) => (s.linux!.resources = { ...s.linux!.resources, memory: { limit: 32 * MiB } }),
  });
  const events = spawn(STASIS_BIN, ['--root', env.root, 'events', '--interval', '1s', c.id], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => events.kill('SIGKILL'));
  let out = '';
  events.stdout.on('data', (d) => (out += d));
  const lines = () => out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; id: string });
  assert.ok(await waitFor(() => lines().some((e) => e.type === 'stats'), 60_000), `events started: ${out}`);
  fs.writeFileSync(path.join(c.rootfs, 'tmp', 'go'), '');
  const ddOut = path.join(c.rootfs, 'tmp', 'dd.out');
  assert.ok(await waitFor(() => fs.existsSync(ddOut) && fs.readFileSync(ddOut, 'utf8').includes('dd='), 60_000), 'dd ended');
  assert.equal(fs.readFileSync(ddOut, 'utf8').trim(), 'dd=137', 'dd was SIGKILLed');
  assert.ok(await waitFor(() => lines().some((e) => e.type === 'oom'), 30_000), `an oom event: ${out}`);
  assert.deepEqual(lines().find((e) => e.type === 'oom'), { type: 'oom', id: c.id });
  assert.ok(alive(pid), 'the container itself survives (only dd was killed)');
});

test(`${version}: pids limit 10 bounds a fork bomb and the container survives`, slow, async (t) => {
  const { c, pid } = await startDetached(env, t, { tweak: (s) => (s.linux!.resources = { ...s.linux!.resources, pids: { limit: 10 } }) });
  const bomb = await run(env, ['exec', '-d', c.id, 'sh', '-c', 'b() { b | b & }; b']);
  assert.equal(bomb.code, 0, show(bomb));
  let peak = 0;
  const until = Date.now() + 3000;
  while (Date.now() < until) {
    peak = Math.max(peak, Number(readCg(c, 'pids', 'pids.current')));
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(peak <= 10, `pids.current stayed <= 10, peak ${peak}`);
  assert.ok(peak >= 5, `the bomb did run (peak ${peak})`);
  assert.match(readCg(c, 'pids', 'pids.events'), /^max [1-9]/m, 'forks were refused at the limit');
  assert.ok(alive(pid), 'init survives');
  const k = await run(env, ['kill', '--all', c.id, 'KILL']);
  assert.equal(k.code, 0, show(k));
  assert.ok(await waitFor(() => Number(readCg(c, 'pids', 'pids.current')) === 0, 10_000), 'kill --all ended the bomb');
});

/** CPU time used by the cgroup so far, in nanoseconds. */
function cpuUsageNs(c: Parameters<typeof readCg>[0]): number {
  if (version === 'v2') return Number(/^usage_usec (\d+)$/m.exec(readCg(c, 'cpu', 'cpu.stat'))![1]) * 1000;
  return Number(readCg(c, 'cpuacct', 'cpuacct.usage'));
}

test(`${version}: a quota of 0.2 cpu holds a busy loop near 20% of one cpu`, slow, async (t) => {
  const { c } = await startDetached(env, t, {
    args: ['sh', '-c', 'while :; do :; done'],
    tweak: (s) => (s.linux!.resources = { ...s.linux!.resources, cpu: { quota: 20000, period: 100000 } }),
  });
  await new Promise((r) => setTimeout(r, 500));
  const u0 = cpuUsageNs(c);
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, 2000));
  const share = (cpuUsageNs(c) - u0) / Number(process.hrtime.bigint() - t0);
  assert.ok(share > 0.1 && share < 0.3, `busy loop used ${(share * 100).toFixed(1)}% of one cpu`);
  // And the limit is what holds it: lifted, the same loop takes (nearly) a whole cpu.
  const u = await run(env, ['update', '--cpu-quota', '-1', c.id]);
  assert.equal(u.code, 0, show(u));
  const u1 = cpuUsageNs(c);
  const t1 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, 2000));
  const free = (cpuUsageNs(c) - u1) / Number(process.hrtime.bigint() - t1);
  assert.ok(free > 0.5, `unlimited, the loop used ${(free * 100).toFixed(1)}%`);
});

test(`${version}: update --memory takes effect: 64 MiB fits under 128 MiB, not after lowering to 32 MiB`, slow, async (t) => {
  const { c } = await startDetached(env, t, { tweak: (s) => (s.linux!.resources = { ...s.linux!.resources, memory: { limit: 128 * MiB } }) });
  const dd = ['exec', c.id, 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1'];
  const ok = await run(env, dd);
  assert.equal(ok.code, 0, show(ok));
  const u = await run(env, ['update', '--memory', '32m', c.id]);
  assert.equal(u.code, 0, show(u));
  assert.equal(readCg(c, 'memory', version === 'v2' ? 'memory.max' : 'memory.limit_in_bytes'), String(32 * MiB));
  const killed = await run(env, dd);
  assert.equal(killed.code, 137, `dd is OOM-killed now: ${show(killed)}`);
});

test(`${version}: device rules refuse mknod and open of other devices; /dev/null works`, slow, async (t) => {
  const { c } = await startDetached(env, t, { tweak: (s) => addCapability(s, 'CAP_MKNOD') });
  // A node for a device the rules do not allow (char 240:17, a "local use" number no driver claims), made from
  // the host so that only open() is tested; the container's own mknod must fail on its own.
  const node = path.join(c.rootfs, 'tmp', 'local-dev');
  fs.rmSync(node, { force: true });
  const mk = spawn('mknod', [node, 'c', '240', '17']);
  await new Promise((r) => mk.on('exit', r));
  const probe = 'mknod /tmp/sda b 8 0 2>&1; echo "mknod=$?"; head -c1 /tmp/local-dev 2>&1; echo "open=$?"; echo x > /dev/null && echo null=ok';
  const r = await run(env, ['exec', c.id, 'sh', '-c', probe]);
  assert.match(r.stdout, /Operation not permitted\nmknod=1/, show(r));
  assert.match(r.stdout, /local-dev: Operation not permitted\nopen=1/, show(r));
  assert.match(r.stdout, /null=ok/, show(r));
  if (version !== 'v2') return;
  // v2: update replaces the eBPF program; now the open reaches the (missing) driver: ENXIO, not EPERM.
  const file = env.scratch(`devices-${c.id}.json`);
  fs.writeFileSync(file, JSON.stringify({ devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 240, minor: 17, access: 'rw' }] }));
  const u = await run(env, ['update', '-r', file, c.id]);
  assert.equal(u.code, 0, show(u));
  const r2 = await run(env, ['exec', c.id, 'sh', '-c', probe]);
  assert.match(r2.stdout, /mknod=1/, 'mknod of b 8:0 is still refused');
  assert.match(r2.stdout, /local-dev: No such device or address\nopen=1/, show(r2));
  assert.match(r2.stdout, /null=ok/, 'the default devices stay allowed after an update');
});

test('leaves no cgroups, mounts or state behind', { skip }, async () => {
  const leaks = await env.dispose();
  assert.deepEqual({ ...leaks, cgroups: [...leaks.cgroups, ...leakedOnAnyVersion(env)] }, { cgroups: [], mounts: [], state: [] });
});
