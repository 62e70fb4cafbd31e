/**
 * `tmpcopyup` (what Podman's --read-only puts on /run, /tmp and /var/tmp): the tmpfs starts with a copy of
 * the rootfs directory it covers, with content, modes, owners, times and symlinks (copied, never followed),
 * and writes land in the tmpfs, not in the rootfs.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TestEnv, leakTest } from '../../support/env';
import { bundleSkipReason } from '../../support/bundle';
import { show } from '../../support/run';
import type { Spec } from '../../../src/spec/types';

const skip = bundleSkipReason();
const env = new TestEnv('copyup');
after(() => env.dispose());

/** 2001-02-03T04:05:06Z: a time no copy would produce by accident. */
const OLD_TIME = 981173106;

/**
 * Fills `<rootfs>/data` (itself 0750, 1000:1000): a 0640 file owned by 1000:1000, a 0750 subdirectory owned by 1000:1000 with a
 * file, a relative symlink, a fifo, and two links that point outside the rootfs (one absolute, one made of
 * `..`) at `hostFile`, which exists on the host only.
 */
function fillData(rootfs: string, hostFile: string): string {
  const data = path.join(rootfs, 'data');
  fs.mkdirSync(path.join(data, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(data, 'file'), 'from the image\n');
  fs.chmodSync(path.join(data, 'file'), 0o640);
  fs.chownSync(path.join(data, 'file'), 1000, 1000);
  fs.writeFileSync(path.join(data, 'sub', 'inner'), 'inner content\n');
  fs.chmodSync(path.join(data, 'sub'), 0o750);
  fs.chownSync(path.join(data, 'sub'), 1000, 1000);
  fs.symlinkSync('sub/inner', path.join(data, 'link'));
  fs.symlinkSync(hostFile, path.join(data, 'escape-abs'));
  fs.symlinkSync(`../../../../../../../../..${hostFile}`, path.join(data, 'escape-rel'));
  fs.lchownSync(path.join(data, 'link'), 1000, 1000);
  execFileSync('mkfifo', ['-m', '0620', path.join(data, 'pipe')]);
  fs.utimesSync(path.join(data, 'file'), OLD_TIME, OLD_TIME);
  fs.utimesSync(path.join(data, 'sub'), OLD_TIME, OLD_TIME);
  fs.chmodSync(data, 0o750);
  fs.chownSync(data, 1000, 1000);
  fs.utimesSync(data, OLD_TIME, OLD_TIME);
  return data;
}

/**
 * Adds the tmpfs on /data. The process runs as 1000:1000, the copied owner: it can then read and write the
 * 0640 file only if the owner was copied (root of the default spec has no CAP_DAC_OVERRIDE anyway).
 */
function addCopyUpTmpfs(s: Spec, options: string[] = []): void {
  s.process!.user = { uid: 1000, gid: 1000 };
  s.mounts!.push({ destination: '/data', type: 'tmpfs', source: 'tmpfs', options: ['rw', 'rprivate', 'nosuid', 'nodev', ...options, 'tmpcopyup'] });
}

test('tmpcopyup fills the tmpfs with the rootfs directory; writes stay in the tmpfs', { skip }, async (t) => {
  const hostFile = env.scratch('host-secret');
  fs.writeFileSync(hostFile, 'host only\n');
  const script = [
    'cd /data',
    'stat -c "%n %F %a %u:%g" /data file sub sub/inner pipe',
    'stat -c "%n %Y" /data file sub',
    'cat file link',
    'for l in link escape-abs escape-rel; do test -L $l && echo "$l -> $(readlink $l)"; done',
    'cat escape-abs escape-rel 2>/dev/null; echo escape-read=$?',
    'awk \'$5 == "/data" { print "fstype", $(NF-2) }\' /proc/self/mountinfo',
    'echo changed > file && echo new > new && mkdir sub/more && echo writes=ok',
  ].join('\n');
  const c = env.bundle(t, { args: ['sh', '-c', script], tweak: (s) => addCopyUpTmpfs(s) });
  assert.equal(c.spec.root?.readonly, true, 'the rootfs itself is read-only: only the tmpfs can take writes');
  const data = fillData(c.rootfs, hostFile);
  const r = await env.run(['run', '-b', c.dir, c.id]);
  assert.equal(r.code, 0, show(r));
  const out = r.stdout.replace(/ +/g, ' ');
  assert.match(out, /^\/data directory 750 1000:1000$/m, "the tmpfs root takes the directory's mode and owner");
  assert.match(out, new RegExp(`^/data ${OLD_TIME}$`, 'm'));
  assert.match(out, /^file regular file 640 1000:1000$/m);
  assert.match(out, /^sub directory 750 1000:1000$/m);
  assert.match(out, /^sub\/inner regular file 644 0:0$/m);
  assert.match(out, /^pipe fifo 620 0:0$/m);
  assert.match(out, new RegExp(`^file ${OLD_TIME}$`, 'm'), 'mtime is kept');
  assert.match(out, new RegExp(`^sub ${OLD_TIME}$`, 'm'), "a directory's mtime is set after its contents");
  assert.match(out, /^from the image\ninner content\n/m);
  assert.match(out, /^link -> sub\/inner$/m);
  assert.ok(out.includes(`\nescape-abs -> ${hostFile}\n`), `the absolute link is copied as is\n${out}`);
  assert.ok(out.includes(`\nescape-rel -> ../../../../../../../../..${hostFile}\n`), `the relative link is copied as is\n${out}`);
  assert.match(out, /^escape-read=1$/m, 'inside the container the links lead nowhere');
  assert.doesNotMatch(out, /host only/, 'the host file behind the links was never read');
  assert.match(out, /^fstype tmpfs$/m, '/data is a tmpfs');
  assert.match(out, /^writes=ok$/m);
  // The rootfs is untouched: the writes went to the tmpfs, which vanished with the container.
  assert.equal(fs.readFileSync(path.join(data, 'file'), 'utf8'), 'from the image\n');
  assert.equal(fs.existsSync(path.join(data, 'new')), false);
  assert.equal(fs.existsSync(path.join(data, 'sub', 'more')), false);
  assert.equal(fs.readlinkSync(path.join(data, 'escape-abs')), hostFile);
  assert.equal(fs.readFileSync(hostFile, 'utf8'), 'host only\n');
});

test('a read-only tmpfs with tmpcopyup is filled first, then refuses writes; mode= sets its root', { skip }, async (t) => {
  const c = env.bundle(t, {
    args: ['sh', '-c', 'cat /data/file; touch /data/x; echo touch=$?; stat -c "%a %u:%g" /data; awk \'$5 == "/data" { print $6, $(NF-2) }\' /proc/self/mountinfo'],
    tweak: (s) => addCopyUpTmpfs(s, ['ro', 'mode=755']),
  });
  fillData(c.rootfs, env.scratch('absent'));
  const r = await env.run(['run', '-b', c.dir, c.id]);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^from the image\ntouch=1\n755 0:0\nro\S* tmpfs\n$/);
  assert.match(r.stderr, /Read-only file system/);
});

test('tmpcopyup of a directory missing from the rootfs gives an empty tmpfs', { skip }, async (t) => {
  const { r } = await env.runOnce(t, {
    args: ['sh', '-c', 'ls -A /data | wc -l; stat -c %a /data; awk \'$5 == "/data" { print $(NF-2) }\' /proc/self/mountinfo'],
    tweak: (s) => addCopyUpTmpfs(s),
  });
  assert.equal(r.code, 0, show(r));
  // The helper creates the missing directory 0755, and the tmpfs root takes that mode.
  assert.equal(r.stdout.replace(/ +/g, ''), '0\n755\ntmpfs\n');
});

test('tmpcopyup on a bind mount is refused before anything runs', { skip }, async (t) => {
  const dir = env.scratch('bind-src');
  fs.mkdirSync(dir, { recursive: true });
  const { r } = await env.runOnce(t, {
    args: ['true'],
    tweak: (s) => s.mounts!.push({ destination: '/data', type: 'bind', source: dir, options: ['rbind', 'tmpcopyup'] }),
  });
  assert.notEqual(r.code, 0, show(r));
  assert.match(r.stderr, /mounts\[\d+\]\.options\[1\]: tmpcopyup needs a tmpfs mount, not a bind mount/);
});

leakTest(env);
