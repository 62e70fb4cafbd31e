/**
 * Parts of `restore` kept out of its main flow: how CRIU is started (in a private mount namespace, see
 * criu-start.ts; CRIU wants the root it restores into to be a mount point, so the rootfs is bound onto
 * itself there, where nothing can leak to the host), the cgroup roots CRIU restores into, and the
 * container-specific CRIU options.
 */
import * as path from 'node:path';
import { str, u32, type Step } from '../helper/protocol';
import type { CgroupRoot, CriuOpts, ExtMountMap, InheritFd } from '../criu/types';
import { CRIU_SOCKET_FD, startCriu, type CriuStart } from './criu-start';
import type { CgroupTmpfsLayout } from './checkpoint-mounts';
import type { EmptyTmpfs } from './checkpoint-empty-tmpfs';

/** CLONE_NEWNET, from sched.h. */
const CLONE_NEWNET = 0x40000000;
/** stasis-helper's first extra fd (docs/protocol.md): the socket CRIU serves its request on. */
export const HELPER_FIRST_EXTRA_FD = CRIU_SOCKET_FD;

/** What a restore starts CRIU with (see criu-start.ts). */
export interface RestoreCriuInput {
  criuPath: string;
  rootfs: string;
  /** The external mounts' map: their sources are host paths CRIU binds by name. */
  extMnt: readonly ExtMountMap[];
  /** The container's state directory (the yard goes there when /run stays the host's). */
  stateDir: string;
  /** CRIU's fds after its socket: the stdio to inherit, the network namespace. */
  moreFds: readonly number[];
  /** The dump ran CRIU inside the container's pristine netns: CRIU gets a fresh one with lo up. */
  freshNetns?: boolean;
  /** v1 `tasks` files CRIU moves itself into before it starts (criuCgroupJoin); else stasis moves it. */
  cgroupJoin?: readonly string[];
  /** The checkpoint's cgroup tmpfs layout, rebuilt in CRIU's namespace (CheckpointMeta.cgroupTmpfs). */
  cgroupTmpfs?: CgroupTmpfsLayout;
  /** The checkpoint's empty tmpfs mounts, mounted fresh in CRIU's namespace (CheckpointMeta.emptyTmpfs). */
  emptyTmpfs?: readonly EmptyTmpfs[];
  /** --shell-job: CRIU's stdin is restore's, the terminal it hands an outside terminal's user. */
  shellJob?: boolean;
  onLog?: (line: string) => void;
}

/** How a restore starts CRIU: its private mount namespace, the cgroup yard to name in the request. */
export function restoreCriuStart(i: RestoreCriuInput): CriuStart {
  return startCriu({
    criuPath: i.criuPath,
    rootfs: i.rootfs,
    hostPaths: [i.rootfs, ...i.extMnt.map((m) => m.val).filter((v) => v.startsWith('/'))],
    stateYard: path.join(i.stateDir, 'criu-yard'),
    dump: false,
    moreFds: i.moreFds,
    netns: i.freshNetns ? 'fresh' : undefined,
    cgroupJoin: i.cgroupJoin,
    cgroupTmpfs: i.cgroupTmpfs,
    emptyTmpfs: i.emptyTmpfs,
    stdinFromCaller: i.shellJob,
    onLog: i.onLog,
  });
}

/**
 * The v1 `tasks` files of the container's cgroup directories (`paths`: cgroup.paths()) that CRIU's helper
 * writes "0" into before it execs CRIU, or undefined on cgroup v2 (no per-task file for a whole process:
 * stasis then writes CRIU's pid into cgroup.procs). Pure.
 */
export function criuCgroupJoin(version: 'v1' | 'v2', paths: Record<string, string>): string[] | undefined {
  if (version !== 'v1') return undefined;
  const dirs = [...new Set(Object.values(paths))];
  return dirs.length > 0 ? dirs.map((d) => `${d}/tasks`) : undefined;
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
  /** Where CRIU's namespace has its cgroup yard (restoreCriuStart). */
  cgroupYard?: string;
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
  };
  if (i.cgroupYard !== undefined) opts.cgroupYard = i.cgroupYard;
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
