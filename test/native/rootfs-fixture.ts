/**
 * Shared pieces of the rootfs/mount/device/seccomp helper tests: a busybox rootfs in a temp dir, plan
 * builders for the common container setup, and a runner that captures the container's output.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { TestContext } from 'node:test';
import { launch, HelperStepError } from '../../src/helper/launcher';
import { helperPath } from '../../src/helper/paths';
import { Base, ParentMode, TargetKind, str, strlist, u32, u64, type Step } from '../../src/helper/protocol';

/** Linux constants the plans below use (linux/sched.h, linux/mount.h). */
export const CLONE_NEWNS = 0x00020000;
export const CLONE_NEWUTS = 0x04000000;
export const CLONE_NEWIPC = 0x08000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_BIND = 0x1000;
export const MS_REC = 0x4000;
export const MS_PRIVATE = 0x40000;
export const MS_STRICTATIME = 0x1000000;
export const S_IFCHR = 0o020000;

const BUSYBOX = '/bin/busybox';

/** Skips the test unless it can do what it needs: root and a built helper. Returns true when skipped. */
export function skipUnlessReady(t: TestContext): boolean {
  if (process.getuid?.() !== 0) {
    t.skip('needs root (mount namespaces, pivot_root, mknod)');
    return true;
  }
  if (!fs.existsSync(BUSYBOX)) {
    t.skip(`needs ${BUSYBOX} (busybox-static) to build a rootfs`);
    return true;
  }
  const helper = helperPath();
  if (!fs.existsSync(helper)) {
    t.skip(`no helper at ${helper}: build it or set STASIS_HELPER`);
    return true;
  }
  return false;
}

/** Makes a temp dir removed when the test ends (even on failure). */
export function tempDir(t: TestContext, prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Builds a minimal busybox rootfs: /bin with every applet as a symlink, and empty standard dirs. */
export function makeRootfs(t: TestContext): string {
  const root = tempDir(t, 'stasis-rootfs-');
  for (const d of ['bin', 'proc', 'dev', 'tmp', 'etc', 'sys']) fs.mkdirSync(path.join(root, d));
  fs.copyFileSync(BUSYBOX, path.join(root, 'bin', 'busybox'));
  fs.chmodSync(path.join(root, 'bin', 'busybox'), 0o755);
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const a of applets) if (a !== 'busybox') fs.symlinkSync('busybox', path.join(root, 'bin', a));
  return root;
}

/** Lines of the host's mountinfo that mention any of the given paths (should stay empty). */
export function hostMountsUnder(...paths: string[]): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => paths.some((p) => line.includes(p)));
}

/** CLONE into fresh namespaces, make every mount private, and bind the rootfs onto itself. */
export function enterAndBind(root: string, cloneFlags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC): Step[] {
  return [
    { op: 'CLONE', args: [u64(cloneFlags), u32(ParentMode.WAIT)], what: 'clone the container process' },
    { op: 'PROPAGATION', args: [u32(Base.HOST), str('/'), u64(MS_REC | MS_PRIVATE)], what: 'make / private' },
    {
      op: 'MOUNT',
      args: [str(root), u32(Base.HOST), str(root), str(''), u64(MS_BIND | MS_REC), str(''), u32(TargetKind.EXISTING), u32(1)],
      what: 'bind the rootfs onto itself',
    },
    { op: 'SET_ROOTFS', args: [str(root)], what: 'open the rootfs' },
  ];
}

/** A MOUNT step of a filesystem (not a bind) at a rootfs path, created as a directory. */
export function mountFs(fstype: string, target: string, flags: number, data = ''): Step {
  return {
    op: 'MOUNT',
    args: [str(fstype), u32(Base.ROOTFS), str(target), str(fstype), u64(flags), str(data), u32(TargetKind.DIR), u32(0)],
    what: `mount ${fstype} on ${target}`,
  };
}

