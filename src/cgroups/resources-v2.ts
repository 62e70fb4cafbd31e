/** OCI resources → cgroup v2 writes (pure). One directory; file prefixes name the controller. */
import { CgroupError } from './errors';
import {
  CgroupWrite, V2Current, WriteOptions, WritePlan, blkioWeightToIoWeight, checkInt, checkPageSize, deviceId, memorySwapToV2,
  sharesToWeight,
} from './resources-common';
import { LinuxBlockIO, LinuxCpu, LinuxMemory, LinuxResources } from './types';

const maxOr = (v: number) => (v === -1 ? 'max' : String(v));

function memoryWrites(m: LinuxMemory, out: CgroupWrite[], warnings: string[]): void {
  checkInt('memory.limit', m.limit, -1);
  checkInt('memory.swap', m.swap, -1);
  checkInt('memory.reservation', m.reservation, -1);
  const limit = m.limit || undefined;
  const swapMax = memorySwapToV2(limit, m.swap);
  // Swap budget first: lowering memory.max makes the kernel reclaim, and reclaim must already see the new swap cap.
  if (swapMax !== undefined) {
    out.push({ controller: 'memory', file: 'memory.swap.max', value: String(swapMax), what: 'set swap limit', optional: true });
  }
  if (limit !== undefined) out.push({ controller: 'memory', file: 'memory.max', value: maxOr(limit), what: 'set memory limit' });
  if (m.reservation) out.push({ controller: 'memory', file: 'memory.low', value: maxOr(m.reservation), what: 'set memory reservation' });
  if (m.kernel || m.kernelTCP) warnings.push('memory.kernel and memory.kernelTCP are not supported on cgroup v2, ignored');
  if (m.swappiness !== undefined) warnings.push('memory.swappiness is not supported on cgroup v2, ignored');
  if (m.disableOOMKiller) warnings.push('memory.disableOOMKiller is not supported on cgroup v2, ignored');
}

function cpuWrites(c: LinuxCpu, current: V2Current, out: CgroupWrite[]): void {
  checkInt('cpu.shares', c.shares, 0, 262144);
  checkInt('cpu.quota', c.quota, -1);
  checkInt('cpu.period', c.period, 0);
  checkInt('cpu.burst', c.burst, 0);
  checkInt('cpu.idle', c.idle, 0, 1);
  if (c.realtimeRuntime || c.realtimePeriod) {
    throw new CgroupError('cpu.realtimeRuntime and cpu.realtimePeriod are not supported on cgroup v2');
  }
  if (c.shares) out.push({ controller: 'cpu', file: 'cpu.weight', value: String(sharesToWeight(c.shares)), what: 'set cpu weight' });
  // cpu.max is "$QUOTA $PERIOD"; the kernel keeps the period when only a quota is written, but a quota must
  // always be written, so a period-only change repeats the quota in force (runc resets it to "max").
  if (c.quota || c.period) {
    const quota = c.quota ? maxOr(c.quota) : (current.cpuQuota ?? 'max');
    out.push({ controller: 'cpu', file: 'cpu.max', value: c.period ? `${quota} ${c.period}` : quota, what: 'set cpu quota' });
  }
  if (c.burst !== undefined) out.push({ controller: 'cpu', file: 'cpu.max.burst', value: String(c.burst), what: 'set cpu burst' });
  if (c.idle !== undefined) out.push({ controller: 'cpu', file: 'cpu.idle', value: String(c.idle), what: 'set cpu idle' });
  if (c.cpus) out.push({ controller: 'cpuset', file: 'cpuset.cpus', value: c.cpus, what: 'set cpuset cpus' });
  if (c.mems) out.push({ controller: 'cpuset', file: 'cpuset.mems', value: c.mems, what: 'set cpuset mems' });
}

