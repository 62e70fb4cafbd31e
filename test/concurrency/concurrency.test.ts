/**
 * Concurrent commands: 100 containers created, started, killed and deleted by parallel commands (at most 8
 * at a time), and parallel state / kill / delete on one container. Every command must either succeed or fail
 * with a one-line error; exactly one of several racing deletes succeeds (the others say "does not exist");
 * `state` never sees a torn state.json; nothing is left in the state root or the cgroup tree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab, labSkipReason } from '../security/lab';
import { makeBundle } from '../support/bundle';
import { show, type RunResult } from '../support/run';
import { waitFor } from '../support/proc';

const skip = labSkipReason();
const lab = new Lab('cc', 'stasis-conc');
const PARALLEL = 8;
const COUNT = Number(process.env.CONCURRENCY_COUNT ?? 100);

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

let sharedRootfs: string | undefined;

/** A bundle of only a config.json whose root is a shared read-only rootfs (cheap to make 100 of). */
function lightBundle(id: string, cgroupsPath: string): string {
  if (!sharedRootfs) sharedRootfs = makeBundle(lab.scratch('shared')).rootfs;
  const base = JSON.parse(fs.readFileSync(path.join(lab.scratch('shared'), 'config.json'), 'utf8'));
  base.root = { path: sharedRootfs, readonly: true };
  base.process.args = ['sleep', '1000'];
  base.linux.cgroupsPath = cgroupsPath;
  const dir = lab.scratch(`b-${id}`);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(base));
  return dir;
}

function oneLineError(r: RunResult): boolean {
  return r.code !== 0 && r.stderr.trimEnd().split('\n').length === 1 && r.stderr.startsWith('stasis: ');
}

async function status(id: string): Promise<string | undefined> {
  const r = await lab.run(['state', id]);
  return r.code === 0 ? (JSON.parse(r.stdout) as { status: string }).status : undefined;
}

test(`${COUNT} containers created, started, killed and deleted ${PARALLEL} at a time`, { skip, timeout: 300_000 }, async () => {
  const ids = Array.from({ length: COUNT }, () => lab.next());
  const counts = { created: 0, started: 0, killed: 0, stopped: 0, deleted: 0 };
  const failures: string[] = [];
  await pool(ids, PARALLEL, async ({ id, cgroupsPath }) => {
    lab.track(id);
    const dir = lightBundle(id, cgroupsPath);
    const steps: [keyof typeof counts, () => Promise<RunResult | boolean>][] = [
      ['created', () => lab.run(['create', '-b', dir, id])],
      ['started', () => lab.run(['start', id])],
      ['killed', () => lab.run(['kill', id, 'KILL'])],
      ['stopped', async () => (await waitFor(async () => (await status(id)) === 'stopped', 10_000)) === true],
      ['deleted', () => lab.run(['delete', id])],
    ];
    for (const [name, run] of steps) {
      const r = await run();
      const ok = typeof r === 'boolean' ? r : r.code === 0;
      if (!ok) {
        failures.push(`${id} ${name}: ${typeof r === 'boolean' ? `status ${await status(id)}` : show(r)}`);
        return;
      }
      counts[name]++;
    }
  });
  console.log(`concurrency: ${COUNT} containers: created ${counts.created}, started ${counts.started}, killed ${counts.killed}, stopped ${counts.stopped}, deleted ${counts.deleted}`);
  assert.deepEqual(failures.slice(0, 10), []);
  assert.equal(counts.deleted, COUNT);
  assert.deepEqual(lab.leakedState(), []);
  assert.deepEqual(lab.leakedCgroups(), []);
});

/** Checks a finished `state`: valid JSON for this id in an expected status, or a one-line "does not exist". */
function checkState(id: string, x: RunResult, statuses: string[]): 'ok' | 'gone' {
  if (x.code === 0) {
    const st = JSON.parse(x.stdout) as { id: string; status: string };
    assert.equal(st.id, id);
    assert.ok(statuses.includes(st.status), x.stdout);
    return 'ok';
  }
  assert.ok(oneLineError(x), show(x));
  assert.match(x.stderr, /does not exist/, show(x));
  return 'gone';
}

