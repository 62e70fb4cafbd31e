/**
 * The world of one hardening test file: a TestEnv (test/support/env.ts) with cgroups under
 * `/<group>/<file>-<pid>-<n>`, a static probe program (probe.c) compiled once per process and copied into
 * bundles, and cleanup that also sweeps leaked cgroups, the group directory and leaked mounts.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bundleSkipReason, type BundleOptions } from '../support/bundle';
import { TestEnv, type AfterHost, type TestContainer } from '../support/env';
import { repoRoot } from '../support/run';

const CGROUP_ROOT = '/sys/fs/cgroup';

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
export type LabContainer = TestContainer;

/** Options of Lab.bundle: those of makeBundle, plus copying the probe to `/probe`. */
export interface LabBundleOptions extends BundleOptions {
  probe?: boolean;
}

/**
 * Per-file environment of the hardening tests: a TestEnv whose cgroups live under `/<group>/`, whose bundles
 * can carry the probe, and whose dispose() also sweeps what leaked, so that a failing run cannot poison the
 * next one.
 */
export class Lab extends TestEnv {
  constructor(name: string, group = 'stasis-sec') {
    super(name, group);
  }

  /** Makes a bundle (optionally with the probe as /probe) and registers `delete --force` with `t`. */
  override bundle(t: AfterHost, opts: LabBundleOptions = {}): LabContainer {
    const c = super.bundle(t, opts);
    if (opts.probe) {
      fs.copyFileSync(probePath(), path.join(c.rootfs, 'probe'));
      fs.chmodSync(path.join(c.rootfs, 'probe'), 0o755);
    }
    return c;
  }

  /** Container state directories left in the root. */
  leakedState(): string[] {
    return this.stateEntries();
  }

  /** All leaks at once. */
  leaks(): { cgroups: string[]; mounts: string[]; state: string[] } {
    return { cgroups: this.leakedCgroups(), mounts: this.leakedMounts(), state: this.leakedState() };
  }

  /**
   * Deletes whatever is left, reports leaks found before the final sweep, then removes leaked cgroups, the
   * group directory when it is empty, and leaked mounts, and finally the temp dir.
   */
  override async dispose(): Promise<{ cgroups: string[]; mounts: string[]; state: string[] }> {
    const leaks = await super.dispose();
    for (const dir of leaks.cgroups) rmdirQuiet(dir);
    for (const h of safeReaddir(CGROUP_ROOT)) rmdirQuiet(path.join(CGROUP_ROOT, h, this.group!));
    for (const mp of [...leaks.mounts].reverse()) {
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
