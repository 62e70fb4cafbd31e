/** Reads cgroup v1 usage files into the `runc events --stats` shape. */
import * as posix from 'node:path/posix';
import { CgroupFs } from '../fs';
import { parseBlkioV1, parseCpuList, parseFlatKeyed, parseNumberList, parseSingle } from '../parse';
import { emptyStats } from '../stats';
import { readOptional } from '../tree';
import { BlkioEntry, BlkioStats, CgroupStats, MemoryEntryStats } from '../types';

/** cpuacct.stat counts USER_HZ ticks; USER_HZ is 100 on every Linux ABI. */
const NS_PER_TICK = 1e9 / 100;

async function memoryEntry(fs: CgroupFs, dir: string, prefix: string): Promise<MemoryEntryStats> {
  const read = (f: string) => readOptional(fs, posix.join(dir, `${prefix}.${f}`));
  return {
    usage: parseSingle(await read('usage_in_bytes')),
    max: parseSingle(await read('max_usage_in_bytes')),
    failcnt: parseSingle(await read('failcnt')),
    limit: parseSingle(await read('limit_in_bytes')),
  };
}

async function firstNonEmpty(fs: CgroupFs, dir: string, files: string[]): Promise<BlkioEntry[]> {
  for (const f of files) {
    const entries = parseBlkioV1(await readOptional(fs, posix.join(dir, f)));
    if (entries.length > 0) return entries;
  }
  return [];
}

async function blkioStats(fs: CgroupFs, dir: string): Promise<BlkioStats> {
  // CFQ files first (old kernels), then BFQ, then the throttle layer, which counts I/O under any scheduler.
  const chain = (name: string) => [`blkio.${name}`, `blkio.bfq.${name}`, `blkio.throttle.${name}`];
  return {
    ioServiceBytesRecursive: await firstNonEmpty(fs, dir, chain('io_service_bytes_recursive')),
    ioServicedRecursive: await firstNonEmpty(fs, dir, chain('io_serviced_recursive')),
    ioQueueRecursive: await firstNonEmpty(fs, dir, ['blkio.io_queued_recursive', 'blkio.bfq.io_queued_recursive']),
    ioServiceTimeRecursive: await firstNonEmpty(fs, dir, ['blkio.io_service_time_recursive', 'blkio.bfq.io_service_time_recursive']),
    ioWaitTimeRecursive: await firstNonEmpty(fs, dir, ['blkio.io_wait_time_recursive', 'blkio.bfq.io_wait_time_recursive']),
    ioMergedRecursive: await firstNonEmpty(fs, dir, ['blkio.io_merged_recursive', 'blkio.bfq.io_merged_recursive']),
    ioTimeRecursive: await firstNonEmpty(fs, dir, ['blkio.time_recursive', 'blkio.bfq.time_recursive']),
    sectorsRecursive: await firstNonEmpty(fs, dir, ['blkio.sectors_recursive', 'blkio.bfq.sectors_recursive']),
  };
}

/** Stats from every mounted v1 controller; `dirOf` maps a controller to the container's directory. */
export async function readV1Stats(fs: CgroupFs, dirOf: (controller: string) => string | undefined): Promise<CgroupStats> {
  const s = emptyStats();
  const acct = dirOf('cpuacct');
  if (acct) {
    const read = (f: string) => readOptional(fs, posix.join(acct, f));
    s.cpu.usage.total = parseSingle(await read('cpuacct.usage'));
    s.cpu.usage.percpu = parseNumberList(await read('cpuacct.usage_percpu'));
    const percpuSys = await read('cpuacct.usage_percpu_sys');
    if (percpuSys !== undefined) s.cpu.usage.percpu_kernel = parseNumberList(percpuSys);
    const percpuUser = await read('cpuacct.usage_percpu_user');
    if (percpuUser !== undefined) s.cpu.usage.percpu_user = parseNumberList(percpuUser);
    // Prefer the nanosecond files; cpuacct.stat is tick-granular and only a fallback for old kernels.
    const sys = await read('cpuacct.usage_sys');
    const user = await read('cpuacct.usage_user');
    if (sys !== undefined && user !== undefined) {
      s.cpu.usage.kernel = parseSingle(sys);
      s.cpu.usage.user = parseSingle(user);
    } else {
      const ticks = parseFlatKeyed(await read('cpuacct.stat'));
      s.cpu.usage.kernel = (ticks.system ?? 0) * NS_PER_TICK;
      s.cpu.usage.user = (ticks.user ?? 0) * NS_PER_TICK;
    }
  }
  const cpu = dirOf('cpu');
  if (cpu) {
    const st = parseFlatKeyed(await readOptional(fs, posix.join(cpu, 'cpu.stat')));
    s.cpu.throttling = { periods: st.nr_periods ?? 0, throttledPeriods: st.nr_throttled ?? 0, throttledTime: st.throttled_time ?? 0 };
  }
  const cpuset = dirOf('cpuset');
  if (cpuset) {
    s.cpuset.cpus = parseCpuList(await readOptional(fs, posix.join(cpuset, 'cpuset.effective_cpus')));
    s.cpuset.mems = parseCpuList(await readOptional(fs, posix.join(cpuset, 'cpuset.effective_mems')));
  }
  const mem = dirOf('memory');
  if (mem) {
    s.memory.raw = parseFlatKeyed(await readOptional(fs, posix.join(mem, 'memory.stat')));
    s.memory.cache = s.memory.raw.total_cache ?? s.memory.raw.cache ?? 0;
    s.memory.usage = await memoryEntry(fs, mem, 'memory');
    s.memory.swap = await memoryEntry(fs, mem, 'memory.memsw');
    s.memory.kernel = await memoryEntry(fs, mem, 'memory.kmem');
    s.memory.kernelTCP = await memoryEntry(fs, mem, 'memory.kmem.tcp');
  }
  const pids = dirOf('pids');
  if (pids) {
    s.pids.current = parseSingle(await readOptional(fs, posix.join(pids, 'pids.current')));
    s.pids.limit = parseSingle(await readOptional(fs, posix.join(pids, 'pids.max')));
  }
  const blkio = dirOf('blkio');
  if (blkio) s.blkio = await blkioStats(fs, blkio);
  const huge = dirOf('hugetlb');
  if (huge) {
    for (const e of await fs.readdir(huge)) {
      const m = /^hugetlb\.([0-9]+[KMG]B)\.limit_in_bytes$/.exec(e.name);
      if (!m) continue;
      const read = (f: string) => readOptional(fs, posix.join(huge, `hugetlb.${m[1]}.${f}`));
      s.hugetlb[m[1]] = {
        usage: parseSingle(await read('usage_in_bytes')),
        max: parseSingle(await read('max_usage_in_bytes')),
        failcnt: parseSingle(await read('failcnt')),
      };
    }
  }
  return s;
}
