/** cgroup v2 driver: a single directory in the unified hierarchy. */
import * as posix from 'node:path/posix';
import { CgroupError, describeErrno } from '../errors';
import { CgroupFs, realCgroupFs } from '../fs';
import { ApplyResult, CgroupManager, CgroupManagerOptions, CreateResult, FreezerState } from '../manager';
import { parseFlatKeyed } from '../parse';
import { CgroupLocation } from '../path';
import { v2Writes } from '../resources';
import { listPidsRecursive, mkdirBelow, readOptional, removeCgroupTree } from '../tree';
import { CgroupStats, LinuxResources } from '../types';
import { applyWritePlan, writeValue } from '../writer';
import { enableAllControllers, readControllerList } from './controllers';
import { applyDeviceRules, nativeDeviceProgramLoader } from './devices';
import { freezeV2, stateV2, thawV2 } from './freezer';
import { readV2Stats } from './stats';

/** The v2 CgroupManager. */
export class V2CgroupManager implements CgroupManager {
  readonly version = 'v2' as const;
  private readonly fs: CgroupFs;
  private readonly dir: string;
  private readonly mount: string;
  private createdLeaf = false;

  constructor(location: CgroupLocation, private readonly options: CgroupManagerOptions = {}) {
    if (!location.v2) throw new CgroupError('cgroup v2 manager needs a v2 location');
    this.fs = options.fs ?? realCgroupFs;
    this.dir = location.v2;
    this.mount = location.mounts.get('') as string;
  }

  async create(): Promise<CreateResult> {
    const warnings: string[] = [];
    this.createdLeaf = await mkdirBelow(this.fs, this.mount, this.dir, async (parent) => {
      warnings.push(...(await enableAllControllers(this.fs, parent)));
    });
    return { created: this.createdLeaf, existing: this.createdLeaf ? [] : [this.dir], warnings };
  }

  async addProcess(pid: number): Promise<void> {
    if (!Number.isSafeInteger(pid) || pid <= 0) throw new CgroupError(`cannot add process: invalid pid ${pid}`);
    await writeValue(this.fs, posix.join(this.dir, 'cgroup.procs'), String(pid), `add process ${pid} to the cgroup`);
  }

  /**
   * Device rules first, as v1 writes them first: limits never apply to a container whose device access is still
   * open. Unlike v1, replacing the program is safe on a running container (see devices.ts), so update() does it
   * too whenever `resources.devices` is given.
   */
  private async writeResources(resources: LinuxResources): Promise<ApplyResult> {
    let cpuQuota: string | undefined;
    if (resources.cpu?.period && !resources.cpu.quota) {
      cpuQuota = (await readOptional(this.fs, posix.join(this.dir, 'cpu.max')))?.trim().split(/\s+/)[0];
    }
    const plan = v2Writes(resources, { skipDevices: true }, { cpuQuota });
    if (resources.devices !== undefined) {
      applyDeviceRules(this.dir, resources.devices, this.options.deviceProgramLoader ?? nativeDeviceProgramLoader);
    }
    const available = await readControllerList(this.fs, posix.join(this.dir, 'cgroup.controllers'));
    // 'cgroup.*' core files exist everywhere; every other prefix needs its controller delegated to this cgroup.
    const dirOf = (c: string) => (c === 'cgroup' || available.has(c) ? this.dir : undefined);
    const why = (c: string) => `the ${c} controller is not enabled for ${this.dir} (see the parent's cgroup.subtree_control)`;
    return { warnings: await applyWritePlan(this.fs, plan, dirOf, why) };
  }

  apply(resources: LinuxResources): Promise<ApplyResult> {
    return this.writeResources(resources);
  }

  update(resources: LinuxResources): Promise<ApplyResult> {
    return this.writeResources(resources);
  }

  freeze(): Promise<void> {
    return freezeV2(this.fs, this.dir, this.options.freezeTimeoutMs ?? 5000);
  }

  thaw(): Promise<void> {
    return thawV2(this.fs, this.dir, this.options.freezeTimeoutMs ?? 5000);
  }

  state(): Promise<FreezerState> {
    return stateV2(this.fs, this.dir);
  }

  pids(): Promise<number[]> {
    return listPidsRecursive(this.fs, this.dir);
  }

  stats(): Promise<CgroupStats> {
    return readV2Stats(this.fs, this.dir);
  }

  async oomKillCount(): Promise<number> {
    const path = posix.join(this.dir, 'memory.events');
    try {
      return parseFlatKeyed(await readOptional(this.fs, path)).oom_kill ?? 0;
    } catch (err) {
      throw new CgroupError(`cannot read oom kill count: ${path}: ${describeErrno(err)}`, { cause: err });
    }
  }

  async destroy(): Promise<void> {
    if (!this.createdLeaf && !this.options.owned) return;
    await removeCgroupTree(this.fs, this.dir, this.options.removeTimeoutMs ?? 2000);
    this.createdLeaf = false;
  }

  paths(): Record<string, string> {
    return { '': this.dir };
  }

  exists(): Promise<boolean> {
    return this.fs.exists(this.dir);
  }
}
