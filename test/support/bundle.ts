/**
 * OCI bundles for integration tests: a busybox-static rootfs built once (cached by the busybox binary's size
 * and mtime, built under a temporary name and renamed into place so parallel test files cannot see a half
 * built tree), copied per test with `cp -a --reflink=auto` so that a test may write into its rootfs, and a
 * config.json from `stasis spec` with terminal off and the caller's tweaks applied.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Spec } from '../../src/spec/types';
import { STASIS_BIN } from './run';

const BUSYBOX = '/bin/busybox';

/** Whether the host has what the bundle needs (root and busybox-static); a skip reason otherwise. */
export function bundleSkipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!fs.existsSync(BUSYBOX)) return 'needs busybox-static (/bin/busybox)';
  if (!fs.existsSync(STASIS_BIN)) return `needs a built stasis (${STASIS_BIN}): run node scripts/build.mjs`;
  return false;
}

/** Path of the shared, read-only base rootfs; built on first use. */
export function baseRootfs(): string {
  const st = fs.statSync(BUSYBOX);
  const dir = path.join(os.tmpdir(), `stasis-test-rootfs-${st.size}-${Math.floor(st.mtimeMs)}`);
  if (fs.existsSync(path.join(dir, '.complete'))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  for (const d of ['bin', 'dev', 'etc', 'proc', 'sys', 'tmp', 'root', 'run', 'var/tmp', 'home/user']) {
    fs.mkdirSync(path.join(tmp, d), { recursive: true });
  }
  fs.copyFileSync(BUSYBOX, path.join(tmp, 'bin', 'busybox'));
  fs.chmodSync(path.join(tmp, 'bin', 'busybox'), 0o755);
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) fs.symlinkSync('busybox', path.join(tmp, 'bin', a));
  fs.symlinkSync('bin', path.join(tmp, 'sbin'));
  fs.mkdirSync(path.join(tmp, 'usr'));
  fs.symlinkSync('../bin', path.join(tmp, 'usr', 'bin'));
  fs.symlinkSync('../bin', path.join(tmp, 'usr', 'sbin'));
  fs.chmodSync(path.join(tmp, 'tmp'), 0o1777);
  fs.chmodSync(path.join(tmp, 'var', 'tmp'), 0o1777);
  fs.chownSync(path.join(tmp, 'home', 'user'), 1000, 1000);
  fs.writeFileSync(
    path.join(tmp, 'etc', 'passwd'),
    'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  );
  fs.writeFileSync(path.join(tmp, 'etc', 'group'), 'root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n');
  fs.writeFileSync(path.join(tmp, '.complete'), '');
  try {
    fs.renameSync(tmp, dir);
  } catch {
    // Another test file won the race: its tree is as good as ours.
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

let defaultSpecCache: string | undefined;

/** The config.json `stasis spec` generates (read once per process). */
export function defaultSpec(): Spec {
  if (!defaultSpecCache) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-test-spec-'));
    try {
      const env = { ...process.env };
      delete env.NODE_EXTRA_CA_CERTS;
      execFileSync(STASIS_BIN, ['spec', '--bundle', dir], { env });
      defaultSpecCache = fs.readFileSync(path.join(dir, 'config.json'), 'utf8');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return JSON.parse(defaultSpecCache) as Spec;
}

/** Options of makeBundle. */
export interface BundleOptions {
  /** the process args (default: `sh`) */
  args?: string[];
  /** cgroupsPath written into the spec */
  cgroupsPath?: string;
  /** edits the parsed spec in place before it is written */
  tweak?: (spec: Spec) => void;
}

/** A bundle on disk. */
export interface Bundle {
  dir: string;
  rootfs: string;
  config: string;
  spec: Spec;
}

/** Creates a bundle in `dir` (which must not exist yet or be empty). */
export function makeBundle(dir: string, opts: BundleOptions = {}): Bundle {
  fs.mkdirSync(dir, { recursive: true });
  const rootfs = path.join(dir, 'rootfs');
  execFileSync('cp', ['-a', '--reflink=auto', baseRootfs(), rootfs]);
  fs.rmSync(path.join(rootfs, '.complete'));
  const spec = defaultSpec();
  spec.process!.terminal = false;
  if (opts.args) spec.process!.args = opts.args;
  if (opts.cgroupsPath) spec.linux!.cgroupsPath = opts.cgroupsPath;
  opts.tweak?.(spec);
  const config = path.join(dir, 'config.json');
  fs.writeFileSync(config, JSON.stringify(spec, null, 2));
  return { dir, rootfs, config, spec };
}
