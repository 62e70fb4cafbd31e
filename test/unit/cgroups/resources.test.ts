import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  blkioWeightToIoWeight, memorySwapToV2, sharesToWeight, v1Writes, v2Writes,
} from '../../../src/cgroups/resources';
import { deviceRule } from '../../../src/cgroups/resources-v1';

const files = (ws: { file: string; value: string }[]) => ws.map((w) => `${w.file}=${w.value}`);

test('shares → weight conversion matches runc/crun at the edges', () => {
  assert.equal(sharesToWeight(2), 1);
  assert.equal(sharesToWeight(1024), 39);
  assert.equal(sharesToWeight(262144), 10000);
  assert.equal(blkioWeightToIoWeight(10), 1);
  assert.equal(blkioWeightToIoWeight(1000), 10000);
  assert.equal(blkioWeightToIoWeight(500), 4950);
});

test('v2 swap is swap minus limit; errors name the field', () => {
  assert.equal(memorySwapToV2(100, 300), 200);
  assert.equal(memorySwapToV2(100, 100), 0);
  assert.equal(memorySwapToV2(100, -1), 'max');
  assert.equal(memorySwapToV2(100, undefined), undefined);
  assert.equal(memorySwapToV2(100, 0), undefined);
  assert.throws(() => memorySwapToV2(undefined, 300), /memory.swap needs a memory.limit/);
  assert.throws(() => memorySwapToV2(300, 100), /must not be lower than memory.limit/);
});

test('v1 memory on a fresh cgroup: limit before memsw, plus the other knobs', () => {
  const p = v1Writes({ memory: { limit: 1 << 20, swap: 2 << 20, reservation: 512, swappiness: 10, disableOOMKiller: true, kernel: 4096 } });
  assert.deepEqual(files(p.writes), [
    'memory.limit_in_bytes=1048576', 'memory.memsw.limit_in_bytes=2097152', 'memory.soft_limit_in_bytes=512',
    'memory.kmem.limit_in_bytes=4096', 'memory.swappiness=10', 'memory.oom_control=1',
  ]);
  assert.equal(p.writes.find((w) => w.file === 'memory.kmem.limit_in_bytes')?.optional, true);
});

test('v1 memory ordering: raising above the current memsw writes memsw first, lowering writes limit first', () => {
  const raise = v1Writes({ memory: { limit: 300, swap: 400 } }, { memswLimit: 200 });
  assert.deepEqual(files(raise.writes), ['memory.memsw.limit_in_bytes=400', 'memory.limit_in_bytes=300']);
  const lower = v1Writes({ memory: { limit: 50, swap: 60 } }, { memswLimit: 200 });
  assert.deepEqual(files(lower.writes), ['memory.limit_in_bytes=50', 'memory.memsw.limit_in_bytes=60']);
  // Unlimited memory with swap unset lifts memsw too, memsw first because -1 is above anything.
  const unlimited = v1Writes({ memory: { limit: -1 } }, { memswLimit: 200 });
  assert.deepEqual(files(unlimited.writes), ['memory.memsw.limit_in_bytes=-1', 'memory.limit_in_bytes=-1']);
  assert.throws(() => v1Writes({ memory: { limit: 300, swap: 100 } }), /memory.swap \(100\) must not be lower/);
  assert.throws(() => v1Writes({ memory: { swappiness: 101 } }), /memory.swappiness has invalid value 101/);
});

test('v1 cpu, pids, blkio, hugetlb', () => {
  const p = v1Writes({
    cpu: { shares: 512, quota: 50000, period: 100000, realtimePeriod: 1000000, realtimeRuntime: 0, cpus: '0', mems: '0', idle: 0 },
    pids: { limit: 0 },
    blockIO: { weight: 300, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1024 }], weightDevice: [{ major: 8, minor: 0, weight: 200 }] },
    hugepageLimits: [{ pageSize: '2MB', limit: 1 << 21 }],
  });
  assert.deepEqual(files(p.writes), [
    'cpu.shares=512', 'cpu.cfs_period_us=100000', 'cpu.cfs_quota_us=50000', 'cpu.rt_period_us=1000000', 'cpu.idle=0',
    'cpuset.cpus=0', 'cpuset.mems=0', 'pids.max=max', 'blkio.weight=300', 'blkio.weight_device=8:0 200',
    'blkio.throttle.read_bps_device=8:0 1024', 'hugetlb.2MB.limit_in_bytes=2097152',
  ]);
  assert.deepEqual(p.writes.find((w) => w.file === 'blkio.weight')?.fallback, { file: 'blkio.bfq.weight', value: '300' });
  assert.equal(v1Writes({ pids: { limit: 5 } }).writes[0].value, '5');
  assert.equal(v1Writes({ pids: { limit: -1 } }).writes[0].value, 'max');
  assert.throws(() => v1Writes({ hugepageLimits: [{ pageSize: '2M', limit: 1 }] }), /pageSize "2M"/);
});

