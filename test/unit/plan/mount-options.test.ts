import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MS, parseMountOptions } from '../../../src/plan/mount-options';
import { mountSteps } from '../../../src/plan/mounts';
import { Base, TargetKind } from '../../../src/helper/protocol';
import type { HostFacts } from '../../../src/plan/host';

const parse = (o: string[]) => parseMountOptions(o, 'mounts[0].options');

test('flag options set and clear, later ones win', () => {
  assert.equal(parse(['ro', 'nosuid', 'nodev', 'noexec']).flags, MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC);
  assert.equal(parse(['ro', 'rw']).flags, 0);
  assert.equal(parse(['nosuid', 'suid', 'nodev', 'dev', 'noexec', 'exec']).flags, 0);
  assert.equal(parse(['sync', 'dirsync', 'mand']).flags, MS.SYNCHRONOUS | MS.DIRSYNC | MS.MANDLOCK);
  assert.equal(parse(['sync', 'async', 'mand', 'nomand']).flags, 0);
  assert.equal(parse(['noatime', 'nodiratime']).flags, MS.NOATIME | MS.NODIRATIME);
  assert.equal(parse(['noatime', 'atime', 'nodiratime', 'diratime']).flags, 0);
  assert.equal(parse(['relatime']).flags, 1 << 21);
  assert.equal(parse(['strictatime']).flags, 1 << 24);
  assert.equal(parse(['relatime', 'norelatime', 'strictatime', 'nostrictatime']).flags, 0);
  assert.equal(parse(['defaults']).flags, 0);
});

test('bind, rbind and remount are recognised', () => {
  assert.deepEqual([parse(['bind']).bind, parse(['bind']).recursive], [true, false]);
  assert.deepEqual([parse(['rbind']).bind, parse(['rbind']).recursive], [true, true]);
  assert.equal(parse(['remount', 'ro']).remount, true);
});

test('propagation options in order', () => {
  assert.deepEqual(parse(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave', 'unbindable', 'runbindable']).propagation, [
    MS.PRIVATE, MS.PRIVATE | MS.REC, MS.SHARED, MS.SHARED | MS.REC, MS.SLAVE, MS.SLAVE | MS.REC, MS.UNBINDABLE, MS.UNBINDABLE | MS.REC,
  ]);
});

test('unknown options become filesystem data', () => {
  const p = parse(['nosuid', 'mode=755', 'size=65536k', 'newinstance', 'ptmxmode=0666']);
  assert.equal(p.flags, MS.NOSUID);
  assert.equal(p.data, 'mode=755,size=65536k,newinstance,ptmxmode=0666');
});

test('recursive attributes and idmap are refused clearly', () => {
  assert.throws(() => parse(['rbind', 'rro']), {
    message: 'mounts[0].options[1]: recursive mount option "rro" is not supported (it needs mount_setattr)',
  });
  assert.throws(() => parse(['rnosuid']), /recursive mount option "rnosuid"/);
  assert.throws(() => parse(['idmap']), { message: 'mounts[0].options[0]: id-mapped mounts are not supported' });
});

const host: HostFacts = {
  fileKind: (p) => (p === '/etc/hosts' ? 'file' : p === '/data' ? 'dir' : 'missing'),
  mountPointOf: () => '/',
};

test('a bind mount of a file gets a file target and a remount for its flags', () => {
  const steps = mountSteps({ destination: '/etc/hosts', source: '/etc/hosts', type: 'bind', options: ['rbind', 'ro', 'nosuid', 'rprivate'] }, 0, { host });
  assert.deepEqual(steps.map((s) => s.op), ['MOUNT', 'REMOUNT', 'PROPAGATION']);
  assert.deepEqual(steps[0].args.map((a) => a.v), ['/etc/hosts', Base.ROOTFS, '/etc/hosts', '', BigInt(MS.BIND | MS.REC), '', TargetKind.FILE, 1]);
  assert.deepEqual(steps[1].args.map((a) => a.v), [Base.ROOTFS, '/etc/hosts', BigInt(MS.BIND | MS.RDONLY | MS.NOSUID)]);
  assert.deepEqual(steps[2].args.map((a) => a.v), [Base.ROOTFS, '/etc/hosts', BigInt(MS.PRIVATE | MS.REC)]);
});

test('a plain bind of a directory needs no remount; relative sources use the bundle', () => {
  const steps = mountSteps({ destination: '/mnt/', source: 'data', options: ['bind'] }, 2, { host, bundle: '/' });
  assert.deepEqual(steps.map((s) => s.op), ['MOUNT']);
  assert.deepEqual(steps[0].args.map((a) => a.v), ['/data', Base.ROOTFS, '/mnt', '', BigInt(MS.BIND), '', TargetKind.DIR, 1]);
  assert.throws(() => mountSteps({ destination: '/mnt', source: 'data', options: ['bind'] }, 2, { host }), {
    message: 'mounts[2].source: relative bind source needs the bundle path',
  });
});

test('a filesystem mount passes flags and data directly', () => {
  const steps = mountSteps({ destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755'] }, 1, { host });
  assert.deepEqual(steps[0].args.map((a) => a.v), ['tmpfs', Base.ROOTFS, '/dev', 'tmpfs', BigInt(MS.NOSUID | MS.STRICTATIME), 'mode=755', TargetKind.DIR, 0]);
  assert.throws(() => mountSteps({ destination: '/x' }, 4, { host }), { message: 'mounts[4].type: required unless the options include bind or rbind' });
});

test('mounts over /proc are restricted', () => {
  assert.throws(() => mountSteps({ destination: '/proc', type: 'tmpfs' }, 0, { host }), {
    message: 'mounts[0].destination: only a proc filesystem may be mounted on /proc',
  });
  assert.throws(() => mountSteps({ destination: '/proc/sys/kernel/core_pattern', source: '/etc/hosts', options: ['bind'] }, 0, { host }),
    /inside \/proc and cannot be mounted over/);
  assert.doesNotThrow(() => mountSteps({ destination: '/proc/meminfo', source: '/etc/hosts', options: ['bind'] }, 0, { host }));
});

test('a cgroup mount binds each controller read-only under a tmpfs', () => {
  const steps = mountSteps({ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'ro'] }, 5, {
    host,
    cgroupMounts: [{ controller: 'memory', hostPath: '/sys/fs/cgroup/memory/c1' }, { controller: 'cpu,cpuacct', hostPath: '/sys/fs/cgroup/cpu,cpuacct/c1' }],
  });
  assert.deepEqual(steps.map((s) => `${s.op} ${s.args[s.op === 'SYMLINK' ? 1 : s.op === 'MOUNT' ? 2 : 1].v}`), [
    'MOUNT /sys/fs/cgroup',
    'MOUNT /sys/fs/cgroup/memory',
    'REMOUNT /sys/fs/cgroup/memory',
    'MOUNT /sys/fs/cgroup/cpu,cpuacct',
    'REMOUNT /sys/fs/cgroup/cpu,cpuacct',
    'SYMLINK /sys/fs/cgroup/cpu',
    'SYMLINK /sys/fs/cgroup/cpuacct',
    'REMOUNT /sys/fs/cgroup',
  ]);
  assert.equal(steps[2].args[2].v, BigInt(MS.BIND | MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RDONLY));
  assert.throws(() => mountSteps({ destination: '/sys/fs/cgroup', type: 'cgroup' }, 5, { host }), /needs the container cgroup directories/);
});
