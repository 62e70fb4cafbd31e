import type { Command } from '../command';
import { str, type Flags } from '../args';
import type { LinuxResources } from '../../cgroups';
import { readResourcesFile, updateContainer } from '../../runtime/update';
import { RuntimeError } from '../../runtime/errors';

/** runc-style byte sizes: 1024, 512k, 64m, 2g (binary units), or -1 for unlimited. */
export function parseBytes(v: string, flag: string): number {
  if (v === '-1') return -1;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/i.exec(v.trim());
  if (!m) throw new RuntimeError('usage', `invalid value "${v}" for --${flag}: expected bytes like 512m or -1`);
  const mult = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 }[m[2].toLowerCase() as '' | 'k'];
  return Math.round(Number(m[1]) * mult);
}

function num(v: string, flag: string): number {
  if (!/^-?\d+$/.test(v)) throw new RuntimeError('usage', `invalid value "${v}" for --${flag}: expected an integer`);
  return Number(v);
}

/** Builds linux.resources from runc's individual update flags. */
export function resourcesFromFlags(flags: Flags): LinuxResources {
  const r: LinuxResources = {};
  const s = (n: string) => str(flags, n);
  const memory: NonNullable<LinuxResources['memory']> = {};
  if (s('memory')) memory.limit = parseBytes(s('memory')!, 'memory');
  if (s('memory-swap')) memory.swap = parseBytes(s('memory-swap')!, 'memory-swap');
  if (s('memory-reservation')) memory.reservation = parseBytes(s('memory-reservation')!, 'memory-reservation');
  if (s('kernel-memory')) memory.kernel = parseBytes(s('kernel-memory')!, 'kernel-memory');
  if (s('kernel-memory-tcp')) memory.kernelTCP = parseBytes(s('kernel-memory-tcp')!, 'kernel-memory-tcp');
  if (Object.keys(memory).length) r.memory = memory;
  const cpu: NonNullable<LinuxResources['cpu']> = {};
  if (s('cpu-shares')) cpu.shares = num(s('cpu-shares')!, 'cpu-shares');
  if (s('cpu-quota')) cpu.quota = num(s('cpu-quota')!, 'cpu-quota');
  if (s('cpu-period')) cpu.period = num(s('cpu-period')!, 'cpu-period');
  if (s('cpu-rt-period')) cpu.realtimePeriod = num(s('cpu-rt-period')!, 'cpu-rt-period');
  if (s('cpu-rt-runtime')) cpu.realtimeRuntime = num(s('cpu-rt-runtime')!, 'cpu-rt-runtime');
  if (s('cpu-idle')) cpu.idle = num(s('cpu-idle')!, 'cpu-idle');
  if (s('cpuset-cpus')) cpu.cpus = s('cpuset-cpus');
  if (s('cpuset-mems')) cpu.mems = s('cpuset-mems');
  if (Object.keys(cpu).length) r.cpu = cpu;
  if (s('pids-limit')) r.pids = { limit: num(s('pids-limit')!, 'pids-limit') };
  if (s('blkio-weight')) r.blockIO = { weight: num(s('blkio-weight')!, 'blkio-weight') };
  return r;
}

const BYTES = 'bytes (e.g. 512m), -1 for unlimited';
const command: Command = {
  name: 'update',
  summary: 'update container resource constraints',
  usage: '<container-id>',
  flags: {
    resources: { type: 'string', short: 'r', help: 'path to a linux.resources JSON file, or - for stdin', value: 'FILE' },
    memory: { type: 'string', help: `memory limit in ${BYTES}`, value: 'BYTES' },
    'memory-swap': { type: 'string', help: `memory plus swap limit in ${BYTES}`, value: 'BYTES' },
    'memory-reservation': { type: 'string', help: `memory soft limit in ${BYTES}`, value: 'BYTES' },
    'kernel-memory': { type: 'string', help: 'kernel memory limit (cgroup v1)', value: 'BYTES' },
    'kernel-memory-tcp': { type: 'string', help: 'kernel TCP buffer limit (cgroup v1)', value: 'BYTES' },
    'cpu-shares': { type: 'string', help: 'relative CPU weight', value: 'N' },
    'cpu-quota': { type: 'string', help: 'CFS quota in microseconds per period', value: 'N' },
    'cpu-period': { type: 'string', help: 'CFS period in microseconds', value: 'N' },
    'cpu-rt-period': { type: 'string', help: 'realtime period in microseconds', value: 'N' },
    'cpu-rt-runtime': { type: 'string', help: 'realtime runtime in microseconds', value: 'N' },
    'cpu-idle': { type: 'string', help: 'cgroup v2 cpu.idle (0 or 1)', value: 'N' },
    'cpuset-cpus': { type: 'string', help: 'CPUs allowed, e.g. 0-1', value: 'LIST' },
    'cpuset-mems': { type: 'string', help: 'memory nodes allowed, e.g. 0', value: 'LIST' },
    'pids-limit': { type: 'string', help: 'maximum number of processes (-1 or 0: unlimited)', value: 'N' },
    'blkio-weight': { type: 'string', help: 'block IO weight (10-1000)', value: 'N' },
  },
  args: { min: 1, max: 1 },
  async run(ctx, flags, [id]) {
    const file = str(flags, 'resources');
    const changes = file ? readResourcesFile(file) : resourcesFromFlags(flags);
    if (!file && !Object.keys(changes).length) throw new RuntimeError('usage', 'update: nothing to change: give --resources or a limit flag');
    for (const w of await updateContainer(ctx, id, changes)) ctx.log.warn(w);
    return 0;
  },
};
export default command;
