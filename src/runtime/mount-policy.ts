/**
 * The mount policy of a checkpoint: what happens to each mount of the container, decided once at dump time
 * from the mount table and the spec, and recorded in the checkpoint so that a restore (possibly from another
 * bundle, on another host) checks its own bundle against it instead of guessing. Pure.
 *
 *   external  not dumped; the image keeps an id and the restoring runtime binds a host path there
 *             (bind mounts, host devices, v1 cgroup directories, the /dev/null binds of masked files)
 *   masked    an external mount over a masked path: a masked file is a /dev/null bind (restore binds its own
 *             /dev/null), a masked directory an empty read-only tmpfs (restore binds an identical one)
 *   native    dumped by CRIU with its content (tmpfs such as /dev/shm, and the virtual filesystems CRIU
 *             re-creates itself: proc, sysfs, devpts, mqueue and binds inside them)
 *
 * Nothing is skipped: stasis's containers only have mounts their spec asked for, and CRIU re-creates the
 * virtual ones faithfully; a mount the runtime did not make (one added later with nsenter) is still dumped,
 * so the restored container has what the checkpointed one had.
 */
import { posix } from 'node:path';
import type { Spec } from '../spec/types';
import { dumpExternalMounts, type DumpExternal, type MountEntry, type RebuiltMounts } from './checkpoint-mounts';
import type { ExtMountMap } from '../criu/types';
import { RuntimeError } from './errors';

/** What becomes of one mount. */
export type MountAction = 'external' | 'masked' | 'native';

/** One mount of the checkpointed container and its fate. */
export interface MountPolicyEntry {
  /** Mount point inside the container. */
  mountpoint: string;
  fstype: string;
  action: MountAction;
  /** For external and masked mounts: the id in CRIU's image, which a restore must map to a host path. */
  id?: string;
  /** Why (external: bind, cgroup, device, masked; native: the filesystem type CRIU re-creates). */
  reason: string;
}

/**
 * The policy for every mount below the container's root (`mounts` is the container's mountinfo, read from
 * inside its mount namespace, so the root is "/"). `resolve` maps spec destinations as in dumpExternalMounts.
 */
export function mountPolicy(
  spec: Spec,
  mounts: readonly MountEntry[],
  resolve?: (dest: string) => string,
  rebuilt?: RebuiltMounts,
): MountPolicyEntry[] {
  const external = new Map<string, DumpExternal>(dumpExternalMounts(spec, mounts, resolve, rebuilt).map((e) => [e.key, e]));
  const out: MountPolicyEntry[] = [];
  const seen = new Set<string>();
  // Walk from the last line: a later mount at the same point hides the earlier one, only the top one counts.
  for (let i = mounts.length - 1; i >= 0; i--) {
    const m = mounts[i];
    if (m.mountpoint === '/' || seen.has(m.mountpoint)) continue;
    seen.add(m.mountpoint);
    const ext = external.get(m.mountpoint);
    if (ext) {
      out.push({
        mountpoint: m.mountpoint,
        fstype: m.fstype,
        action: ext.reason === 'masked' ? 'masked' : 'external',
        id: ext.val,
        reason: ext.reason,
      });
    } else {
      out.push({ mountpoint: m.mountpoint, fstype: m.fstype, action: 'native', reason: m.fstype });
    }
  }
  return out.sort((a, b) => (a.mountpoint < b.mountpoint ? -1 : a.mountpoint > b.mountpoint ? 1 : 0));
}

/**
 * The ext_mnt map a restore passes to CRIU, limited to the ids the checkpoint recorded, each checked against
 * what the restoring bundle offers (`available`, from restoreExternalMounts). A recorded external mount the
 * bundle cannot provide is refused by name, before anything is touched: CRIU would fail later with an
 * obscure mount error, after the cgroup and state were made.
 */
export function restoreMountMap(policy: readonly MountPolicyEntry[], available: readonly ExtMountMap[], bundleDir: string): ExtMountMap[] {
  const byId = new Map(available.map((m) => [m.key, m.val]));
  const out: ExtMountMap[] = [];
  const ids = new Set<string>();
  for (const p of policy) {
    if (p.action === 'native' || !p.id || ids.has(p.id)) continue;
    ids.add(p.id);
    const host = byId.get(p.id);
    if (host === undefined) {
      throw new RuntimeError(
        'invalid-spec',
        `restore: the checkpoint has an external ${p.reason} mount at ${p.mountpoint} (id ${p.id}) but ${posix.join(bundleDir, 'config.json')} provides none there`,
      );
    }
    out.push({ key: p.id, val: host });
  }
  return out;
}

/** Checks the recorded policy's shape (it comes from a file that may be damaged). */
export function isMountPolicy(v: unknown): v is MountPolicyEntry[] {
  return (
    Array.isArray(v) &&
    v.every(
      (e) =>
        e &&
        typeof e === 'object' &&
        typeof e.mountpoint === 'string' &&
        typeof e.fstype === 'string' &&
        ['external', 'masked', 'native'].includes(e.action) &&
        (e.id === undefined || typeof e.id === 'string') &&
        typeof e.reason === 'string',
    )
  );
}
