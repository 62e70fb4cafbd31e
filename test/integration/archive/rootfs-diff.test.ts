/**
 * Rootfs diffs on the real kernel (root): a busybox base rootfs with an overlay mounted over it is changed
 * in every way a container can (new, changed and deleted files, chmod/chown, setuid, symlinks, hard links,
 * device nodes, fifos, xattrs, new and opaque directories, a directory replaced by a file and back); the
 * diff of the upper directory applied to a fresh copy of the base must give the same tree as the overlay
 * shows. The same for a plain directory diffed against its base. Hostile diffs are refused without touching
 * anything outside the root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { applyRootfsDiff, diffAgainstBase, diffExclusions, diffOverlay, isExcluded } from '../../../src/rootfs-diff';
import { encodeHeader, endOfArchive, padding, type TarHeader } from '../../../src/archive/tar-format';

const REPO = process.env.STASIS_REPO ?? path.resolve(__dirname, '..', '..', '..', '..');
const hasPython = spawnSync('python3', ['-c', 'import os; os.getxattr'], { stdio: 'ignore' }).status === 0;

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!fs.existsSync('/bin/busybox')) return 'needs busybox-static';
  if (!fs.existsSync(path.join(REPO, 'bin', 'stasis'))) return 'bin/stasis not built (node scripts/build.mjs)';
  if (!fs.readFileSync('/proc/filesystems', 'utf8').includes('overlay')) return 'no overlay filesystem';
  return undefined;
}
const skip = skipReason();

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

function setXattr(file: string, name: string, value: string): void {
  sh('python3', ['-c', 'import os,sys; os.setxattr(sys.argv[1], sys.argv[2], sys.argv[3].encode(), follow_symlinks=False)', file, name, value]);
}

/** user.* xattrs of a file as "name=value;…" (empty without python3). */
function userXattrs(file: string): string {
  if (!hasPython) return '';
  return sh('python3', [
    '-c',
    'import os,sys; p=sys.argv[1]; print(";".join(sorted(n+"="+os.getxattr(p,n,follow_symlinks=False).decode() for n in os.listxattr(p,follow_symlinks=False) if n.startswith("user."))))',
    file,
  ]).trim();
}

/** user.* xattrs of every non-symlink under root, by relative path, in one python3 run (empty without it). */
function treeXattrs(root: string): Map<string, string> {
  if (!hasPython) return new Map();
  const script = `
import json, os, sys
root = sys.argv[1]
out = {}
for d, dirs, files in os.walk(root):
    for n in dirs + files:
        p = os.path.join(d, n)
        if os.path.islink(p):
            continue
        names = sorted(x for x in os.listxattr(p, follow_symlinks=False) if x.startswith("user."))
        out[os.path.relpath(p, root)] = ";".join(x + "=" + os.getxattr(p, x, follow_symlinks=False).decode() for x in names)
print(json.dumps(out))
`;
  return new Map(Object.entries(JSON.parse(sh('python3', ['-c', script, root])) as Record<string, string>));
}

/** A busybox base rootfs (scripts/make-bundle.sh) with extra content to change, in a fresh temp dir. */
function makeBase(t: { after(fn: () => void): void }): { tmp: string; base: string } {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-rootfs-it-'));
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  sh('bash', [path.join(REPO, 'scripts', 'make-bundle.sh'), path.join(tmp, 'bundle')]);
  const base = path.join(tmp, 'bundle', 'rootfs');
  const put = (rel: string, data: string, mode = 0o644) => {
    fs.mkdirSync(path.dirname(path.join(base, rel)), { recursive: true });
    fs.writeFileSync(path.join(base, rel), data, { mode });
  };
  put('etc/motd', 'welcome');
  put('etc/conf.d/a', 'a');
  put('etc/conf.d/b', 'b');
  put('var/lib/olddir/x', 'x');
  put('etc/chmod-me', 'c');
  put('etc/chown-me', 'o');
  put('opt/replace-me/child', 'dir becomes a file');
  put('opt/file-to-dir', 'file becomes a dir');
  return { tmp, base };
}

