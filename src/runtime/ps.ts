/** ps: the container's processes, as pids (json) or as the host `ps` output filtered to them (table). */
import { execFileSync } from 'node:child_process';
import type { Context } from '../cli/context';
import { LockMode } from '../state/lock';
import { withContainer } from './container';
import { requireStatus } from './lifecycle';
import { openContainerCgroup } from './cgroup';
import { RuntimeError } from './errors';

/** Pids of every process in the container's cgroup. */
export async function containerPids(ctx: Context, id: string): Promise<number[]> {
  return withContainer(
    ctx,
    id,
    async (c) => {
      requireStatus('ps', id, c.status);
      return (await openContainerCgroup(c.record).pids()).sort((a, b) => a - b);
    },
    LockMode.Shared,
  );
}

/** Keeps the header and the lines of `ps` output whose PID column is one of `pids` (runc's behaviour). */
export function filterPsOutput(output: string, pids: readonly number[]): string {
  const lines = output.split('\n');
  const header = lines[0] ?? '';
  const col = header.trim().split(/\s+/).indexOf('PID');
  if (col < 0) throw new RuntimeError('usage', 'ps output has no PID column: pass ps options that print it');
  const wanted = new Set(pids);
  const kept = lines.slice(1).filter((l) => l.trim() && wanted.has(Number(l.trim().split(/\s+/)[col])));
  return [header, ...kept].join('\n') + '\n';
}

/** Runs the host's ps with `args` (default -ef) and filters it to the container. */
export function psTable(pids: readonly number[], args: string[]): string {
  let out: string;
  try {
    out = execFileSync('ps', args.length ? args : ['-ef'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  } catch (err) {
    throw new RuntimeError('system', `running ps failed: ${(err as Error).message.split('\n')[0]}`);
  }
  return filterPsOutput(out, pids);
}
