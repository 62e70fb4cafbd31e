/** Reads cgroup v2 usage files into the `runc events --stats` shape (microseconds become nanoseconds). */
import * as posix from 'node:path/posix';
import { CgroupFs } from '../fs';
import { parseCpuList, parseFlatKeyed, parseNestedKeyed, parseSingle } from '../parse';
import { emptyStats } from '../stats';
import { readOptional } from '../tree';
import { BlkioEntry, CgroupStats, UNLIMITED } from '../types';

/** io.stat keys → runc's op names, for bytes and for operation counts. */
const IO_BYTES: [string, string][] = [['rbytes', 'Read'], ['wbytes', 'Write'], ['dbytes', 'Discard']];
const IO_OPS: [string, string][] = [['rios', 'Read'], ['wios', 'Write'], ['dios', 'Discard']];

/** Stats of the v2 cgroup at `dir`; files of controllers that are not enabled are simply absent. */
export async function readV2Stats(fs: CgroupFs, dir: string): Promise<CgroupStats> {
  const read = (f: string) => readOptional(fs, posix.join(dir, f));
  const s = emptyStats();

  const cpu = parseFlatKeyed(await read('cpu.stat'));
  s.cpu.usage.total = (cpu.usage_usec ?? 0) * 1000;
  s.cpu.usage.user = (cpu.user_usec ?? 0) * 1000;
  s.cpu.usage.kernel = (cpu.system_usec ?? 0) * 1000;
  s.cpu.throttling = { periods: cpu.nr_periods ?? 0, throttledPeriods: cpu.nr_throttled ?? 0, throttledTime: (cpu.throttled_usec ?? 0) * 1000 };

  s.cpuset.cpus = parseCpuList(await read('cpuset.cpus.effective'));
  s.cpuset.mems = parseCpuList(await read('cpuset.mems.effective'));

  s.memory.raw = parseFlatKeyed(await read('memory.stat'));
  s.memory.cache = s.memory.raw.file ?? 0;
  const events = parseFlatKeyed(await read('memory.events'));
  const current = parseSingle(await read('memory.current'));
  const limit = parseSingle(await read('memory.max'), UNLIMITED);
  s.memory.usage = { usage: current, max: parseSingle(await read('memory.peak')), failcnt: events.max ?? 0, limit };
  // Reported as memory+swap like v1 memsw, so consumers see one meaning on both versions.
  const swapFile = await read('memory.swap.current');
  if (swapFile !== undefined) {
    const swapMax = parseSingle(await read('memory.swap.max'), UNLIMITED);
    s.memory.swap = {
      usage: parseSingle(swapFile) + current, max: 0, failcnt: 0,
      limit: swapMax === UNLIMITED || limit === UNLIMITED ? UNLIMITED : swapMax + limit,
    };
  }

  s.pids.current = parseSingle(await read('pids.current'));
  s.pids.limit = parseSingle(await read('pids.max'));

  const bytes: BlkioEntry[] = [];
  const ops: BlkioEntry[] = [];
  for (const { major, minor, values } of parseNestedKeyed(await read('io.stat'))) {
    for (const [k, op] of IO_BYTES) if (k in values) bytes.push({ major, minor, op, value: values[k] });
    for (const [k, op] of IO_OPS) if (k in values) ops.push({ major, minor, op, value: values[k] });
  }
  s.blkio.ioServiceBytesRecursive = bytes;
  s.blkio.ioServicedRecursive = ops;

  for (const e of await fs.readdir(dir)) {
    const m = /^hugetlb\.([0-9]+[KMG]B)\.max$/.exec(e.name);
    if (!m) continue;
    s.hugetlb[m[1]] = {
      usage: parseSingle(await read(`hugetlb.${m[1]}.current`)),
      max: 0, // v1's max is the peak usage; v2 keeps no hugetlb peak
      failcnt: parseFlatKeyed(await read(`hugetlb.${m[1]}.events`)).max ?? 0,
    };
  }
  return s;
}
