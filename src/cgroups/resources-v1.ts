/** OCI resources → cgroup v1 writes (pure). Each hierarchy gets its own `<ctrl>.<knob>` files. */
import { CgroupError } from './errors';
import {
  CgroupWrite, V1Current, WriteOptions, WritePlan, checkInt, checkPageSize, deviceId,
} from './resources-common';
import { LinuxBlockIO, LinuxCpu, LinuxDeviceCgroup, LinuxMemory, LinuxResources } from './types';

/** Kernel memory accounting limits were removed from newer kernels; their files may be absent. */
const KMEM_GONE = 'kernel memory limits are not supported by this kernel';

function memoryWrites(m: LinuxMemory, current: V1Current, out: CgroupWrite[]): void {
  checkInt('memory.limit', m.limit, -1);
  checkInt('memory.swap', m.swap, -1);
  checkInt('memory.reservation', m.reservation, -1);
  checkInt('memory.kernel', m.kernel, -1);
  checkInt('memory.kernelTCP', m.kernelTCP, -1);
  checkInt('memory.swappiness', m.swappiness, 0, 100);
  const limit = m.limit || undefined; // 0 = unset
  let memsw = m.swap || undefined;
  // Unlimited memory with swap unset must also lift memsw, or the limit write fails against an old memsw.
  if (limit === -1 && memsw === undefined) memsw = -1;
  if (limit !== undefined && limit > 0 && memsw !== undefined && memsw !== -1 && memsw < limit) {
    throw new CgroupError(`memory.swap (${memsw}) must not be lower than memory.limit (${limit})`);
  }
  const limitW: CgroupWrite | undefined =
    limit === undefined
      ? undefined
      : { controller: 'memory', file: 'memory.limit_in_bytes', value: String(limit), what: 'set memory limit' };
  const memswW: CgroupWrite | undefined =
    memsw === undefined
      ? undefined
      : {
          controller: 'memory', file: 'memory.memsw.limit_in_bytes', value: String(memsw),
          what: 'set memory+swap limit', optional: true,
        };
  // The kernel keeps memory.limit <= memory.memsw.limit at every step. Raising the limit above the current
  // memsw therefore needs memsw first; in every other case (lowering, fresh cgroup with memsw unlimited)
  // the limit goes first.
  const asNum = (v: number) => (v === -1 ? Infinity : v);
  const memswFirst =
    limitW !== undefined && memswW !== undefined && current.memswLimit !== undefined &&
    asNum(limit as number) > current.memswLimit;
  if (memswFirst) out.push(memswW as CgroupWrite, limitW as CgroupWrite);
  else for (const w of [limitW, memswW]) if (w) out.push(w);

  if (m.reservation) {
    out.push({ controller: 'memory', file: 'memory.soft_limit_in_bytes', value: String(m.reservation), what: 'set memory reservation' });
  }
  if (m.kernel) {
    out.push({ controller: 'memory', file: 'memory.kmem.limit_in_bytes', value: String(m.kernel), what: `set kernel memory limit (${KMEM_GONE})`, optional: true });
  }
  if (m.kernelTCP) {
    out.push({ controller: 'memory', file: 'memory.kmem.tcp.limit_in_bytes', value: String(m.kernelTCP), what: `set kernel TCP memory limit (${KMEM_GONE})`, optional: true });
  }
  if (m.swappiness !== undefined) {
    out.push({ controller: 'memory', file: 'memory.swappiness', value: String(m.swappiness), what: 'set memory swappiness' });
  }
  if (m.disableOOMKiller !== undefined) {
    out.push({ controller: 'memory', file: 'memory.oom_control', value: m.disableOOMKiller ? '1' : '0', what: 'set oom killer mode' });
  }
}

