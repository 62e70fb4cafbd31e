/**
 * MASK_PATH and READONLY_PATH after PIVOT_ROOT: masked files read empty and writes never reach them,
 * masked directories are empty and read-only, read-only paths (and their submounts) refuse writes with
 * EROFS, missing paths are skipped, and a /dev/null that is not the null device is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Base } from '../../src/helper/protocol';
import { basicMounts, enterAndBind, hostMountsUnder, makeRootfs, mountFs, runPlan, shell, skipUnlessReady, step } from './rootfs-fixture';

const SCRIPT = [
  'echo "secret=[$(cat /etc/secret)]"',
  'echo overwrite > /etc/secret; echo "secret-after=[$(cat /etc/secret)]"',
  'echo "dir=[$(ls -A /secretdir)]"',
  'echo "touchdir=$(touch /secretdir/new 2>&1)"',
  'echo "touchdata=$(touch /data/new 2>&1)"',
  'echo "touchsub=$(touch /data/sub/new 2>&1)"',
  'echo "data=$(cat /data/f)"',
  'echo "writable=$(touch /tmp/ok && echo yes)"',
  'echo "timer_list=$(wc -c < /proc/timer_list)"',
  'echo "procsys=$(sh -c "echo x > /proc/sys/kernel/hostname" 2>&1)"',
].join('; ');

test('masked and read-only paths hide and protect what the plan names', async (t) => {
  if (skipUnlessReady(t)) return;
  const root = makeRootfs(t);
  fs.writeFileSync(path.join(root, 'etc', 'secret'), 'TOPSECRET\n');
  fs.mkdirSync(path.join(root, 'secretdir'));
  fs.writeFileSync(path.join(root, 'secretdir', 'file'), 'hidden\n');
  fs.mkdirSync(path.join(root, 'data'));
  fs.writeFileSync(path.join(root, 'data', 'f'), 'data\n');

  const res = await runPlan([
    ...enterAndBind(root),
    ...basicMounts(),
    mountFs('tmpfs', '/data/sub', 0),
    step.pivot(),
    step.mask('/etc/secret'),
    step.mask('/secretdir'),
    step.mask('/does/not/exist'),
    step.readonly('/data'),
    step.readonly('/nope'),
    step.mask('/proc/kcore'), // absent on this kernel: skipped
    step.mask('/proc/timer_list'),
    step.readonly('/proc/sys'),
    ...shell(SCRIPT),
  ]);
  assert.equal(res.error, undefined, res.error?.message);
  assert.equal(res.status, 0, res.stderr);
  assert.deepEqual(res.stdout.trim().split('\n'), [
    'secret=[]',
    'secret-after=[]',
    'dir=[]',
    "touchdir=touch: /secretdir/new: Read-only file system",
    "touchdata=touch: /data/new: Read-only file system",
    "touchsub=touch: /data/sub/new: Read-only file system",
    'data=data',
    'writable=yes',
    'timer_list=0',
    "procsys=sh: can't create /proc/sys/kernel/hostname: Read-only file system",
  ]);
  // The real files behind the masks are untouched, and nothing leaked onto the host's mount table.
  assert.equal(fs.readFileSync(path.join(root, 'etc', 'secret'), 'utf8'), 'TOPSECRET\n');
  assert.deepEqual(fs.readdirSync(path.join(root, 'secretdir')), ['file']);
  assert.deepEqual(fs.readdirSync(path.join(root, 'data')), ['f', 'sub']);
  assert.deepEqual(hostMountsUnder(root), []);
});

test('MASK_PATH refuses a /dev/null that is not the null device', async (t) => {
  if (skipUnlessReady(t)) return;
  const root = makeRootfs(t);
  fs.writeFileSync(path.join(root, 'etc', 'secret'), 'TOPSECRET\n');
  fs.writeFileSync(path.join(root, 'etc', 'decoy'), 'decoy\n');
  // The image ships /dev/null as a link to a file: binding "it" over the masked path would expose
  // the decoy (think /proc/sys/kernel/core_pattern) writable in its place.
  const res = await runPlan([
    ...enterAndBind(root),
    step.symlink('/etc/decoy', '/dev/null'),
    step.pivot(),
    step.mask('/etc/secret'),
    ...shell('cat /etc/secret'),
  ]);
  assert.ok(res.error, 'expected MASK_PATH to fail');
  assert.equal(res.error.op, 'MASK_PATH');
  assert.match(res.error.detail, /\/dev\/null is not the null device/);
  assert.equal(res.stdout, '');
  assert.equal(fs.readFileSync(path.join(root, 'etc', 'decoy'), 'utf8'), 'decoy\n');
});

test('REMOUNT of a bind makes it read-only', async (t) => {
  if (skipUnlessReady(t)) return;
  const root = makeRootfs(t);
  fs.mkdirSync(path.join(root, 'vol'));
  const res = await runPlan([
    ...enterAndBind(root),
    ...basicMounts(),
    mountFs('tmpfs', '/vol', 0),
    step.remount(Base.ROOTFS, '/vol', 0x1000 /* MS_BIND */ | 0x1 /* MS_RDONLY */),
    step.pivot(),
    ...shell('echo "vol=$(touch /vol/x 2>&1)"; grep " /vol " /proc/self/mountinfo | cut -d" " -f6'),
  ]);
  assert.equal(res.error, undefined, res.error?.message);
  assert.equal(res.status, 0, res.stderr);
  const [vol, opts] = res.stdout.trim().split('\n');
  assert.equal(vol, 'vol=touch: /vol/x: Read-only file system');
  assert.match(opts, /^ro(,|$)/);
});
