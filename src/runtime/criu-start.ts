/**
 * How stasis starts CRIU, for a dump as for a restore: stasis-helper unshares a private mount namespace,
 * prepares it, and execs `criu swrk`. What it prepares, and why:
 *
 * - every mount made private first: nothing done here propagates to the host, and it all vanishes with
 *   CRIU;
 * - (restore) the rootfs bound onto itself: CRIU wants the root it restores into to be a mount point;
 * - a cgroup "yard" holding bind mounts of the host's cgroup hierarchies: without one CRIU mounts every
 *   hierarchy itself, and mounting cgroup2 waits for the kernel to drain offline cgroups (0-20 ms here,
 *   whenever containers were deleted shortly before); a bind is ~20 µs. CRIU opens yard/<name> for each
 *   hierarchy (name as in /proc/self/cgroup, `name=` dropped, "unified" for cgroup2). On restore the yard
 *   is needed anyway (CRIU cannot mount in the work directory, a mount of the host's namespace);
 * - (restore) an empty read-only tmpfs like the one create puts on a masked directory: the dump leaves
 *   masked directories external (checkpoint-mounts.ts) and the restore binds them from this one, where
 *   CRIU would otherwise run tar for each, at dump and at restore, to save an empty directory;
 * - (pristine network namespace) CRIU itself placed in it: at dump the container's (setns), at restore a
 *   fresh one with lo up (unshare). A namespace CRIU runs in is not one it dumps or creates: no
 *   netns image, none of the two conntrack table walks the kernel does for every dumped namespace (~10 ms
 *   each here, proportional to nf_conntrack_buckets, even for an empty namespace), no second helper to
 *   bring lo up on restore; the restored tasks simply stay in the namespace CRIU runs in;
 * - /run replaced by CRIU's kernel-feature cache directory when the host's /run cannot keep that cache
 *   (src/criu/kdat-cache.ts), with the host's /run/xtables.lock bound through so that iptables runs still
 *   exclude each other. Paths CRIU must reach under the host's /run would be hidden: then no cache.
 *
 * The plan is pure (criuNamespaceSteps); startCriu() gathers the host facts and launches it.
 */
import type { StdioNull } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Base, TargetKind, str, strlist, u32, u64, type Step } from '../helper/protocol';
import { MS } from '../plan/mount-options';
import { launch } from '../helper/launcher';
import { parseMountinfo, type MountinfoEntry } from '../util/mountinfo';
import { pathsUnderRun, prepareKdatCache } from '../criu/kdat-cache';
import type { ExtMountMap, StartedCriu } from '../criu';
import { CGROUP_TMPFS_ID, MASKED_DIR_ID, type CgroupTmpfsLayout } from './checkpoint-mounts';
import { EMPTY_TMPFS_ID, type EmptyTmpfs } from './checkpoint-empty-tmpfs';

/** CLONE_NEWNS, from sched.h. */
const CLONE_NEWNS = 0x00020000;
/** CLONE_NEWNET, from sched.h. */
const CLONE_NEWNET = 0x40000000;
/** stasis-helper's first extra fd (docs/protocol.md): the socket CRIU serves its request on. */
export const CRIU_SOCKET_FD = 5;
/** The yard's name inside the kdat cache directory (seen by CRIU as /run/<name>). */
const CACHE_YARD = 'cgroup-yard';
const XTABLES_LOCK = '/run/xtables.lock';
/** The masked-directory tmpfs's place in the yard (no cgroup hierarchy has that name). */
const MASKED_DIR_NAME = 'stasis-masked';
/** The rebuilt cgroup tmpfs's place in the yard. */
const CGROUP_TMPFS_NAME = 'stasis-cgroupfs';
/** The fresh empty tmpfs mounts' places in the yard (…0, …1, …). */
const EMPTY_TMPFS_NAME = 'stasis-tmpfs-';

/** One hierarchy bound into the yard: yard/<name> ← the host's mount of that hierarchy's root. */
export interface YardBind {
  name: string;
  source: string;
}

