/**
 * Fuzzed config.json and process.json: every case must end in a one-line error (one stderr line, no stack
 * frames, non-zero exit) or a valid container that is then deleted — never a crash, a hang or a leak.
 *
 * The bulk goes through the library (parseJson → validateSpec → buildInitPlan / validateProcess →
 * buildExecPlan), where a non-SpecError/PlanError exception is a crash. A seeded subset goes through the
 * real CLI (`create`, then `delete --force` when it succeeded), with a per-case timeout and a leak check
 * (state dir, cgroup dirs, mounts) after every case; another subset through `exec --process`.
 * FUZZ_SEED, FUZZ_CASES, FUZZ_CLI_CASES and FUZZ_EXEC_CASES change the run; failures print the seed and index.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseJson, validateProcess, validateSpec, SpecError } from '../../src/spec';
import { buildExecPlan, buildInitPlan, PlanError, type HostFacts } from '../../src/plan';
import { Lab, labSkipReason } from '../security/lab';
import { makeBundle } from '../support/bundle';
import { show, type RunResult } from '../support/run';
import { fuzzCase, fuzzProcess } from './generator';

const SEED = Number(process.env.FUZZ_SEED ?? 20240131);
const CASES = Number(process.env.FUZZ_CASES ?? 1200);
const CLI_CASES = Number(process.env.FUZZ_CLI_CASES ?? 150);
const EXEC_CASES = Number(process.env.FUZZ_EXEC_CASES ?? 40);
const CASE_TIMEOUT_MS = 15_000;

const skip = labSkipReason();
const lab = new Lab('fz', 'stasis-fuzz');
const totals = { cases: 0, created: 0, leaks: 0 };

/** A host where every bind source is a directory and everything sits on the root mount. */
const FAKE_HOST: HostFacts = { fileKind: () => 'dir', mountPointOf: () => '/' };

function isOneLine(msg: string): boolean {
  return !msg.includes('\n') && msg.length > 0;
}

/** Runs one case through the library; returns a failure description or undefined. */
function libraryCase(text: string): string | undefined {
  try {
    const spec = validateSpec(parseJson(text, 'config.json'), 'config.json', { requireProcess: false });
    buildInitPlan({ spec, rootfs: '/tmp/fuzz-rootfs', fifoPath: '/tmp/fuzz-fifo', noPivot: false, preserveFds: 0, foreground: false, host: FAKE_HOST, bundle: '/tmp' });
    if (spec.process) {
      const proc = validateProcess(JSON.parse(JSON.stringify(spec.process)), 'process.json');
      buildExecPlan({ spec, process: proc, pid: 1, detach: true, preserveFds: 0 });
    }
    return undefined;
  } catch (err) {
    if (err instanceof SpecError || err instanceof PlanError) {
      return isOneLine(err.message) ? undefined : `multi-line message: ${JSON.stringify(err.message.slice(0, 300))}`;
    }
    return `crash: ${(err as Error)?.stack?.split('\n').slice(0, 3).join(' | ') ?? String(err)}`;
  }
}

