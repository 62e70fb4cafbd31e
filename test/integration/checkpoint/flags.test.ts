/**
 * CRIU flags that need a particular container to show they work: established TCP over the container's own
 * loopback, file locks, a page server, and the flags that are passed through (cgroup mode, empty network
 * namespace, dedup, link-remap, …) in one round trip.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { criuBinary } from '../../../src/criu/swrk';
import { World, skipReason, waitFor } from './harness';

const skip = skipReason();

/** Lines received by the in-container server, as numbers. */
function received(w: World): number[] {
  try {
    return fs.readFileSync(path.join(w.bundle, 'rootfs', 'tmp', 'got'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

test('--tcp-established: a loopback connection inside the container survives; without it the dump is refused', { skip }, async (t) => {
  // A server and a client in the container's own network namespace; the client sends the counter.
  const w = new World(
    // The server's stdin is a fifo held open read-write: busybox nc stops at end-of-file on its stdin.
    'ip link set lo up; mkfifo /tmp/idle; exec 3<>/tmp/idle; nc -l -p 5000 <&3 > /tmp/got & usleep 200000; ' +
      'i=0; while true; do i=$((i+1)); echo $i > /tmp/count; echo $i; usleep 50000; done | nc 127.0.0.1 5000',
    (spec) => {
      // Bringing the container's loopback up needs CAP_NET_ADMIN (stasis leaves lo as the kernel made it).
      for (const set of ['bounding', 'effective', 'permitted']) spec.process.capabilities[set].push('CAP_NET_ADMIN');
    },
  );
  t.after(() => w.cleanup());
  const id = w.id('tcp');
  w.ok(['run', '-d', '--bundle', w.bundle, id]);
  await waitFor('data over the connection', () => received(w).length > 3);
  const refused = w.stasis(['checkpoint', '--image-path', w.images('no'), id]);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /criu dump failed: .*(tcp-established|TCP)/i);
  assert.equal(w.state(id)?.status, 'running');

  const images = w.images('images');
  w.ok(['checkpoint', '--tcp-established', '--image-path', images, id]);
  const atDump = received(w).length;
  w.ok(['restore', '-d', '--tcp-established', '--bundle', w.bundle, '--image-path', images, id]);
  await waitFor('data over the restored connection', () => received(w).length > atDump + 3);
  const got = received(w);
  assert.deepEqual(got, Array.from({ length: got.length }, (_, k) => k + 1), 'the stream lost or repeated lines');
});

test('a pristine network namespace is left out of the dump; lo comes back up and a loopback connection survives', { skip }, async (t) => {
  // No CAP_NET_ADMIN: the namespace is exactly what stasis made (lo, up), so CRIU does not dump it.
  const w = new World(
    'mkfifo /tmp/idle; exec 3<>/tmp/idle; nc -l -p 5000 <&3 > /tmp/got & usleep 200000; ' +
      'i=0; while true; do i=$((i+1)); echo $i > /tmp/count; echo $i; usleep 50000; done | nc 127.0.0.1 5000',
  );
  t.after(() => w.cleanup());
  const id = w.id('pristine');
  w.ok(['run', '-d', '--bundle', w.bundle, id]);
  await waitFor('data over the connection', () => received(w).length > 3);
  const images = w.images('images');
  w.ok(['checkpoint', '--tcp-established', '--image-path', images, id]);
  const names = fs.readdirSync(images);
  assert.ok(!names.some((n) => /^(netdev|ifaddr|route|iptables|ip6tables|netns)-/.test(n)), `network images written: ${names.join(' ')}`);
  // CRIU ran inside the namespace, so the images hold none (criu-start.ts); restore gives CRIU a fresh one.
  assert.equal(JSON.parse(fs.readFileSync(path.join(images, 'stasis-checkpoint.json'), 'utf8')).criuNetns, true);
  const atDump = received(w).length;
  w.ok(['restore', '-d', '--tcp-established', '--bundle', w.bundle, '--image-path', images, id]);
  await waitFor('data over the restored connection', () => received(w).length > atDump + 3);
  const got = received(w);
  assert.deepEqual(got, Array.from({ length: got.length }, (_, k) => k + 1), 'the stream lost or repeated lines');
  const pid = w.state(id)!.pid;
  const lo = spawnSync('nsenter', ['-t', String(pid), '-n', 'ip', '-o', 'link', 'show', 'lo'], { encoding: 'utf8' });
  assert.match(lo.stdout, /[<,]UP[,>]/, `lo is not up after restore: ${lo.stdout}${lo.stderr}`);
  // Its own namespace again, never the host's (nor the one CRIU ran in at dump, which is gone).
  assert.notEqual(fs.statSync(`/proc/${pid}/ns/net`).ino, fs.statSync('/proc/self/ns/net').ino, 'restored into the host network namespace');
  const links = spawnSync('nsenter', ['-t', String(pid), '-n', 'ip', '-o', 'link'], { encoding: 'utf8' });
  assert.deepEqual(links.stdout.trim().split('\n').map((l) => l.split(':')[1].trim()), ['lo'], links.stdout);
});

/** A static program that holds an flock on /tmp/lock and counts in memory (busybox has no flock applet). */
const LOCKER_C = `#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>
int main(void) {
  int fd = open("/tmp/lock", O_CREAT | O_RDWR, 0600);
  if (fd < 0 || flock(fd, LOCK_EX) < 0) return 1;
  for (unsigned long i = 1;; i++) {
    FILE *f = fopen("/tmp/count", "w");
    if (f) { fprintf(f, "%lu\\n", i); fclose(f); }
    usleep(50000);
  }
}
`;

/** Compiles the locker into the bundle; undefined when there is no static C toolchain. */
function buildLocker(w: World): string | undefined {
  const src = path.join(w.dir, 'locker.c');
  fs.writeFileSync(src, LOCKER_C);
  const r = spawnSync('gcc', ['-static', '-O1', '-o', path.join(w.bundle, 'rootfs', 'bin', 'locker'), src], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `cannot build a static test program: ${r.stderr || r.error?.message}`;
}

test('--file-locks: a container holding a lock checkpoints only with the flag, and keeps the lock', { skip }, async (t) => {
  const w = new World('exec /bin/locker');
  t.after(() => w.cleanup());
  const noToolchain = buildLocker(w);
  if (noToolchain) return t.skip(noToolchain);
  const id = await w.runCounting('locks');
  const refused = w.stasis(['checkpoint', '--image-path', w.images('no'), id]);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /criu dump failed: .*(file-locks|lock)/i);
  assert.equal(w.state(id)?.status, 'running');
  const images = w.images('images');
  w.ok(['checkpoint', '--file-locks', '--image-path', images, id]);
  const atDump = w.count();
  w.ok(['restore', '-d', '--file-locks', '--bundle', w.bundle, '--image-path', images, id]);
  await waitFor('the counter to go on', () => w.count() > atDump + 2);
  const pid = w.state(id)!.pid;
  const ino = fs.statSync(path.join(w.bundle, 'rootfs', 'tmp', 'lock')).ino;
  const locks = fs.readFileSync('/proc/locks', 'utf8').split('\n').filter((l) => / FLOCK /.test(l) && l.includes(`:${ino} `));
  assert.equal(locks.length, 1, 'the restored container does not hold its lock');
  assert.match(locks[0], new RegExp(` ${pid} `));
});

test('pass-through flags round trip: cgroup mode ignore, empty network namespace, dedup, link-remap, pid file', { skip }, async (t) => {
  const w = new World();
  t.after(() => w.cleanup());
  const id = await w.runCounting('passthrough');
  const images = w.images('images');
  w.ok([
    'checkpoint', '--manage-cgroups-mode', 'ignore', '--empty-ns', 'network', '--auto-dedup', '--link-remap',
    '--ext-unix-sk', '--shell-job', '--tcp-skip-in-flight', '--image-path', images, id,
  ]);
  const atDump = w.count();
  const pidFile = w.images('pid');
  w.ok([
    'restore', '-d', '--manage-cgroups-mode', 'ignore', '--empty-ns', 'network', '--no-pivot', '--no-subreaper',
    '--pid-file', pidFile, '--bundle', w.bundle, '--image-path', images, id,
  ]);
  await waitFor('the counter to go on', () => w.count() > atDump + 2);
  const st = w.state(id)!;
  assert.equal(fs.readFileSync(pidFile, 'utf8'), String(st.pid));
  // ignore: criu restored no cgroups, so the tree is where criu was put: the container's cgroup.
  assert.match(fs.readFileSync(`/proc/${st.pid}/cgroup`, 'utf8'), new RegExp(`memory:/stasis/${id}\\n`));
});

test('--page-server sends the memory to a criu page server; the images restore with its pages', { skip }, async (t) => {
  const w = new World();
  const server = w.images('server');
  fs.mkdirSync(server);
  const port = 20000 + (process.pid % 20000);
  const ps = spawn(criuBinary(), ['page-server', '--images-dir', server, '--port', String(port), '-o', 'ps.log'], { stdio: 'ignore' });
  t.after(async () => {
    ps.kill('SIGKILL');
    await w.cleanup();
  });
  const id = await w.runCounting('pageserver');
  await waitFor('the page server to listen', () => fs.readFileSync('/proc/net/tcp', 'utf8').includes(`:${port.toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 0A`));
  const images = w.images('images');
  w.ok(['checkpoint', '--page-server', `127.0.0.1:${port}`, '--image-path', images, id]);
  const atDump = w.count();
  const remote = fs.readdirSync(server).filter((n) => n.startsWith('pages-'));
  assert.ok(remote.length > 0, 'no pages reached the page server');
  assert.equal(fs.readdirSync(images).filter((n) => n.startsWith('pages-')).length, 0, 'pages were written locally too');
  for (const n of fs.readdirSync(server).filter((n) => n.endsWith('.img'))) fs.copyFileSync(path.join(server, n), path.join(images, n));
  w.ok(['restore', '-d', '--bundle', w.bundle, '--image-path', images, id]);
  await waitFor('the counter to go on', () => w.count() > atDump + 2);
});