/** The hierarchies of /proc/<pid>/cgroup text with the yard directory name CRIU looks for. */
function hierarchies(procCgroup: string): { field: string; name: string }[] {
  const out: { field: string; name: string }[] = [];
  for (const line of procCgroup.split('\n')) {
    const m = /^\d+:([^:]*):/.exec(line.trim());
    if (!m) continue;
    const field = m[1];
    const name = field === '' ? 'unified' : field.split(',').map((c) => c.replace(/^name=/, '')).join(',');
    out.push({ field, name });
  }
  return out;
}

/**
 * Yard binds for every hierarchy in `procCgroup` (a /proc/<pid>/cgroup) that the host has mounted at its
 * root (mountinfo root "/"); `complete` says whether every hierarchy got one. Pure.
 */
export function cgroupYardBinds(procCgroup: string, mounts: readonly MountinfoEntry[]): { binds: YardBind[]; complete: boolean } {
  const binds: YardBind[] = [];
  let complete = true;
  for (const h of hierarchies(procCgroup)) {
    const want = h.field === '' ? [] : h.field.split(',');
    const mount = mounts.find((m) =>
      m.root === '/' && (h.field === '' ? m.fstype === 'cgroup2' : m.fstype === 'cgroup' && want.every((c) => m.superOptions.includes(c))),
    );
    if (mount) binds.push({ name: h.name, source: mount.mountpoint });
    else complete = false;
  }
  return { binds, complete };
}

/** What the private mount namespace of CRIU gets. */
export interface CriuNamespace {
  criuPath: string;
  /** CRIU's environment (NAME=value). */
  env: readonly string[];
  /** Restore: the rootfs, bound onto itself. */
  rootfs?: string;
  /** The kdat cache directory to serve as /run; undefined: /run stays the host's. */
  kdatDir?: string;
  /** Bind the host's /run/xtables.lock into the new /run (it exists). */
  xtablesLock?: boolean;
  /** The yard: a tmpfs at `path` (as CRIU sees it) holding `binds`. */
  yard?: { path: string; binds: readonly YardBind[] };
  /** Restore: where to mount the empty read-only tmpfs that masked directories are bound from. */
  maskedDir?: string;
  /** Restore: where to rebuild the container's v1 cgroup tmpfs, and what it holds (checkpoint-mounts.ts). */
  cgroupTmpfs?: { path: string; layout: CgroupTmpfsLayout };
  /** Restore: fresh tmpfs mounts for those the dump found empty (checkpoint-empty-tmpfs.ts), at `path`. */
  emptyTmpfs?: readonly { path: string; tmpfs: EmptyTmpfs }[];
  /** CRIU's arguments; default `swrk <socket fd>`. */
  args?: readonly string[];
  /**
   * The network namespace CRIU runs in (default: the host's): `{ join }` enters the namespace at that path
   * (a dump of a pristine namespace), `'fresh'` makes a new one and brings lo up (its restore).
   */
  netns?: CriuNetns;
  /**
   * Restore, cgroup v1: `tasks` files of the container's cgroup the helper writes "0" into before it execs
   * CRIU. A single-threaded task moving itself skips the kernel's threadgroup lock and the RCU grace period
   * that writing CRIU's pid into cgroup.procs from outside costs (~15 ms here; see selfJoinTaskFiles).
   */
  cgroupJoin?: readonly string[];
}

/** Where CRIU's network namespace comes from (CriuNamespace.netns). */
export type CriuNetns = { join: string } | 'fresh';

