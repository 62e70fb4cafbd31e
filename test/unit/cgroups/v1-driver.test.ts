import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { setupFromMountinfo } from '../../../src/cgroups/detect';
import { openCgroupManager } from '../../../src/cgroups/index';
import { FixtureFs } from './fixture-fs';

const BIG = '9223372036854771712';
const CONTROLLERS = ['cpu', 'cpuacct', 'cpuset', 'memory', 'freezer', 'pids', 'blkio', 'devices'];
const TEMPLATES: Record<string, Record<string, string>> = {
  cpu: { 'cpu.shares': '1024', 'cpu.cfs_period_us': '100000', 'cpu.cfs_quota_us': '-1', 'cpu.stat': 'nr_periods 7\nnr_throttled 3\nthrottled_time 12345\n' },
  cpuacct: {
    'cpuacct.usage': '5000', 'cpuacct.usage_percpu': '3000 2000 \n', 'cpuacct.usage_percpu_sys': '1000 500\n',
    'cpuacct.usage_percpu_user': '2000 1500\n', 'cpuacct.stat': 'user 2\nsystem 1\n',
  },
  cpuset: { 'cpuset.cpus': '', 'cpuset.mems': '', 'cpuset.effective_cpus': '0-1', 'cpuset.effective_mems': '0' },
  memory: {
    'memory.limit_in_bytes': BIG, 'memory.memsw.limit_in_bytes': BIG, 'memory.soft_limit_in_bytes': BIG,
    'memory.swappiness': '60', 'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
    'memory.usage_in_bytes': '4096', 'memory.max_usage_in_bytes': '8192', 'memory.failcnt': '2',
    'memory.memsw.usage_in_bytes': '4096', 'memory.stat': 'cache 100\nrss 200\ntotal_cache 111\ntotal_rss 222\n',
  },
  freezer: { 'freezer.state': 'THAWED' },
  pids: { 'pids.max': 'max', 'pids.current': '0' },
  blkio: {
    'blkio.bfq.weight': '100', 'blkio.throttle.read_bps_device': '',
    'blkio.throttle.io_service_bytes_recursive': '254:0 Read 4096\n254:0 Write 8192\n254:0 Total 12288\nTotal 12288\n',
  },
  devices: { 'devices.allow': '', 'devices.deny': '' },
};

function fixture(t: { after: (fn: () => void) => void }) {
  const fs = new FixtureFs();
  t.after(() => fs.cleanup());
  const lines: string[] = [];
  CONTROLLERS.forEach((c, i) => {
    const mount = c === 'cpu' || c === 'cpuacct' ? 'cg/cpu,cpuacct' : `cg/${c}`;
    if (!existsSync(fs.abs(mount))) fs.addDir(mount, { 'cgroup.procs': '' });
    fs.templates.set(mount, { ...(fs.templates.get(mount) ?? {}), 'cgroup.procs': '', ...TEMPLATES[c] });
    lines.push(`${i + 10} 1 0:${i} / ${fs.abs(mount)} rw - cgroup cgroup rw,${c}`);
  });
  writeFileSync(fs.abs('cg/cpuset/cpuset.cpus'), '0-1\n');
  writeFileSync(fs.abs('cg/cpuset/cpuset.mems'), '0\n');
  const setup = setupFromMountinfo(lines.join('\n'), fs.abs('cg'));
  const open = (opts: { owned?: boolean } = {}) =>
    openCgroupManager({ id: 'c1', cgroupsPath: '/stasis/c1', setup, fs, freezeTimeoutMs: 50, removeTimeoutMs: 50, ...opts });
  const read = (rel: string) => readFileSync(fs.abs(rel), 'utf8');
  return { fs, setup, open, read };
}

test('create makes the cgroup in every hierarchy once and seeds cpuset from the parent', async (t) => {
  const { fs, open, read } = fixture(t);
  const m = open();
  assert.equal(m.version, 'v1');
  const r = await m.create();
  assert.equal(r.created, true);
  for (const c of ['cpu,cpuacct', 'cpuset', 'memory', 'freezer', 'pids', 'blkio', 'devices']) {
    assert.ok(existsSync(fs.abs(`cg/${c}/stasis/c1`)), c);
  }
  assert.equal(read('cg/cpuset/stasis/cpuset.cpus'), '0-1');
  assert.equal(read('cg/cpuset/stasis/c1/cpuset.cpus'), '0-1');
  assert.equal(read('cg/cpuset/stasis/c1/cpuset.mems'), '0');
  assert.equal(m.paths().cpu, fs.abs('cg/cpu,cpuacct/stasis/c1'));
  assert.equal(m.paths().cpuacct, m.paths().cpu);
  const again = await open().create();
  assert.equal(again.created, false);
  assert.equal(again.existing.length, 7);
});

