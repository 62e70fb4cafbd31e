/**
 * Fault injection in the C helper: STASIS_HELPER_FAULT=<i> makes the helper process that is about to run
 * step i of its plan SIGKILL itself (native/helper/main.c). For a representative create plan and an exec plan
 * the helper is killed at every step in turn. Afterwards the command has failed with one line (or, past
 * READY, the container reads as stopped), `state`/`list` tell the truth, and no helper process, cgroup, host
 * mount or state directory is left: the failed command cleaned up by itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { TestEnv, cgroupDirs, leakTest, type TestContainer } from '../support/env';
import { bundleSkipReason } from '../support/bundle';
import { show, type RunResult } from '../support/run';
import { waitFor } from '../support/proc';

const skip = bundleSkipReason();
const env = new TestEnv('hfault');

const MARK = 'STASIS_HELPER_FAULT=';
const atStep = (i: number) => ({ env: { ...process.env, STASIS_HELPER_FAULT: String(i) } });

/** The steps of the plan a command runs, read from the helper's debug log (`plan of N ops`, `step i: OP`). */
function stepsFromLog(logFile: string): string[] {
  const text = fs.readFileSync(logFile, 'utf8');
  const count = Number(/plan of (\d+) ops accepted/.exec(text)?.[1] ?? NaN);
  assert.ok(count > 0, `no plan in the debug log:\n${text}`);
  // Steps after READY run once stasis has stopped reading the log; they keep the name "after-ready".
  const names: string[] = Array.from({ length: count }, () => 'after-ready');
  for (const m of text.matchAll(/step (\d+): ([A-Z_]+)/g)) names[Number(m[1])] = m[2];
  // stasis logs the plan it sends (`plan ops: 0:OP 1:OP …`): every name, also past what the helper logged.
  const planLine = /plan ops: ([^"\n]*)/.exec(text)?.[1];
  for (const m of planLine?.matchAll(/(\d+):([A-Z_]+)/g) ?? []) names[Number(m[1])] = m[2];
  return names;
}

/** Helper processes still alive: only a helper (before it execs the container process) has the marker. */
function helperProcesses(): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const environ = fs.readFileSync(`/proc/${d}/environ`, 'latin1');
      if (environ.split('\0').some((e) => e.startsWith(MARK)) && fs.readFileSync(`/proc/${d}/comm`, 'utf8').trim() !== 'node') out.push(Number(d));
    } catch {
      /* gone, or a kernel thread */
    }
  }
  return out;
}

/** Waits briefly for killed helpers to be gone, then returns the ones still alive (expected: none). */
async function helpersLeft(): Promise<number[]> {
  await waitFor(() => helperProcesses().length === 0, 3000);
  return helperProcesses();
}

/** A failed command printed exactly one `stasis: …` line and no stack trace. */
function assertOneLineError(r: RunResult, what: string): void {
  assert.notEqual(r.code, 0, `${what} should fail\n${show(r)}`);
  assert.equal(r.signal, null, `stasis itself must not die\n${show(r)}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `${what}: one error line expected\n${show(r)}`);
  assert.match(lines[0], /^stasis: \S/, show(r));
}

/** Nothing of container `c` is left: no state directory, cgroup, host mount or helper process. */
async function assertGone(c: TestContainer): Promise<void> {
  const st = await env.run(['state', c.id]);
  assert.notEqual(st.code, 0, `state must not find ${c.id}\n${show(st)}`);
  assert.match(st.stderr, /does not exist/, show(st));
  const list = await env.run(['list', '--format', 'json']);
  assert.equal(list.code, 0, show(list));
  assert.ok(!list.stdout.includes(`"${c.id}"`), `list still shows ${c.id}: ${list.stdout}`);
  assert.ok(!env.stateEntries().includes(c.id), 'state directory left');
  assert.deepEqual(cgroupDirs(c.cgroupsPath), [], 'cgroup left');
  assert.deepEqual(env.leakedMounts(), [], 'host mount left');
  assert.deepEqual(await helpersLeft(), [], 'helper process left');
}

test('create: the helper killed at every step of the plan leaves nothing, and state tells the truth', { skip, timeout: 600_000 }, async (t) => {
  // Learn the plan once from a clean create with the helper's debug log.
  const probe = env.bundle(t, { args: ['sleep', '1000'] });
  const log = env.scratch('create-plan.log');
  const ok = await env.run(['--debug', '--log', log, 'create', '-b', probe.dir, probe.id]);
  assert.equal(ok.code, 0, show(ok));
  await env.remove(probe.id);
  const steps = stepsFromLog(log);
  const ready = steps.indexOf('READY');
  assert.ok(ready > 0, `READY not found in ${steps.join(' ')}`);
  t.diagnostic(`create plan: ${steps.length} steps, READY at ${ready}`);

  for (let i = 0; i < steps.length; i++) {
    await t.test(`step ${i} (${steps[i]})`, async (st) => {
      const c = env.bundle(st, { args: ['sleep', '1000'] });
      const r = await env.run(['create', '-b', c.dir, c.id], atStep(i));
      if (i <= ready) {
        // Setup never finished (the helper dies before running READY): create must undo everything it made and say so in one line.
        assertOneLineError(r, 'create');
        st.diagnostic(r.stderr.trim());
        await assertGone(c);
        return;
      }
      // Setup finished (READY); the init dies between the start gate and exec of the user process.
      assert.equal(r.code, 0, show(r));
      const start = await env.run(['start', c.id]);
      if (start.code !== 0) assertOneLineError(start, 'start');
      const stopped = await waitFor(async () => {
        const s = await env.run(['state', c.id]);
        return s.code === 0 && (JSON.parse(s.stdout) as { status: string }).status === 'stopped';
      });
      assert.ok(stopped, 'the container whose init died reads as stopped');
      const del = await env.run(['delete', c.id]);
      assert.equal(del.code, 0, show(del));
      await assertGone(c);
    });
  }
});

test('exec: the helper killed at every step of the plan leaves the container as it was', { skip, timeout: 600_000 }, async (t) => {
  const { c } = await env.startDetached(t);
  const log = env.scratch('exec-plan.log');
  const ok = await env.run(['--debug', '--log', log, 'exec', c.id, 'true']);
  assert.equal(ok.code, 0, show(ok));
  const steps = stepsFromLog(log);
  t.diagnostic(`exec plan: ${steps.length} steps`);
  const onlyInit = async () => {
    const ps = await env.run(['ps', '--format', 'json', c.id]);
    return ps.code === 0 && (JSON.parse(ps.stdout) as number[]).length === 1;
  };

  for (let i = 0; i < steps.length; i++) {
    await t.test(`step ${i} (${steps[i]})`, async (st) => {
      const r = await env.run(['exec', c.id, 'true'], atStep(i));
      st.diagnostic(r.code === 137 ? 'exit 137' : r.stderr.trim());
      // Either exec reports its own failure in one line, or the exec'd process was killed before it ran
      // `true` and exec passes that on as 128+9, like any process killed by SIGKILL.
      if (r.code !== 137) assertOneLineError(r, 'exec');
      const state = await env.run(['state', c.id]);
      assert.equal((JSON.parse(state.stdout) as { status: string }).status, 'running', show(state));
      assert.ok(await waitFor(onlyInit), 'the container holds its init only');
      assert.deepEqual(await helpersLeft(), [], 'helper process left');
    });
  }
  const after = await env.run(['exec', c.id, 'true']);
  assert.equal(after.code, 0, `exec still works afterwards\n${show(after)}`);
});

leakTest(env);
