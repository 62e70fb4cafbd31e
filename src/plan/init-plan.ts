/**
 * The init plan: everything the helper does to turn a bundle into a created container.
 *
 * Order, and why:
 *  host side (the helper as the runtime spawned it)
 *    WRITE_FILE oom_score_adj — before any user namespace: lowering it needs CAP_SYS_RESOURCE in the
 *                             initial user namespace; the child inherits the value
 *    SETRLIMIT…               — here only when a user namespace is used, for the same reason (raising a
 *                             hard limit needs CAP_SYS_RESOURCE there); otherwise later in the child
 *    SETNS…                   — namespaces given by path, user first and mount last (namespaces.ts)
 *    UNSHARE(NEWTIME) [+ WRITE_FILE timens_offsets] — offsets can only be set before a process enters
 *    CONNECT_CONSOLE          — the socket path is a host path
 *    OPEN_FIFO                — the exec.fifo start gate, also a host path
 *    CLONE                    — new namespaces except cgroup (unshared later, once the runtime has put
 *                             the child in its cgroup) and time (unshared above); parent WAITs or EXITs
 *  child
 *    SYNC "setup"             — the runtime writes uid/gid maps and cgroup.procs meanwhile
 *    [WRITE_FILE <v1 dir>/tasks "0"…] — with `cgroupJoin`: the child moves itself into its cgroup instead
 *                             (a single-threaded task moving itself skips the kernel's global threadgroup
 *                             lock and its RCU grace period: ~0.1 ms instead of ~15 ms per container)
 *    SETID(0,0)               — with a user namespace (created, or joined by path): become its root
 *    UNSHARE(NEWCGROUP)       — the cgroup namespace is rooted at the cgroup the child is in now
 *    LOOPBACK_UP (new network namespace), JOIN_KEYRING (unless --no-new-keyring), SETSID
 *    PROPAGATION /            — rslave (or rootfsPropagation) so that nothing leaks back to the host
 *    [PROPAGATION parent]     — shared propagation only: pivot_root refuses a shared parent mount
 *    MOUNT rootfs on itself, SET_ROOTFS — pivot_root needs a mount point; the fd is the new root
 *    mounts in spec order, then /dev population (devices.ts)
 *    SYNC "hooks"             — only with hooks: the runtime runs prestart/createRuntime, and replies with
 *                             the state that RUN_HOOK feeds to in-container hooks
 *    RUN_HOOK createContainer… — in the container's namespaces, before pivot_root (runtime.md)
 *    PIVOT_ROOT | MOVE_ROOT, PROPAGATION / (rootfsPropagation, applied to the new root)
 *    WRITE_FILE sysctls, MASK_PATH…, READONLY_PATH…, SETHOSTNAME, SETDOMAINNAME, REMOUNT / ro
 *    CONSOLE, CHDIR, LOOKUP_EXEC, [SETRLIMIT…], PERSONALITY, UMASK, FDMAP, CLOSE_FDS
 *    READY                    — `create` returns; ctl is closed
 *    WAIT_START               — blocks until `start` opens the fifo
 *    RUN_HOOK startContainer…
 *    privilege drop (process-steps.ts), EXEC
 */
import { Base, ParentMode, TargetKind, str, strlist, u32, u64, type Step } from '../helper/protocol';
import type { Hook, IDMapping, Process, Spec } from '../spec/types';
import { PlanError } from './errors';
import { realHost, type HostFacts } from './host';
import { devSetupSteps } from './devices';
import { allMountSteps, type CgroupMount } from './mounts';
import { MS, propagationFlags, propagationName } from './mount-options';
import { NAMESPACES, createsNamespace, hasNamespace, joinOrder, newNamespaceFlags, setnsStep } from './namespaces';
import {
  consoleSocketStep, consoleStep, cwdAndLookupSteps, execStep, fdSteps, oomScoreStep, privilegeDropSteps, umaskStep,
} from './process-steps';
import { rlimitSteps } from './rlimits';