/** The helper plan that prepares CRIU's mount namespace and execs `criu swrk`. Pure. */
export function criuNamespaceSteps(ns: CriuNamespace): Step[] {
  const bind = (source: string, target: string, kind: number, what: string, flags: number = MS.BIND): Step => ({
    op: 'MOUNT',
    args: [str(source), u32(Base.HOST), str(target), str(''), u64(flags), str(''), u32(kind), u32(0)],
    what,
  });
  const steps: Step[] = [
    ...(ns.cgroupJoin ?? []).map((tasks): Step => ({
      op: 'WRITE_FILE',
      args: [u32(Base.HOST), str(tasks), str('0')],
      what: `move criu into the container's cgroup ${path.dirname(tasks)}`,
    })),
    { op: 'UNSHARE', args: [u64(CLONE_NEWNS)], what: 'create a private mount namespace for criu' },
    { op: 'PROPAGATION', args: [u32(Base.HOST), str('/'), u64(MS.REC | MS.PRIVATE)], what: 'make every mount private for criu' },
  ];
  if (ns.netns === 'fresh') {
    steps.push(
      { op: 'UNSHARE', args: [u64(CLONE_NEWNET)], what: 'create the network namespace the container is restored into' },
      { op: 'LOOPBACK_UP', args: [], what: 'bring up the loopback interface of the restored container' },
    );
  } else if (ns.netns !== undefined) {
    steps.push({ op: 'SETNS', args: [str(ns.netns.join), u32(CLONE_NEWNET)], what: `run criu in the container's network namespace ${ns.netns.join}` });
  }
  if (ns.rootfs !== undefined) {
    steps.push(bind(ns.rootfs, ns.rootfs, TargetKind.EXISTING, `bind the root filesystem ${ns.rootfs} onto itself for criu`, MS.BIND | MS.REC));
  }
  if (ns.kdatDir !== undefined) {
    // The lock first, at its place in the cache directory; the recursive bind then carries it to /run.
    if (ns.xtablesLock) steps.push(bind(XTABLES_LOCK, path.join(ns.kdatDir, 'xtables.lock'), TargetKind.FILE, 'share the host xtables lock with criu'));
    steps.push(bind(ns.kdatDir, '/run', TargetKind.EXISTING, `give criu its kernel-feature cache ${ns.kdatDir} as /run`, MS.BIND | MS.REC));
  }
  if (ns.yard) {
    const { path: yard, binds } = ns.yard;
    steps.push({
      op: 'MOUNT',
      args: [str('tmpfs'), u32(Base.HOST), str(yard), str('tmpfs'), u64(MS.NOSUID | MS.NODEV | MS.NOEXEC), str('mode=700'), u32(TargetKind.DIR), u32(0)],
      what: `mount the cgroup yard for criu on ${yard}`,
    });
    for (const b of binds) steps.push(bind(b.source, path.join(yard, b.name), TargetKind.DIR, `bind cgroup hierarchy ${b.source} into criu's yard`));
  }
  if (ns.maskedDir !== undefined) {
    // The mask create puts on a directory (MASK_PATH): the restored masks are binds of this one.
    steps.push({
      op: 'MOUNT',
      args: [str('tmpfs'), u32(Base.HOST), str(ns.maskedDir), str('tmpfs'), u64(MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC), str('size=4k,nr_inodes=1'), u32(TargetKind.DIR), u32(0)],
      what: `mount the empty read-only tmpfs for masked directories on ${ns.maskedDir}`,
    });
  }
  for (const { path: at, tmpfs } of ns.emptyTmpfs ?? []) {
    // A per-mount read-only flag goes on with a bind remount, as on the original: its superblock was writable.
    steps.push({
      op: 'MOUNT',
      args: [str(tmpfs.source), u32(Base.HOST), str(at), str('tmpfs'), u64(tmpfs.flags & ~MS.RDONLY), str(tmpfs.data), u32(TargetKind.DIR), u32(0)],
      what: `mount a fresh tmpfs for the empty ${tmpfs.mountpoint} on ${at}`,
    });
    if (tmpfs.flags & MS.RDONLY) {
      steps.push({ op: 'REMOUNT', args: [u32(Base.HOST), str(at), u64(MS.BIND | tmpfs.flags)], what: `make ${at} read-only` });
    }
  }
  if (ns.cgroupTmpfs !== undefined) steps.push(...cgroupTmpfsSteps(ns.cgroupTmpfs.path, ns.cgroupTmpfs.layout));
  const envPath = ns.env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  const argv = ns.args ?? ['swrk', String(CRIU_SOCKET_FD)];
  steps.push(
    { op: 'LOOKUP_EXEC', args: [str(ns.criuPath), str(envPath)], what: `find criu (${ns.criuPath})` },
    { op: 'READY', args: [], what: 'report criu ready to start' },
    { op: 'EXEC', args: [strlist([ns.criuPath, ...argv]), strlist([...ns.env])], what: `execute ${ns.criuPath}` },
  );
  return steps;
}

