/**
 * Runs a CriuPlan (from options.ts): checks the features it needs, opens its directories, sends the
 * request through swrk and reads the statistics CRIU wrote.
 *
 * The directory fds stay in our process: CRIU opens images_dir_fd / work_dir_fd as /proc/<peer>/fd/N of
 * the socket's peer (us), the way runc passes them.
 */
import * as fs from 'node:fs';
import { featureCheck } from './check';
import type { CriuPlan } from './options';
import { readDumpStats, readRestoreStats, type DumpStats, type RestoreStats } from './stats';
import { criuRequest, CRIU_FIRST_EXTRA_FD, type CriuNotifyEvent, type SwrkOptions } from './swrk';
import type { CriuOpts, CriuResp } from './types';

/** CRIU's fd number for RunOptions.extraFds[i] is FIRST_CALLER_FD + i (for inherit_fd entries). */
export const FIRST_CALLER_FD = CRIU_FIRST_EXTRA_FD;

/** What the caller adds to a plan. */
export interface RunOptions extends Pick<SwrkOptions, 'criuPath' | 'stdio' | 'env' | 'start' | 'beforeRequest' | 'prestarted'> {
  /** Fields merged over the plan's options (pid, root, extMnt, cgRoot, inheritFd, external…). */
  opts?: Partial<CriuOpts>;
  /** fds given to CRIU at FIRST_CALLER_FD, FIRST_CALLER_FD + 1, … (namespaces, pipes for inherit_fd). */
  extraFds?: readonly number[];
  /** Called for every notification (before status-ready is reported on the plan's status fd). */
  onNotify?: (event: CriuNotifyEvent) => void | Promise<void>;
  /** Skip the FEATURE_CHECK request (when the caller already checked). */
  skipFeatureCheck?: boolean;
}

/** The outcome of a successful plan. */
export interface RunResult {
  resp: CriuResp;
  /** Restore: the pid of the restored root task. */
  pid?: number;
  dumpStats?: DumpStats;
  restoreStats?: RestoreStats;
}

function openDir(dir: string, create: boolean): number {
  if (create) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
}

/** Runs the plan; rejects with CriuError (or a feature error) on failure. */
export async function runPlan(plan: CriuPlan, run: RunOptions = {}): Promise<RunResult> {
  if (!run.skipFeatureCheck) await featureCheck(plan.features, { criuPath: run.criuPath, env: run.env });
  const dirFds: number[] = [];
  try {
    // Images are only created by a dump; restoring from a missing directory must fail, not start empty.
    dirFds.push(openDir(plan.imagesDir, plan.type !== 'RESTORE'));
    dirFds.push(openDir(plan.workDir, true));
    const opts: CriuOpts = { ...plan.opts, ...run.opts, imagesDirFd: dirFds[0], workDirFd: dirFds[1] };
    const onNotify = async (event: CriuNotifyEvent): Promise<void> => {
      if (run.onNotify) await run.onNotify(event);
      else for (const fd of event.fds) fs.closeSync(fd);
      // After the caller's hook: whoever waits on the status fd may start the restore at once, so what the
      // hook writes (descriptors, stasis's note) must already be there.
      if (event.script === 'status-ready' && plan.statusFd !== undefined) {
        fs.writeSync(plan.statusFd, Buffer.from([0]));
        fs.closeSync(plan.statusFd);
      }
    };
    const resp = await criuRequest(
      { type: plan.type, opts },
      {
        criuPath: run.criuPath,
        env: run.env,
        stdio: run.stdio,
        extraFds: run.extraFds,
        start: run.start,
        prestarted: run.prestarted,
        beforeRequest: run.beforeRequest,
        logPath: plan.logPath,
        onNotify,
      },
    );
    const result: RunResult = { resp };
    if (plan.type === 'RESTORE') {
      result.pid = resp.restore?.pid;
      result.restoreStats = readRestoreStats(plan.workDir);
    } else {
      result.dumpStats = readDumpStats(plan.workDir);
    }
    return result;
  } finally {
    for (const fd of dirFds) fs.closeSync(fd);
  }
}
