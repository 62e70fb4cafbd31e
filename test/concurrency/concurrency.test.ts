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

test('parallel state / kill / delete --force on one container: one delete wins, no torn state', { skip, timeout: 120_000 }, async () => {
  const rounds = 5;
  const totals = { deletesOk: 0, deletesNotFound: 0, states: 0, statesNotFound: 0, kills: 0 };
  for (let round = 0; round < rounds; round++) {
    const { id, cgroupsPath } = lab.next();
    lab.track(id);
    const dir = lightBundle(id, cgroupsPath);
    const r = await lab.run(['run', '-d', '-b', dir, id]);
    assert.equal(r.code, 0, show(r));
    const calls: Promise<{ kind: string; r: RunResult }>[] = [];
    for (let i = 0; i < 8; i++) {
      calls.push(lab.run(['state', id]).then((x) => ({ kind: 'state', r: x })));
      if (i < 4) calls.push(lab.run(['kill', id, 'KILL']).then((x) => ({ kind: 'kill', r: x })));
      if (i < 6) calls.push(lab.run(['delete', '--force', id]).then((x) => ({ kind: 'delete', r: x })));
    }
    const results = await Promise.all(calls);
    const deletes = results.filter((x) => x.kind === 'delete');
    const won = deletes.filter((x) => x.r.code === 0);
    assert.equal(won.length, 1, `round ${round}: ${won.length} deletes succeeded:\n${deletes.map((d) => show(d.r)).join('\n')}`);
    for (const d of deletes) if (d.r.code !== 0) assert.match(d.r.stderr, /does not exist/, show(d.r));
    for (const { kind, r: x } of results) {
      if (x.code === 0) {
        if (kind === 'state') {
          const st = JSON.parse(x.stdout) as { id: string; status: string; pid: number };
          assert.equal(st.id, id);
          assert.ok(['running', 'stopped'].includes(st.status), x.stdout);
          totals.states++;
        } else if (kind === 'kill') totals.kills++;
      } else {
        assert.ok(oneLineError(x), `${kind}: ${show(x)}`);
        if (kind === 'state') {
          assert.match(x.stderr, /does not exist/, show(x));
          totals.statesNotFound++;
        }
      }
    }
    totals.deletesOk += won.length;
    totals.deletesNotFound += deletes.length - won.length;
    assert.equal(fs.existsSync(path.join(lab.root, id)), false, 'state directory left');
    const after = await lab.run(['state', id]);
    assert.match(after.stderr, /does not exist/);
  }
  console.log(
    `concurrency: ${rounds} races on one container: deletes ok ${totals.deletesOk}, "does not exist" ${totals.deletesNotFound}, ` +
      `states ok ${totals.states}, states after delete ${totals.statesNotFound}, kills ok ${totals.kills}`,
  );
  assert.deepEqual(lab.leakedCgroups(), []);
});

test('leaves no cgroups, mounts or state behind', async () => {
  assert.deepEqual(await lab.dispose(), { cgroups: [], mounts: [], state: [] });
});