/** Inputs of the init plan. */
export interface InitPlanOptions {
  spec: Spec;
  /** absolute host path of the root filesystem */
  rootfs: string;
  fifoPath: string;
  consoleSocket?: string;
  noPivot: boolean;
  /** helper fds 5..5+n-1 become container fds 3..3+n-1 */
  preserveFds: number;
  /** true: CLONE uses ParentMode.WAIT (`stasis run` without -d), else EXIT */
  foreground: boolean;
  /** host dir of the container's cgroup per v1 controller, for `cgroup` mounts */
  cgroupMounts?: CgroupMount[];
  /** injectable host facts (stat of bind sources, mount points); defaults to the real host */
  host?: HostFacts;
  /** bundle directory, for relative bind mount sources */
  bundle?: string;
  /** rootless: setgroups(2) is denied in the container's user namespace */
  rootless?: boolean;
  /** helper fd of a socket to send the pty master on, when stasis proxies the terminal itself */
  consoleFd?: number;
  /**
   * v1 `tasks` files the child writes "0" into right after SYNC "setup" (the runtime then skips its own
   * cgroup.procs writes). Only valid when the child can still see and write the host's cgroupfs there:
   * no user namespace, no mount namespace joined by path.
   */
  cgroupJoin?: readonly string[];
  /** container id (names the session keyring) */
  id?: string;
  /** false with --no-new-keyring: keep the caller's session keyring */
  newKeyring?: boolean;
}

/** The plan and what the runtime must do at its sync points. */
export interface InitPlan {
  steps: Step[];
  /** a new user namespace is created: at SYNC "setup" the runtime writes the uid/gid maps */
  userns: boolean;
  /** the plan has a SYNC "hooks" point */
  hookSync: boolean;
  uidMappings: IDMapping[];
  gidMappings: IDMapping[];
}

const DEFAULT_ROOT_PROPAGATION = MS.SLAVE | MS.REC;

/** The RUN_HOOK step of one hook. */
export function hookStep(h: Hook, kind: string): Step {
  return {
    op: 'RUN_HOOK',
    args: [str(h.path), strlist(h.args ?? [h.path]), strlist(h.env ?? []), u32((h.timeout ?? 0) * 1000)],
    what: `run ${kind} hook ${h.path}`,
  };
}

/** /proc/sys path of a sysctl key: dots are separators unless the key already uses slashes (eth0.100). */
export function sysctlPath(key: string): string {
  return `/proc/sys/${key.includes('/') ? key : key.replace(/\./g, '/')}`;
}

/** The time namespace offsets file content, or undefined when there are no offsets. */
export function timeOffsetsData(spec: Spec): string | undefined {
  const t = spec.linux?.timeOffsets;
  if (!t) return undefined;
  const lines: string[] = [];
  for (const clock of ['monotonic', 'boottime'] as const) {
    const o = t[clock];
    if (o) lines.push(`${clock} ${o.secs ?? 0} ${o.nanosecs ?? 0}`);
  }
  return lines.length ? `${lines.join('\n')}\n` : undefined;
}

function hostSide(o: InitPlanOptions, usesUserns: boolean): Step[] {
  const { spec } = o;
  const p = spec.process ?? NO_PROCESS;
  const nss = spec.linux?.namespaces ?? [];
  const steps: Step[] = [];
  if (p.oomScoreAdj !== undefined) steps.push(oomScoreStep(p.oomScoreAdj));
  if (usesUserns) steps.push(...rlimitSteps(p.rlimits));
  // Host paths (console socket, start fifo) are opened before joining namespaces: a joined mount
  // namespace may not have them.
  if (p.terminal) steps.push(consoleSocketStep(o));
  steps.push({ op: 'OPEN_FIFO', args: [str(o.fifoPath)], what: `open start fifo ${o.fifoPath}` });
  for (const ns of joinOrder(nss.filter((n) => n.path !== undefined))) steps.push(setnsStep(ns.type, ns.path!));
  if (createsNamespace(nss, 'time')) {
    steps.push({ op: 'UNSHARE', args: [u64(NAMESPACES.time.flag)], what: 'create time namespace' });
    const offsets = timeOffsetsData(spec);
    if (offsets) {
      steps.push({
        op: 'WRITE_FILE',
        args: [u32(Base.HOST), str('/proc/self/timens_offsets'), str(offsets)],
        what: 'set time namespace offsets',
      });
    }
  }
  steps.push({
    op: 'CLONE',
    args: [u64(newNamespaceFlags(nss, ['cgroup', 'time'])), u32(o.foreground ? ParentMode.WAIT : ParentMode.EXIT)],
    what: 'create the container process',
  });
  return steps;
}

/**
 * Without a mount namespace the container shares the host's mount table (the OCI spec allows it: a namespace
 * type left out is inherited). Nothing may change the host's own mounts then: no propagation change on "/",
 * and a chroot instead of pivot_root. The rootfs is bound onto itself and made private, so every container
 * mount hangs below one mount stasis owns and can take down on delete.
 */
