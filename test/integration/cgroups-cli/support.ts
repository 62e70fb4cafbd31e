/**
 * What the cgroup CLI tests share, on either cgroup version: where a container's cgroup files are (v1: one
 * directory per controller; v2: one directory), a stasis runner with timeouts long enough for the slow v2
 * guest (scripts/cgv2/run-tests.sh runs these tests under TCG emulation), and a leak check that knows both
 * layouts. Containers use TestEnv's single-level cgroupsPath, so "nothing left" is an exact directory test.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { detectCgroupSetup, type CgroupSetup } from '../../../src/cgroups';
import { TestEnv, type TestContainer } from '../../support/env';
import type { BundleOptions } from '../../support/bundle';
import type { RunOptions, RunResult } from '../../support/run';

/** The host's cgroup layout, or undefined when none is mounted. */
export const setup: CgroupSetup | undefined = (() => {
  try {
    return detectCgroupSetup();
  } catch {
    return undefined;
  }
})();

/** 'v1' (also hybrid hosts) or 'v2'. */
export const version: 'v1' | 'v2' = setup?.mode === 'v2' ? 'v2' : 'v1';

/** Per-call limit of stasis: generous, because one Node start costs seconds in the emulated v2 guest. */
export const CALL_TIMEOUT_MS = Number(process.env.STASIS_TEST_CALL_TIMEOUT_MS || 120_000);

/** Host path of `file` in the container's cgroup; `ctrl` picks the v1 hierarchy and is ignored on v2. */
export function cgFile(c: TestContainer, ctrl: string, file: string): string {
  if (!setup) throw new Error('no cgroup hierarchy');
  if (version === 'v2') return path.join(setup.v2Mount!, c.cgroupsPath, file);
  return path.join(setup.v1Controllers.get(ctrl)!, c.cgroupsPath, file);
}

/** A cgroup file's content, trimmed. */
export function readCg(c: TestContainer, ctrl: string, file: string): string {
  return fs.readFileSync(cgFile(c, ctrl, file), 'utf8').trim();
}

/** Directories of the container's cgroup that still exist (v1: any hierarchy; v2: the one directory). */
export function cgroupLeft(cgroupsPath: string): string[] {
  if (!setup) return [];
  const mounts = version === 'v2' ? [setup.v2Mount!] : [...new Set(setup.v1Controllers.values())];
  return mounts.map((m) => path.join(m, cgroupsPath)).filter((d) => fs.existsSync(d));
}

/** `stasis --root <root> ARGS` with the long timeout. */
export function run(env: TestEnv, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return env.run(args, { timeoutMs: CALL_TIMEOUT_MS, ...opts });
}

/** Like TestEnv.startDetached (default `sleep 1000`), with the long timeout and a v1/v2 leak check on cleanup. */
export async function startDetached(env: TestEnv, t: { after(fn: () => unknown): void }, opts: BundleOptions = {}): Promise<{ c: TestContainer; pid: number }> {
  // A writable rootfs: the tests talk to their containers through files in it.
  const c = env.bundle(t, {
    args: ['sleep', '1000'],
    ...opts,
    tweak: (s) => {
      s.root!.readonly = false;
      opts.tweak?.(s);
    },
  });
  t.after(() => {
    const left = cgroupLeft(c.cgroupsPath);
    if (left.length) throw new Error(`leaked cgroups after delete --force ${c.id}: ${left.join(', ')}`);
  });
  const pidFile = path.join(c.dir, 'init.pid');
  const r = await run(env, ['run', '-d', '--pid-file', pidFile, '-b', c.dir, c.id]);
  if (r.code !== 0) throw new Error(`run -d ${c.id} failed: ${r.stderr}`);
  return { c, pid: Number(fs.readFileSync(pidFile, 'utf8')) };
}

/** Every leftover of this file's containers on either layout (TestEnv.dispose looks at v1 layouts only). */
export function leakedOnAnyVersion(env: TestEnv): string[] {
  if (!setup) return [];
  const mounts = version === 'v2' ? [setup.v2Mount!] : [...new Set(setup.v1Controllers.values())];
  const out: string[] = [];
  for (const m of mounts) {
    for (const d of fs.readdirSync(m)) if (d.startsWith(env.prefix)) out.push(path.join(m, d));
  }
  return out;
}

/** Adds a capability to every set of the spec's process (e.g. CAP_MKNOD for the device tests). */
export function addCapability(spec: import('../../../src/spec/types').Spec, cap: string): void {
  const caps = spec.process!.capabilities!;
  for (const set of ['bounding', 'effective', 'permitted'] as const) {
    const list = (caps[set] ??= []);
    if (!list.includes(cap)) list.push(cap);
  }
}

/** Reason these tests cannot run here, or false. */
export function skipReason(base: string | false): string | false {
  if (base) return base;
  if (!setup) return 'no cgroup hierarchy is mounted';
  return false;
}
