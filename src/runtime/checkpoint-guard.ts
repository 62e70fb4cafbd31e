/**
 * A checkpoint that dies halfway must leave the container running, not frozen.
 *
 * checkpoint freezes the cgroup itself before CRIU runs. If stasis is killed (SIGKILL, OOM, a timeout in the
 * engine) between that freeze and the end of the dump, nobody thaws it, and the container would stay paused
 * until someone ran `resume`. So before freezing, checkpoint writes a mark into state.json (atomically, under
 * its exclusive lock) naming itself by pid and start time. The next command that loads the container
 * (state, list, kill, exec, checkpoint…) finds the mark, sees that its owner is gone, thaws the cgroup and
 * clears the mark. Holding the container lock already proves the checkpoint is over (it keeps the lock
 * until it ends); the pid check makes the rule hold on its own.
 */
import * as path from 'node:path';
import type { ContainerRecord, CheckpointFreezeMark } from '../state/record';
import { writeFileAtomic, type LockedContainerDir, type StateStore } from '../state/store';
import { isSameProcessAlive, processStartTime } from '../state/proc';
import type { CgroupManager } from '../cgroups';
import { openContainerCgroup } from './cgroup';

/** True when `mark` names a checkpoint process that no longer runs (pure given `alive`, for tests). */
export function checkpointOwnerGone(
  mark: CheckpointFreezeMark | undefined,
  alive: (pid: number, startTime: string) => boolean = isSameProcessAlive,
): boolean {
  return mark !== undefined && !alive(mark.pid, mark.startTime);
}

/** Records this process as the one freezing the container, then freezes it. Needs the exclusive lock. */
export async function freezeForCheckpoint(c: { lock: LockedContainerDir; record: ContainerRecord }, cg: CgroupManager): Promise<void> {
  c.record.checkpointFreeze = { pid: process.pid, startTime: processStartTime(process.pid) ?? '' };
  c.lock.write(c.record); // before the freeze: a kill between the two must not leave an unmarked freeze
  await cg.freeze();
}

/**
 * At the end of a checkpoint (still under its lock): clears the mark once the cgroup is thawed again. The
 * mark stays when the container is gone (nothing to write) or still frozen (the next command thaws it).
 * Never throws: it runs in checkpoint's `finally`, where it must not hide the checkpoint's own error.
 */
export async function endCheckpointFreeze(c: { lock: LockedContainerDir; record: ContainerRecord }): Promise<void> {
  if (!c.record.checkpointFreeze) return;
  let current: ContainerRecord;
  try {
    current = c.lock.read();
  } catch {
    return; // removed: the checkpoint ended the container
  }
  if (!current.checkpointFreeze) return;
  try {
    const cg = openContainerCgroup(current);
    if ((await cg.exists()) && (await cg.state()) !== 'thawed') return;
    delete current.checkpointFreeze;
    c.lock.write(current);
  } catch {
    /* the mark stays; a later command clears it (its owner, this process, will be gone by then) */
  }
}

/**
 * Finishes the job of a checkpoint that died with the container frozen: thaws the cgroup and clears the mark
 * in `record` and on disk. Call it with the container's lock held (shared is enough: two readers healing at
 * once both thaw, which is idempotent, and both write the same record atomically). A thaw that fails keeps
 * the mark, so the next command tries again.
 */
export async function healCheckpointFreeze(store: StateStore, record: ContainerRecord): Promise<void> {
  if (!checkpointOwnerGone(record.checkpointFreeze)) return;
  try {
    const cg = openContainerCgroup(record);
    if ((await cg.exists()) && (await cg.state()) !== 'thawed') await cg.thaw();
  } catch {
    return;
  }
  delete record.checkpointFreeze;
  try {
    writeFileAtomic(path.join(store.dir(record.id), 'state.json'), JSON.stringify(record));
  } catch {
    /* the container runs again; the stale mark on disk is cleared by the next command that can write */
  }
}
