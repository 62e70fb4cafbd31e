/**
 * One test file's world: a temp dir for bundles, its own state root, a cgroup name prefix, and cleanup that
 * deletes every container the file created and reports leaked cgroups, mounts and state directories.
 *
 * Every container gets the single-level cgroupsPath `/stasis-test-<file>-<pid>-<n>` so that a leak check is
 * an exact directory test (a nested path would leave parent directories that stasis never owned). With a
 * `group` (the hardening suites: `stasis-sec`, `stasis-fuzz`, …) it is `/<group>/<file>-<pid>-<n>` instead.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeBundle, type Bundle, type BundleOptions } from './bundle';
import { stasis, type RunOptions, type RunResult } from './run';

const CGROUP_ROOT = '/sys/fs/cgroup';

/** What node:test's test context offers for cleanup. */
export interface AfterHost {
  after(fn: () => unknown): void;
}

/** A bundle registered with the environment: the id to create it under and its cgroup path. */
export interface TestContainer extends Bundle {
  id: string;
  cgroupsPath: string;
}

/** Per-file integration test environment. */
export class TestEnv {
  /** temp dir holding bundles and scratch files */
  readonly base: string;
  /** `--root` for every stasis call of this file */
  readonly root: string;
  /** cgroup directory name prefix of this file */
  readonly prefix: string;
  private counter = 0;
  private readonly ids = new Set<string>();

  /** `group`: a cgroup directory holding this file's cgroups (none: they sit at the top of each hierarchy). */
  constructor(
    readonly name: string,
    readonly group?: string,
  ) {
    this.base = fs.mkdtempSync(path.join(os.tmpdir(), `stasis-${group ?? 'it'}-${name}-`));
    // mkdtemp makes 0700; the root of a user namespace (a mapped host uid) must be able to reach the rootfs.
    fs.chmodSync(this.base, 0o755);
    this.root = path.join(this.base, 'state');
    this.prefix = group ? `${name}-${process.pid}` : `stasis-test-${name}-${process.pid}`;
  }

  /** A fresh container id and its cgroup path (not yet created, not yet tracked). */
  next(): { id: string; cgroupsPath: string } {
    const n = ++this.counter;
    const cgroupsPath = this.group ? `/${this.group}/${this.prefix}-${n}` : `/${this.prefix}-${n}`;
    return { id: `${this.name}-${n}`, cgroupsPath };
  }

  /** A fresh container id (not yet created). */
  nextId(): string {
    return this.next().id;
  }

  /** Remembers an id so that dispose() deletes it if a test did not. */
  track(id: string): void {
    this.ids.add(id);
  }

  /** A scratch path under the file's temp dir. */
  scratch(name: string): string {
    return path.join(this.base, name);
  }

  /**
   * Makes a bundle for a new container id and registers its cleanup with `t`: `delete --force`, then a
   * check that its cgroup directories are gone in every hierarchy.
   */
  bundle(t: AfterHost, opts: BundleOptions = {}): TestContainer {
    const { id, cgroupsPath } = this.next();
    const b = makeBundle(path.join(this.base, id), { cgroupsPath, ...opts });
    this.track(id);
    t.after(async () => {
      await this.remove(id);
      const left = cgroupDirs(cgroupsPath);
      fs.rmSync(b.dir, { recursive: true, force: true });
      if (left.length) throw new Error(`leaked cgroups after delete --force ${id}: ${left.join(', ')}`);
    });
    return { ...b, id, cgroupsPath };
  }

  /** Makes a bundle and runs it in the foreground (`run`); returns the container and the result. */
  async runOnce(t: AfterHost, opts: BundleOptions & { flags?: string[]; runOpts?: RunOptions } = {}): Promise<{ c: TestContainer; r: RunResult }> {
    const c = this.bundle(t, opts);
    const r = await this.run(['run', ...(opts.flags ?? []), '-b', c.dir, c.id], opts.runOpts);
    return { c, r };
  }

  /** Makes a bundle (default process: `sleep 1000`) and starts it detached; returns it with its init pid. */
  async startDetached(t: AfterHost, opts: BundleOptions = {}): Promise<{ c: TestContainer; pid: number }> {
    const c = this.bundle(t, { args: ['sleep', '1000'], ...opts });
    const pidFile = path.join(c.dir, 'init.pid');
    const r = await this.run(['run', '-d', '--pid-file', pidFile, '-b', c.dir, c.id]);
    if (r.code !== 0) throw new Error(`run -d ${c.id} failed: ${r.stderr}`);
    return { c, pid: Number(fs.readFileSync(pidFile, 'utf8')) };
  }

  /** `stasis --root <root> ARGS`. */
  run(args: readonly string[], opts?: RunOptions): Promise<RunResult> {
    return stasis(['--root', this.root, ...args], opts);
  }

  /** Deletes a container whatever its state; quiet when it does not exist. */
  async remove(id: string): Promise<void> {
    await this.run(['delete', '--force', id]);
    this.ids.delete(id);
  }

  /** Container directories left in the state root. */
  stateEntries(): string[] {
    try {
      return fs.readdirSync(this.root);
    } catch {
      return [];
    }
  }

  /** Cgroup directories whose name starts with this file's prefix, in any v1 hierarchy or the unified one. */
  leakedCgroups(): string[] {
    const out: string[] = [];
    for (const h of safeReaddir(CGROUP_ROOT)) {
      const dir = this.group ? path.join(CGROUP_ROOT, h, this.group) : path.join(CGROUP_ROOT, h);
      for (const d of safeReaddir(dir)) if (d.startsWith(this.prefix)) out.push(path.join(dir, d));
    }
    return out;
  }

  /** Host mount points under the file's temp dir (a container mount that escaped its mount namespace). */
  leakedMounts(): string[] {
    return fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4])
      .filter((mp) => mp !== undefined && mp.startsWith(this.base));
  }

  /** Deletes whatever is left, removes the temp dir, and returns the leaks found before removal. */
  async dispose(): Promise<{ cgroups: string[]; mounts: string[]; state: string[] }> {
    for (const id of [...this.ids]) await this.remove(id);
    const leaks = { cgroups: this.leakedCgroups(), mounts: this.leakedMounts(), state: this.stateEntries() };
    if (!leaks.mounts.length) fs.rmSync(this.base, { recursive: true, force: true });
    return leaks;
  }
}

/** Existing directories of `cgroupsPath` under every hierarchy. */
export function cgroupDirs(cgroupsPath: string): string[] {
  return safeReaddir(CGROUP_ROOT)
    .map((h) => path.join(CGROUP_ROOT, h, cgroupsPath))
    .filter((d) => fs.existsSync(d));
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * Registers the last test of a file: dispose of the environment and fail when a cgroup, a host mount or a
 * state directory was left behind. Call it after every other test of the file.
 */
export function leakTest(env: TestEnv): void {
  test('leaves no cgroups, mounts or state behind', async () => {
    const leaks = await env.dispose();
    assert.deepEqual(leaks, { cgroups: [], mounts: [], state: [] });
  });
}
