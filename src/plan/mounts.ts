/**
 * `mounts` → MOUNT / REMOUNT / PROPAGATION / SYMLINK steps, in spec order, all relative to the rootfs
 * (BASE_ROOTFS), so that the helper resolves every destination inside the container's root. `tmpcopyup` on a
 * tmpfs becomes the MOUNT's COPY_UP bit (the helper copies the covered directory into the new tmpfs).
 */
import { posix } from 'node:path';
import { Base, MountOpt, TargetKind, str, u32, u64, type Step } from '../helper/protocol';
import type { Mount } from '../spec/types';
import { PlanError } from './errors';
import type { HostFacts } from './host';
import { MS, parseMountOptions, propagationName, type ParsedMountOptions } from './mount-options';

/**
 * The container's cgroup directory on the host: one per v1 hierarchy (e.g. `cpu` → /sys/fs/cgroup/cpu/stasis/abc),
 * or a single entry with controller '' on a cgroup v2 host.
 */
export interface CgroupMount {
  /** hierarchy directory name under /sys/fs/cgroup, e.g. `memory` or `cpu,cpuacct`; '' for cgroup v2 */
  controller: string;
  hostPath: string;
}

/** What the mount builder needs besides the mounts themselves. */
export interface MountContext {
  host: HostFacts;
  /** bundle directory: relative bind sources are taken relative to it */
  bundle?: string;
  /** container cgroup dirs per v1 controller (or the one v2 dir), for `cgroup` mounts */
  cgroupMounts?: readonly CgroupMount[];
  /** the container has its own cgroup namespace (set up before the mounts) */
  cgroupNs?: boolean;
}

/**
 * Files under /proc that may be bind-mounted over (what lxcfs provides). Anything else under /proc is
 * refused: a bind over a /proc file is how several container breakouts hid kernel interfaces.
 */
const PROC_OVERLAY_ALLOWED = new Set([
  '/proc/cpuinfo', '/proc/diskstats', '/proc/meminfo', '/proc/stat', '/proc/swaps', '/proc/uptime',
  '/proc/loadavg', '/proc/slabinfo', '/proc/net/dev', '/proc/sys/kernel/ns_last_pid',
]);

