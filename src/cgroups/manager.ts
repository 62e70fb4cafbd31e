/** The one interface both cgroup drivers (v1, v2) implement; the runtime only ever sees this. */
import { CgroupFs } from './fs';
import { CgroupStats, LinuxResources } from './types';

/** Freezer state as the runtime needs it: 'frozen' only when every task is frozen. */
export type FreezerState = 'frozen' | 'thawed';

/** Outcome of create(). */
export interface CreateResult {
  /** True when this call made the container's cgroup directory (in at least one hierarchy). Store it in the
   *  container state and pass it back as `owned` so a later `delete` removes only what stasis created. */
  created: boolean;
  /** Directories that already existed (the container joined them). */
  existing: string[];
  /** Non-fatal problems, e.g. a v2 controller that could not be enabled. */
  warnings: string[];
}

/** Outcome of apply()/update(): settings that were ignored or could not be set on this kernel. */
export interface ApplyResult {
  warnings: string[];
}

/** Construction options shared by both drivers. */
export interface CgroupManagerOptions {
  /** Filesystem seam for tests; defaults to the real one. */
  fs?: CgroupFs;
  /** Treat the cgroup as created by us even if this instance did not call create() (set from saved state). */
  owned?: boolean;
  /** How long freeze() waits for the kernel to report frozen; default 5000 ms. */
  freezeTimeoutMs?: number;
  /** How long destroy() retries rmdir while tasks drain; default 2000 ms. */
  removeTimeoutMs?: number;
  /** v2 only: attaches a compiled device program (test seam); defaults to the native addon's bpf(2) call. */
  deviceProgramLoader?: (cgroupDir: string, insns: Buffer) => number;
}

/** A container's cgroup, whichever version backs it. All methods are idempotent where the kernel allows. */
export interface CgroupManager {
  /** 'v1' (also for hybrid hosts) or 'v2'. */
  readonly version: 'v1' | 'v2';
  /** mkdir -p the cgroup (v2: enable controllers in the parents; v1: seed empty cpuset.cpus/mems). */
  create(): Promise<CreateResult>;
  /** Move a process (all its threads) into the cgroup. */
  addProcess(pid: number): Promise<void>;
  /** Write all of `linux.resources`, including device rules. */
  apply(resources: LinuxResources): Promise<ApplyResult>;
  /**
   * Change limits of a running container (same writes as apply). v1 leaves device rules untouched (rewriting
   * them starts with "deny a" and would cut the container off for a moment); v2 replaces the device program
   * when `resources.devices` is given (the full list, defaults included), which never widens access midway.
   */
  update(resources: LinuxResources): Promise<ApplyResult>;
  /** Freeze every task and wait until the kernel reports the cgroup frozen. */
  freeze(): Promise<void>;
  /** Thaw the cgroup and wait until it is no longer frozen. */
  thaw(): Promise<void>;
  /** Current freezer state. */
  state(): Promise<FreezerState>;
  /** Pids of every process in the cgroup and its descendants. */
  pids(): Promise<number[]>;
  /** Usage counters in the shape of `runc events --stats`. */
  stats(): Promise<CgroupStats>;
  /** How many times the OOM killer killed a task here (poll it: eventfd notification needs an addon). */
  oomKillCount(): Promise<number>;
  /** Remove the cgroup (leaf first, retrying while tasks drain); no-op for cgroups we did not create. */
  destroy(): Promise<void>;
  /** Host directory per controller (v1) or {'': dir} (v2): for cgroup mounts and CRIU's cgroup root. */
  paths(): Record<string, string>;
  /** True when the cgroup directory exists (in any hierarchy). */
  exists(): Promise<boolean>;
}
