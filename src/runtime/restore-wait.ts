/**
 * Foreground restore: like `run` without -d, stasis stays with the restored init, forwards signals to it,
 * and when it exits removes the container and returns its status.
 *
 * The init is stasis's own child (CRIU restored it with rst_sibling), but not one Node spawned, so it is
 * reaped with the addon's waitpid, polled: a blocking wait would stop signal forwarding.
 */
import type { Context } from '../cli/context';
import type { ContainerRecord } from '../state/record';
import { native } from '../native';
import { loadContainer } from './container';
import { destroy } from './delete';

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Exit status the way a shell reports it: the code, or 128 + the signal. */
export function exitStatus(code: number | null, signal: number | null): number {
  return signal ? 128 + signal : (code ?? 0);
}

/** Waits for the restored init, then deletes the container; resolves to the init's exit status. */
export async function waitRestored(ctx: Context, record: ContainerRecord): Promise<number> {
  const forward = (sig: NodeJS.Signals) => {
    try {
      process.kill(record.pid, sig);
    } catch {
      /* already gone */
    }
  };
  for (const s of FORWARDED) process.on(s, forward);
  let status: number;
  try {
    for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
      const r = native().waitPid(record.pid, true);
      if (r) {
        status = exitStatus(r.code, r.signal);
        break;
      }
      await sleep(wait);
    }
  } finally {
    for (const s of FORWARDED) process.off(s, forward);
  }
  try {
    const c = await loadContainer(ctx, record.id);
    try {
      await destroy(ctx, { ...c, status: 'stopped' });
    } finally {
      c.lock.release();
    }
  } catch (err) {
    ctx.log.warn(`cannot delete container ${record.id}: ${(err as Error).message}`);
  }
  return status;
}
