/**
 * CVE-2021-30465 style: a mount destination that is (or passes through) a symlink pointing out of the rootfs
 * must land inside the rootfs. stasis resolves every destination with openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS) and creates missing parts one name at a time, splicing dangling links back under
 * the root (native/helper/path.c); the mount goes onto the resolved fd.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab, labSkipReason, probeValue } from './lab';
import { show } from '../support/run';

const skip = labSkipReason();
const lab = new Lab('mnt');

/** A symlink target that climbs out of the rootfs and names `hostPath` (absolute on the host). */
function climbing(hostPath: string): string {
  return `/../../../../../../..${hostPath}`;
}

test('a tmpfs mounted on a symlink to /../../<host dir> lands inside the rootfs', { skip }, async (t) => {
  const outside = lab.scratch('outside');
  const c = lab.bundle(t, {
    probe: true,
    args: ['/probe', 'create', '/etc/x', 'read', '/proc/self/mountinfo'],
    tweak: (s) => s.mounts!.push({ destination: '/etc/x', type: 'tmpfs', source: 'tmpfs', options: ['size=64k'] }),
  });
  fs.symlinkSync(climbing(outside), path.join(c.rootfs, 'etc', 'x'));
  const mountsBefore = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  const r = await lab.run(['run', '-b', c.dir, c.id]);
  assert.equal(r.code, 0, show(r));
  // The container could write into the tmpfs: it exists, inside.
  assert.equal(probeValue(r.stdout, 'create /etc/x'), 'ok', show(r));
  assert.equal(fs.existsSync(outside), false, `${outside} was created on the host`);
  assert.ok(fs.existsSync(path.join(c.rootfs, outside)), 'the link target was not created under the rootfs');
  assert.equal(fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(outside), mountsBefore.includes(outside));
});

test('a bind mount through a symlinked parent directory stays inside the rootfs', { skip }, async (t) => {
  const outside = lab.scratch('outside-bind');
  const src = lab.scratch('bind-src');
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'marker'), 'hello');
  const c = lab.bundle(t, {
    probe: true,
    args: ['/probe', 'read', '/data/dir/marker'],
    tweak: (s) => s.mounts!.push({ destination: '/data/dir', type: 'bind', source: src, options: ['rbind', 'ro'] }),
  });
  fs.symlinkSync(climbing(outside), path.join(c.rootfs, 'data'));
  const r = await lab.run(['run', '-b', c.dir, c.id]);
  assert.equal(r.code, 0, show(r));
  assert.equal(probeValue(r.stdout, 'read /data/dir/marker'), '5', show(r));
  assert.equal(fs.existsSync(outside), false, `${outside} was created on the host`);
  assert.deepEqual(fs.readdirSync(src), ['marker']);
});

test('leaves no cgroups, mounts or state behind', async () => {
  assert.deepEqual(await lab.dispose(), { cgroups: [], mounts: [], state: [] });
});
