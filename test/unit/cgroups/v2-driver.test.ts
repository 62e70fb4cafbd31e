import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { setupFromMountinfo } from '../../../src/cgroups/detect';
import { openCgroupManager, type OpenCgroupOptions } from '../../../src/cgroups/index';
import { compileDeviceProgram } from '../../../src/cgroups/v2/device-program';
import { UNLIMITED } from '../../../src/cgroups/types';
import { FixtureFs } from './fixture-fs';

const NEW_CGROUP = {
  'cgroup.controllers': 'cpu io memory pids\n', 'cgroup.subtree_control': '', 'cgroup.procs': '',
  'cgroup.freeze': '0', 'cgroup.events': 'populated 0\nfrozen 0\n',
  'memory.max': 'max', 'memory.swap.max': 'max', 'memory.low': '0', 'memory.current': '1000', 'memory.peak': '2000',
  'memory.swap.current': '10', 'memory.events': 'low 0\nhigh 0\nmax 4\noom 1\noom_kill 2\n', 'memory.stat': 'anon 5\nfile 7\n',
  'cpu.weight': '100', 'cpu.max': 'max 100000', 'cpu.stat': 'usage_usec 30\nuser_usec 20\nsystem_usec 10\nnr_periods 4\nnr_throttled 1\nthrottled_usec 5\n',
  'pids.max': 'max', 'pids.current': '3', 'io.weight': 'default 100', 'io.max': '',
  'io.stat': '254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n',
};

function fixture(t: { after: (fn: () => void) => void }) {
  const fs = new FixtureFs();
  t.after(() => fs.cleanup());
  fs.addDir('cg', { 'cgroup.controllers': 'cpu io memory pids\n', 'cgroup.subtree_control': '', 'cgroup.procs': '' });
  fs.templates.set('cg', NEW_CGROUP);
  // Kernel emulation: enabling controllers shows in subtree_control; freezing completes at once.
  fs.onWrite = (rel, value) => {
    if (rel.endsWith('cgroup.subtree_control')) writeFileSync(fs.abs(rel), value.replace(/\+/g, ''));
    if (rel.endsWith('cgroup.freeze')) writeFileSync(fs.abs(rel.replace('cgroup.freeze', 'cgroup.events')), `populated 1\nfrozen ${value}\n`);
  };
  const setup = setupFromMountinfo(`1 0 0:1 / ${fs.abs('cg')} rw - cgroup2 cgroup2 rw`, fs.abs('cg'));
  const open = (owned?: boolean, extra: Partial<OpenCgroupOptions> = {}) =>
    openCgroupManager({ id: 'c1', setup, fs, owned, freezeTimeoutMs: 50, removeTimeoutMs: 50, ...extra });
  return { fs, open, read: (rel: string) => readFileSync(fs.abs(rel), 'utf8') };
}

test('create enables controllers in every ancestor but never in the leaf', async (t) => {
  const { fs, open } = fixture(t);
  const m = open();
  assert.equal(m.version, 'v2');
  const r = await m.create();
  assert.deepEqual(r, { created: true, existing: [], warnings: [] });
  assert.deepEqual(fs.writes, [
    { path: 'cg/cgroup.subtree_control', value: '+cpu +io +memory +pids' },
    { path: 'cg/stasis/cgroup.subtree_control', value: '+cpu +io +memory +pids' },
  ]);
  assert.deepEqual(m.paths(), { '': fs.abs('cg/stasis/c1') });
  fs.writes.length = 0;
  await open().create(); // already enabled: nothing to write
  assert.deepEqual(fs.writes, []);
});

test('a refused controller is retried alone and reported as a warning', async (t) => {
  const { fs, open } = fixture(t);
  const origWrite = fs.writeFile.bind(fs);
  fs.writeFile = async (p, v) => {
    if (p.endsWith('cg/cgroup.subtree_control') && v.includes('+io')) throw Object.assign(new Error('x'), { code: 'EINVAL' });
    return origWrite(p, v);
  };
  const r = await open().create();
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0], /cannot enable the io controller: writing "\+io" to .*cgroup.subtree_control: invalid argument/);
});

test('apply writes v2 files and falls back from io.bfq.weight to io.weight', async (t) => {
  const { fs, open, read } = fixture(t);
  const m = open();
  await m.create();
  fs.writes.length = 0;
  const r = await m.apply({
    memory: { limit: 1 << 25, swap: 1 << 26 }, cpu: { shares: 1024, quota: 50000, period: 100000 },
    pids: { limit: 5 }, blockIO: { weight: 500 }, unified: { 'memory.low': '77' },
  });
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(fs.writes.map((w) => `${w.path.replace('cg/stasis/c1/', '')}=${w.value}`), [
    'memory.swap.max=33554432', 'memory.max=33554432', 'cpu.weight=39', 'cpu.max=50000 100000', 'pids.max=5',
    'io.weight=default 4950', 'memory.low=77',
  ]);
  assert.equal(read('cg/stasis/c1/cpu.max'), '50000 100000');
});

test('a controller missing from cgroup.controllers gives a clear error', async (t) => {
  const { fs, open } = fixture(t);
  const m = open();
  await m.create();
  writeFileSync(fs.abs('cg/stasis/c1/cgroup.controllers'), 'cpu memory\n');
  await assert.rejects(m.apply({ pids: { limit: 5 } }), /cannot set pids limit: the pids controller is not enabled for .*stasis\/c1/);
});