/** The changes a container might make, applied under `root` (the overlay's merged dir or a plain copy). */
function mutate(root: string): void {
  const p = (rel: string) => path.join(root, rel);
  fs.writeFileSync(p('root/new.txt'), 'new content\n');
  fs.writeFileSync(p('etc/hostname'), 'changed\n');
  fs.chmodSync(p('etc/chmod-me'), 0o600);
  fs.chownSync(p('etc/chown-me'), 1234, 5678);
  fs.writeFileSync(p('root/suid'), '#!/bin/sh\n', { mode: 0o755 });
  fs.chmodSync(p('root/suid'), 0o4755);
  fs.writeFileSync(p('root/owned'), 'mine');
  fs.chownSync(p('root/owned'), 1000, 1000);
  fs.symlinkSync('new.txt', p('root/rel-link'));
  fs.symlinkSync('/etc/passwd', p('root/abs-link'));
  fs.symlinkSync('../../../../outside/target', p('root/dangling'));
  fs.lchownSync(p('root/dangling'), 7, 8);
  fs.linkSync(p('root/new.txt'), p('root/new-link'));
  fs.linkSync(p('etc/passwd'), p('root/passwd-link')); // a hard link to a base file: copy-up
  sh('mknod', ['-m', '0620', p('root/null'), 'c', '1', '3']);
  sh('mkfifo', ['-m', '0640', p('root/fifo')]);
  fs.rmSync(p('etc/motd'));
  fs.rmSync(p('var/lib/olddir'), { recursive: true });
  fs.mkdirSync(p('newdir/sub/deep'), { recursive: true });
  fs.writeFileSync(p('newdir/sub/deep/file'), 'deep');
  fs.mkdirSync(p('private'), { mode: 0o700 });
  fs.chownSync(p('private'), 42, 42);
  fs.writeFileSync(p('private/secret'), 's');
  fs.rmSync(p('etc/conf.d'), { recursive: true }); // then recreated: the overlay makes it opaque
  fs.mkdirSync(p('etc/conf.d'));
  fs.writeFileSync(p('etc/conf.d/c'), 'c');
  fs.rmSync(p('opt/replace-me'), { recursive: true });
  fs.writeFileSync(p('opt/replace-me'), 'now a file');
  fs.rmSync(p('opt/file-to-dir'));
  fs.mkdirSync(p('opt/file-to-dir'));
  fs.writeFileSync(p('opt/file-to-dir/inside'), 'i');
  if (hasPython) {
    setXattr(p('root/new.txt'), 'user.note', 'hello');
    setXattr(p('newdir'), 'user.dirnote', 'd');
  }
  // Excluded: the runtime recreates these.
  fs.writeFileSync(p('dev/created-in-dev'), 'no');
  fs.writeFileSync(p('etc/resolv.conf'), 'nameserver 10.0.0.1');
}

/** EXCLUSIONS used by both sides: a bind mount on /etc/resolv.conf plus the defaults. */
const EXCLUSIONS = diffExclusions({ mounts: [{ destination: '/etc/resolv.conf' }] });

