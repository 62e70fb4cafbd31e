/** Terminals (`terminal: true` with --console-socket) and --preserve-fds for run. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { TestEnv, leakTest } from '../../support/env';
import { bundleSkipReason } from '../../support/bundle';
import { show } from '../../support/run';
import { canReceiveConsole, startConsoleReceiver } from '../../support/console';

const skip = bundleSkipReason();
const noConsole = skip || (canReceiveConsole() ? false : 'needs python3 with socket.recv_fds');
const env = new TestEnv('tty');
after(() => env.dispose());

test('terminal: the pty master goes to the console socket and carries the output', { skip: noConsole }, async (t) => {
  const rx = await startConsoleReceiver(env.base);
  t.after(() => rx.close());
  const { r } = await env.runOnce(t, {
    args: ['sh', '-c', 'tty; stty size; echo hello-tty; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all-ttys'],
    flags: ['--console-socket', rx.socketPath],
    tweak: (s) => {
      s.process!.terminal = true;
      s.process!.consoleSize = { height: 30, width: 100 };
    },
  });
  assert.equal(r.code, 0, show(r));
  const got = await rx.result;
  assert.equal(got.isatty, true);
  const out = got.output.replace(/\r/g, '');
  assert.match(out, /^\/dev\/pts\/\d+\n/);
  assert.match(out, /^30 100$/m);
  assert.match(out, /^hello-tty$/m);
  assert.match(out, /^all-ttys$/m);
  assert.equal(r.stdout, '', 'nothing goes to the runtime stdout');
});

test('exec -t with a console socket', { skip: noConsole }, async (t) => {
  const { c } = await env.startDetached(t);
  const rx = await startConsoleReceiver(env.base);
  t.after(() => rx.close());
  const r = await env.run(['exec', '-t', '--console-socket', rx.socketPath, c.id, 'sh', '-c', 'tty; echo exec-tty; exit 6']);
  assert.equal(r.code, 6, show(r));
  const out = (await rx.result).output.replace(/\r/g, '');
  assert.match(out, /^\/dev\/pts\/\d+\nexec-tty\n/);
});

test('create + start with a terminal (the containerd flow)', { skip: noConsole }, async (t) => {
  const rx = await startConsoleReceiver(env.base);
  t.after(() => rx.close());
  const c = env.bundle(t, { args: ['sh', '-c', 'echo detached-tty; exit 0'], tweak: (s) => (s.process!.terminal = true) });
  const cr = await env.run(['create', '--console-socket', rx.socketPath, '-b', c.dir, c.id]);
  assert.equal(cr.code, 0, show(cr));
  const st = await env.run(['start', c.id]);
  assert.equal(st.code, 0, show(st));
  const got = await rx.result;
  assert.equal(got.isatty, true);
  assert.match(got.output.replace(/\r/g, ''), /^detached-tty\n/);
});

test('terminal without --console-socket is refused with one line', { skip }, async (t) => {
  const c = env.bundle(t, { args: ['true'], tweak: (s) => (s.process!.terminal = true) });
  const r = await env.run(['create', '-b', c.dir, c.id]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /console/, show(r));
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.ok(!env.stateEntries().includes(c.id));
});

test('run --preserve-fds 1 passes the extra fd as fd 3 and nothing above it', { skip }, async (t) => {
  const file = env.scratch('preserved.txt');
  fs.writeFileSync(file, 'preserved-content\n');
  const fd = fs.openSync(file, 'r');
  t.after(() => fs.closeSync(fd));
  const { r } = await env.runOnce(t, {
    args: ['sh', '-c', 'cat <&3; [ -e /proc/$$/fd/4 ] && echo fd4-leaked; [ -e /proc/$$/fd/5 ] && echo fd5-leaked; echo end'],
    flags: ['--preserve-fds', '1'],
    runOpts: { extraFds: [fd] },
  });
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stdout, 'preserved-content\nend\n');
});

test('without --preserve-fds an fd given to stasis does not reach the container', { skip }, async (t) => {
  const file = env.scratch('not-preserved.txt');
  fs.writeFileSync(file, 'secret\n');
  const fd = fs.openSync(file, 'r');
  t.after(() => fs.closeSync(fd));
  const { r } = await env.runOnce(t, {
    args: ['sh', '-c', 'ls /proc/$$/fd; cat <&3 && echo leaked'],
    runOpts: { extraFds: [fd] },
  });
  assert.doesNotMatch(r.stdout, /leaked|secret/, show(r));
});

leakTest(env);
