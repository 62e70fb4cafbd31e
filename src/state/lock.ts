/**
 * flock(2) on a state directory. Node has no flock, so this goes through the native addon's one load point.
 * An flock dies with its holder, so a `kill -9` of stasis can never leave a stale lock behind.
 */
import { native } from '../native';

/** Shared for readers (`state`, `list`), exclusive for anything that changes the container. */
export enum LockMode {
  Shared = 1,
  Exclusive = 2,
}

/** Blocks until the lock is held. */
export function lockFd(fd: number, mode: LockMode): void {
  const n = native();
  n.flock(fd, mode === LockMode.Shared ? n.LOCK_SH : n.LOCK_EX);
}