test('apply writes in order, falls back to bfq, skips missing kmem files with a warning', async (t) => {
  const { fs, open, read } = fixture(t);
  const m = open();
  await m.create();
  fs.writes.length = 0;
  const r = await m.apply({
    devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }],
    memory: { limit: 33554432, swap: 67108864, kernel: 1 << 20 },
    cpu: { shares: 512, quota: 20000, period: 100000 },
    pids: { limit: 5 },
    blockIO: { weight: 300 },
  });
  const rel = (p: string) => p.replace(/^cg\/[^/]+\/stasis\/c1\//, '');
  assert.deepEqual(fs.writes.map((w) => `${rel(w.path)}=${w.value}`), [
    'devices.deny=a', 'devices.allow=c 1:3 rwm', 'memory.limit_in_bytes=33554432', 'memory.memsw.limit_in_bytes=67108864',
    'cpu.shares=512', 'cpu.cfs_period_us=100000', 'cpu.cfs_quota_us=20000', 'pids.max=5', 'blkio.bfq.weight=300',
  ]);
  assert.equal(read('cg/memory/stasis/c1/memory.limit_in_bytes'), '33554432');
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0], /kernel memory limit .* skipped: .*memory.kmem.limit_in_bytes does not exist/);
});

test('update leaves device rules alone; unmounted controllers give clear errors', async (t) => {
  const { fs, open } = fixture(t);
  const m = open();
  await m.create();
  fs.writes.length = 0;
  await m.update({ devices: [{ allow: true }], pids: { limit: 9 } });
  assert.deepEqual(fs.writes.map((w) => w.value), ['9']);
  await assert.rejects(m.apply({ hugepageLimits: [{ pageSize: '2MB', limit: 1 }] }), {
    name: 'CgroupError', message: 'cannot set hugetlb 2MB limit: the hugetlb controller is not mounted',
  });
  await assert.rejects(m.apply({ network: { classID: 1 } }), /cannot set network class id: the net_cls controller is not mounted/);
  await assert.rejects(m.apply({ unified: { 'memory.high': '1' } }), /unified needs cgroup v2/);
});

test('kernel EBUSY on a too-low memory limit becomes one clear line', async (t) => {
  const { fs, open } = fixture(t);
  const m = open();
  await m.create();
  fs.failWrites.set('cg/memory/stasis/c1/memory.limit_in_bytes', 'EBUSY');
  await assert.rejects(m.apply({ memory: { limit: 1048576 } }), (err: Error & { code?: string }) => {
    assert.equal(err.message, `cannot set memory limit: writing "1048576" to ${fs.abs('cg/memory/stasis/c1/memory.limit_in_bytes')}: device or resource busy`);
    assert.equal(err.code, 'EBUSY');
    return true;
  });
});

test('raising memory above the current memsw writes memsw first', async (t) => {
  const { fs, open } = fixture(t);
  const m = open();
  await m.create();
  writeFileSync(fs.abs('cg/memory/stasis/c1/memory.memsw.limit_in_bytes'), '2000\n');
  fs.writes.length = 0;
  await m.update({ memory: { limit: 3000, swap: 4000 } });
  assert.deepEqual(fs.writes.map((w) => w.path.split('/').pop()), ['memory.memsw.limit_in_bytes', 'memory.limit_in_bytes']);
});

test('addProcess writes the pid once per hierarchy (co-mounted cpu,cpuacct once)', async (t) => {
  const { fs, open } = fixture(t);
  const m = open();
  await m.create();
  fs.writes.length = 0;
  await m.addProcess(4242);
  assert.equal(fs.writes.length, 7);
  assert.ok(fs.writes.every((w) => w.path.endsWith('/stasis/c1/cgroup.procs') && w.value === '4242'));
  await assert.rejects(m.addProcess(-3), /invalid pid -3/);
});

