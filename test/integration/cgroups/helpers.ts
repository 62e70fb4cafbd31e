/** Shared set-up for the cgroup integration tests: real v1 hierarchy, unique names, cleanup that always runs. */
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CgroupManager, CgroupSetup, detectCgroupSetup, openCgroupManager } from '../../../src/cgroups/index';

/** Host layout, or undefined if detection fails. */
export const setup: CgroupSetup | undefined = (() => {
  try {
    return detectCgroupSetup();
  } catch {
    return undefined;
  }
})();

/** Reason to skip, or false when the tests can run. */
export const skip: string | false =
  process.getuid?.() !== 0 ? 'needs root' : !setup || setup.mode === 'v2' ? 'needs a cgroup v1 (or hybrid) host' : false;

let counter = 0;

/** A fresh, single-level cgroupsPath so destroy() leaves nothing behind. */
export function uniqueCgroupsPath(): string {
  return `/stasis-it-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

/** Open a manager on a unique path and register cleanup: thaw, kill everything inside, destroy. */
export function openForTest(t: { after: (fn: () => Promise<void>) => void }): { m: CgroupManager; cgroupsPath: string } {
  const cgroupsPath = uniqueCgroupsPath();
  const m = openCgroupManager({ id: 'it', cgroupsPath, setup, owned: true });
  t.after(async () => {
    try {
      await m.thaw(); // frozen v1 tasks cannot die until thawed
    } catch {
      /* cgroup may be gone already */
    }
    try {
      for (const pid of await m.pids()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already exited */
        }
      }
    } catch {
      /* cgroup may be gone already */
    }
    await m.destroy();
  });
  return { m, cgroupsPath };
}

/** Host directories of cgroupsPath in every mounted v1 hierarchy. */
export function allDirs(cgroupsPath: string): string[] {
  return [...new Set([...(setup as CgroupSetup).v1Controllers.values()])].map((mp) => path.join(mp, cgroupsPath));
}

/** True when no hierarchy has the directory any more. */
export function goneEverywhere(cgroupsPath: string): boolean {
  return allDirs(cgroupsPath).every((d) => !existsSync(d));
}

/** Spawn a process that blocks until something is written to its stdin; killed in t.after. */
export function spawnGated(t: { after: (fn: () => void) => void }, cmd: string, args: string[]): ChildProcess & { output: () => string } {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return Object.assign(child, { output: () => out });
}

/** Resolve with the exit code/signal of a child. */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Resolve once `predicate(output)` holds (or reject after timeoutMs). */
export async function waitForOutput(child: ChildProcess & { output: () => string }, predicate: (s: string) => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate(child.output())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for output, got: ${child.output()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Third field of /proc/<pid>/stat: R, S, D, T… */
export function procState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
}

/** Read a file and trim it. */
export function readTrim(p: string): string {
  return readFileSync(p, 'utf8').trim();
}
