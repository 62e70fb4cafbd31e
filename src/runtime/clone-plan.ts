/**
 * Pure parts of `restore --clone N`: the clone ids, where each clone's private files live, the spec each
 * clone is restored with, and the helper plans that mount and unmount its copy-on-write root.
 *
 * A clone is an ordinary restore whose bundle is stasis's own: `<root>/.clones/<id>/` holds a config.json
 * (the base bundle's, root.path pointing at `rootfs`) and an overlay mounted on `rootfs` whose lower layer
 * is the base bundle's rootfs and whose upper and work directories belong to that clone alone. N clones
 * share the image read-only and each pays only for what it writes. The directory is named after the
 * container id, so delete finds it from the id alone, even when stasis died before writing any state.
 */
import * as path from 'node:path';
import type { Spec } from '../spec/types';
import { Base, TargetKind, str, u32, u64, type Step } from '../helper/protocol';
import { RuntimeError } from './errors';

/** The directory under the state root that holds every clone's bundle (a dot: never taken for an id). */
export const CLONES_DIR = '.clones';

/** umount2 flag: detach now, let the kernel finish when the last user goes. */
const MNT_DETACH = 2;

/** The files of one clone: its bundle directory and the overlay's parts. */
export interface CloneLayout {
  /** The clone's bundle: config.json and the `rootfs` mount point. */
  dir: string;
  config: string;
  /** Where the overlay is mounted (the clone's root). */
  rootfs: string;
  upper: string;
  work: string;
}

/** The layout of clone `id` under state root `root`. Pure. */
export function cloneLayout(root: string, id: string): CloneLayout {
  const dir = path.join(path.resolve(root), CLONES_DIR, id);
  return {
    dir,
    config: path.join(dir, 'config.json'),
    rootfs: path.join(dir, 'rootfs'),
    upper: path.join(dir, 'upper'),
    work: path.join(dir, 'work'),
  };
}

/** `<id>-1` … `<id>-<n>`; refuses a count that is not a positive integer (at most 1000). Pure. */
export function cloneIds(id: string, n: number): string[] {
  if (!Number.isInteger(n) || n < 1 || n > 1000) {
    throw new RuntimeError('usage', `--clone: expected a number of clones from 1 to 1000, got ${n}`);
  }
  return Array.from({ length: n }, (_, i) => `${id}-${i + 1}`);
}

/**
 * The spec clone `k` is restored with: the base spec with its root on the clone's overlay, relative bind
 * sources made absolute against the base bundle (the clone's bundle is elsewhere), and an explicit
 * cgroupsPath suffixed with `-k` so no two clones share a cgroup. Pure.
 */
export function cloneSpec(base: Spec, baseBundle: string, k: number): Spec {
  const spec = structuredClone(base);
  spec.root = { ...(spec.root ?? { path: 'rootfs' }), path: 'rootfs' };
  for (const m of spec.mounts ?? []) {
    if (m.source && !path.isAbsolute(m.source) && isBind(m.type, m.options)) m.source = path.resolve(baseBundle, m.source);
  }
  const cg = spec.linux?.cgroupsPath;
  if (cg) spec.linux!.cgroupsPath = suffixCgroupsPath(cg, `-${k}`);
  return spec;
}

function isBind(type: string | undefined, options: readonly string[] | undefined): boolean {
  return type === 'bind' || (options ?? []).some((o) => o === 'bind' || o === 'rbind');
}

/** `/a/b` → `/a/b-1`; systemd's `slice:prefix:name` → `slice:prefix:name-1`. Pure. */
export function suffixCgroupsPath(p: string, suffix: string): string {
  return p.replace(/\/+$/, '') + suffix;
}

/** The overlay's mount data. Refuses paths overlayfs would split (`,` and `:` separate its options). Pure. */
export function overlayData(lower: string, layout: CloneLayout): string {
  for (const [what, p] of [['base rootfs', lower], ['clone directory', layout.dir]] as const) {
    if (/[,:\\\n]/.test(p)) throw new RuntimeError('usage', `restore --clone: the ${what} path ${p} contains , : or \\, which overlayfs options cannot carry`);
  }
  return `lowerdir=${lower},upperdir=${layout.upper},workdir=${layout.work}`;
}

/** Helper plan: mount the clone's overlay on its rootfs directory (which must exist). Pure. */
export function overlayMountSteps(lower: string, layout: CloneLayout): Step[] {
  return [
    {
      op: 'MOUNT',
      args: [str('overlay'), u32(Base.HOST), str(layout.rootfs), str('overlay'), u64(0), str(overlayData(lower, layout)), u32(TargetKind.EXISTING), u32(0)],
      what: `mount the clone's overlay on ${layout.rootfs} (lower ${lower})`,
    },
    { op: 'READY', args: [], what: 'report the clone overlay mounted' },
  ];
}

/** Helper plan: detach the clone's overlay (a path not mounted is skipped by UMOUNT). Pure. */
export function overlayUnmountSteps(layout: CloneLayout): Step[] {
  return [
    { op: 'UMOUNT', args: [str(layout.rootfs), u32(MNT_DETACH)], what: `unmount the clone's overlay at ${layout.rootfs}` },
    { op: 'READY', args: [], what: 'report the clone overlay unmounted' },
  ];
}