function sharedNsRootfsSteps(o: InitPlanOptions, host: HostFacts, userns: boolean): Step[] {
  const { spec, rootfs } = o;
  return [
    {
      op: 'MOUNT',
      args: [str(rootfs), u32(Base.HOST), str(rootfs), str(''), u64(MS.BIND | MS.REC), str(''), u32(TargetKind.EXISTING), u32(0)],
      what: `bind the root filesystem ${rootfs} onto itself`,
    },
    { op: 'PROPAGATION', args: [u32(Base.HOST), str(rootfs), u64(MS.PRIVATE | MS.REC)], what: `make ${rootfs} private` },
    { op: 'SET_ROOTFS', args: [str(rootfs)], what: `open the root filesystem ${rootfs}` },
    ...allMountSteps(spec.mounts, { host, bundle: o.bundle, cgroupMounts: o.cgroupMounts, cgroupNs: hasNamespace(spec.linux?.namespaces ?? [], 'cgroup') }),
    ...devSetupSteps(spec.mounts, spec.linux?.devices, userns),
  ];
}

function rootfsSteps(o: InitPlanOptions, host: HostFacts, userns: boolean): Step[] {
  const { spec, rootfs } = o;
  if (!hasNamespace(spec.linux?.namespaces ?? [], 'mount')) return sharedNsRootfsSteps(o, host, userns);
  const propName = spec.linux?.rootfsPropagation;
  const rootProp = propName ? propagationFlags(propName)! : DEFAULT_ROOT_PROPAGATION;
  // An unbindable / would forbid the rootfs bind below: start private, apply unbindable after the pivot.
  const firstProp = rootProp & MS.UNBINDABLE ? MS.PRIVATE | MS.REC : rootProp;
  const steps: Step[] = [
    { op: 'PROPAGATION', args: [u32(Base.HOST), str('/'), u64(firstProp)], what: `make / ${propagationName(firstProp)}` },
  ];
  if (rootProp & MS.SHARED) {
    const parent = host.mountPointOf(rootfs);
    steps.push({
      op: 'PROPAGATION',
      args: [u32(Base.HOST), str(parent), u64(MS.PRIVATE)],
      what: `make ${parent} private (pivot_root refuses a shared parent mount)`,
    });
  }
  steps.push(
    {
      op: 'MOUNT',
      args: [str(rootfs), u32(Base.HOST), str(rootfs), str(''), u64(MS.BIND | MS.REC), str(''), u32(TargetKind.EXISTING), u32(0)],
      what: `bind the root filesystem ${rootfs} onto itself`,
    },
    { op: 'SET_ROOTFS', args: [str(rootfs)], what: `open the root filesystem ${rootfs}` },
    ...allMountSteps(spec.mounts, { host, bundle: o.bundle, cgroupMounts: o.cgroupMounts, cgroupNs: hasNamespace(spec.linux?.namespaces ?? [], 'cgroup') }),
    ...devSetupSteps(spec.mounts, spec.linux?.devices, userns),
  );
  return steps;
}

function afterPivotSteps(spec: Spec): Step[] {
  const linux = spec.linux ?? {};
  const steps: Step[] = [];
  if (linux.rootfsPropagation) {
    const flags = propagationFlags(linux.rootfsPropagation)!;
    steps.push({ op: 'PROPAGATION', args: [u32(Base.HOST), str('/'), u64(flags)], what: `make the new / ${linux.rootfsPropagation}` });
  }
  // Sysctls go before the read-only paths: the default profile makes /proc/sys read-only, after which
  // writing net.ipv4.ip_forward would fail with EROFS.
  for (const [key, value] of Object.entries(linux.sysctl ?? {})) {
    steps.push({ op: 'WRITE_FILE', args: [u32(Base.HOST), str(sysctlPath(key)), str(value)], what: `set sysctl ${key}` });
  }
  for (const p of linux.maskedPaths ?? []) steps.push({ op: 'MASK_PATH', args: [str(p)], what: `mask ${p}` });
  for (const p of linux.readonlyPaths ?? []) steps.push({ op: 'READONLY_PATH', args: [str(p)], what: `make ${p} read-only` });
  if (spec.hostname) steps.push({ op: 'SETHOSTNAME', args: [str(spec.hostname)], what: `set hostname to ${spec.hostname}` });
  if (spec.domainname) steps.push({ op: 'SETDOMAINNAME', args: [str(spec.domainname)], what: `set domain name to ${spec.domainname}` });
  if (spec.root?.readonly) {
    steps.push({ op: 'REMOUNT', args: [u32(Base.HOST), str('/'), u64(MS.BIND | MS.RDONLY)], what: 'remount / read-only' });
  }
  return steps;
}

