/** Loading a container for an operation: lock → load → derive status (every mutating command starts here). */
import type { Context } from '../cli/context';
import { StateStore, type LockedContainerDir } from '../state/store';
import { LockMode } from '../state/lock';
import type { ContainerRecord } from '../state/record';
import { deriveStatus, hostProbe, type Status } from './lifecycle';
import { openContainerCgroup } from './cgroup';
import { healCheckpointFreeze } from './checkpoint-guard';

/** A locked, loaded container with its derived status. Call `lock.release()` when done. */
export interface Loaded {
  store: StateStore;
  lock: LockedContainerDir;
  record: ContainerRecord;
  status: Status;
}

/** Locks and loads container `id`, deriving its status from the host. */
export async function loadContainer(ctx: Context, id: string, mode: LockMode = LockMode.Exclusive): Promise<Loaded> {
  const store = new StateStore(ctx.root);
  const { lock, record } = store.open(id, mode);
  try {
    return { store, lock, record, status: await statusOf(store, record) };
  } catch (err) {
    lock.release();
    throw err;
  }
}

/**
 * Derives the status of a loaded record (its lock held). First it thaws a container that a killed checkpoint
 * left frozen (checkpoint-guard.ts), so every command sees it running again.
 */
export async function statusOf(store: StateStore, record: ContainerRecord): Promise<Status> {
  await healCheckpointFreeze(store, record);
  const probe = hostProbe(
    (r) => store.fifoPath(r.id),
    async (r) => (await openContainerCgroup(r).state()) === 'frozen',
  );
  return deriveStatus(record, probe);
}

/** Runs `fn` with the container locked, releasing the lock however `fn` ends. */
export async function withContainer<T>(ctx: Context, id: string, fn: (c: Loaded) => Promise<T> | T, mode?: LockMode): Promise<T> {
  const loaded = await loadContainer(ctx, id, mode);
  try {
    return await fn(loaded);
  } finally {
    loaded.lock.release();
  }
}
