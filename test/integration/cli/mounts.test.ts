/**
 * Filesystem set-up: tmpfs options, bind mounts (ro, rw, rbind, propagation), the read-only rootfs, masked
 * and read-only paths, device nodes.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TestEnv, leakTest } from '../../support/env';
import { bundleSkipReason } from '../../support/bundle';
import { show } from '../../support/run';
import { waitFor } from '../../support/proc';

const skip = bundleSkipReason();
const env = new TestEnv('mnt');
after(() => env.dispose());

/** A host mount made by a test, unmounted (lazily, deepest first) when the test ends. */
function hostMount(t: { after(fn: () => unknown): void }, args: string[], target: string): void {
  fs.mkdirSync(target, { recursive: true });
  execFileSync('mount', [...args, target]);
  t.after(() => execFileSync('umount', ['-R', '-l', target]));
}

test('tmpfs with size and mode options', { skip }, async (t) => {
  const { r } = await env.runOnce(t, {
    args: ['sh', '-c', 'stat -c %a /scratch; grep " /scratch " /proc/mounts; dd if=/dev/zero of=/scratch/big bs=1024 count=2048 2>&1; echo dd=$?'],
    tweak: (s) => s.mounts!.push({ destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['size=1m', 'mode=1770', 'nodev'] }),
  });
  assert.equal(r.code, 0, show(r));
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines[0], '1770');
  assert.match(lines[1], /tmpfs \/scratch tmpfs \S*nodev\S*size=1024k/);
  assert.match(r.stdout, /No space left on device/);
  assert.match(r.stdout, /dd=1\n$/);
});

test('bind mounts: a read-only host file and a writable host directory', { skip }, async (t) => {
  const file = env.scratch('ro-file.txt');
  fs.writeFileSync(file, 'host-content\n');
  const dir = env.scratch('rw-dir');
  fs.mkdirSync(dir, { recursive: true });
  const { r } = await env.runOnce(t, {
    args: ['sh', '-c', 'cat /etc/host-file; echo changed > /etc/host-file; echo ro=$?; echo from-container > /shared/out; echo rw=$?'],
    tweak: (s) => {
      s.mounts!.push({ destination: '/etc/host-file', type: 'bind', source: file, options: ['bind', 'ro'] });
      s.mounts!.push({ destination: '/shared', type: 'bind', source: dir, options: ['rbind', 'rw'] });
    },
  });
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^host-content\nro=[1-9]/);
  assert.match(r.stderr, /Read-only file system/);
  assert.match(r.stdout, /rw=0/);
  assert.equal(fs.readFileSync(file, 'utf8'), 'host-content\n', 'the read-only file is unchanged');
  assert.equal(fs.readFileSync(path.join(dir, 'out'), 'utf8'), 'from-container\n');
});

test('rbind carries submounts, bind does not', { skip }, async (t) => {
  const dir = env.scratch('with-sub');
  fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
  hostMount(t, ['-t', 'tmpfs', 'tmpfs'], path.join(dir, 'sub'));
  fs.writeFileSync(path.join(dir, 'sub', 'inner'), 'submount-file\n');
  const { r } = await env.runOnce(t, {
    args: ['sh', '-c', 'cat /r/sub/inner; ls /b/sub | wc -l'],
    tweak: (s) => {
      s.mounts!.push({ destination: '/r', type: 'bind', source: dir, options: ['rbind'] });
      s.mounts!.push({ destination: '/b', type: 'bind', source: dir, options: ['bind'] });
    },
  });
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stdout, 'submount-file\n0\n');
});

test('mount propagation: rslave receives later host mounts, rprivate does not', { skip }, async (t) => {
  const dir = env.scratch('prop');
  hostMount(t, ['-t', 'tmpfs', 'tmpfs'], dir);
  execFileSync('mount', ['--make-shared', dir]);
  fs.mkdirSync(path.join(dir, 'late'));
  const script = 'while [ ! -e /tmp/go ]; do sleep 0.05; done; ls /slave/late; echo ---; ls /private/late';
  const c = env.bundle(t, {
    args: ['sh', '-c', script],
    tweak: (s) => {
      s.root!.readonly = false;
      s.mounts!.push({ destination: '/slave', type: 'bind', source: dir, options: ['rbind', 'rslave'] });
      s.mounts!.push({ destination: '/private', type: 'bind', source: dir, options: ['rbind', 'rprivate'] });
    },
  });
  const running = env.run(['run', '-b', c.dir, c.id]);
  await waitFor(async () => (await env.run(['state', c.id])).stdout.includes('"running"'));
  const late = path.join(dir, 'late');
  execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', late]);
  fs.writeFileSync(path.join(late, 'arrived'), '');
  fs.writeFileSync(path.join(c.rootfs, 'tmp', 'go'), '');
  const r = await running;
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stdout, 'arrived\n---\n');
});