/**
 * Rebuilds the v1 cgroup tmpfs of a container as create made it (plan/mounts.ts: tmpfs mode=755, nosuid,
 * nodev, noexec, a directory per hierarchy, links for co-mounted controllers, then read-only) at `at`, for
 * CRIU to bind where the dump left it external. The entries are made relative to the new tmpfs (SET_ROOTFS:
 * nothing else in this plan uses the rootfs base).
 */
function cgroupTmpfsSteps(at: string, layout: CgroupTmpfsLayout): Step[] {
  const flags = MS.NOSUID | MS.NODEV | MS.NOEXEC;
  return [
    {
      op: 'MOUNT',
      args: [str('tmpfs'), u32(Base.HOST), str(at), str('tmpfs'), u64(flags), str('mode=755'), u32(TargetKind.DIR), u32(0)],
      what: `mount the cgroup tmpfs for the restored container on ${at}`,
    },
    { op: 'SET_ROOTFS', args: [str(at)], what: `enter the cgroup tmpfs ${at}` },
    ...layout.dirs.map((d): Step => ({ op: 'MKDIR', args: [u32(Base.ROOTFS), str(`/${d}`), u32(0o755)], what: `make ${layout.mountpoint}/${d}` })),
    ...layout.links.map((l): Step => ({ op: 'SYMLINK', args: [str(l.target), str(`/${l.name}`)], what: `link ${layout.mountpoint}/${l.name} to ${l.target}` })),
    { op: 'REMOUNT', args: [u32(Base.HOST), str(at), u64(flags | MS.RDONLY)], what: `make the cgroup tmpfs ${at} read-only` },
  ];
}

/** What startCriu needs to know. */
export interface StartCriuInput {
  criuPath: string;
  /** Restore: the rootfs (bound onto itself). */
  rootfs?: string;
  /** Host paths CRIU opens by name (root, sources of external mounts): none may be under a covered /run. */
  hostPaths: readonly string[];
  /**
   * Where the yard goes when /run is the host's: a directory of the container's state (its mount point
   * is created there). Restore always gets a yard; a dump only when every hierarchy can be bound.
   */
  stateYard: string;
  /** Dump: a yard only if it covers every hierarchy (CRIU does not fall back to mounting for a dump). */
  dump: boolean;
  /** fds after the socket, at helper fd 6, 7, … (CRIU's fd numbers too). */
  moreFds?: readonly number[];
  /** The network namespace CRIU runs in (CriuNamespace.netns); default the host's. */
  netns?: CriuNetns;
  /** v1 `tasks` files CRIU joins before it starts (CriuNamespace.cgroupJoin). */
  cgroupJoin?: readonly string[];
  /**
   * Restore with shell_job: CRIU's stdin is ours. CRIU gives a restored task whose terminal was outside
   * the container the terminal on its own stdin (like runc, which passes its stdio to CRIU); else /dev/null.
   */
  stdinFromCaller?: boolean;
  /** Restore: the layout of the cgroup tmpfs the dump left external, to rebuild (CriuNamespace.cgroupTmpfs). */
  cgroupTmpfs?: CgroupTmpfsLayout;
  /** Restore: the tmpfs mounts the dump found empty, mounted fresh (CriuNamespace.emptyTmpfs). */
  emptyTmpfs?: readonly EmptyTmpfs[];
  onLog?: (line: string) => void;
}

/** A planned CRIU start: the yard path to tell CRIU (cgroup_yard), and the start function for swrk. */
export interface CriuStart {
  cgroupYard?: string;
  /** External mount sources this namespace provides (restore: the masked-directory tmpfs). */
  extMnt: ExtMountMap[];
  /** True when CRIU gets the kdat cache as /run. */
  kdatCache: boolean;
  start: (socketFd: number, stderr: StdioNull | number) => Promise<StartedCriu>;
}

