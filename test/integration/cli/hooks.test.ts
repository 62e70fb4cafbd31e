/**
 * Hooks: all six phases append the state JSON they get on stdin to one log; order and status fields are
 * checked. A failing or hanging prestart hook makes create fail and leaves nothing behind.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TestEnv, cgroupDirs, leakTest } from '../../support/env';
import { bundleSkipReason } from '../../support/bundle';
import { show } from '../../support/run';
import type { Hook } from '../../../src/spec/types';

const skip = bundleSkipReason();
const env = new TestEnv('hooks');
after(() => env.dispose());

/**
 * A hook that appends "<phase> <stdin>" as one line to `log` (one write, so concurrent hooks cannot mix
 * their lines), after sleeping `delay` seconds.
 */
function hostHook(phase: string, log: string, delay = 0): Hook {
  return { path: '/bin/sh', args: ['sh', '-c', `s=$(cat); sleep ${delay}; echo "${phase} $s" >> ${log}`] };
}

interface Logged {
  phase: string;
  state: Record<string, unknown>;
}

function readLog(file: string): Logged[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const sp = l.indexOf(' ');
      return { phase: l.slice(0, sp), state: JSON.parse(l.slice(sp + 1)) as Record<string, unknown> };
    });
}

test('all six hooks run in order with the state on stdin', { skip }, async (t) => {
  const logDir = env.scratch('hooklog');
  fs.mkdirSync(logDir, { recursive: true });
  const log = path.join(logDir, 'log');
  fs.writeFileSync(log, '');
  const { c, pid } = await env.startDetached(t, {
    tweak: (s) => {
      s.mounts!.push({ destination: '/hooklog', type: 'bind', source: logDir, options: ['rbind', 'rw'] });
      s.hooks = {
        prestart: [hostHook('prestart', log)],
        createRuntime: [hostHook('createRuntime', log)],
        createContainer: [hostHook('createContainer', log)],
        // startContainer runs inside the container after pivot_root: the path resolves in its rootfs.
        // It sleeps so that a start that returns (and runs poststart) before the user process is
        // executed shows up as a wrong order, not as a rare flake.
        startContainer: [hostHook('startContainer', '/hooklog/log', 0.3)],
        poststart: [hostHook('poststart', log)],
        poststop: [hostHook('poststop', log)],
      };
    },
  });
  const del = await env.run(['delete', '--force', c.id]);
  assert.equal(del.code, 0, show(del));
  const entries = readLog(log);
  assert.deepEqual(
    entries.map((e) => e.phase),
    ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
  );
  for (const e of entries) {
    assert.equal(e.state.id, c.id, `${e.phase} id`);
    assert.equal(e.state.bundle, c.dir, `${e.phase} bundle`);
    assert.equal(e.state.ociVersion, '1.2.1');
  }
  const byPhase = Object.fromEntries(entries.map((e) => [e.phase, e.state]));
  // The spec leaves the exact status of the create-time hooks open (runc has used both): not yet running.
  for (const phase of ['prestart', 'createRuntime', 'createContainer']) {
    assert.ok(['creating', 'created'].includes(String(byPhase[phase].status)), `${phase}: ${byPhase[phase].status}`);
  }
  assert.ok(['created', 'running'].includes(String(byPhase.startContainer.status)), `startContainer: ${byPhase.startContainer.status}`);
  assert.equal(byPhase.poststart.status, 'running');
  assert.equal(byPhase.poststop.status, 'stopped');
  for (const phase of ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart']) {
    assert.equal(byPhase[phase].pid, pid, `${phase} pid`);
  }
});

test('a failing prestart hook fails create and leaves nothing behind', { skip }, async (t) => {
  const c = env.bundle(t, {
    args: ['sleep', '1000'],
    tweak: (s) => (s.hooks = { prestart: [{ path: '/bin/sh', args: ['sh', '-c', 'echo hook-says-no >&2; exit 3'] }] }),
  });
  const r = await env.run(['create', '-b', c.dir, c.id]);
  assert.notEqual(r.code, 0);
  assert.equal(r.stderr.trim().split('\n').length, 1, show(r));
  assert.match(r.stderr, /prestart/);
  assert.match(r.stderr, /hook-says-no|exit status 3/);
  assert.ok(!env.stateEntries().includes(c.id), 'no state');
  assert.deepEqual(cgroupDirs(c.cgroupsPath), [], 'no cgroup');
});

test('a prestart hook that hangs past its timeout fails create', { skip }, async (t) => {
  const c = env.bundle(t, {
    args: ['sleep', '1000'],
    tweak: (s) => (s.hooks = { prestart: [{ path: '/bin/sleep', args: ['sleep', '30'], timeout: 1 }] }),
  });
  const started = Date.now();
  const r = await env.run(['create', '-b', c.dir, c.id]);
  const took = Date.now() - started;
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /timed out|timeout/, show(r));
  assert.ok(took < 10_000, `create gave up after ${took} ms`);
  assert.ok(!env.stateEntries().includes(c.id));
  assert.deepEqual(cgroupDirs(c.cgroupsPath), []);
});

test('a failing poststart hook is a warning: the container keeps running', { skip }, async (t) => {
  const c = env.bundle(t, {
    args: ['sleep', '1000'],
    tweak: (s) => (s.hooks = { poststart: [{ path: '/bin/false' }] }),
  });
  assert.equal((await env.run(['create', '-b', c.dir, c.id])).code, 0);
  const st = await env.run(['start', c.id]);
  assert.equal(st.code, 0, show(st));
  assert.match(st.stderr, /poststart/, 'the failure is reported');
  const state = JSON.parse((await env.run(['state', c.id])).stdout) as { status: string };
  assert.equal(state.status, 'running');
});

leakTest(env);