/** Normalised destination (no `.`/`..`, no trailing slash) for comparisons. */
export function cleanPath(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** True when the mount is a bind mount (type `bind`, or a bind/rbind option). */
export function isBindMount(m: Mount): boolean {
  return m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
}

function checkProcDestination(m: Mount, dest: string, field: string): void {
  if (dest === '/proc' && m.type !== 'proc') {
    throw new PlanError(`${field}.destination`, 'only a proc filesystem may be mounted on /proc');
  }
  if (dest.startsWith('/proc/') && !PROC_OVERLAY_ALLOWED.has(dest)) {
    throw new PlanError(`${field}.destination`, `${dest} is inside /proc and cannot be mounted over`);
  }
}

function propagationSteps(dest: string, opts: ParsedMountOptions): Step[] {
  return opts.propagation.map((p) => ({
    op: 'PROPAGATION',
    args: [u32(Base.ROOTFS), str(dest), u64(p)],
    what: `make ${dest} ${propagationName(p)}`,
  }));
}

function remountStep(dest: string, flags: number, what: string): Step {
  return { op: 'REMOUNT', args: [u32(Base.ROOTFS), str(dest), u64(flags)], what };
}

/** `mountOpts` is a set of MountOpt bits. */
function mountStep(source: string, dest: string, fstype: string, flags: number, data: string,
  kind: number, mountOpts: number, what: string): Step {
  return {
    op: 'MOUNT',
    args: [str(source), u32(Base.ROOTFS), str(dest), str(fstype), u64(flags), str(data), u32(kind), u32(mountOpts)],
    what,
  };
}

/** tmpfs options that set the attributes of the mount's root. */
const TMPFS_ROOT_OPTIONS = /(^|,)(mode|uid|gid)=/;

/**
 * A tmpfs that starts as a copy of the directory it covers (`tmpcopyup`). Its root takes the directory's
 * owner and mode too (as runc does: Podman's /run stays 0755 instead of tmpfs's 1777), unless the options
 * set them with mode=, uid= or gid=. The helper copies right after mounting, so a read-only tmpfs is mounted
 * writable first and made read-only by a remount once filled.
 */
function copyUpTmpfsSteps(m: Mount, dest: string, opts: ParsedMountOptions): Step[] {
  const source = m.source || 'tmpfs';
  const rdonly = opts.flags & MS.RDONLY;
  const bits = MountOpt.COPY_UP | (TMPFS_ROOT_OPTIONS.test(opts.data) ? 0 : MountOpt.COPY_UP_ROOT);
  const steps = [mountStep(source, dest, 'tmpfs', opts.flags & ~MS.RDONLY, opts.data, TargetKind.DIR, bits,
    `mount tmpfs on ${dest} with a copy of its contents`)];
  if (rdonly) steps.push(remountStep(dest, opts.flags, `make ${dest} read-only after the copy`));
  return steps;
}

/** tmpcopyup means "a tmpfs filled from the rootfs": on any other mount it has no meaning. */
function checkCopyUp(m: Mount, opts: ParsedMountOptions, field: string): void {
  if (opts.copyUpAt < 0) return;
  const kind = isBindMount(m) ? 'a bind mount' : opts.remount ? 'a remount' : m.type !== 'tmpfs' ? `type "${m.type ?? ''}"` : '';
  if (kind) throw new PlanError(`${field}.options[${opts.copyUpAt}]`, `tmpcopyup needs a tmpfs mount, not ${kind}`);
}

function bindSteps(m: Mount, dest: string, opts: ParsedMountOptions, field: string, ctx: MountContext): Step[] {
  if (!m.source) throw new PlanError(`${field}.source`, 'a bind mount needs a source');
  let source = m.source;
  if (!posix.isAbsolute(source)) {
    if (!ctx.bundle) throw new PlanError(`${field}.source`, 'relative bind source needs the bundle path');
    source = posix.join(ctx.bundle, source);
  }
  // The target must have the source's type: a file can only be bound onto a file. A source missing now
  // may still be created by a hook, so it defaults to a directory and the helper reports what it finds.
  const kind = ctx.host.fileKind(source) === 'file' ? TargetKind.FILE : TargetKind.DIR;
  const recursive = opts.recursive ? MS.REC : 0;
  const steps: Step[] = [
    mountStep(source, dest, '', MS.BIND | recursive, '', kind, MountOpt.SOURCE_IS_PATH, `bind mount ${source} on ${dest}`),
  ];
  // The kernel ignores attribute flags on the first bind; they only take effect on a bind remount.
  if (opts.flags !== 0) steps.push(remountStep(dest, MS.BIND | opts.flags, `apply mount options to ${dest}`));
  return steps;
}

/**
 * cgroup v2: with its own cgroup namespace the container gets a fresh cgroup2 mount, whose root is its own
 * cgroup; without one, a bind of its cgroup directory. Either way only the container's subtree is reachable,
 * and a read-only option is applied to that mount alone (a remount without MS_BIND would change the host's
 * cgroup2 superblock for everyone).
 */
function cgroupV2Steps(dest: string, opts: ParsedMountOptions, hostPath: string, ctx: MountContext): Step[] {
  const base = MS.NOSUID | MS.NODEV | MS.NOEXEC;
  if (ctx.cgroupNs) {
    return [mountStep('cgroup2', dest, 'cgroup2', base | opts.flags, '', TargetKind.DIR, 0, `mount cgroup2 on ${dest}`)];
  }
  const steps = [mountStep(hostPath, dest, '', MS.BIND | MS.REC, '', TargetKind.DIR, MountOpt.SOURCE_IS_PATH, `bind cgroup ${hostPath} on ${dest}`)];
  steps.push(remountStep(dest, MS.BIND | base | opts.flags, `apply mount options to ${dest}`));
  return steps;
}

function cgroupSteps(dest: string, opts: ParsedMountOptions, field: string, ctx: MountContext): Step[] {
  if (!ctx.cgroupMounts) {
    throw new PlanError(`${field}.type`, 'a cgroup mount needs the container cgroup directories (none were given)');
  }
  const v2 = ctx.cgroupMounts.length === 1 && ctx.cgroupMounts[0].controller === '' ? ctx.cgroupMounts[0] : undefined;
  if (v2) return cgroupV2Steps(dest, opts, v2.hostPath, ctx);
  return cgroupV1Steps(dest, opts, ctx);
}

function cgroupV1Steps(dest: string, opts: ParsedMountOptions, ctx: MountContext): Step[] {
  const base = MS.NOSUID | MS.NODEV | MS.NOEXEC;
  const steps: Step[] = [mountStep('tmpfs', dest, 'tmpfs', base, 'mode=755', TargetKind.DIR, 0, `mount cgroup tmpfs on ${dest}`)];
  for (const cg of ctx.cgroupMounts!) {
    const sub = `${dest}/${cg.controller}`;
    steps.push(mountStep(cg.hostPath, sub, '', MS.BIND | MS.REC, '', TargetKind.DIR, MountOpt.SOURCE_IS_PATH, `bind cgroup ${cg.hostPath} on ${sub}`));
    if (opts.flags !== 0) steps.push(remountStep(sub, MS.BIND | opts.flags, `apply mount options to ${sub}`));
    // Co-mounted hierarchies (cpu,cpuacct) get one link per controller, as on the host.
    const parts = cg.controller.split(',');
    if (parts.length > 1) {
      for (const part of parts) {
        steps.push({ op: 'SYMLINK', args: [str(cg.controller), str(`${dest}/${part}`)], what: `link ${dest}/${part} to ${cg.controller}` });
      }
    }
  }
  if (opts.flags & MS.RDONLY) steps.push(remountStep(dest, base | opts.flags, `make ${dest} read-only`));
  return steps;
}

/** Steps for one spec mount (`index` is its position in `mounts`, for error messages). */
export function mountSteps(m: Mount, index: number, ctx: MountContext): Step[] {
  const field = `mounts[${index}]`;
  const dest = cleanPath(m.destination);
  checkProcDestination(m, dest, field);
  const opts = parseMountOptions(m.options, `${field}.options`);
  if (m.uidMappings || m.gidMappings) throw new PlanError(`${field}.uidMappings`, 'id-mapped mounts are not supported');
  checkCopyUp(m, opts, field);
  let steps: Step[];
  if (opts.copyUpAt >= 0) {
    steps = copyUpTmpfsSteps(m, dest, opts);
  } else if (isBindMount(m)) {
    steps = bindSteps(m, dest, opts, field, ctx);
  } else if (opts.remount) {
    steps = [remountStep(dest, opts.flags, `remount ${dest}`)];
  } else if (m.type === 'cgroup') {
    steps = cgroupSteps(dest, opts, field, ctx);
  } else {
    if (!m.type) throw new PlanError(`${field}.type`, 'required unless the options include bind or rbind');
    const source = m.source || m.type;
    steps = [mountStep(source, dest, m.type, opts.flags, opts.data, TargetKind.DIR, 0, `mount ${m.type} on ${dest}`)];
  }
  return [...steps, ...propagationSteps(dest, opts)];
}

/** Steps for every spec mount, in spec order. */
export function allMountSteps(mounts: readonly Mount[] | undefined, ctx: MountContext): Step[] {
  return (mounts ?? []).flatMap((m, i) => mountSteps(m, i, ctx));
}
