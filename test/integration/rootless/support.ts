/**
 * A throwaway unprivileged user for rootless tests: created with useradd (no home, no login shell), removed
 * with userdel afterwards, and a runner that calls bin/stasis as that user with a clean environment, the way
 * a user without systemd or a login session would (XDG_RUNTIME_DIR only when the test gives one).
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { STASIS_BIN } from '../../support/run';
import { baseRootfs } from '../../support/bundle';

/** What one stasis call printed and how it ended. */
export interface UserRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The throwaway user and a scratch directory it owns. */
export interface RootlessUser {
  name: string;
  uid: number;
  gid: number;
  /** scratch directory owned by the user (bundles, XDG_RUNTIME_DIR) */
  home: string;
  /** runs bin/stasis as the user; `env` is added to PATH (and nothing else) */
  stasis(args: string[], env?: Record<string, string>): Promise<UserRun>;
  /** removes the user, its state and its scratch directory; kills what it left running */
  remove(): void;
}

/** Why rootless tests cannot run here, or false. */
export function rootlessSkipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (to create a throwaway user)';
  for (const tool of ['/usr/sbin/useradd', '/usr/sbin/userdel']) if (!fs.existsSync(tool)) return `needs ${tool}`;
  if (!fs.existsSync('/bin/busybox')) return 'needs busybox-static (/bin/busybox)';
  if (!fs.existsSync(STASIS_BIN)) return `needs a built stasis (${STASIS_BIN})`;
  try {
    if (Number(fs.readFileSync('/proc/sys/user/max_user_namespaces', 'utf8')) === 0) return 'user namespaces are disabled';
  } catch {
    /* older kernels: assume enabled */
  }
  return false;
}

/** Creates a user named stasis-rl-<pid> with a private scratch directory. */
export function createRootlessUser(): RootlessUser {
  const name = `stasis-rl-${process.pid}`.slice(0, 31);
  execFileSync('/usr/sbin/useradd', ['--no-create-home', '--shell', '/usr/sbin/nologin', '--user-group', name], { stdio: 'ignore' });
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-rl-'));
  fs.chmodSync(home, 0o755);
  fs.chownSync(home, uid, gid);
  const stateFallback = path.join(os.tmpdir(), `stasis-${uid}`);
  return {
    name,
    uid,
    gid,
    home,
    stasis: (args, env = {}) => runAs(uid, gid, home, args, env),
    remove() {
      try {
        execFileSync('pkill', ['-KILL', '-u', String(uid)], { stdio: 'ignore' });
      } catch {
        /* nothing left running */
      }
      try {
        execFileSync('/usr/sbin/userdel', [name], { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
      fs.rmSync(home, { recursive: true, force: true });
      fs.rmSync(stateFallback, { recursive: true, force: true });
    },
  };
}

function runAs(uid: number, gid: number, cwd: string, args: string[], env: Record<string, string>): Promise<UserRun> {
  return new Promise((resolve) => {
    const child = spawn(STASIS_BIN, args, {
      uid,
      gid,
      cwd,
      env: { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    // A detached container keeps our pipes open: settle on exit, after a moment for the last output.
    child.on('exit', (code) => {
      clearTimeout(timer);
      setTimeout(() => resolve({ code, stdout, stderr }), 50);
    });
  });
}

/** The shared busybox rootfs, readable by everyone (a rootless container only reads it). */
export const sharedRootfs = baseRootfs;