test('freeze/thaw follow cgroup.events; a cgroup that never freezes times out', async (t) => {
  const { fs, open, read } = fixture(t);
  const m = open();
  await m.create();
  await m.freeze();
  assert.equal(await m.state(), 'frozen');
  await m.thaw();
  assert.equal(await m.state(), 'thawed');
  fs.onWrite = undefined;
  await assert.rejects(m.freeze(), /cannot freeze cgroup .*: cgroup.events did not report frozen within 50 ms, thawed it again/);
  assert.equal(read('cg/stasis/c1/cgroup.freeze'), '0');
});

test('stats, pids and oomKillCount from v2 files', async (t) => {
  const { fs, open } = fixture(t);
  const m = open();
  await m.create();
  writeFileSync(fs.abs('cg/stasis/c1/cgroup.procs'), '7\n');
  fs.addDir('cg/stasis/c1/inner', { 'cgroup.procs': '8\n9\n' });
  assert.deepEqual((await m.pids()).sort(), [7, 8, 9]);
  const s = await m.stats();
  assert.deepEqual(s.cpu.usage, { total: 30000, kernel: 10000, user: 20000 });
  assert.deepEqual(s.cpu.throttling, { periods: 4, throttledPeriods: 1, throttledTime: 5000 });
  assert.deepEqual(s.memory.usage, { usage: 1000, max: 2000, failcnt: 4, limit: UNLIMITED });
  assert.equal(s.memory.swap.usage, 1010);
  assert.equal(s.memory.cache, 7);
  assert.deepEqual(s.pids, { current: 3, limit: 0 });
  assert.deepEqual(s.blkio.ioServiceBytesRecursive.map((e) => `${e.op}=${e.value}`), ['Read=4096', 'Write=8192', 'Discard=0']);
  assert.deepEqual(s.blkio.ioServicedRecursive.map((e) => `${e.op}=${e.value}`), ['Read=1', 'Write=2', 'Discard=0']);
  assert.equal(await m.oomKillCount(), 2);
});

test('destroy removes the leaf it created (children first) and nothing it joined', async (t) => {
  const { fs, open } = fixture(t);
  fs.addDir('cg/stasis/c1', NEW_CGROUP);
  const joined = open();
  assert.equal((await joined.create()).created, false);
  await joined.destroy();
  assert.ok(existsSync(fs.abs('cg/stasis/c1')));
  fs.addDir('cg/stasis/c1/inner', { 'cgroup.procs': '' });
  await open(true).destroy();
  assert.equal(existsSync(fs.abs('cg/stasis/c1')), false);
  assert.ok(existsSync(fs.abs('cg/stasis')));
});

test('rmdir that stays busy fails with the number of processes left', async (t) => {
  const { fs, open } = fixture(t);
  const m = open();
  await m.create();
  writeFileSync(fs.abs('cg/stasis/c1/cgroup.procs'), '1\n2\n');
  fs.rmdir = async (p) => {
    throw Object.assign(new Error(`EBUSY ${p}`), { code: 'EBUSY' });
  };
  await assert.rejects(m.destroy(), /cannot remove cgroup .*stasis\/c1: device or resource busy \(2 processes still inside\)/);
});

test('device rules become an eBPF program attached to the leaf, on apply and on update with devices', async (t) => {
  const { fs, open } = fixture(t);
  const loads: { dir: string; insns: Buffer }[] = [];
  const m = open(false, { deviceProgramLoader: (dir, insns) => (loads.push({ dir, insns }), loads.length - 1) });
  await m.create();
  const rules = [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }];
  await m.apply({ devices: rules, pids: { limit: 4 } });
  assert.equal(loads.length, 1);
  assert.equal(loads[0].dir, fs.abs('cg/stasis/c1'));
  assert.deepEqual(loads[0].insns, compileDeviceProgram(rules));
  await m.update({ pids: { limit: 5 } });
  assert.equal(loads.length, 1, 'an update without devices leaves the program alone');
  await m.update({ devices: [{ allow: true }] });
  assert.deepEqual(loads[1].insns, compileDeviceProgram([{ allow: true }]));
  // Invalid rules are refused before anything is loaded or written.
  fs.writes.length = 0;
  await assert.rejects(m.apply({ devices: [{ allow: true, type: 'q' }], pids: { limit: 3 } }), /devices\[0\]\.type "q"/);
  assert.equal(loads.length, 2);
  assert.deepEqual(fs.writes, []);
});

test('a refused device program names the cgroup and quotes the verifier', async (t) => {
  const { open } = fixture(t);
  const m = open(false, {
    deviceProgramLoader: () => {
      throw Object.assign(new Error('bpf(BPF_PROG_LOAD): permission denied (EACCES)'), { code: 'EACCES', verifierLog: '0: (61) r2 = *(u32 *)(r1 +0)\nR0 !read_ok\nprocessed 3 insns\n' });
    },
  });
  await m.create();
  await assert.rejects(m.apply({ devices: [] }), (err: Error & { code?: string }) => {
    assert.match(err.message, /^cannot set device rules of .*stasis\/c1: bpf\(BPF_PROG_LOAD\): permission denied \(EACCES\) \(verifier: .*R0 !read_ok; processed 3 insns\)$/);
    assert.equal(err.code, 'EACCES');
    return true;
  });
});

test('a period-only cpu update keeps the quota in force', async (t) => {
  const { fs, open } = fixture(t);
  const m = open();
  await m.create();
  writeFileSync(fs.abs('cg/stasis/c1/cpu.max'), '20000 100000\n');
  await m.update({ cpu: { period: 50000 } });
  assert.equal(readFileSync(fs.abs('cg/stasis/c1/cpu.max'), 'utf8'), '20000 50000');
});
