/**
 * run = create + start. Detached, it returns once the process runs. In the foreground the helper stays as
 * the container's parent (subreaper) and reports its exit; stasis forwards signals and exits with the
 * container's status, deleting it afterwards unless --keep.
 */
import type { Context } from '../cli/context';
import { createContainer, type CreateOptions } from './create';
import { startLoaded } from './start';
import { loadContainer } from './container';
import { destroy } from './delete';
import { mark } from './trace';
import { proxyTerminal, type TerminalProxy } from './terminal';

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

/** Runs a container; resolves to the exit status stasis should return. */
export async function runContainer(ctx: Context, opts: CreateOptions, keep: boolean): Promise<number> {
  // create keeps the lock, so start goes on from the record create made instead of reloading it (and the
  // container cannot change hands in between). Status: created, as create just left it.
  const { record, launched, master, store, lock } = await createContainer(ctx, { ...opts, holdLock: true });
  const terminal: TerminalProxy | undefined = master !== undefined ? proxyTerminal(master) : undefined;
  const forward = (sig: NodeJS.Signals) => {
    try {
      process.kill(record.pid, sig);
    } catch {
      /* already gone */
    }
  };
  if (opts.foreground) for (const s of FORWARDED) process.on(s, forward);
  try {
    try {
      await startLoaded(ctx, { store, lock: lock!, record, status: 'created' });
    } finally {
      lock!.release();
    }
  } catch (err) {
    if (opts.foreground) for (const s of FORWARDED) process.off(s, forward);
    terminal?.stop();
    await removeQuietly(ctx, opts.id);
    throw err;
  }
  mark('started');
  if (!opts.foreground) return 0;
  const exit = await launched.childExit;
  if (terminal) {
    // The last output can still be in the pty when the exit is reported: drain it, briefly.
    await Promise.race([terminal.finished, new Promise((r) => setTimeout(r, 500))]);
    terminal.stop();
  }
  mark('container exited');
  for (const s of FORWARDED) process.off(s, forward);
  if (!keep) await removeQuietly(ctx, opts.id);
  mark('deleted');
  return exit.signal ? 128 + exit.signal : (exit.status ?? 0);
}

async function removeQuietly(ctx: Context, id: string): Promise<void> {
  try {
    const c = await loadContainer(ctx, id);
    try {
      await destroy(ctx, c);
    } finally {
      c.lock.release();
    }
  } catch (err) {
    ctx.log.warn(`cannot delete container ${id}: ${(err as Error).message}`);
  }
}
