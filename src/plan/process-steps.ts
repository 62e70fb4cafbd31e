/**
 * Steps about the container process shared by the init and exec plans: console, working directory,
 * executable lookup, umask, and the privilege drop (user, capabilities, no_new_privs, seccomp).
 */
import { Base, str, strlist, u32, u64, type Step } from '../helper/protocol';
import type { Process, Seccomp } from '../spec/types';
import { capMasks } from './caps';
import { seccompStep } from './seccomp';

/** PATH used for the executable lookup when the process environment has none (execvp's usual default). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The PATH of an environment list (the last PATH= entry wins, as with execve's environ). */
export function envPath(env: readonly string[] | undefined): string {
  let path: string | undefined;
  for (const e of env ?? []) if (e.startsWith('PATH=')) path = e.slice(5);
  return path ?? DEFAULT_PATH;
}

/** CONNECT_CONSOLE, taken on the host side so that the socket path is looked up in the host's filesystem. */
export function connectConsoleStep(socketPath: string): Step {
  return { op: 'CONNECT_CONSOLE', args: [str(socketPath)], what: `connect to console socket ${socketPath}` };
}

/** USE_CONSOLE_FD: the console socket is an inherited fd (stasis proxies the terminal itself). */
export function useConsoleFdStep(fd: number): Step {
  return { op: 'USE_CONSOLE_FD', args: [u32(fd)], what: 'take the terminal socket from stasis' };
}

/** The console socket step: a path to connect to, or an fd stasis handed over. */
export function consoleSocketStep(o: { consoleSocket?: string; consoleFd?: number }): Step {
  return o.consoleFd !== undefined ? useConsoleFdStep(o.consoleFd) : connectConsoleStep(o.consoleSocket!);
}

/** CONSOLE: create the pty, send its master to the console socket, make the slave the process's stdio. */
export function consoleStep(p: Process): Step {
  const rows = p.consoleSize?.height ?? 0;
  const cols = p.consoleSize?.width ?? 0;
  return { op: 'CONSOLE', args: [u32(rows), u32(cols)], what: 'set up the terminal' };
}

/** CHDIR then LOOKUP_EXEC with the container environment's PATH. */
export function cwdAndLookupSteps(p: Process): Step[] {
  return [
    { op: 'CHDIR', args: [str(p.cwd)], what: `change directory to ${p.cwd}` },
    { op: 'LOOKUP_EXEC', args: [str(p.args[0]), str(envPath(p.env))], what: `find executable ${p.args[0]}` },
  ];
}

/** WRITE_FILE of /proc/self/oom_score_adj. */
export function oomScoreStep(adj: number): Step {
  return {
    op: 'WRITE_FILE',
    args: [u32(Base.HOST), str('/proc/self/oom_score_adj'), str(String(adj))],
    what: `set oom_score_adj to ${adj}`,
  };
}

/** UMASK. */
export function umaskStep(mask: number): Step {
  return { op: 'UMASK', args: [u32(mask)], what: `set umask to ${mask.toString(8).padStart(4, '0')}` };
}

/**
 * FDMAP (helper fds 5.. become container fds 3..) and CLOSE_FDS (every other fd above them is marked
 * close-on-exec so that nothing of the runtime leaks into the container, CVE-2024-21626).
 */
export function fdSteps(preserveFds: number): Step[] {
  const steps: Step[] = [];
  if (preserveFds > 0) {
    const pairs = Array.from({ length: preserveFds }, (_, i) => `${5 + i}:${3 + i}`);
    steps.push({ op: 'FDMAP', args: [strlist(pairs)], what: `pass ${preserveFds} preserved file descriptors` });
  }
  steps.push({ op: 'CLOSE_FDS', args: [u32(2 + preserveFds)], what: 'close inherited file descriptors on exec' });
  return steps;
}

/** Options of the privilege drop. */
export interface DropOptions {
  /** false when setgroups(2) is denied in the user namespace (rootless) */
  setGroups: boolean;
}

/**
 * The privilege drop, as runc orders it:
 *  - KEEPCAPS(1) before changing to a non-root uid, otherwise setuid would empty the permitted set;
 *  - SETUSER, then CAPS (bounding, effective, permitted, inheritable, ambient), then KEEPCAPS(0);
 *  - NO_NEW_PRIVS when asked.
 * SECCOMP placement: without no_new_privs the kernel only lets a process load a filter while it holds
 * CAP_SYS_ADMIN, which the drop may take away (and setuid to non-root empties the effective set), so the
 * filter goes first; with no_new_privs it is loaded last, just before EXEC, so that the profile does not
 * have to allow the syscalls of the drop itself.
 */
export function privilegeDropSteps(p: Process, seccomp: Seccomp | undefined, o: DropOptions): Step[] {
  const uid = p.user?.uid ?? 0;
  const gid = p.user?.gid ?? 0;
  const groups = (p.user?.additionalGids ?? []).map(String);
  const masks = capMasks(p.capabilities);
  const filter = seccomp ? seccompStep(seccomp) : undefined;
  const steps: Step[] = [];
  if (filter && !p.noNewPrivileges) steps.push(filter);
  if (uid !== 0) steps.push({ op: 'KEEPCAPS', args: [u32(1)], what: 'keep capabilities across the user change' });
  steps.push({
    op: 'SETUSER',
    args: [u32(uid), u32(gid), strlist(groups), u32(o.setGroups ? 1 : 0)],
    what: `switch to user ${uid}:${gid}`,
  });
  steps.push({
    op: 'CAPS',
    args: [u64(masks.bounding), u64(masks.effective), u64(masks.permitted), u64(masks.inheritable), u64(masks.ambient)],
    what: 'set capabilities',
  });
  if (uid !== 0) steps.push({ op: 'KEEPCAPS', args: [u32(0)], what: 'stop keeping capabilities across user changes' });
  if (p.noNewPrivileges) steps.push({ op: 'NO_NEW_PRIVS', args: [], what: 'set no_new_privs' });
  if (filter && p.noNewPrivileges) steps.push(filter);
  return steps;
}

/** EXEC with the process's argv and environment. */
export function execStep(p: Process): Step {
  return { op: 'EXEC', args: [strlist(p.args), strlist(p.env ?? [])], what: `execute ${p.args[0]}` };
}
