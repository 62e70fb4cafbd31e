/**
 * The world of one hardening test file: its own state root, cgroups under `/<group>/<file>-<pid>-<n>`, a
 * static probe program (probe.c) compiled once per process and copied into bundles, and cleanup that deletes
 * every container, removes the file's cgroups and the group directory when it is empty, and reports leaks.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bundleSkipReason, makeBundle, type Bundle, type BundleOptions } from '../support/bundle';
import { repoRoot, stasis, type RunOptions, type RunResult } from '../support/run';

const CGROUP_ROOT = '/sys/fs/cgroup';

/** What node:test's test context offers for cleanup. */
export interface AfterHost {
  after(fn: () => unknown): void;
}

let probeCache: string | undefined;

/** Why the hardening tests cannot run here (root, busybox, a built stasis, gcc -static), or false. */
export function labSkipReason(): string | false {
  const base = bundleSkipReason();
  if (base) return base;
  try {
    probePath();
  } catch (err) {
    return `cannot build the probe with gcc -static: ${(err as Error).message.split('\n')[0]}`;
  }
  return false;
}

/** The compiled probe (built on first use into a temp dir removed when the process exits). */
export function probePath(): string {
  if (probeCache) return probeCache;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-probe-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'probe');
  execFileSync('gcc', ['-static', '-O2', '-o', out, path.join(repoRoot(), 'test', 'security', 'probe.c')], { stdio: 'pipe' });
  probeCache = out;
  return out;
}

/** The helper binary stasis runs (STASIS_HELPER overrides the build output, as in src/helper/paths.ts). */
export function helperBinary(): string {
  return process.env.STASIS_HELPER || path.join(repoRoot(), 'build', 'Release', 'stasis-helper');
}

/** sha256 of a file, hex. */
export function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** A bundle registered with the lab. */
export interface LabContainer extends Bundle {
  id: string;
  cgroupsPath: string;
}

/** Options of Lab.bundle: those of makeBundle, plus copying the probe to `/probe`. */
export interface LabBundleOptions extends BundleOptions {
  probe?: boolean;
}

/** Per-file environment of the hardening tests. */
export class Lab {
  readonly base: string;
  readonly root: string;
  /** cgroup names of this file start with `/<group>/<prefix>` */
  readonly prefix: string;
  private counter = 0;
  private readonly ids = new Set<string>();

  constructor(
    readonly name: string,
    readonly group = 'stasis-sec',
  ) {
    this.base = fs.mkdtempSync(path.join(os.tmpdir(), `stasis-${group}-${name}-`));
    fs.chmodSync(this.base, 0o755);
    this.root = path.join(this.base, 'state');
    this.prefix = `${name}-${process.pid}`;
  }

  /** A fresh container id and its cgroup path. */
  next(): { id: string; cgroupsPath: string } {
    const n = ++this.counter;
    return { id: `${this.name}-${n}`, cgroupsPath: `/${this.group}/${this.prefix}-${n}` };
  }

  /** A scratch path under the lab's temp dir. */
  scratch(name: string): string {
    return path.join(this.base, name);
  }

  /** Makes a bundle (optionally with the probe as /probe) and registers `delete --force` with `t`. */
  bundle(t: AfterHost, opts: LabBundleOptions = {}): LabContainer {
    const { id, cgroupsPath } = this.next();
    const b = makeBundle(path.join(this.base, id), { cgroupsPath, ...opts });
    if (opts.probe) {
      fs.copyFileSync(probePath(), path.join(b.rootfs, 'probe'));
      fs.chmodSync(path.join(b.rootfs, 'probe'), 0o755);
    }
    this.track(id);
    t.after(async () => {
      await this.remove(id);
      fs.rmSync(b.dir, { recursive: true, force: true });
    });
    return { ...b, id, cgroupsPath };
  }

  /** Remembers an id so that dispose() deletes it if a test did not. */
  track(id: string): void {
    this.ids.add(id);
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

  /** Cgroup directories of this file left in any hierarchy. */
  leakedCgroups(): string[] {
    const out: string[] = [];
    for (const h of safeReaddir(CGROUP_ROOT)) {
      const dir = path.join(CGROUP_ROOT, h, this.group);
      for (const d of safeReaddir(dir)) if (d.startsWith(this.prefix)) out.push(path.join(dir, d));
    }
    return out;
  }

  /** Host mount points under the lab's temp dir. */
  leakedMounts(): string[] {
    return fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4])
      .filter((mp) => mp !== undefined && mp.startsWith(this.base));
  }

  /** Container state directories left in the root. */
  leakedState(): string[] {
    return safeReaddir(this.root);
  }

  /** All leaks at once. */
  leaks(): { cgroups: string[]; mounts: string[]; state: string[] } {
    return { cgroups: this.leakedCgroups(), mounts: this.leakedMounts(), state: this.leakedState() };
  }

  /**
   * Deletes whatever is left, reports leaks found before the final sweep, then removes leaked cgroups
   * (so a failing run does not poison the next) and the group directory when it is empty.
   */
  async dispose(): Promise<{ cgroups: string[]; mounts: string[]; state: string[] }> {
    for (const id of [...this.ids]) await this.remove(id);
    const leaks = this.leaks();
    for (const dir of leaks.cgroups) rmdirQuiet(dir);
    for (const h of safeReaddir(CGROUP_ROOT)) rmdirQuiet(path.join(CGROUP_ROOT, h, this.group));
    for (const mp of leaks.mounts.reverse()) {
      try {
        execFileSync('umount', ['-l', mp], { stdio: 'ignore' });
      } catch {
        /* best effort */
      }
    }
    fs.rmSync(this.base, { recursive: true, force: true });
    return leaks;
  }
}

/** Parses probe output: "key arg value" lines; `value(out, 'read /proc/kcore')` gives what follows the key. */
export function probeValue(out: string, key: string): string | undefined {
  for (const line of out.split('\n')) if (line.startsWith(`${key} `)) return line.slice(key.length + 1).trim();
  return undefined;
}

/** The fds the probe listed: number → {target, type}. */
export function probeFds(out: string): Map<number, { target: string; type: string }> {
  const fds = new Map<number, { target: string; type: string }>();
  for (const line of out.split('\n')) {
    const m = /^fd (\d+) (\S+) (.*)$/.exec(line);
    if (m) fds.set(Number(m[1]), { type: m[2], target: m[3] });
  }
  return fds;
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function rmdirQuiet(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    /* busy or not empty: someone else's, or reported as a leak */
  }
}
