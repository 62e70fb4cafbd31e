/** Empty tmpfs mounts left external at dump and mounted fresh at restore (pure parts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMountinfo } from '../../../src/runtime/checkpoint-mounts';
import {
  EMPTY_TMPFS_ID,
  emptyTmpfsCandidates,
  emptyTmpfsExtMnt,
  emptyTmpfsFound,
  isEmptyTmpfsList,
  perMountOptions,
} from '../../../src/runtime/checkpoint-empty-tmpfs';
import { criuNamespaceSteps } from '../../../src/runtime/criu-start';

const MOUNTINFO = `119 68 254:0 /tmp/b/rootfs / rw,relatime - ext4 /dev/vda rw
121 119 0:48 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
123 121 0:50 / /dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k
124 119 0:51 / /run ro,nosuid,nodev - tmpfs tmpfs rw,mode=755,uid=5
125 119 0:52 / /big rw - tmpfs tmpfs rw,huge=always
126 119 0:53 /sub /part rw - tmpfs tmpfs rw
89 119 0:54 / /proc/acpi ro,nosuid,nodev,noexec,relatime - tmpfs tmpfs ro,size=4k,nr_inodes=1
`;

test('candidates: whole, writable tmpfs with plain options and nothing mounted below, not already external', () => {
  const mounts = parseMountinfo(MOUNTINFO);
  const c = emptyTmpfsCandidates(mounts, perMountOptions(MOUNTINFO), new Set(['/proc/acpi']));
  assert.deepEqual(c, [
    { mountpoint: '/dev/shm', source: 'shm', flags: 2 | 4 | 8 | (1 << 21), data: 'size=65536k', mode: 0o1777, uid: 0, gid: 0 },
    { mountpoint: '/run', source: 'tmpfs', flags: 1 | 2 | 4, data: 'mode=755,uid=5', mode: 0o755, uid: 5, gid: 0 },
  ]);
  // /dev has /dev/shm below it, /big a huge= policy, /part is not a whole tmpfs, /proc/acpi is external
});

test('found empty: no entry, and the root as a fresh mount makes it', () => {
  const c = emptyTmpfsCandidates(parseMountinfo(MOUNTINFO), perMountOptions(MOUNTINFO), new Set());
  const facts = new Map([
    ['/dev/shm', { entries: 0, mode: 0o41777, uid: 0, gid: 0 }],
    ['/run', { entries: 1, mode: 0o40755, uid: 5, gid: 0 }],
  ]);
  assert.deepEqual(emptyTmpfsFound(c, (mp) => facts.get(mp)).map((t) => t.mountpoint), ['/dev/shm']);
  facts.set('/dev/shm', { entries: 0, mode: 0o40700, uid: 0, gid: 0 }); // chmod'ed: its mode is content
  assert.deepEqual(emptyTmpfsFound(c, (mp) => facts.get(mp)), []);
  assert.deepEqual(emptyTmpfsFound(c, () => undefined), [], 'unreadable');
  const found = emptyTmpfsFound(c, () => ({ entries: 0, mode: 0o41777, uid: 0, gid: 0 }));
  assert.deepEqual(emptyTmpfsExtMnt(found), [{ key: '/dev/shm', val: `${EMPTY_TMPFS_ID}0` }]);
  assert.ok(isEmptyTmpfsList(found));
  assert.equal(isEmptyTmpfsList([{ ...found[0], data: 'size=1,x;y' }]), false);
  assert.equal(isEmptyTmpfsList([{ ...found[0], source: 'a,b' }]), false);
  assert.equal(isEmptyTmpfsList([{ ...found[0], mountpoint: 'rel' }]), false);
});

test('restore mounts each empty tmpfs fresh; a per-mount read-only flag comes with a bind remount', () => {
  const steps = criuNamespaceSteps({
    criuPath: 'criu',
    env: [],
    emptyTmpfs: [
      { path: '/y/t0', tmpfs: { mountpoint: '/dev/shm', source: 'shm', flags: 2 | 4 | 8, data: 'size=65536k' } },
      { path: '/y/t1', tmpfs: { mountpoint: '/run', source: 'tmpfs', flags: 1 | 2, data: 'mode=755' } },
    ],
  });
  assert.deepEqual(steps.map((s) => s.op), ['UNSHARE', 'PROPAGATION', 'MOUNT', 'MOUNT', 'REMOUNT', 'LOOKUP_EXEC', 'READY', 'EXEC']);
  assert.deepEqual(steps[2].args.slice(0, 6).map((a) => a.v), ['shm', 0, '/y/t0', 'tmpfs', BigInt(14), 'size=65536k']);
  assert.equal(steps[3].args[4].v, BigInt(2));
  assert.deepEqual(steps[4].args.map((a) => a.v), [0, '/y/t1', BigInt(4096 | 1 | 2)]);
});
