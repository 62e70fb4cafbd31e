/**
 * The C test programs under programs/ (sources in the repository, compiled by the test that needs them with
 * `gcc -static -pthread` into the bundle) and the way tests talk to the `fidelity` program: touch
 * /tmp/verify in its rootfs, wait for /tmp/report.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO, World, waitFor } from './harness';

/** Source directory of the programs. */
export const PROGRAMS = path.join(REPO, 'test', 'integration', 'checkpoint', 'programs');

/** Why no static program can be built here, or undefined. */
export function toolchainMissing(): string | undefined {
  const r = spawnSync('gcc', ['--version'], { stdio: 'ignore' });
  return r.status === 0 ? undefined : 'needs gcc with static glibc (gcc -static -pthread)';
}

/** Compiles programs/<name>.c into `<rootfs>/bin/<name>`; throws with gcc's output on failure. */
export function buildProgram(rootfs: string, name: string): string {
  const out = path.join(rootfs, 'bin', name);
  const r = spawnSync('gcc', ['-static', '-pthread', '-O2', '-o', out, path.join(PROGRAMS, `${name}.c`)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot build ${name}.c: ${r.stderr || r.error?.message}`);
  return out;
}

/** A World running `fidelity ANON_MIB SHARED_MIB` as its init. */
export function fidelityWorld(anonMiB: number, sharedMiB: number, edit?: (spec: Record<string, any>) => void): World {
  const w = new World('true', (spec) => {
    spec.process.args = ['/bin/fidelity', String(anonMiB), String(sharedMiB)];
    edit?.(spec);
  });
  buildProgram(path.join(w.bundle, 'rootfs'), 'fidelity');
  return w;
}

function tmp(w: World, name: string): string {
  return path.join(w.bundle, 'rootfs', 'tmp', name);
}

/** Waits until the program has set everything up (its memory is filled). */
export function waitReady(w: World, timeoutMs = 20000): Promise<void> {
  return waitFor('the fidelity program to be ready', () => fs.existsSync(tmp(w, 'ready')), timeoutMs);
}

/** Asks the running program to check itself; resolves to its report lines (without the final "end"). */
export async function verify(w: World, timeoutMs = 20000): Promise<string[]> {
  fs.rmSync(tmp(w, 'report'), { force: true });
  fs.writeFileSync(tmp(w, 'verify'), '');
  await waitFor('the fidelity report', () => fs.existsSync(tmp(w, 'report')), timeoutMs);
  const lines = fs.readFileSync(tmp(w, 'report'), 'utf8').trim().split('\n');
  if (lines.at(-1) !== 'end') throw new Error(`truncated fidelity report: ${lines.join(' | ')}`);
  return lines.slice(0, -1);
}

/** The checks every report must contain. */
export const FIDELITY_CHECKS = [
  'anon-memory', 'shared-memory', 'dev-shm-mapping', 'socket-inflight', 'pipe-inflight', 'child-pipe-socketpair',
  'process-tree', 'open-file', 'deleted-open-file', 'threads', 'timerfd', 'setitimer', 'pending-signals',
];

/** The failed lines of a report, plus a line for every check missing from it (empty when all passed). */
export function failures(report: readonly string[]): string[] {
  const bad = report.filter((l) => !l.endsWith(' ok'));
  const seen = new Set(report.map((l) => l.split(' ')[0]));
  return [...bad, ...FIDELITY_CHECKS.filter((c) => !seen.has(c)).map((c) => `${c} missing from the report`)];
}