test('v1 devices: deny all first, then rules in order; update skips them', () => {
  const p = v1Writes({
    devices: [
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
      { allow: true, type: 'c', major: 136, access: 'rw' },
      { allow: false, type: 'b', major: 8, minor: 0, access: 'w' },
    ],
  });
  assert.deepEqual(files(p.writes), [
    'devices.deny=a', 'devices.allow=c 1:3 rwm', 'devices.allow=c 136:* rw', 'devices.deny=b 8:0 w',
  ]);
  assert.deepEqual(files(v1Writes({ devices: [{ allow: true, type: 'c', major: 1, minor: 5 }] }).writes), ['devices.deny=a', 'devices.allow=c 1:5 rwm']);
  assert.deepEqual(v1Writes({ devices: [{ allow: true }] }, {}, { skipDevices: true }).writes, []);
  assert.throws(() => deviceRule({ allow: true, type: 'x' }), /type "x" must be a, b or c/);
  assert.throws(() => deviceRule({ allow: true, type: 'c', access: 'rwx' }), /access "rwx"/);
});

test('v1 network and unified', () => {
  const p = v1Writes({ network: { classID: 0x100001, priorities: [{ name: 'eth0', priority: 5 }] } });
  assert.deepEqual(files(p.writes), ['net_cls.classid=1048577', 'net_prio.ifpriomap=eth0 5']);
  assert.throws(() => v1Writes({ unified: { 'memory.high': '1' } }), /unified needs cgroup v2/);
});

test('v2 memory, cpu, pids, io, hugetlb and unified', () => {
  const p = v2Writes({
    memory: { limit: 1000, swap: 3000, reservation: 10, swappiness: 5 },
    cpu: { shares: 1024, quota: 50000, period: 100000, burst: 1000, cpus: '0-1' },
    pids: { limit: 10 },
    blockIO: {
      weight: 500,
      throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 100 }],
      throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 0 }, { major: 8, minor: 16, rate: 7 }],
    },
    hugepageLimits: [{ pageSize: '1GB', limit: -1 }],
    unified: { 'memory.high': '2000' },
  });
  assert.deepEqual(files(p.writes), [
    'memory.swap.max=2000', 'memory.max=1000', 'memory.low=10', 'cpu.weight=39', 'cpu.max=50000 100000',
    'cpu.max.burst=1000', 'cpuset.cpus=0-1', 'pids.max=10', 'io.bfq.weight=500', 'io.max=8:0 rbps=100 wiops=max',
    'io.max=8:16 wiops=7', 'hugetlb.1GB.max=max', 'memory.high=2000',
  ]);
  assert.deepEqual(p.writes.find((w) => w.file === 'io.bfq.weight')?.fallback, { file: 'io.weight', value: 'default 4950' });
  assert.match(p.warnings.join('\n'), /swappiness is not supported on cgroup v2/);
});

test('v2 cpu.max forms and unsupported settings', () => {
  assert.deepEqual(files(v2Writes({ cpu: { quota: -1 } }).writes), ['cpu.max=max']);
  assert.deepEqual(files(v2Writes({ cpu: { period: 20000 } }).writes), ['cpu.max=max 20000']);
  assert.deepEqual(files(v2Writes({ memory: { limit: -1 } }).writes), ['memory.max=max']);
  assert.throws(() => v2Writes({ cpu: { realtimeRuntime: 5 } }), /not supported on cgroup v2/);
  assert.throws(() => v2Writes({ network: { classID: 1 } }), /net_cls\/net_prio/);
  assert.throws(() => v2Writes({ unified: { '../etc/passwd': 'x' } }), /not a cgroup file name/);
  assert.deepEqual(v2Writes({ devices: [{ allow: true }] }), { writes: [], warnings: [] }, 'devices go to the eBPF program, not files');
  assert.deepEqual(files(v2Writes({ cpu: { period: 20000 } }, {}, { cpuQuota: '30000' }).writes), ['cpu.max=30000 20000'], 'period alone keeps the quota');
});
