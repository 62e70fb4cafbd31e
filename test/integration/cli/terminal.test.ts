/**
 * A foreground container or exec with `terminal: true` and no --console-socket: stasis allocates the pty in the
 * container and copies between its own stdio and the pty master (runc does the same). `script` gives stasis a
 * terminal of its own, so raw mode and window size are exercised too.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { TestEnv, leakTest } from '../../support/env';
import { bundleSkipReason } from '../../support/bundle';
import { STASIS_BIN, show } from '../../support/run';

const skip = bundleSkipReason() || (spawnSync('script', ['--version']).status !== 0 && 'needs script(1) from util-linux');
const env = new TestEnv('terminal');
after(() => env.dispose());

/** Runs a stasis command line inside `script`, whose pty is 30x100. */
function inTerminal(args: string[]): { code: number | null; out: string } {
  const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const envNoCa = { ...process.env };
  delete envNoCa.NODE_EXTRA_CA_CERTS;
  const r = spawnSync('script', ['-qec', `stty rows 30 cols 100; ${STASIS_BIN} --root ${env.root} ${quoted}`, '/dev/null'], {
    encoding: 'utf8',
    env: envNoCa,
    timeout: 30_000,
    input: '',
  });
  return { code: r.status, out: r.stdout };
}

test('run with terminal: true and no console socket proxies the pty and returns the exit status', { skip }, (t) => {
  const c = env.bundle(t, { args: ['sh', '-c', 'tty; stty size; echo done-$((6*7)); exit 7'], tweak: (s) => (s.process!.terminal = true) });
  const r = inTerminal(['run', '-b', c.dir, c.id]);
  assert.equal(r.code, 7, r.out);
  assert.match(r.out, /\/dev\/pts\/0/);
  assert.match(r.out, /30 100/, 'the container pty takes the size of the caller terminal');
  assert.match(r.out, /done-42/);
});

test('exec -t without a console socket gets a terminal too', { skip }, async (t) => {
  const c = env.bundle(t, { args: ['sleep', '300'] });
  const created = await env.run(['run', '-d', '-b', c.dir, c.id]);
  assert.equal(created.code, 0, show(created));
  const r = inTerminal(['exec', '-t', c.id, 'sh', '-c', 'tty; exit 3']);
  assert.equal(r.code, 3, r.out);
  assert.match(r.out, /\/dev\/pts\/\d+/);
});

test('a detached terminal container without a console socket is refused with one line', { skip }, async (t) => {
  const c = env.bundle(t, { args: ['true'], tweak: (s) => (s.process!.terminal = true) });
  const r = await env.run(['run', '-d', '-b', c.dir, c.id]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /a terminal needs a console socket/);
  assert.equal(r.stderr.trim().split('\n').length, 1, show(r));
});

leakTest(env);
