/**
 * Shared set-up for the checkpoint/restore integration tests: a busybox bundle with a writable rootfs whose
 * shell keeps a counter in memory, the built CLI run as a separate process, and cleanup that always runs
 * (containers deleted, state root and images removed, cgroups checked).
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { criuBinary } from '../../../src/criu';

/** Repository root (this file runs from dist/test/integration/checkpoint; $STASIS_REPO overrides). */
export const REPO = process.env.STASIS_REPO ?? path.resolve(__dirname, '..', '..', '..', '..');
export const STASIS = path.join(REPO, 'bin', 'stasis');

/** Why these tests cannot run here, or undefined. */
export function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!fs.existsSync(STASIS)) return 'bin/stasis not built (node scripts/build.mjs)';
  if (!fs.existsSync('/bin/busybox')) return 'needs busybox-static';
  const bin = criuBinary();
  if (bin === 'criu' && !(process.env.PATH ?? '').split(':').some((d) => d && fs.existsSync(path.join(d, 'criu')))) {
    return 'criu not installed (scripts/install-criu.sh)';
  }
  return undefined;
}

/** The counter loop: `i` lives only in the shell's memory; it is written to /tmp/count every 50 ms. */
export const COUNTER_SCRIPT =
  'echo marker > /dev/shm/marker; i=0; while true; do i=$((i+1)); echo $i > /tmp/count; usleep 50000; done';

/** One test's world: a bundle, a state root, an images area, and the ids it created. */
export class World {
  readonly dir: string;
  readonly root: string;
  readonly bundle: string;
  private ids = new Set<string>();
  private runs = 0;

  /** `edit` may change the spec before it is saved (capabilities, …). */
  constructor(script = COUNTER_SCRIPT, edit?: (spec: Record<string, any>) => void) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-ckpt-it-'));
    this.root = path.join(this.dir, 'state');
    this.bundle = path.join(this.dir, 'bundle');
    makeBundle(this.bundle, ['/bin/sh', '-c', script], edit);
  }

  /** A unique container id, remembered for cleanup. */
  id(name: string): string {
    const id = `ck-${name}-${process.pid}-${this.ids.size}`;
    this.ids.add(id);
    return id;
  }

  images(name: string): string {
    return path.join(this.dir, name);
  }

  /**
   * Runs the CLI to completion. Its stdout and stderr are regular files, not Node's pipes: libuv's pipes
   * are unix sockets of the host's network namespace, which CRIU cannot dump, and a detached container
   * holding them would keep spawnSync waiting for end-of-file.
   */
  stasis(args: string[], timeoutMs = 30000): { status: number | null; stdout: string; stderr: string } {
    const n = this.runs++;
    const outFile = path.join(this.dir, `out-${n}`);
    const errFile = path.join(this.dir, `err-${n}`);
    const out = fs.openSync(outFile, 'w+');
    const err = fs.openSync(errFile, 'w+');
    let r: SpawnSyncReturns<Buffer>;
    try {
      r = spawnSync(STASIS, ['--root', this.root, ...args], { timeout: timeoutMs, stdio: ['ignore', out, err] });
    } finally {
      fs.closeSync(out);
      fs.closeSync(err);
    }
    return { status: r.status, stdout: fs.readFileSync(outFile, 'utf8'), stderr: fs.readFileSync(errFile, 'utf8') };
  }

  /** Like stasis() but throws with stderr when the exit status is not 0. */
  ok(args: string[]): string {
    const r = this.stasis(args);
    if (r.status !== 0) throw new Error(`stasis ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    return r.stdout;
  }

  /** The OCI state of a container, or undefined when it does not exist. */
  state(id: string): { status: string; pid: number } | undefined {
    const r = this.stasis(['state', id]);
    return r.status === 0 ? (JSON.parse(r.stdout) as { status: string; pid: number }) : undefined;
  }

  /** The counter the container wrote last (0 before the first write). */
  count(): number {
    try {
      return Number(fs.readFileSync(path.join(this.bundle, 'rootfs', 'tmp', 'count'), 'utf8').trim()) || 0;
    } catch {
      return 0;
    }
  }

  /** Runs a new container `name` detached and waits until its counter moves; returns its id. */
  async runCounting(name: string): Promise<string> {
    const id = this.id(name);
    this.ok(['run', '-d', '--bundle', this.bundle, id]);
    await waitFor(`container ${id}'s counter`, () => this.count() > 2);
    return id;
  }

  /** Deletes every container this test made and removes the directory. */
  async cleanup(): Promise<void> {
    for (const id of this.ids) this.stasis(['delete', '--force', id]);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Builds a busybox bundle with a writable rootfs and the given process. */
export function makeBundle(dir: string, args: string[], edit?: (spec: Record<string, any>) => void): void {
  const r = spawnSync('bash', [path.join(REPO, 'scripts', 'make-bundle.sh'), dir, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make-bundle.sh failed: ${r.stderr}`);
  const file = path.join(dir, 'config.json');
  const spec = JSON.parse(fs.readFileSync(file, 'utf8'));
  spec.root.readonly = false;
  edit?.(spec);
  fs.writeFileSync(file, JSON.stringify(spec, null, 2));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` until it holds (or throws naming `what`). */
export async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** True when the container's cgroup directory exists in the freezer hierarchy (v1; stasis's default path). */
export function cgroupExists(id: string): boolean {
  return fs.existsSync(`/sys/fs/cgroup/freezer/stasis/${id}`) || fs.existsSync(`/sys/fs/cgroup/unified/stasis/${id}`);
}

/** freezer.state of a container's cgroup ("THAWED", "FROZEN"), or undefined. */
export function freezerState(id: string): string | undefined {
  try {
    return fs.readFileSync(`/sys/fs/cgroup/freezer/stasis/${id}/freezer.state`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * Runs a detaching command (`run -d`, `restore -d`) with stdout and stderr on one pipe that we keep
 * reading after stasis exits: the container holds its write end. Resolves when stasis has exited.
 */
export function detachedWithPipes(w: World, args: string[]): Promise<{ output: () => string }> {
  return new Promise((resolve, reject) => {
    // A real pipe(2) between stasis (and so the container) and `cat`: Node's own pipes are unix sockets.
    const child = spawn('bash', ['-c', 'exec "$@" > >(exec cat) 2>&1', 'bash', STASIS, '--root', w.root, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr!.on('data', (c: Buffer) => (err += c.toString('utf8')));
    // Our read ends must not keep the test process alive once the test is over.
    (child.stdout as unknown as { unref?: () => void }).unref?.();
    child.on('exit', (code) => (code === 0 ? resolve({ output: () => out }) : reject(new Error(`stasis ${args[0]} failed (${code}): ${out}${err}`))));
  });
}