test(`library: ${CASES} generated specs end in a SpecError/PlanError or a plan`, () => {
  const failures: string[] = [];
  for (let i = 0; i < CASES; i++) {
    const c = fuzzCase(SEED, i);
    const started = Date.now();
    const f = libraryCase(c.text);
    const took = Date.now() - started;
    if (f) failures.push(`seed ${SEED} case ${i} [${c.mutations.join('; ')}]: ${f}`);
    else if (took > 2000) failures.push(`seed ${SEED} case ${i} [${c.mutations.join('; ')}]: took ${took} ms`);
  }
  totals.cases += CASES;
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} failing cases`);
});

/** The one-line-error contract of the CLI. */
function cliFailure(r: RunResult): string | undefined {
  if (r.signal) return `killed by ${r.signal} (hang?)`;
  if (r.code === 0) return undefined;
  const lines = r.stderr.trimEnd().split('\n');
  if (lines.length !== 1) return `stderr has ${lines.length} lines: ${r.stderr.slice(0, 400)}`;
  if (/\bat .*:\d+:\d+\)?$/.test(lines[0]) || /^\s+at /m.test(r.stderr)) return `stack frame in stderr: ${lines[0]}`;
  if (!lines[0].startsWith('stasis: ')) return `stderr not a stasis error line: ${lines[0].slice(0, 200)}`;
  return undefined;
}

/** Cgroup directories a case may have created: its own, the default parent's, and its (sane) cgroupsPath. */
function cgroupCandidates(id: string, cgroupsPath: string, text: string): string[] {
  const rel = [cgroupsPath, `/stasis/${id}`];
  try {
    const p = (JSON.parse(text) as any)?.linux?.cgroupsPath;
    if (typeof p === 'string' && p && !p.split('/').includes('..') && p !== '/') rel.push(p.startsWith('/') ? p : `/${p}`);
  } catch {
    /* not JSON: nothing else */
  }
  const out: string[] = [];
  for (const h of fs.readdirSync('/sys/fs/cgroup')) for (const r of rel) out.push(path.join('/sys/fs/cgroup', h, r));
  return out;
}

function caseLeaks(id: string, candidates: string[]): string[] {
  const left = candidates.filter((d) => fs.existsSync(d));
  if (fs.existsSync(path.join(lab.root, id))) left.push(path.join(lab.root, id));
  left.push(...lab.leakedMounts());
  return left;
}

test(`cli: ${CLI_CASES} generated bundles through create (+ delete)`, { skip, timeout: 240_000 }, async () => {
  const bundle = makeBundle(lab.scratch('bundle'));
  const failures: string[] = [];
  const step = Math.max(1, Math.floor(CASES / CLI_CASES));
  for (let n = 0; n < CLI_CASES; n++) {
    const c = fuzzCase(SEED, n * step);
    const { id, cgroupsPath } = lab.next();
    // The base spec's cgroupsPath is ours; a mutation may still replace it.
    let text = c.text;
    try {
      const doc = JSON.parse(text);
      if (doc?.linux && typeof doc.linux === 'object' && doc.linux.cgroupsPath === undefined) {
        doc.linux.cgroupsPath = cgroupsPath;
        text = JSON.stringify(doc);
      }
    } catch {
      /* broken JSON stays broken */
    }
    fs.writeFileSync(bundle.config, text);
    lab.track(id);
    const r = await lab.run(['create', '-b', bundle.dir, id], { timeoutMs: CASE_TIMEOUT_MS });
    const label = `seed ${SEED} case ${n * step} [${c.mutations.join('; ')}]`;
    const f = cliFailure(r);
    if (f) failures.push(`${label}: ${f}`);
    if (r.code === 0) {
      totals.created++;
      const d = await lab.run(['delete', '--force', id], { timeoutMs: CASE_TIMEOUT_MS });
      if (d.code !== 0) failures.push(`${label}: delete failed: ${show(d)}`);
    } else if (r.signal) {
      await lab.remove(id);
    }
    const leaks = caseLeaks(id, cgroupCandidates(id, cgroupsPath, text));
    if (leaks.length) {
      totals.leaks += leaks.length;
      failures.push(`${label}: leaked ${leaks.join(', ')}`);
      await lab.remove(id);
    }
  }
  totals.cases += CLI_CASES;
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} failing cases`);
});

test(`cli: ${EXEC_CASES} generated process.json through exec --process`, { skip, timeout: 240_000 }, async (t) => {
  const c = lab.bundle(t, { args: ['sleep', '1000'] });
  const r = await lab.run(['run', '-d', '-b', c.dir, c.id]);
  assert.equal(r.code, 0, show(r));
  const file = lab.scratch('process.json');
  const failures: string[] = [];
  for (let i = 0; i < EXEC_CASES; i++) {
    const p = fuzzProcess(SEED, i);
    fs.writeFileSync(file, p.text);
    const x = await lab.run(['exec', '-p', file, c.id], { timeoutMs: CASE_TIMEOUT_MS });
    const f = cliFailure(x);
    if (f && !(x.code !== null && x.code > 1 && x.code < 256 && !x.signal && x.stderr === '')) {
      // A process that ran and exited non-zero with nothing on stderr is a valid outcome too.
      failures.push(`seed ${SEED} process case ${i} [${p.mutations.join('; ')}]: ${f}`);
    }
  }
  const s = await lab.run(['state', c.id]);
  assert.equal(JSON.parse(s.stdout).status, 'running', 'the container did not survive the exec cases');
  totals.cases += EXEC_CASES;
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} failing cases`);
});

test('leaves no cgroups, mounts or state behind', async () => {
  const leaks = await lab.dispose();
  totals.leaks += leaks.cgroups.length + leaks.mounts.length + leaks.state.length;
  console.log(`fuzz: ${totals.cases} cases, ${totals.created} containers created, leaks ${totals.leaks}`);
  assert.deepEqual(leaks, { cgroups: [], mounts: [], state: [] });
});
