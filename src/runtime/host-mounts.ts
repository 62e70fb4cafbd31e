/**
 * Containers without a mount namespace mount into the host's mount table: the plan binds the rootfs onto
 * itself and hangs every container mount below that bind. Those mounts outlive the container unless stasis
 * takes them down, on delete and when create fails. Only what stasis stacked is removed: it counts the mounts
 * at the rootfs before create (an engine may have mounted an overlay there) and detaches the topmost one,
 * with its whole subtree, only while there are more than that.
 */
import * as fs from 'node:fs';
import type { Spec } from '../spec/types';
import { hasNamespace } from '../plan/namespaces';
import { launch } from '../helper/launcher';
import { str, u32, type Step } from '../helper/protocol';
import { parseMountinfo } from '../util/mountinfo';

const MNT_DETACH = 2;

/** True when the container shares the host's mount namespace. */
export function sharesHostMounts(spec: Spec): boolean {
  return !hasNamespace(spec.linux?.namespaces ?? [], 'mount');
}

/** How many mounts are stacked at exactly `dir` in `mountinfo` text. */
export function mountsAt(dir: string, mountinfo: string): number {
  return parseMountinfo(mountinfo).filter((e) => e.mountpoint === dir).length;
}

/** The mounts stacked at `dir` right now. */
export function hostMountsAt(dir: string): number {
  return mountsAt(dir, fs.readFileSync('/proc/self/mountinfo', 'utf8'));
}

/** The plan that detaches the topmost mount at `rootfs` and everything below it. */
export function unmountPlan(rootfs: string): Step[] {
  return [
    { op: 'UMOUNT', args: [str(rootfs), u32(MNT_DETACH)], what: `unmount the container's mounts at ${rootfs}` },
    { op: 'READY', args: [], what: 'report the mounts removed' },
  ];
}

/** Detaches what the container stacked on `rootfs`, if anything is still there beyond `base` mounts. */
export async function unmountOwn(rootfs: string, base: number): Promise<void> {
  if (rootfs === '/' || hostMountsAt(rootfs) <= base) return;
  await launch(unmountPlan(rootfs), { stdio: ['ignore', 'ignore', 'inherit'] });
}
