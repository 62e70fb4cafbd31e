/**
 * `stasis service` and bin/stasis's warm path (docs/warm.md): calls taken by a warm worker behave as cold
 * ones (output, stdin, exit status, relative paths, environment, signals), the container descends from the
 * caller and not from the worker, and calls that must run cold do (and still work).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TestEnv } from '../../support/env';
import { bundleSkipReason } from '../../support/bundle';
import { STASIS_BIN, show, type RunOptions } from '../../support/run';
import { parseStatus, waitFor } from '../../support/proc';

const skip = bundleSkipReason() || (process.getuid?.() !== 0 && 'root only');
const env = new TestEnv('warm');
const socket = path.join(env.base, 'warm.sock');
const serviceLog = path.join(env.base, 'service.log');
const warmEnv = { ...process.env, STASIS_WARM_SOCKET: socket };
let service: ChildProcess | undefined;

/** How many calls the service's workers have taken so far. */
function taken(): number {
  return (fs.readFileSync(serviceLog, 'utf8').match(/took a call/g) ?? []).length;
}

function warm(args: readonly string[], opts: RunOptions = {}) {
  return env.run(args, { ...opts, env: { ...warmEnv, ...opts.env } });
}

before(async () => {
  if (skip) return;
  const log = fs.openSync(serviceLog, 'w');
  service = spawn(STASIS_BIN, ['service', '--socket', socket, '--workers', '2', '--verbose'], { env: warmEnv, stdio: ['ignore', 'ignore', log] });
  fs.closeSync(log);
  await waitFor(async () => (await warm(['--version'])).code === 0 && taken() > 0, 20_000);
});

after(async () => {
  service?.kill('SIGTERM');
  if (service && service.exitCode === null) await new Promise((r) => service!.once('exit', r));
  env.dispose();
});

test('a warm call prints and exits as a cold one', { skip }, async () => {
  const before = taken();
  const w = await warm(['list', '--format', 'json']);
  const c = await env.run(['list', '--format', 'json'], { env: { ...warmEnv, STASIS_WARM: '0' } });
  assert.equal(w.code, 0, show(w));
  assert.equal(w.stdout, c.stdout);
  const bad = await warm(['state', 'no-such-container']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^stasis: .*does not exist\n$/);
  assert.equal(taken(), before + 2, 'both warm calls were taken by workers');
  assert.equal(fs.readFileSync(serviceLog, 'utf8').includes('ended before taking'), false, fs.readFileSync(serviceLog, 'utf8'));
});

test('run in the foreground: stdin, output, exit status and the caller\'s environment', { skip }, async (t) => {
  const c = env.bundle(t, { args: ['sh', '-c', 'read line; echo "got $line"; echo err >&2; exit 3'] });
  const before = taken();
  const r = await warm(['run', '-b', c.dir, c.id], { input: 'hello\n', env: { STASIS_TRACE: '1' } });
  assert.equal(r.code, 3, show(r));
  assert.equal(r.stdout, 'got hello\n');
  assert.match(r.stderr, /err\n/);
  assert.match(r.stderr, /ms {2}create: begin/, 'STASIS_TRACE from the caller reached the worker');
  assert.equal(taken(), before + 1);
  assert.deepEqual(env.stateEntries(), [], 'run deleted the container');
});

test('relative --bundle and --pid-file are the caller\'s, and the container descends from the caller', { skip }, async (t) => {
  const c = env.bundle(t, { args: ['sleep', '1000'] });
  const cwd = path.dirname(c.dir);
  const r = await warm(['create', '--bundle', `./${path.basename(c.dir)}`, '--pid-file', 'warm.pid', c.id], { cwd });
  assert.equal(r.code, 0, show(r));
  const pid = Number(fs.readFileSync(path.join(cwd, 'warm.pid'), 'utf8'));
  assert.ok(pid > 0);
  await env.run(['delete', '--force', c.id]);

  // In the foreground the helper stays as the container's parent: its parent must be the bin/stasis process
  // the caller started, not the worker.
  const d = env.bundle(t, { args: ['sleep', '1000'] });
  let front: ChildProcess | undefined;
  const running = warm(['run', '-b', d.dir, d.id], { onSpawn: (child) => (front = child) });
  let init = 0;
  await waitFor(async () => {
    const s = await warm(['state', d.id]);
    init = s.code === 0 ? (JSON.parse(s.stdout) as { pid: number }).pid : 0;
    return init > 0;
  }, 10_000);
  const ppid = (pid: number) => Number(parseStatus(fs.readFileSync(`/proc/${pid}/status`, 'utf8')).PPid);
  assert.equal(ppid(ppid(init)), front!.pid, 'the helper is a child of the caller\'s bin/stasis');
  front!.kill('SIGKILL');
  await running;
  await env.run(['delete', '--force', d.id]);
});

