/**
 * REMOUNT inside a user namespace: a mount inherited from a more privileged mount namespace has its
 * nosuid/nodev/noexec flags locked, so a read-only remount that omits them is refused with EPERM; the
 * helper retries with the mount's current flags and the mount ends up read-only with them kept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Base, str, u64, type Step } from '../../src/helper/protocol';
import {
  CLONE_NEWNS,
  CLONE_NEWPID,
  CLONE_NEWUSER,
  MS_BIND,
  MS_NODEV,
  MS_NOEXEC,
  MS_NOSUID,
  MS_RDONLY,
  enterAndBind,
  hostMountsUnder,
  makeRootfs,
  mountFs,
  runPlan,
  shell,
  skipUnlessReady,
  step,
} from './rootfs-fixture';

test('REMOUNT keeps the flags the kernel locked in a user namespace', async (t) => {
  if (skipUnlessReady(t)) return;
  const root = makeRootfs(t);
  const locked = path.join(root, 'locked');
  const logs: string[] = [];
  const unshare: Step = { op: 'UNSHARE', args: [u64(CLONE_NEWUSER | CLONE_NEWNS)], what: 'enter a user namespace' };
  const res = await runPlan(
    [
      ...enterAndBind(root, CLONE_NEWNS | CLONE_NEWPID),
      mountFs('tmpfs', '/locked', MS_NOSUID | MS_NODEV | MS_NOEXEC),
      unshare,
      // Mapping only our own uid/gid needs no privilege in the parent namespace.
      step.writeFile(Base.HOST, '/proc/self/setgroups', 'deny'),
      step.writeFile(Base.HOST, '/proc/self/uid_map', '0 0 1'),
      step.writeFile(Base.HOST, '/proc/self/gid_map', '0 0 1'),
      // The old rootfs fd names a mount of the previous namespace: reopen it in the new one.
      { op: 'SET_ROOTFS', args: [str(root)], what: 'reopen the rootfs' },
      step.remount(Base.ROOTFS, '/locked', MS_BIND | MS_RDONLY),
      // No pivot (a new /proc cannot be mounted here): the host's busybox looks at the rootfs from outside.
      ...shell(
        `echo "touch=$(touch ${locked}/x 2>&1)"; grep " ${locked} " /proc/self/mountinfo | cut -d" " -f6`,
        '/bin/busybox',
      ),
    ],
    { logs },
  );
  assert.equal(res.error, undefined, res.error?.message);
  assert.equal(res.status, 0, res.stderr);
  const [touch, opts] = res.stdout.trim().split('\n');
  assert.match(touch, /^touch=.*Read-only file system/);
  assert.deepEqual(opts.split(',').sort(), ['nodev', 'noexec', 'nosuid', 'relatime', 'ro']);
  assert.ok(logs.some((l) => l.includes('refused, retrying')), logs.join('\n'));
  assert.deepEqual(fs.readdirSync(locked), []);
  assert.deepEqual(hostMountsUnder(root), []);
});
