/**
 * CVE-2021-30465 defence: symlinks planted in the rootfs that point at a host directory never make the
 * helper create, mount or write anything outside the rootfs; their targets are created inside it.
 * Also covers MKNOD/SYMLINK idempotence, BIND_DEVICE and WRITE_FILE.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Base, TargetKind, str, u32, u64 } from '../../src/helper/protocol';
import {
  MS_BIND,
  basicMounts,
  enterAndBind,
  hostMountsUnder,
  makeRootfs,
  mknod,
  mountFs,
  runPlan,
  shell,
  skipUnlessReady,
  step,
  tempDir,
} from './rootfs-fixture';

test('symlinks to a host directory are resolved inside the rootfs', async (t) => {
  if (skipUnlessReady(t)) return;
  const root = makeRootfs(t);
  const outside = tempDir(t, 'outside-');
  const hostFile = path.join(tempDir(t, 'stasis-src-'), 'bound.txt');
  fs.writeFileSync(hostFile, 'bound\n');
  fs.symlinkSync(outside, path.join(root, 'evil')); // absolute
  fs.symlinkSync(`../../../../../../../..${outside}`, path.join(root, 'rel')); // climbs with ..
  fs.symlinkSync(path.join(outside, 'file'), path.join(root, 'evilfile')); // dangling file target
  const inRoot = path.join(root, outside); // where the links really lead: <root>/tmp/outside-…

  const res = await runPlan([
    ...enterAndBind(root),
    ...basicMounts(),
    mknod('/dev/null', 0o666, 1, 3), // again: an identical node is accepted
    mountFs('tmpfs', '/evil/sub', 0),
    step.mkdir(Base.ROOTFS, '/rel/a/b'),
    mknod('/evil/null2', 0o600, 1, 3),
    {
      op: 'MOUNT',
      args: [str(hostFile), u32(Base.ROOTFS), str('/evilfile'), str(''), u64(MS_BIND), str(''), u32(TargetKind.FILE), u32(1)],
      what: 'bind a file onto a dangling link',
    },
    step.bindDevice('/dev/null', '/evil/devnull'),
    step.symlink('/bin/busybox', '/evil/link'),
    step.symlink('/bin/busybox', '/evil/link'), // identical: accepted
    step.pivot(),
    step.writeFile(Base.HOST, '/proc/sys/kernel/hostname', 'stasis-test'),
    ...shell(
      [
        'echo "file=$(cat /evilfile)"',
        `echo "entries=$(ls -A ${outside} | tr "\\n" " ")"`,
        'echo hi > /evil/sub/f && echo "sub=$(cat /rel/sub/f)"',
        'echo "null2=$(stat -c %t:%T:%a /evil/null2)"',
        'echo "devnull=$(stat -c %t:%T /evil/devnull)"',
        'echo "link=$(readlink /evil/link)"',
        'echo "hostname=$(hostname)"',
      ].join('; '),
    ),
  ]);
  assert.equal(res.error, undefined, res.error?.message);
  assert.equal(res.status, 0, res.stderr);
  assert.deepEqual(res.stdout.trim().split('\n'), [
    'file=bound',
    'entries=a devnull file link null2 sub ',
    'sub=hi',
    'null2=1:3:600',
    'devnull=1:3',
    'link=/bin/busybox',
    'hostname=stasis-test',
  ]);
  // The host directory the links name is untouched; everything landed inside the rootfs.
  assert.deepEqual(fs.readdirSync(outside), []);
  assert.deepEqual(fs.readdirSync(inRoot).sort(), ['a', 'devnull', 'file', 'link', 'null2', 'sub']);
  assert.ok(fs.statSync(path.join(inRoot, 'a', 'b')).isDirectory());
  assert.deepEqual(hostMountsUnder(root, outside), []);
});

test('WRITE_FILE writes in place and cannot follow a link out of the rootfs', async (t) => {
  if (skipUnlessReady(t)) return;
  const root = makeRootfs(t);
  const outside = tempDir(t, 'outside-');
  fs.writeFileSync(path.join(outside, 'target.txt'), 'host\n');
  fs.writeFileSync(path.join(root, 'etc', 'data'), 'xyz\n');
  fs.symlinkSync(path.join(outside, 'target.txt'), path.join(root, 'etc', 'link-out'));

  const res = await runPlan([
    ...enterAndBind(root),
    step.writeFile(Base.ROOTFS, '/etc/data', 'ab'),
    step.writeFile(Base.ROOTFS, '/etc/link-out', 'pwned'),
    ...shell('echo unreachable'),
  ]);
  assert.ok(res.error, 'expected WRITE_FILE through the link to fail');
  assert.equal(res.error.step, 5);
  assert.equal(res.error.errno, 2);
  assert.match(res.error.detail, /\/etc\/link-out/);
  assert.equal(fs.readFileSync(path.join(root, 'etc', 'data'), 'utf8'), 'abz\n'); // no O_TRUNC
  assert.equal(fs.readFileSync(path.join(outside, 'target.txt'), 'utf8'), 'host\n');
  assert.equal(fs.existsSync(path.join(root, outside)), false); // WRITE_FILE never creates
});

test('SYMLINK and MKNOD refuse a different existing entry', async (t) => {
  if (skipUnlessReady(t)) return;
  const root = makeRootfs(t);
  fs.symlinkSync('/elsewhere', path.join(root, 'etc', 'l'));
  const link = await runPlan([...enterAndBind(root), step.symlink('/bin/busybox', '/etc/l'), ...shell('true')]);
  assert.equal(link.error?.op, 'SYMLINK');
  assert.match(link.error?.detail ?? '', /a different file already exists/);
  assert.equal(fs.readlinkSync(path.join(root, 'etc', 'l')), '/elsewhere');

  const node = await runPlan([...enterAndBind(root), mknod('/bin/sh', 0o666, 1, 3), ...shell('true')]);
  assert.equal(node.error?.op, 'MKNOD');
  assert.match(node.error?.detail ?? '', /a different file already exists/);
  assert.equal(fs.readlinkSync(path.join(root, 'bin', 'sh')), 'busybox');
});
