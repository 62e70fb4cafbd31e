/** cgroup v1 driver: one directory per hierarchy (co-mounted controllers share one). Also used on hybrid hosts. */
import * as posix from 'node:path/posix';
import { CgroupError, describeErrno } from '../errors';
import { CgroupFs, realCgroupFs } from '../fs';
import { ApplyResult, CgroupManager, CgroupManagerOptions, CreateResult, FreezerState } from '../manager';
import { parseFlatKeyed, parseSingle } from '../parse';
import { CgroupLocation } from '../path';
import { v1Writes } from '../resources';
import { listPidsRecursive, mkdirBelow, readOptional, removeCgroupTree } from '../tree';
import { CgroupStats, LinuxResources } from '../types';
import { applyWritePlan, writeValue } from '../writer';
import { seedCpuset } from './cpuset';
import { freezeV1, stateV1, thawV1 } from './freezer';
import { readV1Stats } from './stats';

/** Hierarchy preference for listing processes: pids and freezer are the ones containers always join. */
const PIDS_SOURCE = ['pids', 'freezer', 'memory', 'cpu', 'cpuacct', 'devices', 'blkio', 'cpuset'];

/** The v1 CgroupManager. */
export class V1CgroupManager implements CgroupManager {
  readonly version = 'v1' as const;
  private readonly fs: CgroupFs;
  private readonly created = new Set<string>();

  constructor(private readonly location: CgroupLocation, private readonly options: CgroupManagerOptions = {}) {
    this.fs = options.fs ?? realCgroupFs;
  }

  /** Unique [directory, mountpoint] pairs: cpu and cpuacct co-mounted share one directory. */
  private dirs(): [string, string][] {
    const seen = new Map<string, string>();
    for (const [c, dir] of this.location.v1) if (!seen.has(dir)) seen.set(dir, this.location.mounts.get(c) as string);
    return [...seen];
  }

  private dirOf = (controller: string): string | undefined => this.location.v1.get(controller);

  private need(controller: string, action: string): string {
    const dir = this.dirOf(controller);
    if (!dir) throw new CgroupError(`cannot ${action}: the ${controller} controller is not mounted`);
    return dir;
  }

  async create(): Promise<CreateResult> {
    const existing: string[] = [];
    for (const [dir, mountpoint] of this.dirs()) {
      if (await mkdirBelow(this.fs, mountpoint, dir)) this.created.add(dir);
      else existing.push(dir);
    }
    const cpuset = this.dirOf('cpuset');
    if (cpuset) await seedCpuset(this.fs, this.location.mounts.get('cpuset') as string, cpuset);
    return { created: this.created.size > 0, existing, warnings: [] };
  }

  async addProcess(pid: number): Promise<void> {
    if (!Number.isSafeInteger(pid) || pid <= 0) throw new CgroupError(`cannot add process: invalid pid ${pid}`);
    for (const [dir] of this.dirs()) {
      await writeValue(this.fs, posix.join(dir, 'cgroup.procs'), String(pid), `add process ${pid} to the cgroup`);
    }
  }

  private async writeResources(resources: LinuxResources, skipDevices: boolean): Promise<ApplyResult> {
    const current: { memswLimit?: number } = {};
    const mem = this.dirOf('memory');
    if (mem && resources.memory) {
      const memsw = await readOptional(this.fs, posix.join(mem, 'memory.memsw.limit_in_bytes'));
      if (memsw !== undefined) current.memswLimit = parseSingle(memsw);
    }
    const plan = v1Writes(resources, current, { skipDevices });
    const warnings = await applyWritePlan(this.fs, plan, this.dirOf, (c) => `the ${c} controller is not mounted`);
    return { warnings };
  }

  apply(resources: LinuxResources): Promise<ApplyResult> {
    return this.writeResources(resources, false);
  }

  update(resources: LinuxResources): Promise<ApplyResult> {
    return this.writeResources(resources, true);
  }

  freeze(): Promise<void> {
    return freezeV1(this.fs, this.need('freezer', 'freeze'), this.options.freezeTimeoutMs ?? 5000);
  }

  thaw(): Promise<void> {
    return thawV1(this.fs, this.need('freezer', 'thaw'), this.options.freezeTimeoutMs ?? 5000);
  }

  async state(): Promise<FreezerState> {
    const dir = this.dirOf('freezer');
    return dir ? stateV1(this.fs, dir) : 'thawed';
  }

  async pids(): Promise<number[]> {
    const source = PIDS_SOURCE.find((c) => this.dirOf(c));
    if (!source) throw new CgroupError('cannot list processes: no cgroup v1 controller is mounted');
    return listPidsRecursive(this.fs, this.dirOf(source) as string);
  }

  stats(): Promise<CgroupStats> {
    return readV1Stats(this.fs, this.dirOf);
  }

  async oomKillCount(): Promise<number> {
    const mem = this.dirOf('memory');
    if (!mem) return 0;
    const path = posix.join(mem, 'memory.oom_control');
    try {
      return parseFlatKeyed(await this.fs.readFile(path)).oom_kill ?? 0;
    } catch (err) {
      throw new CgroupError(`cannot read oom kill count: ${path}: ${describeErrno(err)}`, { cause: err });
    }
  }

  async destroy(): Promise<void> {
    const targets = this.options.owned ? this.dirs().map(([d]) => d) : [...this.created];
    for (const dir of targets) await removeCgroupTree(this.fs, dir, this.options.removeTimeoutMs ?? 2000);
    this.created.clear();
  }

  paths(): Record<string, string> {
    return Object.fromEntries(this.location.v1);
  }

  async exists(): Promise<boolean> {
    for (const [dir] of this.dirs()) if (await this.fs.exists(dir)) return true;
    return false;
  }
}
