/**
 * OCI `linux.resources` (runtime-spec config-linux.md) and the stats shape of `runc events --stats`,
 * declared here so the cgroup library does not depend on the spec package; field names match config.json.
 */

/** `linux.resources.devices[]` entry. */
export interface LinuxDeviceCgroup {
  allow: boolean;
  type?: string;
  major?: number;
  minor?: number;
  access?: string;
}

/** `linux.resources.memory`. Byte values; -1 means unlimited. `swap` is memory+swap (v1 memsw semantics). */
export interface LinuxMemory {
  limit?: number;
  reservation?: number;
  swap?: number;
  kernel?: number;
  kernelTCP?: number;
  swappiness?: number;
  disableOOMKiller?: boolean;
  useHierarchy?: boolean;
  checkBeforeUpdate?: boolean;
}

/** `linux.resources.cpu`. */
export interface LinuxCpu {
  shares?: number;
  quota?: number;
  burst?: number;
  period?: number;
  realtimeRuntime?: number;
  realtimePeriod?: number;
  cpus?: string;
  mems?: string;
  idle?: number;
}

/** `linux.resources.pids`. */
export interface LinuxPids {
  limit: number;
}

/** A weight for one block device. */
export interface LinuxWeightDevice {
  major: number;
  minor: number;
  weight?: number;
  leafWeight?: number;
}

/** A rate limit (bytes or ops per second) for one block device. */
export interface LinuxThrottleDevice {
  major: number;
  minor: number;
  rate: number;
}

/** `linux.resources.blockIO`. */
export interface LinuxBlockIO {
  weight?: number;
  leafWeight?: number;
  weightDevice?: LinuxWeightDevice[];
  throttleReadBpsDevice?: LinuxThrottleDevice[];
  throttleWriteBpsDevice?: LinuxThrottleDevice[];
  throttleReadIOPSDevice?: LinuxThrottleDevice[];
  throttleWriteIOPSDevice?: LinuxThrottleDevice[];
}

/** `linux.resources.hugepageLimits[]` entry; pageSize like "2MB". */
export interface LinuxHugepageLimit {
  pageSize: string;
  limit: number;
}

/** `linux.resources.network`. */
export interface LinuxNetwork {
  classID?: number;
  priorities?: { name: string; priority: number }[];
}

/** `linux.resources` as a whole. */
export interface LinuxResources {
  devices?: LinuxDeviceCgroup[];
  memory?: LinuxMemory;
  cpu?: LinuxCpu;
  pids?: LinuxPids;
  blockIO?: LinuxBlockIO;
  hugepageLimits?: LinuxHugepageLimit[];
  network?: LinuxNetwork;
  rdma?: Record<string, { hcaHandles?: number; hcaObjects?: number }>;
  unified?: Record<string, string>;
}

/** Limit reported for "no limit" on cgroup v2 (runc reports the uint64 maximum; JSON shows it rounded). */
export const UNLIMITED = 2 ** 64 - 1;

/** cpu usage in nanoseconds. */
export interface CpuUsageStats {
  total: number;
  percpu?: number[];
  percpu_kernel?: number[];
  percpu_user?: number[];
  kernel: number;
  user: number;
}

/** CFS throttling counters (time in nanoseconds). */
export interface ThrottlingStats {
  periods: number;
  throttledPeriods: number;
  throttledTime: number;
}

/** usage/max/failcnt/limit of one memory counter, in bytes. */
export interface MemoryEntryStats {
  limit: number;
  usage: number;
  max: number;
  failcnt: number;
}

/** One blkio / io.stat line. */
export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

/** Block I/O counters in runc's naming. */
export interface BlkioStats {
  ioServiceBytesRecursive: BlkioEntry[];
  ioServicedRecursive: BlkioEntry[];
  ioQueueRecursive: BlkioEntry[];
  ioServiceTimeRecursive: BlkioEntry[];
  ioWaitTimeRecursive: BlkioEntry[];
  ioMergedRecursive: BlkioEntry[];
  ioTimeRecursive: BlkioEntry[];
  sectorsRecursive: BlkioEntry[];
}

/** Usage of one huge page size. */
export interface HugetlbStats {
  usage: number;
  max: number;
  failcnt: number;
}

/** The `data` object of `runc events --stats` (same JSON keys), minus intel_rdt; the runtime adds network_interfaces (src/runtime/net-stats.ts). */
export interface CgroupStats {
  cpu: { usage: CpuUsageStats; throttling: ThrottlingStats };
  cpuset: { cpus: number[]; mems: number[] };
  memory: {
    cache: number;
    usage: MemoryEntryStats;
    swap: MemoryEntryStats;
    kernel: MemoryEntryStats;
    kernelTCP: MemoryEntryStats;
    raw: Record<string, number>;
  };
  pids: { current: number; limit: number };
  blkio: BlkioStats;
  hugetlb: Record<string, HugetlbStats>;
}
