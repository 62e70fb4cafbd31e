/**
 * What every engine test needs: which runtime is under test (ENGINE_RUNTIME), why a suite must be skipped,
 * a command runner with a hard timeout, the busybox images (built once per process), an optional argv logger
 * wrapped around the runtime (ENGINE_RUNTIME_LOG), and cleanup of mounts and cgroup dirs the engines leave.
 */
import { spawn, spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/** Repository root: the nearest parent with package.json (this file runs from dist/test/engines/). */
export const repoRoot = ((): string => {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
})();

/** The runtime the engines are told to use: ENGINE_RUNTIME, or this checkout's bin/stasis. */
export const runtimeUnderTest = process.env.ENGINE_RUNTIME || path.join(repoRoot, 'bin', 'stasis');

/** Where to append every runtime command line the engines issue, when set (used to write docs/engines.md). */
export const runtimeLogFile = process.env.ENGINE_RUNTIME_LOG || undefined;

/** Per-command time limit: a runtime that hangs must fail a test, not stall the whole run. */
export const commandTimeoutMs = Number(process.env.ENGINE_COMMAND_TIMEOUT_MS || 60_000);

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Reason the engine tests cannot run at all here (root, runtime), or undefined. */
function commonSkip(): string | undefined {
  if (process.getuid?.() !== 0) return 'engine tests need root (the engines run rootful containers)';
  try {
    fs.accessSync(runtimeUnderTest, fs.constants.X_OK);
  } catch {
    return `runtime under test ${runtimeUnderTest} is missing or not executable (set ENGINE_RUNTIME or build bin/stasis)`;
  }
  if (!fs.existsSync('/bin/busybox')) return 'busybox-static is not installed (/bin/busybox): run scripts/engines/install-engines.sh';
  return undefined;
}

/** Why the Podman suite is skipped, or false. */
export const podmanSkip: string | false =
  commonSkip() ?? (onPath('podman') && onPath('conmon') ? false : 'podman/conmon not installed: run scripts/engines/install-engines.sh');

/** Why the containerd suite is skipped, or false. */
export const containerdSkip: string | false =
  commonSkip() ??
  (onPath('containerd') && onPath('ctr') && onPath('containerd-shim-runc-v2')
    ? false
    : 'containerd/ctr/containerd-shim-runc-v2 not installed: run scripts/engines/install-engines.sh');

/** Outcome of one engine command. */
export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs a command to completion (or until the timeout kills it) and captures everything; never throws. */
export function runCommand(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.on('error', () => undefined); // the command may exit before reading its input
    child.stdin.end(opts.input ?? '');
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? commandTimeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stdout, stderr: stderr + String(err), timedOut });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** A one-line description of a result for assertion messages: the failing test shows what the engine said. */
export function explain(r: CommandResult): string {
  const parts = [`code=${r.code}`];
  if (r.signal) parts.push(`signal=${r.signal}`);
  if (r.timedOut) parts.push('TIMED OUT');
  if (r.stdout.trim()) parts.push(`stdout=${JSON.stringify(r.stdout.trim().slice(-600))}`);
  if (r.stderr.trim()) parts.push(`stderr=${JSON.stringify(r.stderr.trim().slice(-1200))}`);
  return parts.join(' ');
}

/** A fresh directory under /tmp (not os.tmpdir(): TMPDIR may point somewhere the engines cannot bind). */
export function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join('/tmp', prefix));
}

/** What node:test's test context offers for cleanup. */
interface AfterHost {
  after(fn: () => unknown): void;
}

