/**
 * Container status is derived, never stored (crun/runc): pid + start time alive, then the start gate
 * (exec.fifo present → created), then the freezer (→ paused), else running; anything else is stopped.
 */
import * as fs from 'node:fs';
import { isSameProcessAlive } from '../state/proc';
import type { ContainerRecord } from '../state/record';
import { RuntimeError } from './errors';

/** OCI statuses plus runc's `paused`. */
export type Status = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

/** Host facts the derivation needs, injectable for unit tests. */
export interface StatusProbe {
  alive(pid: number, startTime: string | undefined): boolean;
  fifoExists(record: ContainerRecord): boolean;
  frozen(record: ContainerRecord): Promise<boolean> | boolean;
}

/** Derives the status of a container from the host. */
export async function deriveStatus(record: ContainerRecord, probe: StatusProbe): Promise<Status> {
  if (!probe.alive(record.pid, record.startTime)) return 'stopped';
  if (probe.fifoExists(record)) return 'created';
  if (await probe.frozen(record)) return 'paused';
  return 'running';
}

/** The probe for the real host; `frozen` comes from the cgroup layer. */
export function hostProbe(fifoPath: (r: ContainerRecord) => string, frozen: (r: ContainerRecord) => Promise<boolean>): StatusProbe {
  return {
    alive: (pid, st) => isSameProcessAlive(pid, st),
    fifoExists: (r) => fs.existsSync(fifoPath(r)),
    frozen,
  };
}

/** Operations and the statuses that allow them (youki's can_* predicates, as a table). */
const ALLOWED: Record<string, readonly Status[]> = {
  start: ['created'],
  kill: ['created', 'running', 'paused'],
  pause: ['running'],
  resume: ['paused'],
  exec: ['created', 'running'],
  checkpoint: ['running', 'paused'],
  delete: ['stopped'],
  update: ['created', 'running', 'paused'],
  ps: ['created', 'running', 'paused'],
  events: ['created', 'running', 'paused'],
};

/** Throws the user-facing error when `op` is not allowed in `status`. */
export function requireStatus(op: keyof typeof ALLOWED & string, id: string, status: Status): void {
  if (ALLOWED[op]?.includes(status)) return;
  if (op === 'delete') throw new RuntimeError('bad-state', `cannot delete container ${id} that is not stopped: ${status}`);
  if (op === 'start' && status === 'stopped') throw new RuntimeError('bad-state', `cannot start a container that has stopped`);
  if (op === 'start') throw new RuntimeError('bad-state', `cannot start an already ${status} container`);
  if (status === 'stopped') throw new RuntimeError('bad-state', `container ${id} is not running`);
  throw new RuntimeError('bad-state', `cannot ${op} container ${id} in state ${status}`);
}