function ioWrites(b: LinuxBlockIO, out: CgroupWrite[], warnings: string[]): void {
  checkInt('blockIO.weight', b.weight, 0, 1000);
  // BFQ (when it is the scheduler) reads io.bfq.weight in blkio units; io.weight is the generic 1..10000 knob.
  if (b.weight) {
    out.push({
      controller: 'io', file: 'io.bfq.weight', value: String(b.weight), what: 'set io weight',
      fallback: { file: 'io.weight', value: `default ${blkioWeightToIoWeight(b.weight)}` },
    });
  }
  for (const [i, d] of (b.weightDevice ?? []).entries()) {
    const id = deviceId(`blockIO.weightDevice[${i}]`, d.major, d.minor);
    checkInt(`blockIO.weightDevice[${i}].weight`, d.weight, 0, 1000);
    if (d.weight) {
      out.push({
        controller: 'io', file: 'io.bfq.weight', value: `${id} ${d.weight}`, what: `set io weight of ${id}`,
        fallback: { file: 'io.weight', value: `${id} ${blkioWeightToIoWeight(d.weight)}` },
      });
    }
  }
  if (b.leafWeight || b.weightDevice?.some((d) => d.leafWeight)) warnings.push('blockIO leaf weights are not supported on cgroup v2, ignored');
  // io.max takes several keys per device in one line; group so each device is one write.
  const perDevice = new Map<string, string[]>();
  const keys: [keyof LinuxBlockIO, string][] = [
    ['throttleReadBpsDevice', 'rbps'], ['throttleWriteBpsDevice', 'wbps'],
    ['throttleReadIOPSDevice', 'riops'], ['throttleWriteIOPSDevice', 'wiops'],
  ];
  for (const [field, key] of keys) {
    for (const [i, d] of ((b[field] as { major: number; minor: number; rate: number }[] | undefined) ?? []).entries()) {
      const id = deviceId(`blockIO.${field}[${i}]`, d.major, d.minor);
      checkInt(`blockIO.${field}[${i}].rate`, d.rate, 0);
      const list = perDevice.get(id) ?? [];
      list.push(`${key}=${d.rate === 0 ? 'max' : d.rate}`);
      perDevice.set(id, list);
    }
  }
  for (const [id, list] of perDevice) {
    out.push({ controller: 'io', file: 'io.max', value: `${id} ${list.join(' ')}`, what: `set io limits of ${id}` });
  }
}

function unifiedWrites(unified: Record<string, string>, out: CgroupWrite[]): void {
  for (const [key, value] of Object.entries(unified)) {
    if (!/^[a-z0-9_]+\.[a-z0-9_.]+$/.test(key) || key.includes('..')) {
      throw new CgroupError(`unified key "${key}" is not a cgroup file name`);
    }
    out.push({ controller: key.split('.')[0], file: key, value, what: `set ${key}` });
  }
}

/** See resources.ts `v2Writes`. */
export function v2WritesImpl(r: LinuxResources, _options: WriteOptions, current: V2Current): WritePlan {
  const writes: CgroupWrite[] = [];
  const warnings: string[] = [];
  // Device rules are no file on v2: the driver compiles them to an eBPF program (v2/device-program.ts).
  if (r.memory) memoryWrites(r.memory, writes, warnings);
  if (r.cpu) cpuWrites(r.cpu, current, writes);
  if (r.pids) {
    checkInt('pids.limit', r.pids.limit);
    writes.push({ controller: 'pids', file: 'pids.max', value: r.pids.limit > 0 ? String(r.pids.limit) : 'max', what: 'set pids limit' });
  }
  if (r.blockIO) ioWrites(r.blockIO, writes, warnings);
  for (const [i, h] of (r.hugepageLimits ?? []).entries()) {
    const size = checkPageSize(h.pageSize);
    checkInt(`hugepageLimits[${i}].limit`, h.limit, -1);
    writes.push({ controller: 'hugetlb', file: `hugetlb.${size}.max`, value: maxOr(h.limit), what: `set hugetlb ${size} limit` });
  }
  if (r.network && (r.network.classID !== undefined || (r.network.priorities ?? []).length > 0)) {
    throw new CgroupError('network.classID and network.priorities need the v1 net_cls/net_prio controllers, not available on cgroup v2');
  }
  if (r.rdma && Object.keys(r.rdma).length > 0) warnings.push('rdma limits are not supported, ignored');
  // Written last so explicit unified values override what the structured fields produced.
  if (r.unified) unifiedWrites(r.unified, writes);
  return { writes, warnings };
}
