/**
 * cgroup v2 device rules: compiled to an eBPF program (device-program.ts) and attached to the cgroup directory
 * by the native addon, which replaces whatever device program stasis attached there before.
 */
import { CgroupError } from '../errors';
import { LinuxDeviceCgroup } from '../types';
import { compileDeviceProgram } from './device-program';

/** Attaches a compiled program to a cgroup directory, replacing earlier ones; returns how many it replaced. */
export type DeviceProgramLoader = (cgroupDir: string, insns: Buffer) => number;

/** The real loader: the addon's bpf(2) wrapper, required lazily so v1 hosts and tests never load the addon. */
export const nativeDeviceProgramLoader: DeviceProgramLoader = (dir, insns) => {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { native } = require('../../native') as typeof import('../../native');
  return native().replaceCgroupDeviceProgram(dir, insns);
};

/** Compile `rules` and attach the program to `dir`; errors name the directory and carry the verifier's words. */
export function applyDeviceRules(dir: string, rules: readonly LinuxDeviceCgroup[], load: DeviceProgramLoader): void {
  const insns = compileDeviceProgram(rules); // validation errors surface before anything is loaded
  try {
    load(dir, insns);
  } catch (err) {
    const log = (err as { verifierLog?: string }).verifierLog?.trim().split('\n').slice(-3).join('; ');
    throw new CgroupError(
      `cannot set device rules of ${dir}: ${(err as Error).message}${log ? ` (verifier: ${log})` : ''}`,
      { cause: err },
    );
  }
}
