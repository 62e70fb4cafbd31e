/** Facts about host processes read from /proc: liveness and start time (the pid-reuse guard). */
import * as fs from 'node:fs';

/**
 * Start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat), or undefined when the
 * process does not exist. A pid plus its start time names one process for its whole life.
 */
export function processStartTime(pid: number, procRoot = '/proc'): string | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return parseStartTime(stat);
}

/** Parses field 22 out of a /proc/<pid>/stat line; the comm field may contain spaces and parentheses. */
export function parseStartTime(stat: string): string | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = stat.slice(close + 2).split(' ');
  // fields[0] is field 3 (state); field 22 is at index 19.
  return fields[19];
}

/** Process state letter (R, S, D, Z, T …) from /proc/<pid>/stat, or undefined when gone. */
export function processState(pid: number, procRoot = '/proc'): string | undefined {
  try {
    const stat = fs.readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/** True when pid names the same live (non-zombie) process that started at `startTime`. */
export function isSameProcessAlive(pid: number, startTime: string | undefined, procRoot = '/proc'): boolean {
  if (!pid || pid <= 0) return false;
  const now = processStartTime(pid, procRoot);
  if (now === undefined || (startTime !== undefined && now !== startTime)) return false;
  return processState(pid, procRoot) !== 'Z';
}
