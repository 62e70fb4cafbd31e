/**
 * Checks made before a restore touches anything: is the image directory a complete checkpoint, and can
 * this host honour the LSM flags.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RestoreFlags } from '../criu';
import { RuntimeError, errnoText } from './errors';

/** Files every CRIU dump writes; without them a restore cannot even start. */
export const REQUIRED_IMAGES = ['inventory.img', 'pstree.img'];

/** Which required image files a listing lacks (pure). */
export function missingImages(names: readonly string[]): string[] {
  const have = new Set(names);
  return REQUIRED_IMAGES.filter((n) => !have.has(n));
}

/** Throws a one-line error when `dir` is not a directory holding a complete dump. */
export function checkImagesDir(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    throw new RuntimeError('not-found', `image directory ${dir}: ${errnoText(err)}`);
  }
  const missing = missingImages(names);
  if (missing.length > 0) {
    throw new RuntimeError('invalid-spec', `image directory ${dir} is not a complete checkpoint: ${missing.join(', ')} missing`);
  }
  for (const n of REQUIRED_IMAGES) {
    if (fs.statSync(path.join(dir, n)).size < 8) {
      throw new RuntimeError('invalid-spec', `image directory ${dir} is not a complete checkpoint: ${n} is truncated`);
    }
  }
}

/** Which LSMs the host runs, injectable for unit tests. */
export interface LsmHost {
  apparmor(): boolean;
  selinux(): boolean;
}

/** The real host: AppArmor's module parameter and SELinux's filesystem. */
export const realLsmHost: LsmHost = {
  apparmor: () => {
    try {
      return fs.readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
    } catch {
      return false;
    }
  },
  selinux: () => fs.existsSync('/sys/fs/selinux/enforce'),
};

/** Why --lsm-profile / --lsm-mount-context cannot be honoured here, or undefined (pure given the host). */
export function lsmObstacle(flags: Pick<RestoreFlags, 'lsmProfile' | 'lsmMountContext'>, host: LsmHost): string | undefined {
  if (flags.lsmProfile !== undefined) {
    const type = flags.lsmProfile.split(':')[0];
    const on = type === 'apparmor' ? host.apparmor() : type === 'selinux' ? host.selinux() : false;
    if (!on) return `--lsm-profile: ${type} is not enabled on this host`;
  }
  if (flags.lsmMountContext !== undefined && !host.selinux()) {
    return '--lsm-mount-context: selinux is not enabled on this host';
  }
  return undefined;
}

/** The first stdio link of a checkpoint that is a terminal (a pty slave or a tty), or undefined. */
export function outsideTerminal(links: readonly string[]): string | undefined {
  return links.find((l) => /^\/dev\/(pts\/\d+|tty\w*|console)$/.test(l));
}

/**
 * Why a checkpoint whose stdio was a terminal of the host (not a container terminal: those come back through
 * --console-socket) cannot be restored as asked, or undefined (pure). CRIU restores such a terminal only as
 * a shell job, and then hands the restored process the terminal on its own stdin: restore's stdin.
 */
export function shellJobObstacle(i: { shellJob: boolean; links: readonly string[]; containerTerminal: boolean; stdinIsTty: boolean }): string | undefined {
  if (i.containerTerminal) return undefined;
  const tty = outsideTerminal(i.links);
  if (tty === undefined) return undefined;
  if (!i.shellJob) return `restore: the checkpoint's stdio is a terminal outside the container (${tty}): restore it with --shell-job, with a terminal as stdin`;
  if (!i.stdinIsTty) return `restore: --shell-job: the checkpoint's stdio is a terminal outside the container (${tty}) and criu gives the restored process restore's stdin in its place, which is not a terminal`;
  return undefined;
}

/**
 * Why a --manage-cgroups-mode cannot work for this restore, or undefined (pure). stasis makes the container's
 * cgroup and writes the bundle's limits before CRIU restores into it: `strict` makes CRIU abort on any cgroup
 * that already exists, so it always fails. `full` also writes the dumped properties of existing cgroups,
 * freezer.state among them, before the tasks resume: an image that says FROZEN (stasis froze the container
 * for the dump, or it was paused) leaves CRIU waiting on frozen tasks.
 */
export function cgroupModeObstacle(mode: string | undefined, imageFreezer: 'FROZEN' | 'THAWED' | undefined): string | undefined {
  if (mode === 'strict') {
    return '--manage-cgroups-mode strict: stasis creates the container\'s cgroup and writes its limits before criu restores into it, and strict makes criu abort on a cgroup that exists';
  }
  if (mode === 'full' && imageFreezer !== 'THAWED') {
    return '--manage-cgroups-mode full: the checkpoint\'s cgroup image says FROZEN (the container was frozen for the dump or paused) and criu would write that back before resuming it: checkpoint a running container with --manage-cgroups-mode full';
  }
  return undefined;
}
