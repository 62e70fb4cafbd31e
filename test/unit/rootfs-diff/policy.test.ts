import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanContainerPath, diffExclusions, isExcluded } from '../../../src/rootfs-diff/exclusions';
import { deletedPath } from '../../../src/rootfs-diff/apply';
import { filterMember, type DiffTarResult } from '../../../src/rootfs-diff/diff-tar';
import type { TarHeader } from '../../../src/archive/tar-format';

test('exclusions: pseudo filesystems, mount destinations, masked paths, deduplicated', () => {
  const ex = diffExclusions(
    {
      mounts: [{ destination: '/proc' }, { destination: '/etc/resolv.conf' }, { destination: '/dev/shm' }, { destination: '/data/' }, { destination: '/' }],
      linux: { maskedPaths: ['/proc/kcore', '/etc/secret'] },
    },
    ['/run/.containerenv'],
  );
  assert.deepEqual(ex, ['data', 'dev', 'etc/resolv.conf', 'etc/secret', 'proc', 'run/.containerenv', 'sys']);
  assert.ok(isExcluded('dev/shm/x', ex));
  assert.ok(isExcluded('etc/resolv.conf', ex));
  assert.ok(!isExcluded('etc/resolv.conf.d', ex));
  assert.ok(!isExcluded('device', ex));
  assert.equal(cleanContainerPath('/a/./b/../c//'), 'a/c');
});

test('deleted.files entries: leading slash optional, ".." and the root refused', () => {
  assert.equal(deletedPath('/etc/motd'), 'etc/motd');
  assert.equal(deletedPath('etc//motd/'), 'etc/motd');
  assert.throws(() => deletedPath('/etc/../../x'), /contains "\.\."/);
  assert.throws(() => deletedPath('/'), /names the root/);
});

const h = (p: Partial<TarHeader>): TarHeader => ({
  path: 'x',
  type: 'file',
  mode: 0o644,
  uid: 0,
  gid: 0,
  size: 0,
  mtime: 0,
  linkpath: '',
  devmajor: 0,
  devminor: 0,
  xattrs: new Map(),
  ...p,
});

test('overlay filter: opaque dirs recorded, overlay xattrs stripped, others kept, redirect refused', () => {
  const acc: DiffTarResult = { opaqueDirs: [], xattrWhiteouts: [], members: 0 };
  const dir = filterMember(
    h({ path: './etc/conf.d/', type: 'dir', xattrs: new Map([['trusted.overlay.opaque', Buffer.from('y')], ['user.keep', Buffer.from('1')]]) }),
    'trusted.overlay.',
    acc,
  );
  assert.deepEqual(acc.opaqueDirs, ['etc/conf.d']);
  assert.equal(dir?.path, 'etc/conf.d/');
  assert.deepEqual([...dir!.xattrs.keys()], ['user.keep']);
  // "x" marks a directory that may hold xattr whiteouts: not opaque.
  filterMember(h({ path: 'd', type: 'dir', xattrs: new Map([['trusted.overlay.opaque', Buffer.from('x')]]) }), 'trusted.overlay.', acc);
  assert.deepEqual(acc.opaqueDirs, ['etc/conf.d']);
  assert.equal(filterMember(h({ path: 'gone', xattrs: new Map([['trusted.overlay.whiteout', Buffer.alloc(0)]]) }), 'trusted.overlay.', acc), undefined);
  assert.deepEqual(acc.xattrWhiteouts, ['gone']);
  assert.throws(() => filterMember(h({ path: 'mv', type: 'dir', xattrs: new Map([['trusted.overlay.redirect', Buffer.from('/a')]]) }), 'trusted.overlay.', acc), /mv: overlay redirect_dir entry/);
  assert.throws(() => filterMember(h({ path: 'm', xattrs: new Map([['trusted.overlay.metacopy', Buffer.alloc(0)]]) }), 'trusted.overlay.', acc), /m: overlay metacopy entry/);
  const link = filterMember(h({ path: './b', type: 'link', linkpath: './a' }), 'trusted.overlay.', acc);
  assert.equal(link?.linkpath, 'a');
  // Without an overlay prefix nothing is interpreted.
  const plain = filterMember(h({ path: 'p', xattrs: new Map([['trusted.overlay.opaque', Buffer.from('y')]]) }), undefined, acc);
  assert.equal(plain?.xattrs.size, 1);
});