function cpuWrites(c: LinuxCpu, out: CgroupWrite[]): void {
  checkInt('cpu.shares', c.shares, 0);
  checkInt('cpu.quota', c.quota, -1);
  checkInt('cpu.period', c.period, 0);
  checkInt('cpu.burst', c.burst, 0);
  checkInt('cpu.realtimeRuntime', c.realtimeRuntime, -1);
  checkInt('cpu.realtimePeriod', c.realtimePeriod, 0);
  checkInt('cpu.idle', c.idle, 0, 1);
  if (c.shares) out.push({ controller: 'cpu', file: 'cpu.shares', value: String(c.shares), what: 'set cpu shares' });
  // Period before quota: the kernel checks the quota against the period being set.
  if (c.period) out.push({ controller: 'cpu', file: 'cpu.cfs_period_us', value: String(c.period), what: 'set cpu period' });
  if (c.quota) out.push({ controller: 'cpu', file: 'cpu.cfs_quota_us', value: String(c.quota), what: 'set cpu quota' });
  if (c.burst !== undefined) {
    out.push({ controller: 'cpu', file: 'cpu.cfs_burst_us', value: String(c.burst), what: 'set cpu burst' });
  }
  // Same rule for realtime: the runtime is validated against the period.
  if (c.realtimePeriod) out.push({ controller: 'cpu', file: 'cpu.rt_period_us', value: String(c.realtimePeriod), what: 'set cpu realtime period' });
  if (c.realtimeRuntime) out.push({ controller: 'cpu', file: 'cpu.rt_runtime_us', value: String(c.realtimeRuntime), what: 'set cpu realtime runtime' });
  if (c.idle !== undefined) out.push({ controller: 'cpu', file: 'cpu.idle', value: String(c.idle), what: 'set cpu idle' });
  if (c.cpus) out.push({ controller: 'cpuset', file: 'cpuset.cpus', value: c.cpus, what: 'set cpuset cpus' });
  if (c.mems) out.push({ controller: 'cpuset', file: 'cpuset.mems', value: c.mems, what: 'set cpuset mems' });
}

function blkioWrites(b: LinuxBlockIO, out: CgroupWrite[]): void {
  checkInt('blockIO.weight', b.weight, 0, 1000);
  checkInt('blockIO.leafWeight', b.leafWeight, 0, 1000);
  // CFQ's blkio.weight is gone from modern kernels; BFQ exposes the same range as blkio.bfq.weight.
  if (b.weight) {
    out.push({ controller: 'blkio', file: 'blkio.weight', value: String(b.weight), what: 'set blkio weight', fallback: { file: 'blkio.bfq.weight', value: String(b.weight) } });
  }
  if (b.leafWeight) {
    out.push({ controller: 'blkio', file: 'blkio.leaf_weight', value: String(b.leafWeight), what: 'set blkio leaf weight', optional: true });
  }
  for (const [i, d] of (b.weightDevice ?? []).entries()) {
    const id = deviceId(`blockIO.weightDevice[${i}]`, d.major, d.minor);
    if (d.weight) {
      out.push({ controller: 'blkio', file: 'blkio.weight_device', value: `${id} ${d.weight}`, what: `set blkio weight of ${id}`, fallback: { file: 'blkio.bfq.weight_device', value: `${id} ${d.weight}` } });
    }
    if (d.leafWeight) {
      out.push({ controller: 'blkio', file: 'blkio.leaf_weight_device', value: `${id} ${d.leafWeight}`, what: `set blkio leaf weight of ${id}`, optional: true });
    }
  }
  const throttles: [keyof LinuxBlockIO, string][] = [
    ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device'],
    ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device'],
    ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device'],
    ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device'],
  ];
  for (const [key, file] of throttles) {
    for (const [i, d] of ((b[key] as { major: number; minor: number; rate: number }[] | undefined) ?? []).entries()) {
      const id = deviceId(`blockIO.${key}[${i}]`, d.major, d.minor);
      checkInt(`blockIO.${key}[${i}].rate`, d.rate, 0);
      out.push({ controller: 'blkio', file, value: `${id} ${d.rate}`, what: `set ${key} of ${id}` });
    }
  }
}

