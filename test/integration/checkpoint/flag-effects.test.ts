/**
 * Pass-through CRIU flags shown to have their own effect: each test makes the one situation the flag is for,
 * shows what CRIU does without it (refused, container still running) and that the round trip with it gives
 * the state back (flags.test.ts has TCP, file locks and the page server; flag-effects-tty-cgroups.test.ts
 * has --shell-job and --manage-cgroups-mode).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World, skipReason, waitFor } from './harness';
import { buildProgram, toolchainMissing } from './programs';

const skip = skipReason() ?? toolchainMissing();

/** A World whose init is `flagprog ARGS…` (programs/flagprog.c, built into the bundle). */
function flagprogWorld(args: string[], edit?: (spec: Record<string, any>) => void): World {
  const w = new World('true', (spec) => {
    spec.process.args = ['/bin/flagprog', ...args];
    edit?.(spec);
  });
  buildProgram(path.join(w.bundle, 'rootfs'), 'flagprog');
  return w;
}

/** Runs flagprog from the bundle on the host, in the network namespace of `pid`. */
function flagprogInNetns(w: World, pid: number, args: string[]): ChildProcess {
  return spawn('nsenter', ['-t', String(pid), '-n', path.join(w.bundle, 'rootfs', 'bin', 'flagprog'), ...args], { stdio: 'ignore' });
}

/** The refusal every "without the flag" step expects: CRIU's reason quoted, the container still running. */
async function refusedAndStillRunning(w: World, id: string, args: string[], reason: RegExp): Promise<void> {
  const r = w.stasis(['checkpoint', ...args, '--image-path', w.images(`refused-${Date.now()}`), id]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, reason);
  assert.equal(w.state(id)?.status, 'running');
  const before = w.count();
  await waitFor('the counter to go on after the refused dump', () => w.count() > before + 1);
}

