/** External mount computation for dump and restore (pure). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CGROUP_TMPFS_ID, cgroupTmpfsLayout, dumpExternalMounts, isCgroupTmpfsLayout, parseMountinfo, restoreExternalMounts, MASKED_DIR_ID, MASKED_FILE_ID } from '../../../src/runtime/checkpoint-mounts';
import type { Spec } from '../../../src/spec/types';

// The mountinfo of a real stasis container (busybox bundle, default spec, one bind mount added).
const MOUNTINFO = `119 68 254:0 /tmp/b/rootfs / ro,relatime - ext4 /dev/vda rw
120 119 0:47 / /proc rw,relatime - proc proc rw
121 119 0:48 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
123 121 0:50 / /dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k
125 119 0:51 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro
126 125 0:52 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - tmpfs tmpfs ro,mode=755
127 126 0:29 /stasis/c1 /sys/fs/cgroup/cpu ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,cpu
130 126 0:32 /stasis/c1 /sys/fs/cgroup/memory ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,memory
140 119 254:0 /srv/data /data rw,relatime - ext4 /dev/vda rw
141 119 254:0 /srv/my\\040file /etc/my\\040conf rw,relatime - ext4 /dev/vda rw
89 120 0:53 / /proc/acpi ro,nosuid,nodev,noexec,relatime - tmpfs tmpfs ro,size=4k,nr_inodes=1
90 120 0:48 /null /proc/kcore rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
97 120 0:47 /sys /proc/sys ro,relatime - proc proc rw
`;

const spec: Spec = {
  ociVersion: '1.2.1',
  root: { path: 'rootfs' },
  mounts: [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm' },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro'] },
    { destination: '/data/', type: 'bind', source: '/srv/data', options: ['rbind'] },
    { destination: '/etc/my conf', source: 'relative/file', options: ['bind'] },
  ],
  linux: { maskedPaths: ['/proc/acpi', '/proc/kcore', '/proc/missing'] },
} as Spec;

test('parseMountinfo reads ids, roots, mount points and unescapes octal', () => {
  const m = parseMountinfo(MOUNTINFO);
  assert.equal(m.length, 13);
  const { superOptions, ...first } = m[0];
  assert.deepEqual(first, { id: 119, parent: 68, root: '/tmp/b/rootfs', mountpoint: '/', fstype: 'ext4', source: '/dev/vda' });
  assert.ok(Array.isArray(superOptions));
  assert.equal(m[9].mountpoint, '/etc/my conf');
});

test('dump: binds, cgroup directories and masked paths are external; other tmpfs, proc, sysfs are not', () => {
  const ext = dumpExternalMounts(spec, parseMountinfo(MOUNTINFO));
  assert.deepEqual(ext, [
    { key: '/data', val: '/data', reason: 'bind' },
    { key: '/etc/my conf', val: '/etc/my conf', reason: 'bind' },
    { key: '/sys/fs/cgroup/cpu', val: '/sys/fs/cgroup/cpu', reason: 'cgroup' },
    { key: '/sys/fs/cgroup/memory', val: '/sys/fs/cgroup/memory', reason: 'cgroup' },
    { key: '/proc/acpi', val: MASKED_DIR_ID, reason: 'masked' },
    { key: '/proc/kcore', val: MASKED_FILE_ID, reason: 'masked' },
  ]);
});

test('dump: a destination behind a symlink is keyed by the resolved mount point, named by the spec', () => {
  const info = MOUNTINFO.replace(' /data ', ' /real/data ');
  const ext = dumpExternalMounts(spec, parseMountinfo(info), (d) => (d === '/data' ? '/real/data' : d));
  assert.deepEqual(ext[0], { key: '/real/data', val: '/data', reason: 'bind' });
});

test('dump: a bind-mounted host device (user namespace) is external', () => {
  const info = `${MOUNTINFO}150 121 0:6 /null /dev/null rw - devtmpfs udev rw\n`;
  const ext = dumpExternalMounts(spec, parseMountinfo(info));
  assert.ok(ext.some((e) => e.key === '/dev/null' && e.reason === 'device'));
});

test('dump: a spec mount that is not mounted is not listed', () => {
  const ext = dumpExternalMounts(spec, parseMountinfo(MOUNTINFO).filter((m) => m.mountpoint !== '/data'));
  assert.ok(!ext.some((e) => e.key === '/data'));
});

test('restore: ids map to the sources of the new bundle and the new cgroup directories', () => {
  const map = restoreExternalMounts({
    spec,
    bundle: '/new/bundle',
    cgroupPaths: { cpu: '/sys/fs/cgroup/cpu/stasis/c2', memory: '/sys/fs/cgroup/memory/stasis/c2' },
  });
  const get = (k: string) => map.find((m) => m.key === k)?.val;
  assert.equal(get('/data'), '/srv/data');
  assert.equal(get('/etc/my conf'), '/new/bundle/relative/file');
  assert.equal(get('/sys/fs/cgroup/cpu'), '/sys/fs/cgroup/cpu/stasis/c2');
  assert.equal(get('/sys/fs/cgroup/memory'), '/sys/fs/cgroup/memory/stasis/c2');
  assert.equal(get(MASKED_FILE_ID), '/dev/null');
  assert.equal(new Set(map.map((m) => m.key)).size, map.length, 'duplicate keys');
});

test('dump: a read-only cgroup tmpfs of hierarchy directories and links is external, with its layout', () => {
  const mounts = parseMountinfo(MOUNTINFO);
  const listing = [
    { name: 'cpu', kind: 'dir' as const },
    { name: 'memory', kind: 'dir' as const },
    { name: 'cpuacct', kind: 'link' as const, target: 'cpu' },
  ];
  const layout = cgroupTmpfsLayout(spec, mounts, (mp) => (mp === '/sys/fs/cgroup' ? listing : undefined));
  assert.deepEqual(layout, { mountpoint: '/sys/fs/cgroup', dirs: ['cpu', 'memory'], links: [{ name: 'cpuacct', target: 'cpu' }] });
  assert.ok(isCgroupTmpfsLayout(layout));
  const ext = dumpExternalMounts(spec, mounts, undefined, { cgroupTmpfs: layout });
  assert.deepEqual(ext.find((e) => e.key === '/sys/fs/cgroup'), { key: '/sys/fs/cgroup', val: CGROUP_TMPFS_ID, reason: 'cgroup-tmpfs' });
});

test('dump: the cgroup tmpfs is dumped (no layout) when it could hold anything else', () => {
  const mounts = parseMountinfo(MOUNTINFO);
  const dirs = [{ name: 'cpu', kind: 'dir' as const }];
  assert.ok(cgroupTmpfsLayout(spec, mounts, () => dirs));
  // a file, or a directory that is no hierarchy's mount point
  assert.equal(cgroupTmpfsLayout(spec, mounts, () => [...dirs, { name: 'notes', kind: 'other' }]), undefined);
  assert.equal(cgroupTmpfsLayout(spec, mounts, () => [...dirs, { name: 'extra', kind: 'dir' }]), undefined);
  assert.equal(cgroupTmpfsLayout(spec, mounts, () => undefined), undefined, 'unreadable');
  // writable superblock, or a container that could remount it
  const rw = parseMountinfo(MOUNTINFO.replace('tmpfs tmpfs ro,mode=755', 'tmpfs tmpfs rw,mode=755'));
  assert.equal(cgroupTmpfsLayout(spec, rw, () => dirs), undefined);
  const admin = { ...spec, process: { cwd: '/', args: ['sh'], capabilities: { bounding: ['CAP_SYS_ADMIN'] } } } as Spec;
  assert.equal(cgroupTmpfsLayout(admin, mounts, () => dirs), undefined);
  // no cgroup mount in the spec
  assert.equal(cgroupTmpfsLayout({ ...spec, mounts: [] } as Spec, mounts, () => dirs), undefined);
});

test('a cgroup tmpfs layout from a note must name plain entries', () => {
  const ok = { mountpoint: '/sys/fs/cgroup', dirs: ['cpu,cpuacct'], links: [{ name: 'cpu', target: 'cpu,cpuacct' }] };
  assert.ok(isCgroupTmpfsLayout(ok));
  assert.equal(isCgroupTmpfsLayout({ ...ok, dirs: ['../etc'] }), false);
  assert.equal(isCgroupTmpfsLayout({ ...ok, dirs: ['..'] }), false);
  assert.equal(isCgroupTmpfsLayout({ ...ok, links: [{ name: 'a/b', target: 'x' }] }), false);
  assert.equal(isCgroupTmpfsLayout({ ...ok, mountpoint: 'rel' }), false);
  assert.equal(isCgroupTmpfsLayout(null), false);
});
