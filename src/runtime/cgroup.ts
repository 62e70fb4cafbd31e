/**
 * The container's view of its cgroup: the cgroup library's manager opened with the right path, plus the
 * runtime policy that belongs to no single controller (default device rules, kill-all, mount sources).
 * A container is reopened by its *resolved* path: a relative cgroupsPath depends on the caller's cgroup,
 * and containerd, Podman and a shell are different callers.
 */
import {
  detectCgroupSetup,
  openCgroupManager,
  V1CgroupManager,
  V2CgroupManager,
  type ApplyResult,
  type CgroupLocation,
  type CgroupManager,
  type CgroupSetup,
  type CgroupStats,
  type CreateResult,
  type FreezerState,
  type LinuxResources,
} from '../cgroups';
import { RuntimeError } from './errors';
import * as fs from 'node:fs';
import * as posix from 'node:path/posix';
import type { Spec } from '../spec/types';
import type { ContainerRecord } from '../state/record';

/** A manager for a new container, from its spec's cgroupsPath. */
export function newContainerCgroup(spec: Spec, id: string): CgroupManager {
  return openCgroupManager({ id, cgroupsPath: spec.linux?.cgroupsPath, setup: hostCgroupSetup() });
}

let cachedSetup: CgroupSetup | undefined;

/** The host's cgroup layout, read once per process (`run` needs it at create and again at delete). */
function hostCgroupSetup(): CgroupSetup {
  return (cachedSetup ??= detectCgroupSetup());
}

/**
 * The manager of an existing container, rebuilt from the host directories recorded at create time, so a
 * relative cgroupsPath resolves the same whoever calls later.
 */
export function openContainerCgroup(record: ContainerRecord): CgroupManager {
  if (Object.keys(record.cgroup.paths).length === 0) return new NoCgroup(record.id);
  const setup = hostCgroupSetup();
  const owned = record.cgroup.owned;
  const paths = record.cgroup.paths;
  if ('' in paths) {
    const location: CgroupLocation = { version: 'v2', v1: new Map(), v2: paths[''], mounts: new Map([['', setup.v2Mount ?? '']]) };
    return new V2CgroupManager(location, { owned });
  }
  const v1 = new Map<string, string>();
  const mounts = new Map<string, string>();
  for (const [controller, dir] of Object.entries(paths)) {
    const mp = setup.v1Controllers.get(controller);
    if (!mp) continue;
    v1.set(controller, dir);
    mounts.set(controller, mp);
  }
  return new V1CgroupManager({ version: 'v1', v1, mounts }, { owned });
}

/**
 * The cgroup of a container that has none (rootless, no writable cgroup: see create.ts). What needs one
 * fails with a line that says so; what only cleans up or joins finds nothing to do.
 */
class NoCgroup implements CgroupManager {
  readonly version = 'v1' as const;
  constructor(private readonly id: string) {}

  private missing(action: string): never {
    throw new RuntimeError('unsupported', `cannot ${action}: container ${this.id} has no cgroup (it was created rootless without a writable cgroup)`);
  }

  async create(): Promise<CreateResult> {
    return { created: false, existing: [], warnings: [] };
  }
  async addProcess(): Promise<void> {
    /* nothing to join */
  }
  apply(): Promise<ApplyResult> {
    this.missing('apply resource limits');
  }
  update(): Promise<ApplyResult> {
    this.missing('update resource limits');
  }
  freeze(): Promise<void> {
    this.missing('freeze the container');
  }
  thaw(): Promise<void> {
    this.missing('thaw the container');
  }
  async state(): Promise<FreezerState> {
    return 'thawed';
  }
  pids(): Promise<number[]> {
    this.missing('list the container processes');
  }
  stats(): Promise<CgroupStats> {
    this.missing('read cgroup statistics');
  }
  async oomKillCount(): Promise<number> {
    return 0;
  }
  async destroy(): Promise<void> {
    /* nothing was made */
  }
  paths(): Record<string, string> {
    return {};
  }
  async exists(): Promise<boolean> {
    return false;
  }
}

/** Devices every container may use whatever the spec says (as runc allows them): null, zero, full, tty, random, urandom, ptmx, pts. */
const DEFAULT_ALLOWED: NonNullable<LinuxResources['devices']> = [
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
  { allow: true, type: 'c', major: 136, access: 'rwm' },
];