test('--empty-ns network: the network namespace comes back empty (its veth pair is not restored)', { skip }, async (t) => {
  const w = new World();
  t.after(() => w.cleanup());
  const id = await w.runCounting('emptyns');
  const pid = w.state(id)!.pid;
  const r = spawnSync('nsenter', ['-t', String(pid), '-n', 'ip', 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(w.ok(['exec', id, 'ip', 'link']), /v0@v1/);
  const full = w.images('full');
  w.ok(['checkpoint', '--image-path', full, id]);
  w.ok(['restore', '-d', '--bundle', w.bundle, '--image-path', full, id]);
  assert.match(w.ok(['exec', id, 'ip', 'link']), /v0@v1/, 'without the flag the veth pair is restored');
  const empty = w.images('empty');
  w.ok(['checkpoint', '--empty-ns', 'network', '--image-path', empty, id]);
  w.ok(['restore', '-d', '--empty-ns', 'network', '--bundle', w.bundle, '--image-path', empty, id]);
  const links = w.ok(['exec', id, 'ip', 'link']);
  assert.doesNotMatch(links, /v0/);
  assert.match(links, /lo:/);
});

test('--link-remap: an open file whose name was removed (another hard link remains) comes back on its fd', { skip }, async (t) => {
  const w = new World(
    'echo remapped-content > /tmp/a; ln /tmp/a /tmp/b; exec 3</tmp/a; rm /tmp/a; ' +
      'i=0; while true; do i=$((i+1)); echo $i > /tmp/count; usleep 50000; done',
  );
  t.after(() => w.cleanup());
  const id = await w.runCounting('linkremap');
  await refusedAndStillRunning(w, id, [], /criu dump failed: .*link remap for \/tmp\/a.*link-remap/i);
  const images = w.images('images');
  w.ok(['checkpoint', '--link-remap', '--image-path', images, id]);
  // CRIU linked the file back under a name of its own beside the removed one, in the rootfs, until restore.
  const tmp = path.join(w.bundle, 'rootfs', 'tmp');
  assert.ok(fs.readdirSync(tmp).some((n) => n.startsWith('link_remap.')), fs.readdirSync(tmp).join(' '));
  const atDump = w.count();
  w.ok(['restore', '-d', '--bundle', w.bundle, '--image-path', images, id]);
  await waitFor('the counter to go on', () => w.count() > atDump + 2);
  const pid = w.state(id)!.pid;
  assert.equal(fs.readlinkSync(`/proc/${pid}/fd/3`), '/tmp/a (deleted)');
  assert.equal(fs.readFileSync(`/proc/${pid}/fd/3`, 'utf8'), 'remapped-content\n');
  assert.ok(!fs.readdirSync(tmp).some((n) => n.startsWith('link_remap.')), 'the remap link outlived the restore');
  assert.ok(fs.existsSync(path.join(tmp, 'b')));
});

test('--tcp-skip-in-flight: a listener with a connection queued but not accepted dumps only with it', { skip }, async (t) => {
  const w = flagprogWorld(['listen', '5000']);
  t.after(() => w.cleanup());
  const id = await w.runCounting('inflight');
  const pid = w.state(id)!.pid;
  // A client outside the container (not dumped) connects; the listener never accepts.
  const client = flagprogInNetns(w, pid, ['connect', '5000']);
  const code = await new Promise((r) => client.on('exit', r));
  assert.equal(code, 0, 'the client could not connect');
  await refusedAndStillRunning(w, id, [], /criu dump failed: .*in-flight connection.*skip-in-flight/i);
  const images = w.images('images');
  w.ok(['checkpoint', '--tcp-skip-in-flight', '--image-path', images, id]);
  const atDump = w.count();
  w.ok(['restore', '-d', '--bundle', w.bundle, '--image-path', images, id]);
  await waitFor('the counter to go on', () => w.count() > atDump + 2);
  // The listener is back on its port; the connection that was in flight is gone from its queue.
  const tcp = spawnSync('nsenter', ['-t', String(w.state(id)!.pid), '-n', 'cat', '/proc/net/tcp'], { encoding: 'utf8' }).stdout;
  const listener = tcp.split('\n').find((l) => / 0100007F:1388 00000000:0000 0A /.test(l));
  assert.ok(listener, `no listener on 127.0.0.1:5000 after restore:\n${tcp}`);
  assert.match(listener!, / 0A 00000000:00000000 /, 'the in-flight connection was restored into the queue');
});

/** Lines the outside receiver got, as numbers. */
function datagrams(file: string): number[] {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * A flagprog container that connects a unix socket of `kind` to `peer`, a path in a directory bound into
 * the container under the same name; `keep` registers the receiver to kill when the test ends.
 */
function unixPeerWorld(t: { after(fn: () => Promise<void>): void }, kind: 'dgram' | 'stream'): { w: World; peer: string; keep: (c: ChildProcess) => ChildProcess } {
  const w = flagprogWorld([kind, '/unset']);
  const socks = path.join(w.dir, 'socks');
  fs.mkdirSync(socks);
  const peer = path.join(socks, 'peer');
  const spec = JSON.parse(fs.readFileSync(path.join(w.bundle, 'config.json'), 'utf8'));
  spec.process.args = ['/bin/flagprog', kind, peer];
  spec.mounts.push({ destination: socks, source: socks, type: 'bind', options: ['rbind', 'rw'] });
  fs.writeFileSync(path.join(w.bundle, 'config.json'), JSON.stringify(spec, null, 2));
  const kids: ChildProcess[] = [];
  t.after(async () => {
    for (const k of kids) k.kill('SIGKILL');
    await w.cleanup();
  });
  return { w, peer, keep: (c) => (kids.push(c), c) };
}

test('--ext-unix-sk: a datagram socket connected to a receiver outside the container dumps only with it and sends on after restore', { skip }, async (t) => {
  // The receiver is bound at a path the container sees under the same name (a bind mount of the same
  // directory): CRIU reconnects the restored socket by that name.
  const { w, peer, keep } = unixPeerWorld(t, 'dgram');
  const id = w.id('extunix');
  w.ok(['run', '-d', '--bundle', w.bundle, id]);
  // CRIU finds a socket's peer through the sock_diag of the container's network namespace: the receiver
  // lives there (a receiver in the host's namespace makes the dump fail: "socket … without peer").
  const got = path.join(w.dir, 'got');
  keep(flagprogInNetns(w, w.state(id)!.pid, ['recv-dgram', peer, got]));
  await waitFor('datagrams from the container', () => datagrams(got).length > 3);
  await refusedAndStillRunning(w, id, [], /criu dump failed: .*external socket is used.*ext-unix-sk/i);
  const images = w.images('images');
  w.ok(['checkpoint', '--ext-unix-sk', '--image-path', images, id]);
  const atDump = datagrams(got).length;
  // CRIU 4.2 reconnects an external datagram peer without the flag on restore too; pass it as runc does.
  w.ok(['restore', '-d', '--ext-unix-sk', '--bundle', w.bundle, '--image-path', images, id]);
  await waitFor('datagrams from the restored container', () => datagrams(got).length > atDump + 3);
  const all = datagrams(got);
  assert.deepEqual(all, Array.from({ length: all.length }, (_, k) => k + 1), 'datagrams lost or repeated across the restore');
});

test('--ext-unix-sk: a stream socket connected outside the container is refused even with it (CRIU dumps only datagram peers)', { skip }, async (t) => {
  const { w, peer, keep } = unixPeerWorld(t, 'stream');
  const id = w.id('extstream');
  w.ok(['run', '-d', '--bundle', w.bundle, id]);
  keep(flagprogInNetns(w, w.state(id)!.pid, ['recv-stream', peer]));
  await waitFor('the counter to start (connected)', () => w.count() > 2);
  await refusedAndStillRunning(w, id, ['--ext-unix-sk'], /criu dump failed: .*half of stream unix connection/i);
});

/** Allocated 512-byte blocks of the pages images in `dir`. */
function pageBlocks(dir: string): number {
  return fs.readdirSync(dir).filter((n) => /^pages-\d+\.img$/.test(n)).reduce((sum, n) => sum + (fs.statSync(path.join(dir, n)).blocks ?? 0), 0);
}

test('--auto-dedup on restore: the memory read back is punched out of the pages images', { skip }, async (t) => {
  const w = new World();
  t.after(() => w.cleanup());
  const id = await w.runCounting('dedup');
  const plain = w.images('plain');
  w.ok(['checkpoint', '--image-path', plain, id]);
  const plainBlocks = pageBlocks(plain);
  assert.ok(plainBlocks > 0, 'no pages were dumped');
  w.ok(['restore', '-d', '--bundle', w.bundle, '--image-path', plain, id]);
  assert.equal(pageBlocks(plain), plainBlocks, 'a restore without the flag changed the images');
  const deduped = w.images('deduped');
  w.ok(['checkpoint', '--image-path', deduped, id]);
  assert.ok(pageBlocks(deduped) > 0);
  const atDump = w.count();
  w.ok(['restore', '-d', '--auto-dedup', '--bundle', w.bundle, '--image-path', deduped, id]);
  await waitFor('the counter to go on', () => w.count() > atDump + 2);
  assert.equal(pageBlocks(deduped), 0, 'the pages images still hold data blocks');
  // The images no longer hold the memory: a second restore from them cannot work.
  w.ok(['delete', '--force', id]);
  const again = w.stasis(['restore', '-d', '--bundle', w.bundle, '--image-path', deduped, id]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /criu restore failed/);
  assert.equal(w.state(id), undefined);
});
