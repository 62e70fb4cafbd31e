/** The container record kept on disk. It holds facts, never the status: status is derived (lifecycle.ts). */
import type { Spec } from '../spec/types';

/** What stasis remembers about a container between commands. */
export interface ContainerRecord {
  /** Record format version, bumped on incompatible changes. */
  version: 1;
  id: string;
  /** Host pid of the container's init; 0 once it is known to be gone. */
  pid: number;
  /** Start time of `pid` in clock ticks: guards against pid reuse. */
  startTime?: string;
  bundle: string;
  rootfs: string;
  /** RFC 3339 creation time. */
  created: string;
  owner: string;
  annotations?: Record<string, string>;
  /** The config as used at create time: hooks and cgroup settings are needed long after the bundle may be gone. */
  spec: Spec;
  cgroup: CgroupRecord;
  /**
   * Only for containers sharing the host's mount namespace: how many mounts were at the rootfs before create;
   * delete detaches what was stacked above them.
   */
  hostMountBase?: number;
  /** Set when the container came from `restore`. */
  restored?: { from: string; at: string };
  /**
   * Set for a clone made by `restore --clone`: stasis owns its bundle directory `dir` (config.json and the
   * overlay over the base bundle's rootfs); delete unmounts and removes it.
   */
  clone?: CloneRecord;
  /**
   * Set while a checkpoint has frozen the cgroup: the checkpointing stasis process (pid + start time). A later
   * command that finds it with that process gone thaws the container and clears it (runtime/checkpoint-guard.ts).
   */
  checkpointFreeze?: CheckpointFreezeMark;
}

/** Where a clone came from and the bundle directory stasis made for it. */
export interface CloneRecord {
  /** The base bundle whose rootfs is the overlay's lower layer. */
  base: string;
  /** `<root>/.clones/<id>`. */
  dir: string;
}

/** Who froze the container for a checkpoint: one process, named by pid and start time against pid reuse. */
export interface CheckpointFreezeMark {
  pid: number;
  startTime: string;
}

/** Where the container's cgroup is, and whether stasis created it (only then may delete remove it). */
export interface CgroupRecord {
  /** Host directory of the container's cgroup per v1 controller, or {'': dir} on cgroup v2. */
  paths: Record<string, string>;
  /** True when stasis made the cgroup; false when it joined an existing one. */
  owned: boolean;
}

/** A fresh record for a container being created (or restored): no pid yet, cgroup not yet made. */
export function newRecord(f: { id: string; bundle: string; rootfs: string; spec: Spec; cgroupPaths: Record<string, string> }): ContainerRecord {
  return {
    version: 1,
    id: f.id,
    pid: 0,
    bundle: f.bundle,
    rootfs: f.rootfs,
    created: new Date().toISOString(),
    owner: '',
    annotations: f.spec.annotations,
    spec: f.spec,
    cgroup: { paths: f.cgroupPaths, owned: false },
  };
}
