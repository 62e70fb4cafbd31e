/**
 * Pure parts of `restore`: the helper plan that starts CRIU in a private mount namespace, the cgroup roots
 * CRIU restores into, and the container-specific CRIU options.
 *
 * Why a private mount namespace: CRIU wants the root it restores into to be a mount point, so the rootfs is
 * bound onto itself first. Node cannot mount, and a bind in the host's namespace could leak if stasis died;
 * made inside a namespace that only CRIU (and, after it, nobody) uses, it vanishes with CRIU.
 */
import { Base, TargetKind, str, strlist, u32, u64, type Step } from '../helper/protocol';
import { MS } from '../plan/mount-options';
import type { CgroupRoot, CriuOpts, ExtMountMap, InheritFd } from '../criu/types';

/** CLONE_NEWNS and CLONE_NEWNET, from sched.h. */
const CLONE_NEWNS = 0x00020000;
const CLONE_NEWNET = 0x40000000;
/** stasis-helper's first extra fd (docs/protocol.md): the socket CRIU serves its request on. */
export const HELPER_FIRST_EXTRA_FD = 5;

/**
 * The plan that turns stasis-helper into `criu swrk`: unshare the mount namespace, make every mount
 * private (nothing propagates back to the host), bind the rootfs onto itself, report ready, exec CRIU with
 * the socket at HELPER_FIRST_EXTRA_FD. CRIU's lookup is done before READY so a missing binary is reported.
 * `cgroupYard` is a directory in the container's state directory (created by the MOUNT if missing).
 */
export function criuLauncherSteps(rootfs: string, cgroupYard: string, criuPath: string, env: readonly string[]): Step[] {
  const envPath = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  return [
    { op: 'UNSHARE', args: [u64(CLONE_NEWNS)], what: 'create a private mount namespace for criu' },
    { op: 'PROPAGATION', args: [u32(Base.HOST), str('/'), u64(MS.REC | MS.PRIVATE)], what: 'make every mount private for criu' },
    {
      op: 'MOUNT',
      args: [str(rootfs), u32(Base.HOST), str(rootfs), str(''), u64(MS.BIND | MS.REC), str(''), u32(TargetKind.EXISTING), u32(0)],
      what: `bind the root filesystem ${rootfs} onto itself for criu`,
    },
    // CRIU mounts its cgroup "yard" relative to its cwd, the work directory, which it enters through
    // /proc/<stasis>/fd/N: a mount of the host's namespace, where CRIU cannot mount. A yard prepared here,
    // inside CRIU's own namespace, avoids that (and vanishes with the namespace).
    {
      op: 'MOUNT',
      args: [str('tmpfs'), u32(Base.HOST), str(cgroupYard), str('tmpfs'), u64(MS.NOSUID | MS.NODEV | MS.NOEXEC), str('mode=700'), u32(TargetKind.DIR), u32(0)],
      what: `mount the cgroup yard for criu on ${cgroupYard}`,
    },
    { op: 'LOOKUP_EXEC', args: [str(criuPath), str(envPath)], what: `find criu (${criuPath})` },
    { op: 'READY', args: [], what: 'report criu ready to start' },
    {
      op: 'EXEC',
      args: [strlist([criuPath, 'swrk', String(HELPER_FIRST_EXTRA_FD)]), strlist(env)],
      what: `execute ${criuPath}`,
    },
  ];
}

/**
 * cgroup_root entries from /proc/<criu pid>/cgroup once CRIU sits in the container's cgroup: every
 * controller stasis manages is restored under the directory CRIU is in. `controllers` are the v1 hierarchy
 * names (cgroup.paths() keys); on cgroup v2 the single '' key gives one entry without ctrl.
 */
export function cgroupRoots(procCgroup: string, controllers: readonly string[]): CgroupRoot[] {
  const wanted = new Set(controllers);
  const out: CgroupRoot[] = [];
  for (const line of procCgroup.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, ctrl, path] = m;
    if (!wanted.has(ctrl)) continue;
    out.push(ctrl === '' ? { path } : { ctrl, path });
  }
  return out;
}

/** Container-specific inputs of a RESTORE request. */
export interface RestoreOptsInput {
  /** Rootfs, bound onto itself in CRIU's namespace. */
  rootfs: string;
  extMnt: ExtMountMap[];
  inheritFd: InheritFd[];
  cgRoot: CgroupRoot[];
  /** The container has a terminal: CRIU hands the new pty master over through orphan-pts-master. */
  terminal: boolean;
  /** Where criuLauncherSteps mounted the yard. */
  cgroupYard: string;
}

/** The options restore adds to restorePlan(): root, mounts, fds, cgroups and the always-on switches. */
export function restoreCriuOpts(i: RestoreOptsInput): Partial<CriuOpts> {
  const opts: Partial<CriuOpts> = {
    root: i.rootfs,
    extMnt: i.extMnt,
    manageCgroups: true,
    // Device files of /dev are re-created from the image; tolerate host nodes with other numbers.
    evasiveDevices: true,
    rstSibling: true,
    cgroupYard: i.cgroupYard,
  };
  if (i.inheritFd.length > 0) opts.inheritFd = i.inheritFd;
  if (i.cgRoot.length > 0) opts.cgRoot = i.cgRoot;
  if (i.terminal) opts.orphanPtsMaster = true;
  return opts;
}

/**
 * The helper plan that brings `lo` up in the network namespace of a restored task (a pristine namespace
 * was restored empty, with lo down; create had brought it up). Run at CRIU's setup-namespaces, before any
 * socket is restored into it.
 */
export function loopbackUpSteps(pid: number): Step[] {
  return [
    { op: 'SETNS', args: [str(`/proc/${pid}/ns/net`), u32(CLONE_NEWNET)], what: `join the network namespace of restored task ${pid}` },
    { op: 'LOOPBACK_UP', args: [], what: 'bring up the loopback interface of the restored container' },
    { op: 'READY', args: [], what: 'report the loopback up' },
  ];
}
