/**
 * SYNC / RUN_HOOK / READY / OPEN_FIFO / WAIT_START: sync payloads reach hooks on stdin, hook failures and
 * timeouts are errors, ABORT stops the plan, and the start fifo gates the exec.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HelperStepError, launch } from '../../src/helper/launcher';
import { Frame, encodeFrame, encodePlan, str, strlist, u32, type Step } from '../../src/helper/protocol';
import { killLater, outputFile, runRaw, skipReason, tempDir, waitFor } from './core-harness';

const skip = skipReason();
const PATH = '/usr/local/bin:/usr/bin:/bin';
const ETIMEDOUT = 110;

const hook = (script: string, timeoutMs: number, env: string[] = []): Step => ({
  op: 'RUN_HOOK',
  args: [str('/bin/sh'), strlist(['sh', '-c', script]), strlist(env), u32(timeoutMs)],
  what: 'run the prestart hook',
});

test('SYNC stores the CONTINUE payload and RUN_HOOK feeds it to the hook on stdin', { skip }, async (t) => {
  const dir = tempDir(t);
  const got = path.join(dir, 'stdin');
  const envFile = path.join(dir, 'env');
  const state = JSON.stringify({ ociVersion: '1.0.2', id: 'c1', status: 'created', pid: 42, bundle: '/b "q"' });
  const names: string[] = [];
  const res = await launch(
    [
      { op: 'SYNC', args: [str('prestart')], what: 'wait for prestart' },
      hook(`cat > ${got}`, 5000),
      hook(`echo "$FOO" > ${envFile}`, 5000, ['FOO=bar baz']),
      { op: 'READY', args: [], what: 'ready' },
    ],
    {
      onSync: (name) => {
        names.push(name);
        return { continue: true, payload: Buffer.from(state) };
      },
    },
  );
  assert.equal(res.outcome, 'ready');
  assert.deepEqual(names, ['prestart']);
  assert.equal(fs.readFileSync(got, 'utf8'), state);
  assert.equal(fs.readFileSync(envFile, 'utf8'), 'bar baz\n');
  assert.equal(await res.helperExit, 0);
});

test('a hook gets only stdio: neither preserved fds nor the helper channels', { skip }, async (t) => {
  const dir = tempDir(t);
  const list = path.join(dir, 'fds');
  const extra = fs.openSync(path.join(dir, 'preserved'), 'w');
  t.after(() => fs.closeSync(extra));
  const res = await launch([hook(`exec > ${list}; ls /proc/$$/fd`, 5000), { op: 'READY', args: [], what: 'ready' }], { extraFds: [extra] });
  assert.equal(res.outcome, 'ready');
  assert.equal(fs.readFileSync(list, 'utf8'), '0\n1\n2\n');
});

test('a large sync payload reaches a hook that reads it slowly', { skip }, async (t) => {
  const dir = tempDir(t);
  const got = path.join(dir, 'stdin');
  const payload = Buffer.alloc(300 * 1024, 'x');
  const res = await launch([{ op: 'SYNC', args: [str('s')], what: 'sync' }, hook(`sleep 0.2; cat > ${got}`, 5000), { op: 'READY', args: [], what: 'ready' }], {
    onSync: () => ({ continue: true, payload }),
  });
  assert.equal(await res.helperExit, 0);
  assert.equal(fs.statSync(got).size, payload.length);
});

test('a hook that ignores its stdin does not kill the helper with SIGPIPE', { skip }, async () => {
  const payload = Buffer.alloc(300 * 1024, 'y');
  const run = launch([{ op: 'SYNC', args: [str('s')], what: 'sync' }, hook('exit 0', 5000), { op: 'READY', args: [], what: 'ready' }], {
    onSync: () => ({ continue: true, payload }),
  });
  const res = await run;
  assert.equal(res.outcome, 'ready');
});

test('ABORT stops the helper with exit 1 before the next op', { skip }, async (t) => {
  const dir = tempDir(t);
  const marker = path.join(dir, 'ran');
  const plan = encodePlan([{ op: 'SYNC', args: [str('createRuntime')], what: 'sync' }, hook(`touch ${marker}`, 5000)]);
  const res = await runRaw(encodeFrame(Frame.PLAN, plan), { abort: true });
  assert.deepEqual(res.events, [{ type: 'sync', name: 'createRuntime' }]);
  assert.equal(res.code, 1);
  assert.equal(fs.existsSync(marker), false);

  const logs: string[] = [];
  await assert.rejects(
    launch([{ op: 'SYNC', args: [str('createRuntime')], what: 'sync' }, hook(`touch ${marker}`, 5000)], {
      onSync: () => ({ continue: false }),
      onLog: (line) => logs.push(line),
    }),
    /ended without/,
  );
  assert.equal(fs.existsSync(marker), false);
  assert.ok(logs.some((l) => JSON.parse(l).msg === 'sync createRuntime: aborted'), 'the abort is logged on fd 4');
});

test('a hook exiting non-zero is an error carrying its status and output', { skip }, async () => {
  await assert.rejects(launch([hook('echo "bad thing" >&2; exit 3', 5000)]), (err: unknown) => {
    assert.ok(err instanceof HelperStepError);
    assert.equal(err.op, 'RUN_HOOK');
    assert.equal(err.detail, 'hook /bin/sh exited with status 3: bad thing');
    assert.equal(err.message, 'run the prestart hook: hook /bin/sh exited with status 3: bad thing');
    return true;
  });
});

test('a hook that cannot be executed reports why', { skip }, async () => {
  const step: Step = { op: 'RUN_HOOK', args: [str('/no/such/hook'), strlist([]), strlist([]), u32(0)], what: 'hook' };
  await assert.rejects(launch([step]), /hook \/no\/such\/hook exited with status 127: exec \/no\/such\/hook: No such file or directory/);
});

test('a hook running past its timeout is killed and reported', { skip }, async () => {
  const start = Date.now();
  const step: Step = { op: 'RUN_HOOK', args: [str('/bin/sleep'), strlist(['sleep', '30']), strlist([]), u32(300)], what: 'hook' };
  await assert.rejects(launch([step]), (err: unknown) => {
    assert.ok(err instanceof HelperStepError);
    assert.equal(err.errno, ETIMEDOUT);
    assert.equal(err.detail, 'hook /bin/sleep timed out after 300 ms');
    return true;
  });
  const elapsed = Date.now() - start;
  assert.ok(elapsed >= 300 && elapsed < 5000, `the timeout is honoured (took ${elapsed} ms)`);
});

test('READY, then WAIT_START blocks the exec until the start fifo is opened for reading', { skip }, async (t) => {
  const dir = tempDir(t);
  const fifo = path.join(dir, 'exec.fifo');
  execFileSync('mkfifo', [fifo]);
  const out = outputFile(t, dir);
  const res = await launch(
    [
      { op: 'OPEN_FIFO', args: [str(fifo)], what: 'open the start fifo' },
      { op: 'READY', args: [], what: 'ready' },
      { op: 'WAIT_START', args: [], what: 'wait for start' },
      { op: 'LOOKUP_EXEC', args: [str('sh'), str(PATH)], what: 'find sh' },
      { op: 'EXEC', args: [strlist(['sh', '-c', 'echo started']), strlist([])], what: 'exec' },
    ],
    { stdio: ['ignore', out.fd, out.fd] },
  );
  killLater(t, () => (res.helper.exitCode === null ? res.helper.pid : undefined));
  assert.equal(res.outcome, 'ready');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(out.read(), '', 'nothing runs before start');
  assert.equal(res.helper.exitCode, null, 'the helper waits on the fifo');
  const fd = fs.openSync(fifo, 'r');
  const buf = Buffer.alloc(8);
  const n = fs.readSync(fd, buf);
  fs.closeSync(fd);
  assert.equal(buf.subarray(0, n).toString(), '0');
  assert.equal(await res.helperExit, 0);
  await waitFor(() => out.read() === 'started\n', 2000, 'the started output');
});

test('WAIT_START without OPEN_FIFO, and OPEN_FIFO on a missing path, are errors', { skip }, async () => {
  await assert.rejects(launch([{ op: 'WAIT_START', args: [], what: 'wait' }]), /no start fifo: OPEN_FIFO must come first/);
  await assert.rejects(
    launch([{ op: 'OPEN_FIFO', args: [str('/no/such/fifo')], what: 'fifo' }]),
    /open fifo \/no\/such\/fifo: No such file or directory/,
  );
});
