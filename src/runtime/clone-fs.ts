/**
 * The files and the mount of one clone (layout in clone-plan.ts): made before its restore, removed by
 * delete. The directory is claimed with mkdir first, so a leftover from a restore that was killed is
 * noticed (and named) instead of reused, and everything a clone owns is found again from its id alone.
 */
import * as fs from 'node:fs';
import { launch, HelperStepError } from '../helper/launcher';
import type { Spec } from '../spec/types';
import { parseMountinfo } from '../util/mountinfo';
import { RuntimeError, errnoText, isErrno } from './errors';
import { CLONES_DIR, cloneLayout, overlayMountSteps, overlayUnmountSteps, type CloneLayout } from './clone-plan';
import * as path from 'node:path';

/**
 * Makes clone `id`'s bundle: claims `<root>/.clones/<id>`, writes its config.json and mounts the overlay
 * (lower: `baseRootfs`). On failure whatever was made is removed again.
 */
export async function prepareCloneBundle(root: string, id: string, spec: Spec, baseRootfs: string): Promise<CloneLayout> {
  const layout = cloneLayout(root, id);
  fs.mkdirSync(path.join(path.resolve(root), CLONES_DIR), { recursive: true, mode: 0o700 });
  try {
    fs.mkdirSync(layout.dir, { mode: 0o700 });
  } catch (err) {
    if (isErrno(err, 'EEXIST')) throw leftover(id, layout.dir);
    throw new RuntimeError('system', `cannot create the clone directory ${layout.dir}: ${errnoText(err)}`);
  }
  try {
    for (const d of [layout.upper, layout.work, layout.rootfs]) fs.mkdirSync(d, { mode: 0o755 });
    fs.writeFileSync(layout.config, JSON.stringify(spec, null, 2), { mode: 0o600 });
    await launch(overlayMountSteps(baseRootfs, layout), { stdio: ['ignore', 'ignore', 'inherit'] }).catch((err: unknown) => {
      if (err instanceof HelperStepError) throw new RuntimeError('system', `restore --clone: ${err.message}`);
      throw err;
    });
  } catch (err) {
    await removeCloneBundle(root, id).catch(() => undefined);
    throw err;
  }
  return layout;
}

/** True when `<root>/.clones/<id>` exists (a clone, or what a killed restore left of one). */
export function cloneBundleExists(root: string, id: string): boolean {
  return fs.existsSync(cloneLayout(root, id).dir);
}

/** The error for a clone directory that exists without being expected. */
export function leftover(id: string, dir: string): RuntimeError {
  return new RuntimeError('exists', `clone directory ${dir} already exists (left by an interrupted restore?): run stasis delete --force ${id}`);
}

/**
 * Unmounts clone `id`'s overlay and removes its directory (bundle, upper and work layers). Does nothing when
 * there is none. Refuses to remove a directory whose overlay is still mounted: removing through the mount
 * would write whiteouts instead of freeing anything.
 */
export async function removeCloneBundle(root: string, id: string): Promise<void> {
  const layout = cloneLayout(root, id);
  if (!fs.existsSync(layout.dir)) return;
  for (let i = 0; i < 8 && isMounted(layout.rootfs); i++) {
    await launch(overlayUnmountSteps(layout), { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  if (isMounted(layout.rootfs)) throw new RuntimeError('system', `cannot unmount the overlay of clone ${id} at ${layout.rootfs}`);
  try {
    fs.rmSync(layout.dir, { recursive: true, force: true });
  } catch (err) {
    throw new RuntimeError('system', `cannot remove the clone directory ${layout.dir}: ${errnoText(err)}`);
  }
}

function isMounted(dir: string): boolean {
  return parseMountinfo(fs.readFileSync('/proc/self/mountinfo', 'utf8')).some((e) => e.mountpoint === dir);
}
