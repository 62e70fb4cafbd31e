/** Zero-valued stats that the drivers fill in; a missing controller simply leaves its part at zero. */
import { CgroupStats, MemoryEntryStats } from './types';

/** A fresh memory counter. */
export function emptyMemoryEntry(): MemoryEntryStats {
  return { limit: 0, usage: 0, max: 0, failcnt: 0 };
}

/** A fresh, all-zero stats object. */
export function emptyStats(): CgroupStats {
  return {
    cpu: { usage: { total: 0, kernel: 0, user: 0 }, throttling: { periods: 0, throttledPeriods: 0, throttledTime: 0 } },
    cpuset: { cpus: [], mems: [] },
    memory: {
      cache: 0, usage: emptyMemoryEntry(), swap: emptyMemoryEntry(), kernel: emptyMemoryEntry(),
      kernelTCP: emptyMemoryEntry(), raw: {},
    },
    pids: { current: 0, limit: 0 },
    blkio: {
      ioServiceBytesRecursive: [], ioServicedRecursive: [], ioQueueRecursive: [], ioServiceTimeRecursive: [],
      ioWaitTimeRecursive: [], ioMergedRecursive: [], ioTimeRecursive: [], sectorsRecursive: [],
    },
    hugetlb: {},
  };
}