/** CRIU's environment: ours without Node's own variables. */
export function criuEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return Object.entries(env)
    .filter(([k, v]) => v !== undefined && !k.startsWith('NODE_'))
    .map(([k, v]) => `${k}=${v}`);
}

/** Plans CRIU's namespace from the host's state and returns how to start it. */
export function startCriu(i: StartCriuInput): CriuStart {
  const hidden = pathsUnderRun([...i.hostPaths, i.criuPath]);
  const kdatDir = hidden.length === 0 ? prepareKdatCache(i.criuPath) : undefined;
  const { binds, complete } = cgroupYardBinds(readText('/proc/self/cgroup'), parseMountinfo(readText('/proc/self/mountinfo')));
  const wantYard = !i.dump || complete;
  const yardPath = kdatDir !== undefined ? path.join('/run', CACHE_YARD) : i.stateYard;
  const maskedDir = i.dump ? undefined : path.join(yardPath, MASKED_DIR_NAME);
  const cgroupTmpfs = !i.dump && i.cgroupTmpfs ? { path: path.join(yardPath, CGROUP_TMPFS_NAME), layout: i.cgroupTmpfs } : undefined;
  const emptyTmpfs = i.dump ? [] : (i.emptyTmpfs ?? []).map((tmpfs, k) => ({ path: path.join(yardPath, `${EMPTY_TMPFS_NAME}${k}`), tmpfs }));
  const ns: CriuNamespace = {
    criuPath: i.criuPath,
    env: criuEnv(),
    rootfs: i.rootfs,
    kdatDir,
    xtablesLock: kdatDir !== undefined && fs.existsSync(XTABLES_LOCK),
    yard: wantYard ? { path: yardPath, binds } : undefined,
    maskedDir,
    cgroupTmpfs,
    emptyTmpfs,
    netns: i.netns,
    cgroupJoin: i.cgroupJoin,
  };
  const steps = criuNamespaceSteps(ns);
  return {
    cgroupYard: wantYard ? yardPath : undefined,
    extMnt: [
      ...(maskedDir !== undefined ? [{ key: MASKED_DIR_ID, val: maskedDir }] : []),
      ...(cgroupTmpfs !== undefined ? [{ key: CGROUP_TMPFS_ID, val: cgroupTmpfs.path }] : []),
      ...emptyTmpfs.map((t, k) => ({ key: `${EMPTY_TMPFS_ID}${k}`, val: t.path })),
    ],
    kdatCache: kdatDir !== undefined,
    start: async (socketFd, stderr) => {
      const launched = await launch(steps, {
        stdio: [i.stdinFromCaller ? 0 : 'ignore', 'ignore', stderr],
        extraFds: [socketFd, ...(i.moreFds ?? [])],
        onLog: i.onLog,
      });
      return { pid: launched.helper.pid!, exited: launched.helperExit.then((code) => ({ code, signal: null })) };
    },
  };
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Runs `criu ARGS` in a private mount namespace with the kdat cache as /run and waits for it to exit (a
 * `criu lazy-pages --daemon` exits once its socket is ready; the daemon lives on in that namespace).
 * Resolves to undefined, without running anything, when the cache cannot be used (none needed or
 * possible, or one of `hostPaths` is under /run): the caller runs CRIU itself then.
 */
export async function runCriuWithCache(criuPath: string, args: readonly string[], hostPaths: readonly string[], cwd: string): Promise<number | undefined> {
  if (pathsUnderRun([...hostPaths, cwd, criuPath]).length > 0) return undefined;
  const kdatDir = prepareKdatCache(criuPath);
  if (kdatDir === undefined) return undefined;
  const steps = criuNamespaceSteps({ criuPath, env: criuEnv(), kdatDir, xtablesLock: fs.existsSync(XTABLES_LOCK), args });
  // CRIU's relative paths (pid file, log) are relative to its cwd: enter it first.
  steps.splice(steps.length - 3, 0, { op: 'CHDIR', args: [str(cwd)], what: `enter ${cwd}` });
  const launched = await launch(steps, { stdio: ['ignore', 'ignore', 'ignore'] });
  return launched.helperExit;
}