test('parallel state / kill / delete on one container: one delete wins, no torn state', { skip, timeout: 120_000 }, async () => {
  const rounds = 5;
  const t = { deletesOk: 0, deletesNotFound: 0, states: 0, statesGone: 0, kills: 0, killErrors: 0 };
  for (let round = 0; round < rounds; round++) {
    const { id, cgroupsPath } = lab.next();
    lab.track(id);
    const r = await lab.run(['run', '-d', '-b', lightBundle(id, cgroupsPath), id]);
    assert.equal(r.code, 0, show(r));
    // Running: states race with kills.
    const a = await Promise.all([
      ...Array.from({ length: 8 }, () => lab.run(['state', id]).then((x) => ({ kind: 'state', x }))),
      ...Array.from({ length: 4 }, () => lab.run(['kill', id, 'KILL']).then((x) => ({ kind: 'kill', x }))),
    ]);
    for (const { kind, x } of a) {
      if (kind === 'state') assert.equal(checkState(id, x, ['running', 'stopped']), 'ok');
      else if (x.code === 0) t.kills++;
      else {
        assert.ok(oneLineError(x), show(x)); // a kill that lost the race to the process's death
        t.killErrors++;
      }
    }
    assert.equal(await waitFor(async () => (await status(id)) === 'stopped', 10_000), true, 'not stopped after kill');
    // Stopped: plain deletes race with states; exactly one delete may win.
    const b = await Promise.all([
      ...Array.from({ length: 6 }, () => lab.run(['delete', id]).then((x) => ({ kind: 'delete', x }))),
      ...Array.from({ length: 8 }, () => lab.run(['state', id]).then((x) => ({ kind: 'state', x }))),
    ]);
    const deletes = b.filter((d) => d.kind === 'delete');
    const won = deletes.filter((d) => d.x.code === 0).length;
    assert.equal(won, 1, `round ${round}: ${won} deletes succeeded:\n${deletes.map((d) => show(d.x)).join('\n')}`);
    for (const d of deletes) if (d.x.code !== 0) assert.ok(oneLineError(d.x) && /does not exist/.test(d.x.stderr), show(d.x));
    for (const s2 of b.filter((d) => d.kind === 'state')) {
      if (checkState(id, s2.x, ['stopped']) === 'ok') t.states++;
      else t.statesGone++;
    }
    t.deletesOk += won;
    t.deletesNotFound += deletes.length - won;
    assert.equal(fs.existsSync(path.join(lab.root, id)), false, 'state directory left');
  }
  console.log(
    `concurrency: ${rounds} races on one container: deletes ok ${t.deletesOk}, "does not exist" ${t.deletesNotFound}, ` +
      `states ok ${t.states}, states "does not exist" ${t.statesGone}, kills ok ${t.kills}, kills refused ${t.killErrors}`,
  );
  assert.equal(t.deletesOk, rounds);
  assert.deepEqual(lab.leakedCgroups(), []);
});

test('parallel delete --force on a running container: all succeed quietly (as runc), the work is done once', { skip, timeout: 60_000 }, async () => {
  const { id, cgroupsPath } = lab.next();
  lab.track(id);
  const pidFile = lab.scratch(`${id}.pid`);
  const r = await lab.run(['run', '-d', '--pid-file', pidFile, '-b', lightBundle(id, cgroupsPath), id]);
  assert.equal(r.code, 0, show(r));
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  const results = await Promise.all(Array.from({ length: 6 }, () => lab.run(['delete', '--force', id])));
  for (const x of results) assert.equal(x.code, 0, show(x));
  assert.equal(fs.existsSync(path.join(lab.root, id)), false);
  assert.equal(await waitFor(() => !fs.existsSync(`/proc/${pid}`), 5000), true, `init ${pid} survived`);
  assert.deepEqual(lab.leakedCgroups(), []);
});

test('leaves no cgroups, mounts or state behind', async () => {
  assert.deepEqual(await lab.dispose(), { cgroups: [], mounts: [], state: [] });
});
