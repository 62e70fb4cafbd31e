/** kill: signal the container's init, or with --all every process in its cgroup. */
import { constants } from 'node:os';
import type { Context } from '../cli/context';
import { withContainer } from './container';
import { requireStatus } from './lifecycle';
import { openContainerCgroup, signalAll } from './cgroup';
import { RuntimeError } from './errors';

/** Parses a signal given by name (`TERM`, `SIGTERM`, `sigterm`) or number, as runc accepts it. */
export function parseSignal(s: string): number {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n <= 0 || n > 64) throw new RuntimeError('usage', `invalid signal number ${s}`);
    return n;
  }
  const up = s.toUpperCase();
  const name = (up.startsWith('SIG') ? up : `SIG${up}`) as keyof typeof constants.signals;
  const rt = /^SIGRTMIN(?:\+(\d+))?$/.exec(name) ?? /^SIGRTMAX(?:-(\d+))?$/.exec(name);
  if (rt) return name.startsWith('SIGRTMIN') ? 34 + Number(rt[1] ?? 0) : 64 - Number(rt[1] ?? 0);
  const n = constants.signals[name];
  if (n === undefined) throw new RuntimeError('usage', `unknown signal "${s}"`);
  return n;
}

/** Sends `signal` to the container (all its processes with `all`). */
export async function killContainer(ctx: Context, id: string, signal: number, all: boolean): Promise<void> {
  await withContainer(ctx, id, async (c) => {
    requireStatus('kill', id, c.status);
    if (all) {
      // Frozen while signalled so no process forks past the list; a paused container stays paused except
      // for SIGKILL, which users expect to "just work".
      await signalAll(openContainerCgroup(c.record), signal);
      return;
    }
    try {
      process.kill(c.record.pid, signal);
    } catch (err) {
      throw new RuntimeError('system', `cannot signal container ${id}: ${(err as Error).message}`);
    }
  });
}