/** /proc, a tmpfs /dev and a /dev/null made by MKNOD. */
export function basicMounts(): Step[] {
  return [
    mountFs('proc', '/proc', MS_NOSUID | MS_NODEV | MS_NOEXEC),
    mountFs('tmpfs', '/dev', MS_NOSUID | MS_STRICTATIME, 'mode=755,size=65536k'),
    mknod('/dev/null', 0o666, 1, 3),
  ];
}

/** A MKNOD step of a character device. */
export function mknod(p: string, perm: number, major: number, minor: number): Step {
  return { op: 'MKNOD', args: [str(p), u32(S_IFCHR | perm), u32(major), u32(minor), u32(0), u32(0)], what: `mknod ${p}` };
}

/** Single-arg or no-arg steps, named. */
export const step = {
  pivot: (): Step => ({ op: 'PIVOT_ROOT', args: [], what: 'pivot_root' }),
  moveRoot: (): Step => ({ op: 'MOVE_ROOT', args: [], what: 'move the rootfs onto /' }),
  mask: (p: string): Step => ({ op: 'MASK_PATH', args: [str(p)], what: `mask ${p}` }),
  readonly: (p: string): Step => ({ op: 'READONLY_PATH', args: [str(p)], what: `make ${p} read-only` }),
  mkdir: (base: number, p: string, mode = 0o755): Step => ({ op: 'MKDIR', args: [u32(base), str(p), u32(mode)], what: `mkdir ${p}` }),
  symlink: (target: string, p: string): Step => ({ op: 'SYMLINK', args: [str(target), str(p)], what: `symlink ${p}` }),
  writeFile: (base: number, p: string, data: string): Step => ({
    op: 'WRITE_FILE',
    args: [u32(base), str(p), str(data)],
    what: `write ${p}`,
  }),
  remount: (base: number, p: string, flags: number): Step => ({
    op: 'REMOUNT',
    args: [u32(base), str(p), u64(flags)],
    what: `remount ${p}`,
  }),
  bindDevice: (host: string, p: string): Step => ({ op: 'BIND_DEVICE', args: [str(host), str(p)], what: `bind ${host}` }),
};

/** LOOKUP_EXEC + EXEC of `sh -c script` (argv[0] "sh", so busybox itself works too) with PATH=/bin. */
export function shell(script: string, shellPath = '/bin/sh'): Step[] {
  return [
    { op: 'LOOKUP_EXEC', args: [str(shellPath), str('/bin')], what: 'find the shell' },
    { op: 'EXEC', args: [strlist(['sh', '-c', script]), strlist(['PATH=/bin'])], what: 'exec the shell' },
  ];
}

/** What one run produced. */
export interface RunResult {
  stdout: string;
  stderr: string;
  status?: number;
  signal?: number;
  /** Set when the helper reported a failing step instead. */
  error?: HelperStepError;
}

/** Runs a plan and collects the container's stdout/stderr (and the helper's debug log lines into
 * opts.logs) until the helper has exited. */
export async function runPlan(
  steps: Step[],
  opts: { onSync?: (name: string, pid: number | undefined) => void; logs?: string[] } = {},
): Promise<RunResult> {
  const out: Buffer[] = [];
  const errOut: Buffer[] = [];
  let helperDone: Promise<unknown> = Promise.resolve();
  const result: RunResult = { stdout: '', stderr: '' };
  try {
    const res = await launch(steps, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      onSync: async (name, pid) => {
        opts.onSync?.(name, pid);
        return { continue: true };
      },
      onLog: (line) => opts.logs?.push(line),
    });
    // The pipes end once the helper and the container have exited, so no output is lost.
    const closed = Promise.all([res.output[1]?.then((b) => out.push(b)), res.output[2]?.then((b) => errOut.push(b))]);
    helperDone = Promise.race([closed, res.helperExit.then(() => new Promise((r) => setTimeout(r, 500)))]);
    const exit = await res.childExit;
    result.status = exit.status;
    result.signal = exit.signal;
  } catch (err) {
    if (!(err instanceof HelperStepError)) throw err;
    result.error = err;
  }
  await helperDone;
  result.stdout = Buffer.concat(out).toString('utf8');
  result.stderr = Buffer.concat(errOut).toString('utf8');
  return result;
}
