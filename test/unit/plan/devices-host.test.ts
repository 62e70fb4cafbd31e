import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deviceSteps, devSetupSteps, mergedDevices } from '../../../src/plan/devices';
import { longestMountPrefix, mountPoints } from '../../../src/plan/host';
import { joinOrder, newNamespaceFlags } from '../../../src/plan/namespaces';

test('MKNOD carries type bits, permissions, numbers and owner', () => {
  const [c, b, p] = deviceSteps([
    { type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 0o20600, uid: 5, gid: 6 },
    { type: 'b', path: '/dev/sda', major: 8, minor: 0 },
    { type: 'p', path: '/dev/fifo', fileMode: 0o644 },
  ], false);
  assert.deepEqual(c.args.map((a) => a.v), ['/dev/fuse', 0o020600, 10, 229, 5, 6]);
  assert.deepEqual(b.args.map((a) => a.v), ['/dev/sda', 0o060666, 8, 0, 0, 0]);
  assert.deepEqual(p.args.map((a) => a.v), ['/dev/fifo', 0o010644, 0, 0, 0, 0]);
});

test('spec devices replace defaults with the same path', () => {
  const merged = mergedDevices([{ type: 'c', path: '/dev/null', major: 1, minor: 3, fileMode: 0o600 }]);
  assert.equal(merged.filter((d) => d.path === '/dev/null').length, 1);
  assert.equal(merged.find((d) => d.path === '/dev/null')!.fileMode, 0o600);
  assert.equal(merged.length, 6);
});

test('no /dev mount at all still populates /dev; pts and shm dirs only when not mounted', () => {
  const steps = devSetupSteps([{ destination: '/dev/shm', type: 'tmpfs' }], undefined, false);
  assert.deepEqual(steps.filter((s) => s.op === 'MKDIR').map((s) => s.args[1].v), ['/dev/pts']);
  assert.equal(steps.filter((s) => s.op === 'MKNOD').length, 6);
});

test('mountinfo parsing and longest prefix', () => {
  const info = [
    '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
    '23 22 0:5 / /var/lib rw shared:2 - ext4 /dev/sdb rw',
    '24 22 0:6 / /mnt/with\\040space rw - tmpfs tmpfs rw',
    '',
  ].join('\n');
  const points = mountPoints(info);
  assert.deepEqual(points, ['/', '/var/lib', '/mnt/with space']);
  assert.equal(longestMountPrefix(points, '/var/lib/b/rootfs'), '/var/lib');
  assert.equal(longestMountPrefix(points, '/var/library'), '/');
  assert.equal(longestMountPrefix(points, '/mnt/with space/x'), '/mnt/with space');
});

test('namespace join order and clone flags', () => {
  const order = joinOrder([{ type: 'mount' }, { type: 'network' }, { type: 'user' }, { type: 'pid' }] as const);
  assert.deepEqual(order.map((n) => n.type), ['user', 'network', 'pid', 'mount']);
  assert.equal(newNamespaceFlags([{ type: 'pid' }, { type: 'network', path: '/x' }, { type: 'cgroup' }], ['cgroup']), 0x20000000n);
});