/** One devices-cgroup rule in the kernel's "type major:minor access" syntax (pure). */
export function deviceRule(rule: LinuxDeviceCgroup, field = 'devices'): string {
  const type = rule.type ?? 'a';
  if (!['a', 'b', 'c'].includes(type)) throw new CgroupError(`${field}.type "${type}" must be a, b or c`);
  const access = rule.access ?? 'rwm';
  if (!/^[rwm]{1,3}$/.test(access) || new Set(access).size !== access.length) {
    throw new CgroupError(`${field}.access "${access}" must be a combination of r, w and m`);
  }
  // For type "a" the kernel ignores major/minor/access: the rule covers every device with every access.
  if (type === 'a') return 'a';
  const num = (n: number | undefined, what: string) => {
    if (n === undefined || n === -1) return '*';
    checkInt(`${field}.${what}`, n, 0);
    return String(n);
  };
  return `${type} ${num(rule.major, 'major')}:${num(rule.minor, 'minor')} ${access}`;
}

function deviceWrites(rules: LinuxDeviceCgroup[], out: CgroupWrite[]): void {
  // Start from "deny everything" so the spec's list is the whole truth, then apply rules in order. Specs
  // usually begin with that very rule; writing it twice would be harmless but noisy.
  const first = rules[0];
  const startsWithDenyAll = first !== undefined && !first.allow && (first.type ?? 'a') === 'a';
  if (!startsWithDenyAll) out.push({ controller: 'devices', file: 'devices.deny', value: 'a', what: 'deny all devices' });
  for (const [i, r] of rules.entries()) {
    const rule = deviceRule(r, `devices[${i}]`);
    out.push({
      controller: 'devices', file: r.allow ? 'devices.allow' : 'devices.deny', value: rule,
      what: `${r.allow ? 'allow' : 'deny'} device rule "${rule}"`,
    });
  }
}

/** See resources.ts `v1Writes`. */
export function v1WritesImpl(r: LinuxResources, current: V1Current, options: WriteOptions): WritePlan {
  const writes: CgroupWrite[] = [];
  const warnings: string[] = [];
  if (r.unified && Object.keys(r.unified).length > 0) {
    throw new CgroupError('linux.resources.unified needs cgroup v2, but this host uses cgroup v1');
  }
  if (r.devices && !options.skipDevices) deviceWrites(r.devices, writes);
  if (r.memory) memoryWrites(r.memory, current, writes);
  if (r.cpu) cpuWrites(r.cpu, writes);
  if (r.pids) {
    checkInt('pids.limit', r.pids.limit);
    writes.push({ controller: 'pids', file: 'pids.max', value: r.pids.limit > 0 ? String(r.pids.limit) : 'max', what: 'set pids limit' });
  }
  if (r.blockIO) blkioWrites(r.blockIO, writes);
  for (const [i, h] of (r.hugepageLimits ?? []).entries()) {
    const size = checkPageSize(h.pageSize);
    checkInt(`hugepageLimits[${i}].limit`, h.limit, -1);
    writes.push({ controller: 'hugetlb', file: `hugetlb.${size}.limit_in_bytes`, value: String(h.limit), what: `set hugetlb ${size} limit` });
  }
  if (r.network?.classID !== undefined) {
    checkInt('network.classID', r.network.classID, 0, 0xffffffff);
    writes.push({ controller: 'net_cls', file: 'net_cls.classid', value: String(r.network.classID), what: 'set network class id' });
  }
  for (const [i, p] of (r.network?.priorities ?? []).entries()) {
    if (!/^[^\s/]+$/.test(p.name)) throw new CgroupError(`network.priorities[${i}].name "${p.name}" is not an interface name`);
    checkInt(`network.priorities[${i}].priority`, p.priority, 0);
    writes.push({ controller: 'net_prio', file: 'net_prio.ifpriomap', value: `${p.name} ${p.priority}`, what: `set network priority of ${p.name}` });
  }
  if (r.rdma && Object.keys(r.rdma).length > 0) warnings.push('rdma limits are not supported, ignored');
  return { writes, warnings };
}
