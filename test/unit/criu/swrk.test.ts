/**
 * The swrk client against a fake CRIU (a small Node script speaking the same protocol on fd 3), so the
 * notify loop and the failure paths are covered without root or CRIU. Needs the native addon.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nativeAddonPath } from '../../../src/native';
import { spawn } from 'node:child_process';
import { CriuError, criuBinary, criuRequest, failureMessage, logErrorLines, prestartCriu, type SwrkOptions } from '../../../src/criu/swrk';
import type { CriuReq } from '../../../src/criu/types';
import { errnoName } from '../../../src/util/errno';

let addon: string | undefined;
try {
  addon = nativeAddonPath();
} catch {
  addon = undefined;
}
const skip = addon ? undefined : 'stasis_native addon not built (or set STASIS_NATIVE)';

const FAKE = `
const fs = require('fs');
const nat = require(process.env.FAKE_NATIVE);
const proto = require(process.env.FAKE_PROTO);
const out = process.env.FAKE_OUT;
const send = (resp, fds) => nat.sendMsg(3, proto.encodeResponse(resp), fds || []);
const recv = () => proto.decodeRequest(nat.recvMsg(3, 65536).data);
const req = recv();
const seen = { req, fd4: fs.existsSync('/proc/self/fd/4') ? fs.readlinkSync('/proc/self/fd/4') : null, acks: [] };
const save = () => fs.writeFileSync(out, JSON.stringify(seen));
switch (process.env.FAKE_MODE) {
  case 'notify':
    send({ type: 'NOTIFY', success: true, notify: { script: 'orphan-pts-master' } }, [fs.openSync('/dev/null', 'r')]);
    seen.acks.push(recv());
    send({ type: 'NOTIFY', success: true, notify: { script: 'post-restore', pid: 4242 } });
    seen.acks.push(recv());
    send({ type: 'RESTORE', success: true, restore: { pid: 4242 } });
    break;
  case 'fail':
    fs.writeFileSync(process.env.FAKE_LOG, [
      '(00.000100) Info  starting',
      '(00.000200) Error (criu/util.c:1534): rlimit: Can\\'t setup RLIMIT_NOFILE for self: Operation not permitted',
      '(00.000300) Error (criu/cr-dump.c:2100): Dumping   FAILED.',
      '(00.000400) Error (criu/seize.c:90): no such task 77',
      '',
    ].join('\\n'));
    send({ type: 'DUMP', success: false, crErrno: 3 });
    break;
  case 'die':
    process.stderr.write('fake: boom\\n');
    save();
    process.exit(3);
  case 'hookfail':
    send({ type: 'NOTIFY', success: true, notify: { script: 'post-dump' } });
    seen.acks.push(recv());
    break;
}
save();
`;

interface Fake {
  bin: string;
  out: string;
  log: string;
  env: (mode: string) => NodeJS.ProcessEnv;
  seen: () => { req: CriuReq; fd4: string | null; acks: CriuReq[] };
  cleanup: () => void;
}

function makeFake(): Fake {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-fake-criu-'));
  const bin = path.join(dir, 'criu');
  fs.writeFileSync(bin, `#!${process.execPath}\n${FAKE}`, { mode: 0o755 });
  const out = path.join(dir, 'seen.json');
  const log = path.join(dir, 'dump.log');
  return {
    bin,
    out,
    log,
    env: (mode) => ({
      ...process.env,
      FAKE_MODE: mode,
      FAKE_OUT: out,
      FAKE_LOG: log,
      FAKE_NATIVE: addon,
      FAKE_PROTO: path.resolve(__dirname, '../../../src/criu/proto.js'),
    }),
    seen: () => JSON.parse(fs.readFileSync(out, 'utf8')),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

test('notifications reach the callback with their fds and are acknowledged', { skip }, async (t) => {
  const fake = makeFake();
  t.after(fake.cleanup);
  const extra = fs.openSync('/proc/self/status', 'r');
  t.after(() => fs.closeSync(extra));
  const events: { script: string; pid?: number; fds: number }[] = [];
  const req: CriuReq = { type: 'RESTORE', opts: { imagesDirFd: 9, rstSibling: true } };
  const resp = await criuRequest(req, {
    criuPath: fake.bin,
    env: fake.env('notify'),
    extraFds: [extra],
    onNotify: (e) => {
      events.push({ script: e.script, pid: e.pid, fds: e.fds.length });
      if (e.fds.length) assert.equal(fs.readlinkSync(`/proc/self/fd/${e.fds[0]}`), '/dev/null');
      for (const fd of e.fds) fs.closeSync(fd);
    },
  });
  assert.deepEqual(resp, { type: 'RESTORE', success: true, restore: { pid: 4242 } });
  assert.deepEqual(events, [
    { script: 'orphan-pts-master', pid: undefined, fds: 1 },
    { script: 'post-restore', pid: 4242, fds: 0 },
  ]);
  const seen = fake.seen();
  assert.deepEqual(seen.req, req);
  assert.match(seen.fd4 ?? '', /\/status$/, 'extra fd did not arrive at fd 4');
  assert.deepEqual(seen.acks, [
    { type: 'NOTIFY', notifySuccess: true },
    { type: 'NOTIFY', notifySuccess: true },
  ]);
});

/** A SwrkOptions.start that runs the fake with the socket at fd 3, as the helper does with criu swrk N. */
function startFake(fake: Fake, mode: string): NonNullable<SwrkOptions['start']> {
  return async (socketFd, stderr) => {
    const child = spawn(fake.bin, [], { stdio: ['ignore', 'ignore', stderr, socketFd], env: fake.env(mode) });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    return { pid: child.pid!, exited };
  };
}

