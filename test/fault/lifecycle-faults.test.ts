/**
 * Fault injection: stasis is SIGKILLed at each addressable point of create, start, exec and delete
 * (STASIS_FAULT, see src/runtime/trace.ts). Afterwards `state`/`list` must tell the truth, and
 * `delete --force` (or a rerun) must clean up: no process, cgroup, mount or state directory is left.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { TestEnv, cgroupDirs, leakTest } from '../support/env';
import { bundleSkipReason } from '../support/bundle';
import { show } from '../support/run';
import { alive, waitFor } from '../support/proc';

const skip = bundleSkipReason();
const env = new TestEnv('fault');
after(() => env.dispose());

const withFault = (point: string) => ({ env: { ...process.env, STASIS_FAULT: point } });

/** After a fault: state is a valid status or "does not exist"; delete --force leaves nothing. */
async function checkRecovery(id: string, cgroupsPath: string): Promise<void> {
  const st = await env.run(['state', id]);
  if (st.code === 0) {
    const status = (JSON.parse(st.stdout) as { status: string }).status;
    assert.ok(['created', 'running', 'stopped'].includes(status), `state after the fault: ${status}`);
  } else {
    assert.match(st.stderr, /does not exist/, show(st));
  }
  const list = await env.run(['list', '--format', 'json']);
  assert.equal(list.code, 0, show(list));
  const del = await env.run(['delete', '--force', id]);
  assert.equal(del.code, 0, show(del));
  assert.ok(!env.stateEntries().includes(id), 'state directory removed');
  assert.deepEqual(cgroupDirs(cgroupsPath), [], 'cgroup removed');
}

for (const point of ['create:claimed', 'create:setup', 'create:ready']) {
  test(`killed at ${point}: delete --force cleans up, the id can be used again`, { skip }, async (t) => {
    const c = env.bundle(t, { args: ['sleep', '1000'] });
    const r = await env.run(['create', '-b', c.dir, c.id], withFault(point));
    assert.equal(r.signal, 'SIGKILL', show(r));
    await checkRecovery(c.id, c.cgroupsPath);
    const again = await env.run(['create', '-b', c.dir, c.id]);
    assert.equal(again.code, 0, show(again));
  });
}

test('killed at start:opened: the container runs and state says so', { skip }, async (t) => {
  const c = env.bundle(t, { args: ['sleep', '1000'] });
  const pidFile = `${c.dir}/pid`;
  assert.equal((await env.run(['create', '--pid-file', pidFile, '-b', c.dir, c.id])).code, 0);
  const r = await env.run(['start', c.id], withFault('start:opened'));
  assert.equal(r.signal, 'SIGKILL', show(r));
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  assert.ok(alive(pid), 'the user process was started');
  // The fifo is still there, but the process no longer waits on it: a later start must not hang or lie.
  await checkRecovery(c.id, c.cgroupsPath);
  await waitFor(() => !alive(pid));
});

test('killed at exec:spawned: the half-made exec process goes away, the container is untouched', { skip }, async (t) => {
  const { c } = await env.startDetached(t);
  const r = await env.run(['exec', c.id, 'sleep', '1000'], withFault('exec:spawned'));
  assert.equal(r.signal, 'SIGKILL', show(r));
  const st = await env.run(['state', c.id]);
  assert.equal(JSON.parse(st.stdout).status, 'running', 'the container itself is untouched');
  // The exec child was waiting at its setup sync point; with stasis gone its control socket closes and it
  // exits before ever running the command, so the container holds its init only.
  await waitFor(async () => {
    const ps = await env.run(['ps', '--format', 'json', c.id]);
    return (JSON.parse(ps.stdout) as number[]).length === 1;
  });
  await checkRecovery(c.id, c.cgroupsPath);
});

for (const point of ['delete:killed', 'delete:cgroup-removed']) {
  test(`killed at ${point}: the container reads as stopped and a rerun of delete finishes the job`, { skip }, async (t) => {
    const { c, pid } = await env.startDetached(t);
    const r = await env.run(['delete', '--force', c.id], withFault(point));
    assert.equal(r.signal, 'SIGKILL', show(r));
    await waitFor(() => !alive(pid));
    const st = await env.run(['state', c.id]);
    assert.equal(JSON.parse(st.stdout).status, 'stopped', show(st));
    await checkRecovery(c.id, c.cgroupsPath);
  });
}

leakTest(env);
