/**
 * Cgroups through the CLI (v1 hierarchies): placement and limits from the spec, removal on delete,
 * `update`, `pause`/`resume` with the freezer, `events --stats` and `ps`.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { TestEnv, cgroupDirs, leakTest } from '../../support/env';
import { bundleSkipReason } from '../../support/bundle';
import { show } from '../../support/run';
import { alive, readOr, waitFor } from '../../support/proc';

const v1 = fs.existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes') && fs.existsSync('/sys/fs/cgroup/freezer');
const skip = bundleSkipReason() || (v1 ? false : 'needs cgroup v1 memory and freezer hierarchies');
const env = new TestEnv('cg');
after(() => env.dispose());

const cg = (ctrl: string, cgroupsPath: string, file: string) => `/sys/fs/cgroup/${ctrl}${cgroupsPath}/${file}`;
const procsOf = (ctrl: string, cgroupsPath: string) => (readOr(cg(ctrl, cgroupsPath, 'cgroup.procs')) ?? '').split('\n').filter(Boolean).map(Number);
const statusOf = async (id: string) => (JSON.parse((await env.run(['state', id])).stdout) as { status: string }).status;

test('the container is placed in its cgroup with the spec limits, and the cgroup goes with delete', { skip }, async (t) => {
  const { c, pid } = await env.startDetached(t, {
    tweak: (s) => {
      s.linux!.resources = { ...s.linux!.resources, memory: { limit: 100 * 1024 * 1024 }, pids: { limit: 50 }, cpu: { shares: 512 } };
    },
  });
  for (const ctrl of ['memory', 'pids', 'cpu', 'freezer', 'devices']) {
    assert.ok(procsOf(ctrl, c.cgroupsPath).includes(pid), `pid ${pid} in ${ctrl}${c.cgroupsPath}`);
  }
  assert.equal(readOr(cg('memory', c.cgroupsPath, 'memory.limit_in_bytes')), `${100 * 1024 * 1024}\n`);
  assert.equal(readOr(cg('pids', c.cgroupsPath, 'pids.max')), '50\n');
  assert.equal(readOr(cg('cpu', c.cgroupsPath, 'cpu.shares')), '512\n');
  // Inside, the cgroup namespace hides the host path.
  const inside = await env.run(['exec', c.id, 'cat', '/proc/self/cgroup']);
  assert.equal(inside.code, 0, show(inside));
  assert.match(inside.stdout, /:memory:\/$/m);
  assert.doesNotMatch(inside.stdout, new RegExp(c.cgroupsPath));
  const del = await env.run(['delete', '--force', c.id]);
  assert.equal(del.code, 0, show(del));
  assert.deepEqual(cgroupDirs(c.cgroupsPath), []);
  assert.ok(!alive(pid));
});

test('update --memory 64m changes memory.limit_in_bytes; update -r applies a resources file', { skip }, async (t) => {
  const { c } = await env.startDetached(t, { tweak: (s) => (s.linux!.resources = { ...s.linux!.resources, memory: { limit: 128 * 1024 * 1024 } }) });
  const u = await env.run(['update', '--memory', '64m', c.id]);
  assert.equal(u.code, 0, show(u));
  assert.equal(readOr(cg('memory', c.cgroupsPath, 'memory.limit_in_bytes')), `${64 * 1024 * 1024}\n`);
  const file = env.scratch('resources.json');
  fs.writeFileSync(file, JSON.stringify({ pids: { limit: 33 }, cpu: { shares: 300 } }));
  const r = await env.run(['update', '-r', file, c.id]);
  assert.equal(r.code, 0, show(r));
  assert.equal(readOr(cg('pids', c.cgroupsPath, 'pids.max')), '33\n');
  assert.equal(readOr(cg('cpu', c.cgroupsPath, 'cpu.shares')), '300\n');
  const bad = await env.run(['update', '--memory', 'lots', c.id]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--memory/);
});

test('pause freezes and resume thaws', { skip }, async (t) => {
  const { c, pid } = await env.startDetached(t);
  const freezer = cg('freezer', c.cgroupsPath, 'freezer.state');
  const p = await env.run(['pause', c.id]);
  assert.equal(p.code, 0, show(p));
  assert.equal(readOr(freezer), 'FROZEN\n');
  assert.equal(await statusOf(c.id), 'paused');
  assert.match(readOr(`/proc/${pid}/status`) ?? '', /^State:\s+[DS]/m);
  const again = await env.run(['pause', c.id]);
  assert.notEqual(again.code, 0, 'pausing a paused container fails');
  const e = await env.run(['exec', c.id, 'true']);
  assert.notEqual(e.code, 0, 'exec into a paused container is refused');
  const r = await env.run(['resume', c.id]);
  assert.equal(r.code, 0, show(r));
  assert.equal(readOr(freezer), 'THAWED\n');
  assert.equal(await statusOf(c.id), 'running');
  const r2 = await env.run(['resume', c.id]);
  assert.notEqual(r2.code, 0, 'resuming a running container fails');
});

test('delete --force of a paused container works', { skip }, async (t) => {
  const { c, pid } = await env.startDetached(t);
  assert.equal((await env.run(['pause', c.id])).code, 0);
  const d = await env.run(['delete', '--force', c.id]);
  assert.equal(d.code, 0, show(d));
  assert.ok(await waitFor(() => !alive(pid)));
  assert.deepEqual(cgroupDirs(c.cgroupsPath), []);
});

test('events --stats prints one stats object', { skip }, async (t) => {
  const { c } = await env.startDetached(t, { tweak: (s) => (s.linux!.resources = { ...s.linux!.resources, memory: { limit: 96 * 1024 * 1024 }, pids: { limit: 20 } }) });
  const r = await env.run(['events', '--stats', c.id]);
  assert.equal(r.code, 0, show(r));
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1);
  const ev = JSON.parse(lines[0]) as { type: string; id: string; data: Record<string, any> };
  assert.equal(ev.type, 'stats');
  assert.equal(ev.id, c.id);
  assert.equal(typeof ev.data.cpu.usage.total, 'number');
  assert.ok(Array.isArray(ev.data.cpu.usage.percpu));
  assert.ok(ev.data.memory.usage.usage > 0);
  assert.equal(ev.data.memory.usage.limit, 96 * 1024 * 1024);
  assert.equal(ev.data.pids.current, 1);
  assert.equal(ev.data.pids.limit, 20);
  // The interfaces are the container's own network namespace: a new one has exactly `lo`.
  assert.deepEqual(ev.data.network_interfaces.map((i: { name: string }) => i.name), ['lo']);
  assert.equal(typeof ev.data.network_interfaces[0].rx_bytes, 'number');
});

test('ps lists the container processes (table and json)', { skip }, async (t) => {
  const { c, pid } = await env.startDetached(t, { args: ['sh', '-c', 'sleep 1000 & wait'] });
  const pids = (await waitFor(() => {
    const p = procsOf('pids', c.cgroupsPath);
    return p.length >= 2 ? p : undefined;
  }))!;
  const j = await env.run(['ps', '--format', 'json', c.id]);
  assert.equal(j.code, 0, show(j));
  assert.deepEqual((JSON.parse(j.stdout) as number[]).sort(), pids.sort());
  const tbl = await env.run(['ps', c.id]);
  assert.equal(tbl.code, 0, show(tbl));
  const [header, ...rows] = tbl.stdout.trim().split('\n');
  assert.match(header, /\bPID\b/);
  assert.ok(rows.some((r) => r.includes(` ${pid} `) && /sh -c/.test(r)), tbl.stdout);
  assert.ok(rows.some((r) => /sleep 1000/.test(r)), tbl.stdout);
});

leakTest(env);