test('a prestarted criu serves the request sent later, once', { skip }, async (t) => {
  const fake = makeFake();
  t.after(fake.cleanup);
  const early = prestartCriu(startFake(fake, 'notify'));
  const resp = await criuRequest({ type: 'RESTORE', opts: { imagesDirFd: 9, rstSibling: true } }, { prestarted: early });
  assert.deepEqual(resp, { type: 'RESTORE', success: true, restore: { pid: 4242 } });
  assert.equal(early.consumed, true);
  await early.abandon(); // a no-op once a request took it
  await assert.rejects(criuRequest({ type: 'RESTORE' }, { prestarted: early }), /already used or abandoned/);
});

test('an abandoned prestarted criu sees EOF and is waited for', { skip }, async (t) => {
  const fake = makeFake();
  t.after(fake.cleanup);
  let exited: Promise<unknown> | undefined;
  const start = startFake(fake, 'notify');
  const early = prestartCriu(async (fd, stderr) => {
    const s = await start(fd, stderr);
    exited = s.exited;
    return s;
  });
  await early.abandon();
  let done = false;
  void exited!.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(done, true, 'abandon resolved before criu exited');
  assert.throws(() => fs.fstatSync(early.socket), /EBADF/);
});

test('a prestarted criu that could not start fails the request with the start error', { skip }, async () => {
  const early = prestartCriu(async () => {
    throw new Error('helper: find criu: no such file');
  });
  await assert.rejects(criuRequest({ type: 'DUMP' }, { prestarted: early }), /helper: find criu/);
  await early.abandon();
});

test('a refused request becomes a CriuError quoting the log in one line', { skip }, async (t) => {
  const fake = makeFake();
  t.after(fake.cleanup);
  const run = criuRequest(
    { type: 'DUMP', opts: { imagesDirFd: 1 } },
    { criuPath: fake.bin, env: fake.env('fail'), logPath: fake.log },
  );
  await assert.rejects(run, (err: unknown) => {
    assert.ok(err instanceof CriuError);
    assert.equal(err.requestType, 'DUMP');
    assert.equal(err.crErrno, 3);
    // Timestamps and the harmless rlimit line are dropped; the message also collapses runs of spaces.
    assert.deepEqual(err.logErrors, [
      'Error (criu/cr-dump.c:2100): Dumping   FAILED.',
      'Error (criu/seize.c:90): no such task 77',
    ]);
    assert.equal(
      err.message,
      `criu dump failed: errno 3 (ESRCH): "Error (criu/cr-dump.c:2100): Dumping FAILED. | Error (criu/seize.c:90): no such task 77" (log ${fake.log})`,
    );
    return true;
  });
});

test('criu dying before it answers is reported with its stderr', { skip }, async (t) => {
  const fake = makeFake();
  t.after(fake.cleanup);
  const run = criuRequest({ type: 'VERSION' }, { criuPath: fake.bin, env: fake.env('die') });
  await assert.rejects(run, (err: unknown) => {
    assert.ok(err instanceof CriuError);
    assert.match(err.message, /^criu version failed: criu exited \(status 3\) before answering; stderr: fake: boom$/);
    assert.deepEqual(err.exit, { code: 3, signal: null });
    return true;
  });
});

test('a throwing notify callback answers notify_success=false and rejects with its error', { skip }, async (t) => {
  const fake = makeFake();
  t.after(fake.cleanup);
  const hookError = new Error('post-dump hook failed');
  await assert.rejects(
    criuRequest({ type: 'DUMP', opts: { imagesDirFd: 1 } }, {
      criuPath: fake.bin,
      env: fake.env('hookfail'),
      onNotify: () => {
        throw hookError;
      },
    }),
    (err) => err === hookError,
  );
  assert.deepEqual(fake.seen().acks, [{ type: 'NOTIFY', notifySuccess: false }]);
});

test('a missing criu binary is a CriuError naming the path', { skip }, async () => {
  await assert.rejects(
    criuRequest({ type: 'VERSION' }, { criuPath: '/nonexistent/criu' }),
    /^CriuError: criu: cannot run \/nonexistent\/criu: /,
  );
});

test('pure helpers: binary choice, errno names, log lines, message', () => {
  assert.equal(criuBinary({ STASIS_CRIU: '/opt/criu' }), '/opt/criu');
  assert.equal(errnoName(3), 'ESRCH');
  assert.equal(errnoName(56), 'EBADRQC');
  assert.deepEqual(logErrorLines('/nonexistent/dump.log'), []);
  assert.equal(failureMessage('PRE_DUMP', { crErrno: 0, crErrmsg: 'bad\n' }, [], undefined), 'criu pre-dump failed: bad');
});
