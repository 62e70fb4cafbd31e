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
