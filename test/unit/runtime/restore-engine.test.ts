/** podmanBundleSpec: the bundle config stasis derives from an engine's spec.dump. Pure. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { devShmSource, namedHierarchyMounts, podmanBundleSpec, rootfsMountpoints } from '../../../src/runtime/restore-engine';
import type { Spec } from '../../../src/spec/types';

const dump: Spec = {
  ociVersion: '1.0.2-dev',
  hostname: 'abc123',
  process: { cwd: '/', args: ['sh'], user: { uid: 0, gid: 0 } },
  root: { path: '/var/lib/containers/storage/vfs/dir/xyz', readonly: false },
  mounts: [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev/shm', type: 'bind', source: '/var/lib/containers/x/userdata/shm', options: ['bind', 'private'] },
    { destination: '/etc/hosts', type: 'bind', source: '/run/containers/x/userdata/hosts', options: ['bind'] },
    { destination: '/etc/resolv.conf', type: 'bind', source: '/run/containers/x/userdata/resolv.conf', options: ['bind'] },
    { destination: '/etc/hostname', type: 'bind', source: '/run/containers/x/userdata/hostname', options: ['bind'] },
    { destination: '/run/.containerenv', type: 'bind', source: '/run/containers/x/userdata/.containerenv', options: ['bind'] },
    { destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind'] },
  ],
  hooks: { prestart: [{ path: '/usr/bin/podman-hook' }] },
  linux: { cgroupsPath: '/libpod_parent/libpod-x', namespaces: [{ type: 'mount' }, { type: 'network' }] },
} as Spec;

test('engine bind mounts point into engine-mounts/, the rest is kept', () => {
  const b = podmanBundleSpec(dump, 'nameserver 10.0.0.1\n');
  assert.equal(b.spec.root?.path, 'rootfs');
  const src = Object.fromEntries((b.spec.mounts ?? []).map((m) => [m.destination, m.source]));
  assert.equal(src['/dev/shm'], 'engine-mounts/shm');
  assert.equal(src['/etc/hosts'], 'engine-mounts/hosts');
  assert.equal(src['/run/.containerenv'], 'engine-mounts/containerenv');
  assert.equal(src['/data'], '/srv/data');
  assert.equal(src['/proc'], 'proc');
  assert.deepEqual(b.otherSources, [{ destination: '/data', source: '/srv/data' }]);
  const files = Object.fromEntries(b.files.map((f) => [f.rel, f]));
  assert.equal(files['engine-mounts/shm'].dir, true);
  assert.equal(files['engine-mounts/hostname'].content, 'abc123\n');
  assert.equal(files['engine-mounts/resolv.conf'].content, 'nameserver 10.0.0.1\n');
  assert.match(files['engine-mounts/hosts'].content ?? '', /\tabc123\n/);
  assert.equal(b.spec.hooks, undefined);
  assert.equal(b.spec.linux?.cgroupsPath, undefined);
  assert.equal(dump.linux?.cgroupsPath, '/libpod_parent/libpod-x', 'the dump itself is not changed');
  assert.equal(devShmSource(b.spec, '/b'), '/b/engine-mounts/shm');
});

test('devShmSource: none when /dev/shm is a tmpfs', () => {
  assert.equal(devShmSource({ mounts: [{ destination: '/dev/shm', type: 'tmpfs', source: 'shm' }] } as Spec, '/b'), undefined);
});

test('namedHierarchyMounts: runc binds name=systemd too; stasis offers its own directory there', () => {
  const spec = { mounts: [{ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup' }] } as Spec;
  const self = '9:name=systemd:/user/x\n4:memory:/a\n0::/\n';
  assert.deepEqual(namedHierarchyMounts(spec, self, () => true), [{ key: '/sys/fs/cgroup/systemd', val: '/sys/fs/cgroup/systemd/user/x' }]);
  assert.deepEqual(namedHierarchyMounts(spec, self, () => false), []);
  assert.deepEqual(namedHierarchyMounts({ ociVersion: "1.0.2", mounts: [] } as Spec, self, () => true), []);
});

test('rootfsMountpoints: bind destinations in the rootfs, not those below another mount', () => {
  const spec = {
    mounts: [
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs' },
      { destination: '/dev/shm', type: 'bind', source: 'engine-mounts/shm', options: ['bind'] },
      { destination: '/etc/hosts', type: 'bind', source: 'engine-mounts/hosts', options: ['bind'] },
      { destination: '/data/', type: 'bind', source: '/srv', options: ['rbind'] },
    ],
  } as Spec;
  assert.deepEqual(rootfsMountpoints(spec, '/b', (s) => s === '/srv'), [
    { rel: 'etc/hosts', dir: false },
    { rel: 'data', dir: true },
  ]);
});