/** The resources to write at create: the spec's, with the default device allowances after its rules. */
export function resourcesForCreate(spec: Spec): LinuxResources {
  const r = (spec.linux?.resources ?? {}) as LinuxResources;
  const devices = r.devices ?? [];
  // Devices the spec lists explicitly (linux.devices) must be usable too.
  // FIFOs are not governed by the devices cgroup; 'u' (unbuffered) is a character device to it.
  const listed = (spec.linux?.devices ?? [])
    .filter((d) => d.type !== 'p')
    .map((d) => ({ allow: true, type: d.type === 'u' ? 'c' : d.type, major: d.major, minor: d.minor, access: 'rwm' }));
  return { ...r, devices: devices.length ? [...devices, ...DEFAULT_ALLOWED, ...listed] : [] };
}

/**
 * Mount sources for `cgroup` mounts inside the container: controller → host directory of its cgroup; on
 * cgroup v2 one entry with controller '' (the plan then mounts a fresh cgroup2 in the container's cgroup
 * namespace, or binds the directory, never remounting the host's cgroup2 superblock).
 */
export function mountSources(cg: CgroupManager): { controller: string; hostPath: string }[] {
  return Object.entries(cg.paths()).map(([controller, hostPath]) => ({ controller, hostPath }));
}

/**
 * Sends `signal` to every process in the cgroup. The cgroup is frozen while the list is read and the signals
 * are sent, so a process cannot fork a child that escapes the list (a fork bomb would otherwise outrun a
 * plain loop); thawing afterwards lets frozen tasks act on the signal. A cgroup that was already frozen is
 * left frozen unless the signal is SIGKILL, which a frozen task can only act on once thawed.
 */
export async function signalAll(cg: CgroupManager, signal: number): Promise<void> {
  const wasFrozen = (await cg.state().catch(() => 'thawed')) === 'frozen';
  let froze = false;
  if (!wasFrozen) {
    try {
      await cg.freeze();
      froze = true;
    } catch {
      /* no freezer (or it timed out and thawed again): signal without it, best effort */
    }
  }
  try {
    for (const pid of await cg.pids()) {
      try {
        process.kill(pid, signal);
      } catch {
        /* exited meanwhile */
      }
    }
  } finally {
    if (froze || (wasFrozen && signal === 9)) await cg.thaw();
  }
}

/**
 * The v1 `tasks` files the container's init can write "0" into to join its cgroup by itself (init-plan's
 * `cgroupJoin`), or undefined when the runtime must write the pid to cgroup.procs instead.
 *
 * Why: writing another process's pid to cgroup.procs takes the kernel's global threadgroup rwsem for writing,
 * which waits for an RCU grace period (~15 ms here, paid by runc too); a single-threaded task moving itself
 * through `tasks` skips that lock. The helper's child is single-threaded, so this is the same move, faster.
 * It needs the host's cgroupfs visible and writable from the child: no user namespace (its root is not the
 * host's), no mount or cgroup namespace joined by path. v2 has no such file for a whole process.
 */
export function selfJoinTaskFiles(cg: CgroupManager, spec: Spec): string[] | undefined {
  if (cg.version !== 'v1') return undefined;
  const nss = spec.linux?.namespaces ?? [];
  if (nss.some((n) => n.type === 'user' || (n.path !== undefined && (n.type === 'mount' || n.type === 'cgroup')))) return undefined;
  const dirs = [...new Set(Object.values(cg.paths()))];
  return dirs.length ? dirs.map((d) => `${d}/tasks`) : undefined;
}

/**
 * The kinds of limit the spec asks for (keys of linux.resources with a value), device rules aside: those only
 * restrict, and runc too starts a rootless container without them when it has no cgroup.
 */
export function requestedLimits(spec: Spec): string[] {
  const r = (spec.linux?.resources ?? {}) as Record<string, unknown>;
  return Object.keys(r).filter((k) => k !== 'devices' && r[k] !== undefined && r[k] !== null).sort();
}

/**
 * The first cgroup directory this process could not create, or undefined when all can be: the nearest
 * existing ancestor of each must be writable (a rootless user has that only where a cgroup was delegated).
 */
export function unwritableCgroupDir(cg: CgroupManager): string | undefined {
  for (const dir of new Set(Object.values(cg.paths()))) {
    let probe = dir;
    while (!fs.existsSync(probe) && probe !== '/') probe = posix.dirname(probe);
    try {
      fs.accessSync(probe, fs.constants.W_OK);
    } catch {
      return dir;
    }
  }
  return undefined;
}

/** SIGKILLs every process in the cgroup (see signalAll). */
export async function killAll(cg: CgroupManager): Promise<void> {
  await signalAll(cg, 9);
}
