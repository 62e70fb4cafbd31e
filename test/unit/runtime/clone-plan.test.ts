/** The pure parts of `restore --clone`: ids, layout, the clone's spec, the overlay's mount data and plans. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Spec } from '../../../src/spec/types';
import { cloneIds, cloneLayout, cloneSpec, overlayData, overlayMountSteps, overlayUnmountSteps } from '../../../src/runtime/clone-plan';

test('cloneIds numbers from 1 and refuses counts out of range', () => {
  assert.deepEqual(cloneIds('web', 3), ['web-1', 'web-2', 'web-3']);
  for (const n of [0, -1, 1.5, NaN, 1001]) assert.throws(() => cloneIds('web', n), /--clone: expected a number of clones from 1 to 1000/);
});

test('cloneLayout keeps every clone under <root>/.clones/<id>', () => {
  const l = cloneLayout('/run/stasis', 'web-2');
  assert.deepEqual(l, {
    dir: '/run/stasis/.clones/web-2',
    config: '/run/stasis/.clones/web-2/config.json',
    rootfs: '/run/stasis/.clones/web-2/rootfs',
    upper: '/run/stasis/.clones/web-2/upper',
    work: '/run/stasis/.clones/web-2/work',
  });
});

test('cloneSpec points the root at the overlay, absolutizes relative bind sources, suffixes cgroupsPath', () => {
  const base = {
    ociVersion: '1.0.2',
    root: { path: '/images/alpine', readonly: true },
    mounts: [
      { destination: '/data', source: 'data', type: 'bind', options: ['rbind'] },
      { destination: '/etc/x', source: 'x', options: ['bind', 'ro'] },
      { destination: '/proc', source: 'proc', type: 'proc' },
      { destination: '/abs', source: '/srv/abs', type: 'bind' },
    ],
    linux: { cgroupsPath: '/engine/web/' },
  } as Spec;
  const s = cloneSpec(base, '/bundles/web', 2);
  assert.deepEqual(s.root, { path: 'rootfs', readonly: true });
  assert.deepEqual(
    s.mounts!.map((m) => m.source),
    ['/bundles/web/data', '/bundles/web/x', 'proc', '/srv/abs'],
  );
  assert.equal(s.linux!.cgroupsPath, '/engine/web-2');
  assert.equal(base.root!.path, '/images/alpine', 'the base spec was changed');
  assert.equal(cloneSpec({ ociVersion: '1.0.2', root: { path: 'rootfs' } } as Spec, '/b', 1).linux, undefined);
});

test('overlayData names the base rootfs as the only lower layer and refuses separators', () => {
  const l = cloneLayout('/run/stasis', 'c-1');
  assert.equal(
    overlayData('/bundles/web/rootfs', l),
    'lowerdir=/bundles/web/rootfs,upperdir=/run/stasis/.clones/c-1/upper,workdir=/run/stasis/.clones/c-1/work',
  );
  assert.throws(() => overlayData('/a,b/rootfs', l), /base rootfs path \/a,b\/rootfs contains/);
  assert.throws(() => overlayData('/a/rootfs', cloneLayout('/x:y', 'c-1')), /clone directory path/);
});

test('the mount plan mounts an overlay on the existing rootfs directory; the unmount plan detaches it', () => {
  const l = cloneLayout('/r', 'c-1');
  const mount = overlayMountSteps('/b/rootfs', l);
  assert.deepEqual(mount.map((s) => s.op), ['MOUNT', 'READY']);
  const args = mount[0].args.map((a) => a.v);
  assert.deepEqual(args.slice(0, 4), ['overlay', 0, '/r/.clones/c-1/rootfs', 'overlay']);
  const un = overlayUnmountSteps(l);
  assert.deepEqual(un.map((s) => s.op), ['UMOUNT', 'READY']);
  assert.deepEqual(un[0].args.map((a) => a.v), ['/r/.clones/c-1/rootfs', 2]);
});
