import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { detectCgroupSetup, parseMountinfo, setupFromMountinfo } from '../../../src/cgroups/detect';

// This machine's layout: v1 controllers mounted separately plus an empty cgroup2 at unified.
const HYBRID = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw`;

test('hybrid: v1 controllers plus cgroup2 side mount; named hierarchies ignored', () => {
  const s = setupFromMountinfo(HYBRID);
  assert.equal(s.mode, 'hybrid');
  assert.equal(s.v1Controllers.get('cpu'), '/sys/fs/cgroup/cpu');
  assert.equal(s.v1Controllers.get('cpuacct'), '/sys/fs/cgroup/cpuacct');
  assert.equal(s.v1Controllers.has('name=systemd'), false);
  assert.equal(s.v2Mount, '/sys/fs/cgroup/unified');
});

test('co-mounted cpu,cpuacct share one mountpoint; pure v1', () => {
  const s = setupFromMountinfo(
    '1 0 0:2 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n' +
      '2 0 0:3 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio',
  );
  assert.equal(s.mode, 'v1');
  assert.equal(s.v1Controllers.get('cpu'), '/sys/fs/cgroup/cpu,cpuacct');
  assert.equal(s.v1Controllers.get('cpuacct'), '/sys/fs/cgroup/cpu,cpuacct');
  assert.equal(s.v1Controllers.get('net_prio'), '/sys/fs/cgroup/net_cls,net_prio');
});

test('pure v2 and mounts outside the root are ignored', () => {
  const s = setupFromMountinfo(
    '1 0 0:2 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n2 0 0:3 / /run/ctr/rootfs/sys/fs/cgroup/memory rw - cgroup cgroup rw,memory',
  );
  assert.equal(s.mode, 'v2');
  assert.equal(s.v2Mount, '/sys/fs/cgroup');
  assert.equal(s.v1Controllers.size, 0);
});

test('no cgroup mounts is an error; escaped mountpoints are decoded', () => {
  assert.throws(() => setupFromMountinfo('1 0 0:2 / /proc rw - proc proc rw'), /no cgroup hierarchy is mounted/);
  assert.equal(parseMountinfo('1 0 0:2 / /a\\040b rw shared:1 - cgroup cgroup rw,pids')[0].mountpoint, '/a b');
});

test('detectCgroupSetup reads an injected mountinfo and root', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'stasis-detect-'));
  try {
    const mi = path.join(dir, 'mountinfo');
    writeFileSync(mi, `1 0 0:2 / ${dir}/cg/memory rw - cgroup cgroup rw,memory\n`);
    const s = detectCgroupSetup(`${dir}/cg/`, mi);
    assert.equal(s.mode, 'v1');
    assert.equal(s.v1Controllers.get('memory'), `${dir}/cg/memory`);
    assert.throws(() => detectCgroupSetup('/x', path.join(dir, 'missing')), /cannot read .*missing: no such file or directory/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the real host is detected', () => {
  const s = detectCgroupSetup();
  assert.ok(['v1', 'v2', 'hybrid'].includes(s.mode));
});
