/**
 * The exec plan: start one more process inside a running container.
 *
 * Order: [WRITE_FILE <v1 dir>/tasks "0"… — detached, `cgroupJoin`: the helper moves itself into the container's
 * cgroup, the process it clones is born there], [WRITE_FILE oom_score_adj] [SETRLIMIT… when the container has a user namespace, before entering
 * it — see init-plan.ts], CONNECT_CONSOLE (a host path), SETNS into /proc/<pid>/ns/* for every namespace kind
 * the container has (user first, mount last), CLONE(0) — the pid and time namespaces only apply to children —, SYNC
 * "setup" (the runtime moves the child into the container's cgroup, unless it was born there), SETSID + CONSOLE with a terminal,
 * CHDIR, LOOKUP_EXEC, [SETRLIMIT…], [UMASK], FDMAP, CLOSE_FDS, READY, privilege drop, EXEC.
 *
 * READY comes before the privilege drop so that `exec -d` returns once the process is set up and a
 * foreground exec sees `ready` then `exit`, as for `run`; failures after it reach the helper log only.
 */
import { Base, ParentMode, str, u32, u64, type Step } from '../helper/protocol';
import type { Process, Spec } from '../spec/types';
import { PlanError } from './errors';
import { NAMESPACES, hasNamespace, joinOrder, setnsStep } from './namespaces';
import {
  consoleSocketStep, consoleStep, cwdAndLookupSteps, execStep, fdSteps, oomScoreStep, privilegeDropSteps, umaskStep,
} from './process-steps';
import { rlimitSteps } from './rlimits';

/** Inputs of the exec plan. */
export interface ExecPlanOptions {
  /** the container's spec (namespaces, seccomp) */
  spec: Spec;
  /** the process to start (validated with validateProcess) */
  process: Process;
  /** host pid of the container's init */
  pid: number;
  consoleSocket?: string;
  /** helper fd of a socket to send the pty master on, when stasis proxies the terminal itself */
  consoleFd?: number;
  /** true: the helper parent exits once the pid is known; false: it waits and reports the exit */
  detach: boolean;
  preserveFds: number;
  /** rootless: setgroups(2) is denied in the container's user namespace */
  rootless?: boolean;
  /**
   * v1 `tasks` files of the container's cgroup (runtime/cgroup.ts selfJoinTaskFiles): the helper writes "0"
   * into each before joining any namespace, so it moves itself (skipping the RCU grace period a write of
   * another pid to cgroup.procs waits for) and the process it clones is born in the container's cgroup.
   * Only for a detached exec, where the helper exits as soon as the process exists: in the foreground it
   * stays as the process's parent, and would be seen by ps, frozen and counted in pids.max.
   */
  cgroupJoin?: readonly string[];
}

/** The exec plan. */
export interface ExecPlan {
  steps: Step[];
}

/** Builds the exec plan. */
export function buildExecPlan(o: ExecPlanOptions): ExecPlan {
  const p = o.process;
  if (p.terminal && !o.consoleSocket && o.consoleFd === undefined) {
    throw new PlanError('process.terminal', 'a terminal needs a console socket (--console-socket), or run it in the foreground');
  }
  const nss = o.spec.linux?.namespaces ?? [];
  const usesUserns = hasNamespace(nss, 'user');
  const steps: Step[] = [];
  if (o.cgroupJoin?.length && !o.detach) throw new PlanError('cgroupJoin', 'only a detached exec can join the cgroup through the helper');
  for (const tasks of o.cgroupJoin ?? []) {
    steps.push({ op: 'WRITE_FILE', args: [u32(Base.HOST), str(tasks), str('0')], what: `join cgroup ${tasks.replace(/\/tasks$/, '')}` });
  }
  if (p.oomScoreAdj !== undefined) steps.push(oomScoreStep(p.oomScoreAdj));
  if (usesUserns) steps.push(...rlimitSteps(p.rlimits));
  // The console socket is a host path: connect before joining the container's mount namespace, where
  // the path does not exist (the connected socket fd stays valid across setns).
  if (p.terminal) steps.push(consoleSocketStep(o));
  const kinds = joinOrder([...new Set(nss.map((n) => n.type))].map((type) => ({ type })));
  for (const { type } of kinds) steps.push(setnsStep(type, `/proc/${o.pid}/ns/${NAMESPACES[type].proc}`));
  steps.push({
    op: 'CLONE',
    args: [u64(0), u32(o.detach ? ParentMode.EXIT : ParentMode.WAIT)],
    what: 'create the process',
  });
  steps.push({ op: 'SYNC', args: [str('setup')], what: 'wait for the runtime to set up cgroups' });
  if (p.terminal) {
    steps.push({ op: 'SETSID', args: [], what: 'start a new session' });
    steps.push(consoleStep(p));
  }
  steps.push(...cwdAndLookupSteps(p));
  if (!usesUserns) steps.push(...rlimitSteps(p.rlimits));
  if (p.user?.umask !== undefined) steps.push(umaskStep(p.user.umask));
  steps.push(...fdSteps(o.preserveFds));
  steps.push({ op: 'READY', args: [], what: 'report the process started' });
  steps.push(...privilegeDropSteps(p, o.spec.linux?.seccomp, { setGroups: !(o.rootless && usesUserns) }));
  steps.push(execStep(p));
  return { steps };
}
