/**
 * Runs the built `bin/stasis` (the bundled CLI a real engine would call) and collects its output.
 *
 * A detached container (create, run -d, exec -d) inherits stasis's stdout/stderr, so the pipes stay open
 * after stasis exits: waiting for 'close' would wait for the container. The runner resolves on 'close', or a
 * short grace period after 'exit', whichever comes first.
 */
import { spawn, type StdioOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The repository root: the nearest folder above this file with a package.json. */
export function repoRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error(`cannot find the repository root above ${__dirname}`);
}

/**
 * Absolute path of the generated CLI launcher. `STASIS_TEST_BIN` points the tests at another build (e.g. a
 * private copy, so that a concurrent `scripts/build.mjs`, which empties dist/, cannot break a run).
 */
export const STASIS_BIN = process.env.STASIS_TEST_BIN || path.join(repoRoot(), 'bin', 'stasis');

/** What a finished stasis invocation produced. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options of `stasis()`. */
export interface RunOptions {
  /** written to stdin, then stdin is closed (default: stdin is /dev/null) */
  input?: string;
  /** kill stasis (SIGKILL) after this long; the result then has signal SIGKILL (default 30 s) */
  timeoutMs?: number;
  /** extra stdio entries after 0-2: become fds 3, 4 … of stasis (for --preserve-fds) */
  extraFds?: (number | 'ignore')[];
  /** environment (default: this process's, without NODE_EXTRA_CA_CERTS which slows Node start-up) */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** called with the child right after spawn (to send it signals) */
  onSpawn?: (child: import('node:child_process').ChildProcess) => void;
}

/** Runs `bin/stasis ARGS` and resolves with its exit code and output. Never rejects on a non-zero exit. */
export function stasis(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const env = { ...(opts.env ?? process.env) };
  delete env.NODE_EXTRA_CA_CERTS;
  const stdio: StdioOptions = [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe', ...(opts.extraFds ?? [])];
  const child = spawn(STASIS_BIN, args, { stdio, env, cwd: opts.cwd });
  opts.onSpawn?.(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  return new Promise((resolve, reject) => {
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let done = false;
    const finish = () => {
      if (done || !exit) return;
      done = true;
      clearTimeout(killer);
      child.stdout!.destroy();
      child.stderr!.destroy();
      resolve({ ...exit, stdout, stderr });
    };
    const killer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', (err) => {
      clearTimeout(killer);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      setTimeout(finish, 150);
    });
    child.on('close', finish);
  });
}

/** A short description of a result for assertion messages. */
export function show(r: RunResult): string {
  return `code=${r.code} signal=${r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}
