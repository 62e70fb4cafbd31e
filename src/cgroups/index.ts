/**
 * cgroups: everything stasis does with cgroups, behind one CgroupManager interface with a v1 and a v2 driver.
 * Knows nothing about containers beyond an id and a cgroupsPath. Policy (which file gets which value, in which
 * order) is in the pure resources*.ts; the drivers only execute it. Systemd-managed cgroups are not supported.
 */
import { CgroupSetup, detectCgroupSetup } from './detect';
import { CgroupFs } from './fs';
import { CgroupManager, CgroupManagerOptions } from './manager';
import { ProcCgroup, resolveCgroupLocation } from './path';
import { V1CgroupManager } from './v1/manager';
import { V2CgroupManager } from './v2/manager';

export * from './detect';
export * from './errors';
export * from './manager';
export * from './path';
export * from './resources';
export * from './types';
export type { CgroupFs, DirEntry } from './fs';
export { realCgroupFs } from './fs';
export { V1CgroupManager } from './v1/manager';
export { V2CgroupManager } from './v2/manager';

/** What openCgroupManager needs: the container id and its OCI cgroupsPath, plus test seams. */
export interface OpenCgroupOptions extends CgroupManagerOptions {
  id: string;
  cgroupsPath?: string;
  /** Detected layout; detected from /proc/self/mountinfo when omitted. */
  setup?: CgroupSetup;
  /** /proc/self/cgroup path or parsed content, for relative cgroupsPath. */
  procSelfCgroup?: string | ProcCgroup;
  fs?: CgroupFs;
}

/** Build the right manager for this host (hybrid hosts get the v1 driver). Does not touch the cgroup yet. */
export function openCgroupManager(options: OpenCgroupOptions): CgroupManager {
  const setup = options.setup ?? detectCgroupSetup();
  const location = resolveCgroupLocation(setup, options.cgroupsPath, options.id, options.procSelfCgroup);
  return location.version === 'v2' ? new V2CgroupManager(location, options) : new V1CgroupManager(location, options);
}
