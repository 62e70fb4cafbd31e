/** descriptors.json and stdio mapping (pure parts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  descriptorLinks,
  externalFileKey,
  hostFileStdio,
  inheritHostFiles,
  inheritStdio,
  parseDescriptors,
  settleStdio,
} from '../../../src/runtime/descriptors';
import { RuntimeError } from '../../../src/runtime/errors';

test('descriptorLinks gives the three runc entries, "" for a closed fd', () => {
  assert.deepEqual(descriptorLinks([{ fd: 0, link: '/dev/null' }, { fd: 2, link: 'pipe:[7]' }]), ['/dev/null', '', 'pipe:[7]']);
});

test('inheritStdio re-attaches pipes by their dump-time fd, once per pipe', () => {
  assert.deepEqual(inheritStdio(['/dev/null', 'pipe:[11]', 'pipe:[11]']), [{ key: 'pipe:[11]', fd: 1 }]);
  assert.deepEqual(inheritStdio(['pipe:[1]', 'pipe:[2]', 'socket:[3]']), [
    { key: 'pipe:[1]', fd: 0 },
    { key: 'pipe:[2]', fd: 1 },
  ]);
  assert.deepEqual(inheritStdio([]), []);
});

test('externalFileKey uses the criu hex format', () => {
  assert.equal(externalFileKey(24, 3), 'file[18:3]');
  assert.equal(externalFileKey(255, 0xabcdef), 'file[ff:abcdef]');
});

test('hostFileStdio lists only path fds on mounts the container does not have', () => {
  const fds = [
    { fd: 0, link: '/dev/null', mntId: 24, ino: 3 },
    { fd: 1, link: 'pipe:[9]', mntId: 14, ino: 9 },
    { fd: 2, link: '/dev/pts/0', mntId: 122, ino: 3 },
  ];
  assert.deepEqual(hostFileStdio(fds, new Set([119, 121, 122])), [{ fd: 0, key: 'file[18:3]' }]);
});

test('inheritHostFiles lists a file on several fds once', () => {
  const ext = [
    { fd: 0, key: 'file[18:3]' },
    { fd: 1, key: 'file[18:3]' },
    { fd: 2, key: 'file[18:4]' },
  ];
  assert.deepEqual(inheritHostFiles(ext), [
    { key: 'file[18:3]', fd: 0 },
    { key: 'file[18:4]', fd: 2 },
  ]);
});

test('parseDescriptors names the file when it is corrupt', () => {
  assert.deepEqual(parseDescriptors('["a","b"]', 'x.json'), ['a', 'b']);
  assert.throws(() => parseDescriptors('{', 'x.json'), (e: unknown) => e instanceof RuntimeError && /x\.json is corrupt: not valid JSON/.test(e.message));
  assert.throws(() => parseDescriptors('[1]', 'x.json'), /x\.json is corrupt: expected a list of strings/);
});

test('settleStdio: a read caught inside a shell redirect (fd 1 on a container file) gives way to the other read', () => {
  const container = new Set([68, 69]);
  const host = { fd: 1, link: '/tmp/run/out-0', mntId: 27, ino: 4242 };
  const redirected = { fd: 1, link: '/tmp/count', mntId: 68, ino: 77 };
  const stdin = { fd: 0, link: '/dev/null', mntId: 70, ino: 5 };
  assert.deepEqual(settleStdio([stdin, redirected], [stdin, host], container), [stdin, host]);
  assert.deepEqual(settleStdio([stdin, host], [stdin, redirected], container), [stdin, host]);
  const pipe = { fd: 1, link: 'pipe:[123]' };
  assert.deepEqual(settleStdio([redirected], [pipe], container), [pipe]);
  assert.deepEqual(settleStdio([redirected], [redirected], container), [redirected], 'both caught: nothing better to take');
  assert.deepEqual(settleStdio([host], [], container), [host]);
});
