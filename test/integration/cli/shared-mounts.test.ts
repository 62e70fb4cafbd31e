/**
 * A container with no mount namespace shares the host's mount table (OCI: an omitted namespace type is
 * inherited). stasis must then leave the host's mounts alone and take down every mount it made on delete,
 * but never a mount someone else had at the rootfs (an engine's overlay).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { TestEnv, leakTest } from '../../support/env';
import { bundleSkipReason } from '../../support/bundle';
import { show } from '../../support/run';
import type { Spec } from '../../../src/spec/types';

const skip = bundleSkipReason();
const env = new TestEnv('sharedmnt');
after(() => env.dispose());

const noMountNs = (s: Spec) => {
  s.linux!.namespaces = (s.linux!.namespaces ?? []).filter((n) => n.type !== 'mount' && n.type !== 'cgroup');
};
const mountsUnder = (dir: string) =>
  fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4]?.startsWith(dir));

test('a container without a mount namespace runs in a chroot and leaves no mount behind', { skip }, async (t) => {
  const hostRootLine = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === '/');
  const { c, r } = await env.runOnce(t, { args: ['sh', '-c', 'ls /bin/busybox && cat /proc/self/mountinfo | wc -l'], tweak: noMountNs });
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /\/bin\/busybox/);
  assert.deepEqual(mountsUnder(c.dir), [], 'every container mount was taken down');
  const after = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === '/');
  assert.equal(after, hostRootLine, 'the host root mount (and its propagation) is unchanged');
});

test("an engine's own mount at the rootfs survives delete; only stasis's mounts go", { skip }, async (t) => {
  const c = env.bundle(t, { args: ['sleep', '1000'], tweak: noMountNs });
  // Stand in for Podman's overlay: something already mounted at the rootfs before create.
  execFileSync('mount', ['--bind', c.rootfs, c.rootfs]);
  try {
    const before = mountsUnder(c.rootfs).length;
    assert.equal((await env.run(['run', '-d', '-b', c.dir, c.id])).code, 0);
    assert.ok(mountsUnder(c.rootfs).length > before, 'the container mounted its filesystems');
    const del = await env.run(['delete', '--force', c.id]);
    assert.equal(del.code, 0, show(del));
    assert.equal(mountsUnder(c.rootfs).length, before, 'exactly the pre-existing mount is left');
  } finally {
    // Before the bundle's own cleanup (registered earlier, so it runs first) tries to remove the directory.
    await env.run(['delete', '--force', c.id]);
    execFileSync('umount', ['-l', c.rootfs]);
  }
});

leakTest(env);