test('a read-only rootfs refuses writes with EROFS', { skip }, async (t) => {
  const { r } = await env.runOnce(t, { args: ['sh', '-c', 'touch /newfile; echo touch=$?; grep " / " /proc/mounts'] });
  assert.equal(r.code, 0, show(r));
  assert.match(r.stderr, /Read-only file system/);
  assert.match(r.stdout, /touch=1/);
  assert.match(r.stdout, /\s\/\s\S+\sro[,\s]/);
});

test('a writable rootfs accepts writes', { skip }, async (t) => {
  const { c, r } = await env.runOnce(t, { args: ['sh', '-c', 'echo w > /newfile'], tweak: (s) => (s.root!.readonly = false) });
  assert.equal(r.code, 0, show(r));
  assert.equal(fs.readFileSync(path.join(c.rootfs, 'newfile'), 'utf8'), 'w\n');
});

test('masked paths read as empty', { skip }, async (t) => {
  const { r } = await env.runOnce(t, {
    // /proc/kcore does not exist on every kernel (CONFIG_PROC_KCORE): cat of a missing file gives 0 bytes too.
    args: ['sh', '-c', 'cat /proc/kcore 2>/dev/null | wc -c; wc -c < /proc/keys; wc -c < /proc/timer_list; ls -A /sys/firmware | wc -l; stat -c "%F %t:%T" /proc/keys'],
  });
  assert.equal(r.code, 0, show(r));
  const [kcore, keys, timers, firmware, keysNode] = r.stdout.trim().split('\n').map((s) => s.trim());
  assert.equal(keysNode, 'character special file 1:3', 'a masked file is /dev/null bound over it');
  assert.equal(kcore, '0');
  assert.equal(keys, '0');
  assert.equal(timers, '0');
  assert.equal(firmware, '0');
});

test('read-only paths: /proc/sys cannot be written', { skip }, async (t) => {
  const { r } = await env.runOnce(t, {
    args: ['sh', '-c', 'echo other > /proc/sys/kernel/hostname; echo rc=$?; hostname; grep " /proc/sys " /proc/mounts'],
  });
  assert.equal(r.code, 0, show(r));
  assert.match(r.stderr, /Read-only file system/);
  assert.match(r.stdout, /^rc=1\nstasis\n/);
  assert.match(r.stdout, /\/proc\/sys \S+ ro[,\s]/);
});

test('linux.devices creates the node with type, numbers, mode and owner', { skip }, async (t) => {
  const { r } = await env.runOnce(t, {
    // testzero is world-readable so the read checks the devices cgroup allows it (root has no DAC override).
    args: ['sh', '-c', 'stat -c "%F %t:%T %a %u:%g" /dev/testnull /dev/testzero; head -c 3 /dev/testzero | wc -c'],
    tweak: (s) => {
      s.linux!.devices = [
        { path: '/dev/testnull', type: 'c', major: 1, minor: 3, fileMode: 0o640, uid: 1000, gid: 1000 },
        { path: '/dev/testzero', type: 'c', major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
      ];
    },
  });
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stdout.replace(/ +/g, ' '), 'character special file 1:3 640 1000:1000\ncharacter special file 1:5 666 0:0\n3\n');
});

test('default devices and /dev symlinks', { skip }, async (t) => {
  const script = [
    'for d in null zero full random urandom tty; do stat -c "%n %F %t:%T" /dev/$d; done',
    'for l in ptmx fd stdin stdout stderr; do echo "$l -> $(readlink /dev/$l)"; done',
    'head -c 5 /dev/zero | wc -c',
    'echo gone > /dev/null && echo null-ok',
  ].join('; ');
  const { r } = await env.runOnce(t, { args: ['sh', '-c', script] });
  assert.equal(r.code, 0, show(r));
  for (const [n, mm] of [['null', '1:3'], ['zero', '1:5'], ['full', '1:7'], ['random', '1:8'], ['urandom', '1:9'], ['tty', '5:0']]) {
    assert.match(r.stdout, new RegExp(`^/dev/${n} character special file ${mm}$`, 'm'));
  }
  assert.match(r.stdout, /^ptmx -> pts\/ptmx$/m);
  assert.match(r.stdout, /^fd -> \/proc\/self\/fd$/m);
  assert.match(r.stdout, /^stdin -> \/proc\/self\/fd\/0$/m);
  assert.match(r.stdout, /^stdout -> \/proc\/self\/fd\/1$/m);
  assert.match(r.stdout, /^stderr -> \/proc\/self\/fd\/2$/m);
  assert.match(r.stdout, /^\s*5$/m);
  assert.match(r.stdout, /null-ok/);
});

leakTest(env);
