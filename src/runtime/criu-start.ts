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
import type { StartedCriu } from '../criu';

/** CLONE_NEWNS, from sched.h. */
const CLONE_NEWNS = 0x00020000;
/** stasis-helper's first extra fd (docs/protocol.md): the socket CRIU serves its request on. */
export const CRIU_SOCKET_FD = 5;
/** The yard's name inside the kdat cache directory (seen by CRIU as /run/<name>). */
const CACHE_YARD = 'cgroup-yard';
const XTABLES_LOCK = '/run/xtables.lock';

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
}

/** The helper plan that prepares CRIU's mount namespace and execs `criu swrk`. Pure. */
export function criuNamespaceSteps(ns: CriuNamespace): Step[] {
  const bind = (source: string, target: string, kind: number, what: string, flags: number = MS.BIND): Step => ({
    op: 'MOUNT',
    args: [str(source), u32(Base.HOST), str(target), str(''), u64(flags), str(''), u32(kind), u32(0)],
    what,
  });
  const steps: Step[] = [
    { op: 'UNSHARE', args: [u64(CLONE_NEWNS)], what: 'create a private mount namespace for criu' },
    { op: 'PROPAGATION', args: [u32(Base.HOST), str('/'), u64(MS.REC | MS.PRIVATE)], what: 'make every mount private for criu' },
  ];
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
  const envPath = ns.env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  steps.push(
    { op: 'LOOKUP_EXEC', args: [str(ns.criuPath), str(envPath)], what: `find criu (${ns.criuPath})` },
    { op: 'READY', args: [], what: 'report criu ready to start' },
    { op: 'EXEC', args: [strlist([ns.criuPath, 'swrk', String(CRIU_SOCKET_FD)]), strlist([...ns.env])], what: `execute ${ns.criuPath}` },
  );
  return steps;
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
  onLog?: (line: string) => void;
}

/** A planned CRIU start: the yard path to tell CRIU (cgroup_yard), and the start function for swrk. */
export interface CriuStart {
  cgroupYard?: string;
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
  const ns: CriuNamespace = {
    criuPath: i.criuPath,
    env: criuEnv(),
    rootfs: i.rootfs,
    kdatDir,
    xtablesLock: kdatDir !== undefined && fs.existsSync(XTABLES_LOCK),
    yard: wantYard ? { path: yardPath, binds } : undefined,
  };
  const steps = criuNamespaceSteps(ns);
  return {
    cgroupYard: wantYard ? yardPath : undefined,
    kdatCache: kdatDir !== undefined,
    start: async (socketFd, stderr) => {
      const launched = await launch(steps, {
        stdio: ['ignore', 'ignore', stderr],
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
