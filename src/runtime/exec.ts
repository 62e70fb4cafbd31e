/**
 * exec: run a new process inside a created or running container. The helper joins the container's
 * namespaces, forks the process (needed to enter its pid namespace), and stasis places it in the container's
 * cgroup at the "setup" sync point before it goes on (detached on cgroup v1, the helper joins the cgroup
 * before forking instead, so the process is born there).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Context } from '../cli/context';
import type { Process, Spec } from '../spec/types';
import { validateProcess } from '../spec/validate';
import { buildExecPlan } from '../plan/exec-plan';
import { launch, HelperStepError, planOpsLine } from '../helper/launcher';
import { LockMode } from '../state/lock';
import { writeFileAtomic } from '../state/store';
import { withContainer } from './container';
import { requireStatus } from './lifecycle';
import { openContainerCgroup, selfJoinTaskFiles } from './cgroup';
import { detachFromHelper } from './create';
import { RuntimeError, errnoText } from './errors';
import { faultPoint, mark } from './trace';
import { closeTerminalSocket, openTerminalSocket, ownTerminalSize, proxyTerminal, receiveMaster, type TerminalProxy, type TerminalSocket } from './terminal';

/** What the exec flags say about the new process. */
export interface ExecOptions {
  id: string;
  processFile?: string;
  args: string[];
  tty: boolean;
  consoleSocket?: string;
  detach: boolean;
  pidFile?: string;
  cwd?: string;
  env: string[];
  user?: string;
  additionalGids: string[];
  caps: string[];
  noNewPrivs: boolean;
  preserveFds: number;
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

/** Runs the exec; resolves to the process's exit status (0 when detached). */
export async function execInContainer(ctx: Context, o: ExecOptions): Promise<number> {
  // Read what we need under a shared lock, then let go: a long exec must not block kill or delete.
  const { spec, pid, record } = await withContainer(
    ctx,
    o.id,
    (c) => {
      requireStatus('exec', o.id, c.status);
      return { spec: c.record.spec, pid: c.record.pid, record: c.record };
    },
    LockMode.Shared,
  );
  mark('exec: container loaded');
  const proc = buildProcess(spec, o);
  if (proc.terminal && !o.consoleSocket && o.detach) {
    throw new RuntimeError('usage', 'exec: cannot allocate a terminal for a detached process without --console-socket');
  }
  // In the foreground without --console-socket stasis proxies the terminal itself, as runc does.
  const term: TerminalSocket | undefined = proc.terminal && !o.consoleSocket ? openTerminalSocket() : undefined;
  if (term) proc.consoleSize ??= ownTerminalSize();
  const cgroup = openContainerCgroup(record);
  // Detached (how Podman and containerd always exec), the helper joins the cgroup itself and the process is
  // born in it: no write of its pid to cgroup.procs, which waits ~15 ms for an RCU grace period.
  const cgroupJoin = o.detach ? selfJoinTaskFiles(cgroup, spec) : undefined;
  const plan = buildExecPlan({
    spec,
    process: proc,
    pid,
    consoleSocket: o.consoleSocket && path.resolve(o.consoleSocket),
    consoleFd: term ? 5 + o.preserveFds : undefined,
    detach: o.detach,
    preserveFds: o.preserveFds,
    rootless: ctx.rootless,
    cgroupJoin,
  });
  mark('plan built');
  let execPid = 0;
  const forward = (sig: NodeJS.Signals) => {
    if (execPid) {
      try {
        process.kill(execPid, sig);
      } catch {
        /* gone */
      }
    }
  };
  if (!o.detach) for (const s of FORWARDED) process.on(s, forward);
  let terminal: TerminalProxy | undefined;
  try {
    if (ctx.log.debugEnabled) ctx.log.debug(planOpsLine(plan.steps));
    const launched = await launch(plan.steps, {
      extraFds: [...Array.from({ length: o.preserveFds }, (_, i) => 3 + i), ...(term ? [term.theirs] : [])],
      onLog: ctx.log.debugEnabled ? (l) => ctx.log.debug(`helper: ${l}`) : undefined,
      onPid: (p) => (execPid = p),
      onSync: async (name, childPid) => {
        if (name !== 'setup') throw new RuntimeError('system', `helper asked for an unknown sync point "${name}"`);
        faultPoint('exec:spawned');
        if (!cgroupJoin) await cgroup.addProcess(childPid!);
        return { continue: true };
      },
    });
    if (term) {
      terminal = proxyTerminal(receiveMaster(term));
      closeTerminalSocket(term);
    }
    mark('helper ready');
    if (o.pidFile && execPid) writeFileAtomic(path.resolve(o.pidFile), String(execPid), 0o644);
    if (o.detach) {
      detachFromHelper(launched);
      return 0;
    }
    const exit = launched.outcome === 'exit' ? { status: launched.exitStatus, signal: launched.exitSignal } : await launched.childExit;
    if (terminal) await Promise.race([terminal.finished, new Promise((r) => setTimeout(r, 500))]);
    return exit.signal ? 128 + exit.signal : (exit.status ?? 0);
  } catch (err) {
    if (execPid) forward('SIGKILL');
    if (err instanceof HelperStepError) {
      const notFound = /executable file not found|no such file or directory/.test(err.detail);
      throw new RuntimeError(notFound ? 'exec-not-found' : 'system', `exec failed: ${err.what}: ${err.detail}`);
    }
    throw err;
  } finally {
    if (!o.detach) for (const s of FORWARDED) process.off(s, forward);
    terminal?.stop();
    if (term) closeTerminalSocket(term);
  }
}

/** The exec'd process: from --process, or the container's process with the flags applied (as runc does). */
export function buildProcess(spec: Spec, o: ExecOptions): Process {
  if (o.processFile) {
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(o.processFile, 'utf8'));
    } catch (err) {
      throw new RuntimeError('invalid-spec', `${o.processFile}: ${err instanceof SyntaxError ? err.message : errnoText(err)}`);
    }
    return validateProcess(raw, o.processFile);
  }
  if (!o.args.length) throw new RuntimeError('usage', 'exec: arguments cannot be empty: give a command or --process');
  const base: Process = structuredClone(spec.process ?? ({ cwd: '/', user: { uid: 0, gid: 0 } } as Process));
  base.args = o.args;
  base.terminal = o.tty;
  if (o.cwd) base.cwd = o.cwd;
  if (o.env.length) base.env = [...(base.env ?? []), ...o.env];
  if (o.user) base.user = { ...parseUser(o.user), additionalGids: base.user?.additionalGids };
  if (o.additionalGids.length) {
    base.user = { uid: 0, gid: 0, ...base.user, additionalGids: o.additionalGids.map((g) => parseId(g, 'additional-gids')) };
  }
  if (o.caps.length) {
    const c = base.capabilities ?? {};
    for (const set of ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'] as const) {
      if (set === 'inheritable' || set === 'ambient') continue;
      c[set] = [...new Set([...(c[set] ?? []), ...o.caps])];
    }
    base.capabilities = c;
  }
  if (o.noNewPrivs) base.noNewPrivileges = true;
  return validateProcess(base, 'exec');
}

function parseUser(u: string): { uid: number; gid: number } {
  const [uid, gid] = u.split(':');
  return { uid: parseId(uid, 'user'), gid: gid === undefined ? 0 : parseId(gid, 'user') };
}

function parseId(s: string, flag: string): number {
  if (!/^\d+$/.test(s)) throw new RuntimeError('usage', `invalid --${flag} value "${s}": expected a numeric id`);
  return Number(s);
}