/** A description of every entry of a tree (outside the exclusions) that two equal trees share. */
function describe(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const inodes = new Map<string, string>();
  const xattrs = treeXattrs(root);
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (isExcluded(r, EXCLUSIONS)) continue;
      const abs = path.join(root, r);
      const st = fs.lstatSync(abs);
      let what = `mode=${st.mode.toString(8)} uid=${st.uid} gid=${st.gid}`;
      if (st.isFile()) {
        what += ` size=${st.size} sha=${createHash('sha256').update(fs.readFileSync(abs)).digest('hex').slice(0, 16)}`;
        if (st.nlink > 1) {
          // Names of one inode are described by the first name met (walk order is the same on both sides).
          const key = `${st.dev}:${st.ino}`;
          if (!inodes.has(key)) inodes.set(key, r);
          what += ` links-with=${inodes.get(key)}`;
        }
      }
      if (st.isSymbolicLink()) what += ` -> ${fs.readlinkSync(abs)}`;
      if (st.isCharacterDevice() || st.isBlockDevice()) what += ` rdev=${st.rdev}`;
      if (!st.isSymbolicLink()) what += ` xattrs=${xattrs.get(r) ?? ''}`;
      out.set(r, what);
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

function assertSameTree(got: string, want: string): void {
  const g = describe(got);
  const w = describe(want);
  const missing = [...w.keys()].filter((k) => !g.has(k));
  const extra = [...g.keys()].filter((k) => !w.has(k));
  assert.deepEqual({ missing, extra }, { missing: [], extra: [] });
  for (const [k, v] of w) assert.equal(g.get(k), v, k);
}

test('overlay: diff of the upper dir applied to a fresh base gives the merged tree', { skip }, async (t) => {
  const { tmp, base } = makeBase(t);
  const upper = path.join(tmp, 'upper');
  const work = path.join(tmp, 'work');
  const merged = path.join(tmp, 'merged');
  for (const d of [upper, work, merged]) fs.mkdirSync(d);
  sh('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${base},upperdir=${upper},workdir=${work}`, merged]);
  try {
    await overlayCase(tmp, base, upper, merged);
  } finally {
    // Before the temp dir is removed (t.after), or rm would walk into the mount.
    spawnSync('umount', [merged]);
  }
});

async function overlayCase(tmp: string, base: string, upper: string, merged: string): Promise<void> {
  mutate(merged);

  const tarFile = path.join(tmp, 'rootfs-diff.tar');
  const diff = await diffOverlay(upper, tarFile, { exclusions: EXCLUSIONS });
  for (const p of ['/etc/motd', '/var/lib/olddir', '/etc/conf.d']) assert.ok(diff.deleted.includes(p), `${p} in ${diff.deleted.join(' ')}`);
  const listing = sh('tar', ['-tvf', tarFile]);
  assert.doesNotMatch(listing, /created-in-dev|resolv\.conf/, 'excluded paths are not in the diff');
  assert.doesNotMatch(listing, /motd|olddir/, 'whiteouts are not in the diff');
  const xattrs = sh('tar', ['--xattrs', '--xattrs-include=*', '-tvvf', tarFile]);
  assert.doesNotMatch(xattrs, /overlay/, 'overlay xattrs are stripped');

  const fresh = path.join(tmp, 'fresh');
  sh('cp', ['-a', base, fresh]);
  const r = await applyRootfsDiff(fresh, tarFile, diff.deleted);
  assert.equal(r.members, diff.members);
  assertSameTree(fresh, merged);
  assert.ok(!fs.existsSync(path.join(fresh, 'dev/created-in-dev')));
  assert.ok(!fs.existsSync(path.join(fresh, 'etc/resolv.conf')));
  assert.deepEqual(fs.readdirSync(path.join(fresh, 'etc/conf.d')), ['c'], 'opaque dir: base content gone');
  assert.equal(fs.statSync(path.join(fresh, 'root/suid')).mode & 0o7777, 0o4755);
  assert.equal(fs.lstatSync(path.join(fresh, 'root/null')).rdev, fs.lstatSync(path.join(merged, 'root/null')).rdev);
  assert.equal(fs.statSync(path.join(fresh, 'root/new.txt')).ino, fs.statSync(path.join(fresh, 'root/new-link')).ino);
  if (hasPython) assert.equal(userXattrs(path.join(fresh, 'root/new.txt')), 'user.note=hello');
}

test('plain directory: diff against the base applied to a fresh base gives the same tree', { skip }, async (t) => {
  const { tmp, base } = makeBase(t);
  const live = path.join(tmp, 'live');
  sh('cp', ['-a', base, live]);
  mutate(live);
  const tarFile = path.join(tmp, 'rootfs-diff.tar');
  const diff = await diffAgainstBase(live, base, tarFile, { exclusions: EXCLUSIONS });
  for (const p of ['/etc/motd', '/var/lib/olddir', '/etc/conf.d/a', '/etc/conf.d/b']) assert.ok(diff.deleted.includes(p), `${p} in ${diff.deleted.join(' ')}`);
  const listing = sh('tar', ['-tf', tarFile]);
  assert.doesNotMatch(listing, /^bin\/busybox$/m, 'unchanged files are not in the diff');
  const fresh = path.join(tmp, 'fresh');
  sh('cp', ['-a', base, fresh]);
  await applyRootfsDiff(fresh, tarFile, diff.deleted);
  assertSameTree(fresh, live);
});

/** A diff tar made of the given members. */
function diffTar(file: string, members: (Partial<TarHeader> & { path: string; data?: string })[]): void {
  const parts: Buffer[] = [];
  for (const m of members) {
    const data = Buffer.from(m.data ?? '');
    parts.push(encodeHeader({ type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, linkpath: '', devmajor: 0, devminor: 0, xattrs: new Map(), ...m, size: m.type && m.type !== 'file' ? 0 : data.length }));
    if (!m.type || m.type === 'file') parts.push(data, Buffer.alloc(padding(data.length)));
  }
  parts.push(endOfArchive());
  fs.writeFileSync(file, Buffer.concat(parts));
}

test('hostile diffs are refused and nothing outside the root is touched', { skip: process.getuid?.() !== 0 ? 'needs root' : undefined }, async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-rootfs-evil-'));
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const outside = path.join(tmp, 'outside');
  const rootfs = path.join(tmp, 'rootfs');
  fs.mkdirSync(outside);
  fs.mkdirSync(path.join(rootfs, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(outside, 'victim'), 'keep me');
  fs.symlinkSync(outside, path.join(rootfs, 'pre')); // a symlink out of the root, already in the base
  const outsideBefore = () => fs.readdirSync(outside).sort().join(',');
  const tarFile = path.join(tmp, 'evil.tar');
  const cases: [string, (Partial<TarHeader> & { path: string; data?: string })[], string[], RegExp][] = [
    ['"../x" member', [{ path: '../outside/pwned', data: 'x' }], [], /member \.\.\/outside\/pwned: "\.\." in path$/],
    ['absolute member', [{ path: `${outside}/pwned`, data: 'x' }], [], /absolute path$/],
    ['symlink then file through it', [{ path: 'esc', type: 'symlink', linkpath: outside }, { path: 'esc/pwned', data: 'x' }], [], /esc is a symlink: refusing to write through it$/],
    ['relative symlink then file', [{ path: 'etc/esc', type: 'symlink', linkpath: '../../outside' }, { path: 'etc/esc/pwned', data: 'x' }], [], /etc\/esc is a symlink: refusing to write through it$/],
    ['file through a base symlink', [{ path: 'pre/pwned', data: 'x' }], [], /pre is a symlink: refusing to write through it$/],
    ['hard link out of the root', [{ path: 'h', type: 'link', linkpath: '../outside/victim' }], [], /"\.\." in path$/],
    ['hard link through a base symlink', [{ path: 'h', type: 'link', linkpath: 'pre/victim' }], [], /pre is not a directory inside the root/],
    ['".." in deleted.files', [], ['/../outside/victim'], /deleted\.files: entry \/\.\.\/outside\/victim contains "\.\."$/],
  ];
  for (const [name, members, deleted, want] of cases) {
    diffTar(tarFile, members);
    await assert.rejects(applyRootfsDiff(rootfs, tarFile, deleted), want, name);
    assert.equal(outsideBefore(), 'victim', `${name}: outside untouched`);
    assert.equal(fs.readFileSync(path.join(outside, 'victim'), 'utf8'), 'keep me');
  }
  // A deletion through a symlink is resolved inside the root: /pre/victim means <rootfs><outside>/victim.
  diffTar(tarFile, []);
  const r = await applyRootfsDiff(rootfs, tarFile, ['/pre/victim', '/etc/missing']);
  assert.equal(r.deleted, 0);
  assert.equal(fs.readFileSync(path.join(outside, 'victim'), 'utf8'), 'keep me');
  // A deleted path that is itself a symlink out is removed as a link, its target left alone.
  await applyRootfsDiff(rootfs, tarFile, ['/pre']);
  assert.ok(!fs.existsSync(path.join(rootfs, 'pre')));
  assert.equal(fs.readFileSync(path.join(outside, 'victim'), 'utf8'), 'keep me');
});