test('signals sent to bin/stasis reach the container through the worker', { skip }, async (t) => {
  const c = env.bundle(t, { args: ['sh', '-c', 'trap "exit 7" TERM; while :; do sleep 0.05; done'] });
  let front: ChildProcess | undefined;
  const running = warm(['run', '-b', c.dir, c.id], { onSpawn: (child) => (front = child) });
  await waitFor(async () => {
    const s = await warm(['state', c.id]);
    return s.code === 0 && (JSON.parse(s.stdout) as { status: string }).status === 'running';
  }, 10_000);
  front!.kill('SIGTERM');
  const r = await running;
  assert.equal(r.code, 7, show(r));
});

test('exec through a worker: output, status, and detached', { skip }, async (t) => {
  const { c } = await env.startDetached(t);
  const r = await warm(['exec', c.id, 'sh', '-c', 'echo in-exec; exit 5']);
  assert.equal(r.code, 5, show(r));
  assert.equal(r.stdout, 'in-exec\n');
  const pidFile = path.join(env.base, 'exec.pid');
  const d = await warm(['exec', '-d', '--pid-file', pidFile, c.id, 'sleep', '1000']);
  assert.equal(d.code, 0, show(d));
  assert.ok(Number(fs.readFileSync(pidFile, 'utf8')) > 0);
});

test('a call that kills itself (a fault point) kills the caller\'s bin/stasis the same way', { skip }, async (t) => {
  const c = env.bundle(t, { args: ['true'] });
  const before = taken();
  const r = await warm(['create', '-b', c.dir, c.id], { env: { STASIS_FAULT: 'create:claimed' } });
  assert.equal(r.signal, 'SIGKILL', show(r));
  assert.equal(taken(), before + 1, 'the call was a warm one');
  const d = await warm(['delete', '--force', c.id]);
  assert.equal(d.code, 0, show(d));
  assert.deepEqual(env.stateEntries(), []);
});

test('calls that must run cold do, and work', { skip }, async (t) => {
  const before = taken();
  const help = await warm(['checkpoint', '--help']);
  assert.equal(help.code, 0, show(help));
  const c = env.bundle(t, { args: ['sh', '-c', 'echo preserved >&3'] });
  const out = path.join(env.base, 'fd3.out');
  const fd = fs.openSync(out, 'w');
  const r = await warm(['run', '--preserve-fds', '1', '-b', c.dir, c.id], { extraFds: [fd] });
  fs.closeSync(fd);
  assert.equal(r.code, 0, show(r));
  assert.equal(fs.readFileSync(out, 'utf8'), 'preserved\n');
  const off = await warm(['--version'], { env: { STASIS_WARM: '0' } });
  assert.equal(off.code, 0);
  // Each was offered to a worker that sent it back cold, or (STASIS_WARM=0) never offered.
  assert.match(fs.readFileSync(serviceLog, 'utf8'), /took a call/);
  assert.equal(taken() - before, 2, 'checkpoint and --preserve-fds were offered, then run cold');
});

test('without a service every call runs cold', { skip }, async () => {
  const r = await env.run(['--version'], { env: { ...process.env, STASIS_WARM_SOCKET: path.join(env.base, 'none.sock') } });
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^stasis version/);
});

test('a second service on the same socket is refused', { skip }, async () => {
  const r = await env.run(['service', '--socket', socket]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /already listens on/);
});