/** PERSONALITY value of `linux.personality` (sys/personality.h: PER_LINUX 0, PER_LINUX32 8). */
export function personalityValue(spec: Spec): number | undefined {
  const p = spec.linux?.personality;
  if (!p) return undefined;
  if (p.flags && p.flags.length) throw new PlanError('linux.personality.flags', 'personality flags are not supported');
  return p.domain === 'LINUX32' ? 0x0008 : 0x0000;
}

/** Stand-in for a missing process: defaults only, no args (nothing is ever executed). */
const NO_PROCESS: Process = { cwd: '/', args: [], user: { uid: 0, gid: 0 } };

/** Builds the init plan for a validated spec. Throws PlanError for what stasis cannot do. */
export function buildInitPlan(o: InitPlanOptions): InitPlan {
  const { spec } = o;
  // Without a process the container can still be created (its environment exists); `start` refuses it.
  const p = spec.process ?? NO_PROCESS;
  const nss = spec.linux?.namespaces ?? [];
  if (p.terminal && !o.consoleSocket && o.consoleFd === undefined) {
    throw new PlanError('process.terminal', 'a terminal needs a console socket (--console-socket), or run it in the foreground');
  }
  const host = o.host ?? realHost;
  const userns = createsNamespace(nss, 'user');
  const usesUserns = hasNamespace(nss, 'user');
  const hooks = spec.hooks ?? {};
  const hookSync = [hooks.prestart, hooks.createRuntime, hooks.createContainer, hooks.startContainer]
    .some((list) => (list ?? []).length > 0);
  const persona = personalityValue(spec);

  const steps: Step[] = [
    ...hostSide(o, usesUserns),
    { op: 'SYNC', args: [str('setup')], what: 'wait for the runtime to set up ids and cgroups' },
  ];
  for (const tasks of o.cgroupJoin ?? []) {
    steps.push({ op: 'WRITE_FILE', args: [u32(Base.HOST), str(tasks), str('0')], what: `join cgroup ${tasks.replace(/\/tasks$/, '')}` });
  }
  if (usesUserns) steps.push({ op: 'SETID', args: [u32(0), u32(0)], what: 'become root in the user namespace' });
  if (createsNamespace(nss, 'cgroup')) {
    steps.push({ op: 'UNSHARE', args: [u64(NAMESPACES.cgroup.flag)], what: 'create cgroup namespace' });
  }
  if (createsNamespace(nss, 'network')) steps.push({ op: 'LOOPBACK_UP', args: [], what: 'bring up the loopback interface' });
  if (o.newKeyring !== false) {
    // Named like runc's so tools that look for a container's keyring find it.
    steps.push({ op: 'JOIN_KEYRING', args: [str(`_ses.${o.id ?? 'stasis'}`)], what: 'join a new session keyring' });
  }
  steps.push({ op: 'SETSID', args: [], what: 'start a new session' });
  steps.push(...rootfsSteps(o, host, usesUserns));
  if (hookSync) steps.push({ op: 'SYNC', args: [str('hooks')], what: 'wait for the runtime hooks' });
  for (const h of hooks.createContainer ?? []) steps.push(hookStep(h, 'createContainer'));
  if (!hasNamespace(nss, 'mount')) steps.push({ op: 'CHROOT', args: [], what: 'chroot into the root filesystem (shared mount namespace)' });
  else if (o.noPivot) steps.push({ op: 'MOVE_ROOT', args: [], what: 'move the root filesystem onto / (no pivot_root)' });
  else steps.push({ op: 'PIVOT_ROOT', args: [], what: 'pivot into the root filesystem' });
  steps.push(...afterPivotSteps(spec));
  if (p.terminal) steps.push(consoleStep(p));
  if (p !== NO_PROCESS) steps.push(...cwdAndLookupSteps(p));
  if (!usesUserns) steps.push(...rlimitSteps(p.rlimits));
  if (persona !== undefined) steps.push({ op: 'PERSONALITY', args: [u32(persona)], what: 'set execution domain' });
  steps.push(umaskStep(p.user?.umask ?? 0o022));
  steps.push(...fdSteps(o.preserveFds));
  steps.push({ op: 'READY', args: [], what: 'report the container created' });
  steps.push({ op: 'WAIT_START', args: [], what: 'wait for start' });
  if (p !== NO_PROCESS) {
    for (const h of hooks.startContainer ?? []) steps.push(hookStep(h, 'startContainer'));
    steps.push(...privilegeDropSteps(p, spec.linux?.seccomp, { setGroups: !(o.rootless && usesUserns) }));
    steps.push(execStep(p));
  }

  return {
    steps,
    userns,
    hookSync,
    uidMappings: userns ? spec.linux?.uidMappings ?? [] : [],
    gidMappings: userns ? spec.linux?.gidMappings ?? [] : [],
  };
}