test('freeze waits for FROZEN; a stuck FREEZING times out, thaws again and says so', async (t) => {
  const { fs, open, read } = fixture(t);
  const m = open();
  await m.create();
  await m.freeze();
  assert.equal(await m.state(), 'frozen');
  await m.thaw();
  assert.equal(await m.state(), 'thawed');
  fs.overrideReads.set('cg/freezer/stasis/c1/freezer.state', () => 'FREEZING\n');
  await assert.rejects(m.freeze(), /cannot freeze cgroup .*: freezer.state still FREEZING after 50 ms, thawed it again/);
  assert.equal(read('cg/freezer/stasis/c1/freezer.state'), 'THAWED');
  assert.ok(fs.writes.filter((w) => w.value === 'FROZEN').length >= 2, 'freeze is re-issued while waiting');
});

test('pids lists the cgroup and its sub-cgroups', async (t) => {
  const { fs, open } = fixture(t);
  const m = open();
  await m.create();
  writeFileSync(fs.abs('cg/pids/stasis/c1/cgroup.procs'), '10\n11\n');
  fs.addDir('cg/pids/stasis/c1/sub', { 'cgroup.procs': '12\n' });
  assert.deepEqual((await m.pids()).sort(), [10, 11, 12]);
});

test('stats and oomKillCount are parsed from the v1 files', async (t) => {
  const { fs, open } = fixture(t);
  const m = open();
  await m.create();
  writeFileSync(fs.abs('cg/memory/stasis/c1/memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 3\n');
  writeFileSync(fs.abs('cg/pids/stasis/c1/pids.current'), '4\n');
  writeFileSync(fs.abs('cg/pids/stasis/c1/pids.max'), '5\n');
  const s = await m.stats();
  assert.deepEqual(s.cpu.usage, { total: 5000, percpu: [3000, 2000], percpu_kernel: [1000, 500], percpu_user: [2000, 1500], kernel: 10_000_000, user: 20_000_000 });
  assert.deepEqual(s.cpu.throttling, { periods: 7, throttledPeriods: 3, throttledTime: 12345 });
  assert.deepEqual(s.cpuset, { cpus: [0, 1], mems: [0] });
  assert.equal(s.memory.cache, 111);
  assert.equal(s.memory.raw.total_rss, 222);
  assert.deepEqual(s.memory.usage, { usage: 4096, max: 8192, failcnt: 2, limit: Number(BIG) });
  assert.equal(s.memory.swap.usage, 4096);
  assert.deepEqual(s.memory.kernel, { usage: 0, max: 0, failcnt: 0, limit: 0 });
  assert.deepEqual(s.pids, { current: 4, limit: 5 });
  assert.deepEqual(s.blkio.ioServiceBytesRecursive, [
    { major: 254, minor: 0, op: 'Read', value: 4096 }, { major: 254, minor: 0, op: 'Write', value: 8192 },
    { major: 254, minor: 0, op: 'Total', value: 12288 },
  ]);
  assert.deepEqual(s.hugetlb, {});
  assert.equal(await m.oomKillCount(), 3);
});

test('destroy removes what it created, leaf first; joined cgroups are left alone unless owned', async (t) => {
  const { fs, open } = fixture(t);
  const joinedBefore = open();
  fs.addDir('cg/memory/stasis/c1', { 'cgroup.procs': '' });
  const m = open();
  const r = await m.create();
  assert.deepEqual(r.existing, [fs.abs('cg/memory/stasis/c1')]);
  fs.addDir('cg/pids/stasis/c1/nested', { 'cgroup.procs': '' });
  await m.destroy();
  assert.equal(existsSync(fs.abs('cg/pids/stasis/c1')), false);
  assert.equal(existsSync(fs.abs('cg/freezer/stasis/c1')), false);
  assert.equal(existsSync(fs.abs('cg/memory/stasis/c1')), true, 'the pre-existing memory cgroup stays');
  assert.equal(existsSync(fs.abs('cg/pids/stasis')), true, 'parents are never removed');
  await joinedBefore.destroy();
  assert.equal(existsSync(fs.abs('cg/memory/stasis/c1')), true);
  await open({ owned: true }).destroy();
  assert.equal(existsSync(fs.abs('cg/memory/stasis/c1')), false);
  assert.equal(await m.exists(), false);
  await open({ owned: true }).destroy(); // ENOENT everywhere is fine
});