/** A fresh directory under /tmp, removed when test `t` ends. */
export function tempDirFor(t: AfterHost, prefix: string): string {
  const dir = makeTempDir(prefix);
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Asserts exit status `code`; the message shows what the command said, plus `context` (e.g. a log tail). */
export function expectCode(r: CommandResult, code: number, what: string, context = ''): void {
  assert.equal(r.code, code, `${what}: ${explain(r)}${context}`);
}

let nameCounter = 0;

/** A name unique to this test process, given to `remove` when test `t` ends. */
export function uniqueName(t: AfterHost, what: string, remove: (name: string) => Promise<void>): string {
  const name = `stasis-${what}-${process.pid}-${nameCounter++}`;
  t.after(() => remove(name));
  return name;
}

/** The two image files scripts/engines/make-images.sh produces. */
export interface ImageFiles {
  rootfsTar: string;
  ociTar: string;
}

let images: ImageFiles | undefined;
let imagesDir: string | undefined;

/** Builds the busybox images once per test process; removed by removeImages(). */
export function buildImages(): ImageFiles {
  if (images) return images;
  imagesDir = makeTempDir('stasis-engine-images-');
  const r = spawnSync('bash', [path.join(repoRoot, 'scripts', 'engines', 'make-images.sh'), imagesDir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make-images.sh failed: ${r.stderr}`);
  images = { rootfsTar: path.join(imagesDir, 'rootfs.tar'), ociTar: path.join(imagesDir, 'oci.tar') };
  return images;
}

/** Deletes the image files built by buildImages(). */
export function removeImages(): void {
  if (imagesDir) fs.rmSync(imagesDir, { recursive: true, force: true });
  images = undefined;
  imagesDir = undefined;
}

/**
 * The path to hand to an engine as "the runtime". With ENGINE_RUNTIME_LOG set it is a bash wrapper, with the
 * same base name as the real runtime (engines key some behaviour on the name), that appends the caller and the
 * quoted argv to the log and then execs the real runtime; the wrapper lives in dir and goes away with it.
 */
export function runtimeForEngine(dir: string, engine: string): string {
  if (!runtimeLogFile) return runtimeUnderTest;
  const wrapperDir = path.join(dir, 'runtime-wrapper');
  fs.mkdirSync(wrapperDir, { recursive: true });
  const wrapper = path.join(wrapperDir, path.basename(runtimeUnderTest));
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  fs.writeFileSync(
    wrapper,
    `#!/bin/bash
# Generated by test/engines/engine-env.ts: logs how ${engine} calls the runtime, then runs it unchanged.
caller=$(tr -d '\\0' </proc/$PPID/comm 2>/dev/null)
{ printf '%s\\t%s\\t' ${q(engine)} "$caller"; printf '%q ' ${q(path.basename(runtimeUnderTest))} "$@"; printf '\\n'; } >>${q(runtimeLogFile)}
exec ${q(runtimeUnderTest)} "$@"
`,
    { mode: 0o755 },
  );
  return wrapper;
}

/** Lazily unmounts everything mounted at or below dir, deepest first (an engine that crashed may leave mounts). */
export function unmountBelow(dir: string): void {
  const points = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => !!p && (p === dir || p.startsWith(dir + '/')))
    .sort((a, b) => b.length - a.length);
  for (const p of points) spawnSync('umount', ['-l', p], { stdio: 'ignore' });
}

/** Removes the empty cgroup dirs named by cgroupPath (and below) in every v1 hierarchy; leaves busy ones. */
export function removeCgroupDirs(cgroupPath: string): void {
  const base = '/sys/fs/cgroup';
  let hierarchies: string[] = [];
  try {
    hierarchies = fs.readdirSync(base).map((h) => path.join(base, h));
  } catch {
    return;
  }
  const rmTree = (dir: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) rmTree(path.join(dir, e.name));
    try {
      fs.rmdirSync(dir);
    } catch {
      /* still has tasks, or gone: not ours to force */
    }
  };
  for (const h of hierarchies) rmTree(path.join(h, cgroupPath));
}

/**
 * SIGKILLs every process in the cgroup dirs named by cgroupPath (pids hierarchy, all levels): the containers a
 * failed test left running. Only our own cgroup paths are ever passed here.
 */
export async function killCgroupProcs(cgroupPath: string): Promise<void> {
  const root = path.join('/sys/fs/cgroup/pids', cgroupPath);
  const pids = (): number[] => {
    const found: number[] = [];
    const walk = (dir: string): void => {
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
        for (const line of fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (line) found.push(Number(line));
      } catch {
        return;
      }
      for (const e of entries) if (e.isDirectory()) walk(path.join(dir, e.name));
    };
    walk(root);
    return found;
  };
  for (const pid of pids()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  await waitFor(() => (pids().length === 0 ? true : undefined), 3000, 50);
}

/**
 * Host dirs an engine creates at fixed places whatever its flags (Podman: /run/containers/networks for
 * netavark; containerd 1.6: /run/containerd/s for shim sockets). Call before starting the engine; the returned
 * function removes those that did not exist then, deepest first, and only if empty (never someone else's).
 */
export function noteFixedDirs(dirs: string[]): () => void {
  const created = dirs.filter((d) => !fs.existsSync(d)).sort((a, b) => b.length - a.length);
  return () => {
    for (const d of created) {
      try {
        fs.rmdirSync(d);
      } catch {
        /* not empty (someone else uses it now) or already gone */
      }
    }
  };
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls check() until it returns a value (not undefined) or the deadline passes; returns the last value seen. */
export async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000, stepMs = 100): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** The soft/hard limits the engines may ask for without CAP_SYS_RESOURCE: never above our own hard limit. */
export function loweredLimit(resource: 'Max open files' | 'Max processes', wanted: number): number {
  const line = fs
    .readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(resource));
  const hard = line ? line.slice(resource.length).trim().split(/\s+/)[1] : 'unlimited';
  return hard === 'unlimited' ? wanted : Math.min(wanted, Number(hard));
}

/** Short unique suffix for names that share global namespaces (cgroup paths, containerd namespaces). */
export const uniqueSuffix = `${process.pid}-${Date.now().toString(36).slice(-5)}`;
