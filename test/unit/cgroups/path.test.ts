import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setupFromMountinfo } from '../../../src/cgroups/detect';
import { CgroupError } from '../../../src/cgroups/errors';
import { normalizeCgroupsPath, parseProcCgroup, resolveCgroupLocation } from '../../../src/cgroups/path';

const HOST_MOUNTINFO = [
  '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
  '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');

test('empty cgroupsPath defaults to /stasis/<id>', () => {
  assert.deepEqual(normalizeCgroupsPath('', 'c1'), { absolute: true, path: '/stasis/c1' });
  assert.deepEqual(normalizeCgroupsPath(undefined, 'c1'), { absolute: true, path: '/stasis/c1' });
  assert.throws(() => normalizeCgroupsPath('', '../x'), CgroupError);
});

test('paths are normalised and .. is rejected', () => {
  assert.deepEqual(normalizeCgroupsPath('//a/./b/', 'x'), { absolute: true, path: '/a/b' });
  assert.deepEqual(normalizeCgroupsPath('a/b', 'x'), { absolute: false, path: 'a/b' });
  assert.throws(() => normalizeCgroupsPath('/a/../../etc', 'x'), /must not contain "\.\."/);
  assert.throws(() => normalizeCgroupsPath('..', 'x'), /must not contain/);
  assert.throws(() => normalizeCgroupsPath('/', 'x'), /cgroup root/);
});

test('systemd slice paths are rejected with a clear error', () => {
  assert.throws(() => normalizeCgroupsPath('system.slice:stasis:c1', 'c1'), /systemd cgroups are not supported/);
  // A plain path containing a colon is still a path.
  assert.deepEqual(normalizeCgroupsPath('/a:b', 'x'), { absolute: true, path: '/a:b' });
});

test('parseProcCgroup handles co-mounted, named and v2 lines', () => {
  const p = parseProcCgroup('12:cpu,cpuacct:/a\n9:name=systemd:/\n4:memory:/m/x\n0::/u\n');
  assert.equal(p.v1.get('cpu'), '/a');
  assert.equal(p.v1.get('cpuacct'), '/a');
  assert.equal(p.v1.get('memory'), '/m/x');
  assert.equal(p.v2, '/u');
});

test('absolute path goes under every v1 mountpoint; hybrid resolves through v1', () => {
  const setup = setupFromMountinfo(HOST_MOUNTINFO);
  assert.equal(setup.mode, 'hybrid');
  const loc = resolveCgroupLocation(setup, '/stasis/c1', 'c1', { v1: new Map() });
  assert.equal(loc.version, 'v1');
  assert.equal(loc.v1.get('memory'), '/sys/fs/cgroup/memory/stasis/c1');
  assert.equal(loc.v1.get('cpu'), '/sys/fs/cgroup/cpu,cpuacct/stasis/c1');
  assert.equal(loc.v1.get('cpuacct'), '/sys/fs/cgroup/cpu,cpuacct/stasis/c1');
  assert.equal(loc.mounts.get('pids'), '/sys/fs/cgroup/pids');
});

test('relative path is relative to the caller cgroup of each controller', () => {
  const setup = setupFromMountinfo(HOST_MOUNTINFO);
  const own = parseProcCgroup('4:memory:/process_api/abc\n3:cpu,cpuacct:/\n2:pids:/p\n0::/\n');
  const loc = resolveCgroupLocation(setup, 'box/c1', 'c1', own);
  assert.equal(loc.v1.get('memory'), '/sys/fs/cgroup/memory/process_api/abc/box/c1');
  assert.equal(loc.v1.get('cpu'), '/sys/fs/cgroup/cpu,cpuacct/box/c1');
  assert.equal(loc.v1.get('pids'), '/sys/fs/cgroup/pids/p/box/c1');
});

test('relative path inside a container strips the mount root', () => {
  const setup = setupFromMountinfo('1 0 0:1 /outer /sys/fs/cgroup rw - cgroup2 cgroup2 rw');
  const loc = resolveCgroupLocation(setup, 'c1', 'c1', { v1: new Map(), v2: '/outer/me' });
  assert.equal(loc.version, 'v2');
  assert.equal(loc.v2, '/sys/fs/cgroup/me/c1');
  assert.throws(() => resolveCgroupLocation(setup, 'c1', 'c1', { v1: new Map(), v2: '/elsewhere' }), /outside the cgroup2 mount/);
});

test('v2 absolute and relative paths', () => {
  const setup = setupFromMountinfo('1 0 0:1 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw');
  assert.equal(resolveCgroupLocation(setup, '', 'c1', { v1: new Map() }).v2, '/sys/fs/cgroup/stasis/c1');
  assert.equal(resolveCgroupLocation(setup, 'k/c1', 'c1', { v1: new Map(), v2: '/user.slice' }).v2, '/sys/fs/cgroup/user.slice/k/c1');
});
