/**
 * Error reporting through the CLI: one line on stderr, a non-zero exit, no stack trace, nothing left in the
 * state root, and a JSON log line with --log --log-format json.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TestEnv, leakTest } from '../../support/env';
import { bundleSkipReason } from '../../support/bundle';
import { show, type RunResult } from '../../support/run';

const skip = bundleSkipReason();
const env = new TestEnv('err');
after(() => env.dispose());

/** The common shape of every user-facing failure. */
function assertOneLineError(r: RunResult, pattern: RegExp): void {
  assert.notEqual(r.code, 0, show(r));
  assert.equal(r.code !== null && r.code > 0 && r.code < 126, true, `plain failure code: ${show(r)}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr: ${show(r)}`);
  assert.match(lines[0], /^stasis: /);
  assert.doesNotMatch(r.stderr, /\n\s+at |Error:|TypeError|ReferenceError/, 'no stack trace');
  assert.match(lines[0], pattern);
}

async function createFails(t: { after(fn: () => unknown): void }, edit: (config: string) => void, pattern: RegExp): Promise<RunResult> {
  const c = env.bundle(t, { args: ['true'] });
  edit(c.config);
  const r = await env.run(['create', '-b', c.dir, c.id]);
  assertOneLineError(r, pattern);
  assert.ok(!env.stateEntries().includes(c.id), `nothing left in the state root: ${env.stateEntries()}`);
  return r;
}

test('a missing bundle is one line naming it', { skip }, async () => {
  const r = await env.run(['create', '-b', '/nonexistent/bundle', 'missing-bundle']);
  assertOneLineError(r, /\/nonexistent\/bundle/);
  assert.deepEqual(env.stateEntries(), []);
});

test('a missing rootfs is one line naming it', { skip }, async (t) => {
  await createFails(t, (config) => fs.rmSync(path.join(path.dirname(config), 'rootfs'), { recursive: true }), /rootfs/);
});

test('config.json that is not JSON reports the position', { skip }, async (t) => {
  await createFails(
    t,
    (config) => fs.writeFileSync(config, '{\n  "ociVersion": "1.2.1",\n  "process": ,\n}\n'),
    /config\.json.*(line 3|position|column)/,
  );
});

test('a field of the wrong type is named', { skip }, async (t) => {
  await createFails(
    t,
    (config) => {
      const s = JSON.parse(fs.readFileSync(config, 'utf8'));
      s.process.args = 'sh';
      fs.writeFileSync(config, JSON.stringify(s));
    },
    /process\.args/,
  );
});

test('an unknown capability is named', { skip }, async (t) => {
  await createFails(
    t,
    (config) => {
      const s = JSON.parse(fs.readFileSync(config, 'utf8'));
      s.process.capabilities.bounding.push('CAP_NOT_A_THING');
      fs.writeFileSync(config, JSON.stringify(s));
    },
    /CAP_NOT_A_THING/,
  );
});

test('an executable that does not exist fails create with the engines\' message', { skip }, async (t) => {
  const c = env.bundle(t, { args: ['no-such-binary-here'] });
  const r = await env.run(['run', '-b', c.dir, c.id]);
  assertOneLineError(r, /executable file not found in \$PATH/);
  assert.ok(!env.stateEntries().includes(c.id));
});

test('--log with --log-format json gets a runc-shaped error line', { skip }, async () => {
  const log = env.scratch('log.json');
  const r = await env.run(['--log', log, '--log-format', 'json', 'state', 'does-not-exist']);
  assertOneLineError(r, /does-not-exist/);
  const lines = fs.readFileSync(log, 'utf8').trim().split('\n');
  const last = JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
  assert.equal(last.level, 'error');
  assert.equal(typeof last.msg, 'string');
  assert.match(String(last.msg), /does-not-exist/);
  assert.ok(!Number.isNaN(Date.parse(String(last.time))), `time is a timestamp: ${last.time}`);
  assert.equal(r.stderr, `stasis: ${last.msg}\n`, 'stderr and the log carry the same message');
});

test('an unknown command and an unknown flag are usage errors', { skip }, async () => {
  assertOneLineError(await env.run(['frobnicate']), /frobnicate/);
  assertOneLineError(await env.run(['state', '--no-such-flag', 'x']), /no-such-flag/);
});

test('an invalid container id is refused', { skip }, async (t) => {
  const c = env.bundle(t, { args: ['true'] });
  const r = await env.run(['create', '-b', c.dir, '../escape']);
  assertOneLineError(r, /id/);
  assert.deepEqual(env.stateEntries().filter((e) => e !== c.id), []);
});

leakTest(env);
