/**
 * create: load and validate the bundle, claim the id, compile the plan, run the helper, and answer its sync
 * points (cgroup placement and id maps at "setup", prestart/createRuntime hooks at "hooks"). On any failure
 * everything made so far is undone: the process is killed, the cgroup and the state directory removed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadBundleSpec } from '../spec/load';
import type { Spec } from '../spec/types';
import { buildInitPlan } from '../plan/init-plan';
import { launch, HelperStepError, type LaunchResult, planOpsLine } from '../helper/launcher';
import { StateStore, validateId, writeFileAtomic, type LockedContainerDir } from '../state/store';
import { processStartTime } from '../state/proc';
import { newRecord, type ContainerRecord } from '../state/record';
import { killAll, mountSources, newContainerCgroup, requestedLimits, resourcesForCreate, selfJoinTaskFiles, unwritableCgroupDir } from './cgroup';
import type { CgroupManager } from '../cgroups';
import { runHooks } from './hooks';
import { ociState } from './oci-state';
import { RuntimeError, errnoText } from './errors';
import { native } from '../native';
import { faultPoint, mark } from './trace';
import { hostMountsAt, sharesHostMounts, unmountOwn } from './host-mounts';
import { closeTerminalSocket, openTerminalSocket, ownTerminalSize, receiveMaster, type TerminalSocket } from './terminal';
import type { Context } from '../cli/context';

/** Options of `create` (and of `run`, which adds `foreground`). */
export interface CreateOptions {
  id: string;
  bundle: string;
  consoleSocket?: string;
  pidFile?: string;
  noPivot: boolean;
  noNewKeyring: boolean;
  preserveFds: number;
  /** `run` without --detach: the helper stays as the container's parent and reports its exit. */
  foreground: boolean;
  /** `run`: keep the container locked when create returns (Created.lock), to start it without reloading it. */
  holdLock?: boolean;
}

/** A created container: its record and, for foreground runs, the helper still waiting on it. */
export interface Created {
  record: ContainerRecord;
  launched: LaunchResult;
  /** The pty master when stasis proxies the terminal (foreground, terminal, no --console-socket). */
  master?: number;
  /** With CreateOptions.holdLock: the container's lock, still held (the caller releases it). */
  lock?: LockedContainerDir;
  store: StateStore;
}

/** Creates a container; leaves nothing behind when it fails. */
export async function createContainer(ctx: Context, opts: CreateOptions): Promise<Created> {
  validateId(opts.id);
  const bundle = path.resolve(opts.bundle);
  mark('create: begin');
  const { spec, rootfs } = loadBundleSpec(bundle, { requireProcess: false });
  mark('spec loaded');
  const listen = listenFds(spec);
  const store = new StateStore(ctx.root);
  // Shared mount namespace: remember what was mounted at the rootfs before us (see host-mounts.ts).
  const hostMountBase = sharesHostMounts(spec) ? hostMountsAt(rootfs) : undefined;
  const lock = store.claim(opts.id);
  mark('id claimed');
  faultPoint('create:claimed');
  let cgroup: CgroupManager | undefined;
  let pid: number | undefined;
  let launched: LaunchResult | undefined;
  let term: TerminalSocket | undefined;
  // state.json written at the setup sync, its fsyncs still running (see onSync): awaited before the lock goes.
  let stateWritten: Promise<void> | undefined;
  try {
    if (spec.process?.terminal && !opts.consoleSocket && opts.foreground) {
      term = openTerminalSocket();
      spec.process.consoleSize ??= ownTerminalSize();
    }
    cgroup = usableCgroup(ctx, spec, newContainerCgroup(spec, opts.id));
    mark('cgroup resolved');
    const fifo = store.fifoPath(opts.id);
    native().mkfifo(fifo, 0o622);
    mark('fifo made');
    const cgroupJoin = cgroup && selfJoinTaskFiles(cgroup, spec);
    const plan = buildInitPlan({
      spec,
      rootfs,
      fifoPath: fifo,
      consoleSocket: opts.consoleSocket ? path.resolve(opts.consoleSocket) : undefined,
      noPivot: opts.noPivot,
      preserveFds: opts.preserveFds + listen,
      foreground: opts.foreground,
      cgroupMounts: cgroup ? mountSources(cgroup) : [],
      cgroupJoin,
      bundle,
      rootless: ctx.rootless,
      id: opts.id,
      newKeyring: !opts.noNewKeyring,
      // The socketpair end sits right after the preserved fds (helper fds start at 5).
      consoleFd: term ? 5 + opts.preserveFds + listen : undefined,
    });
    mark('plan built');
    const record: ContainerRecord = { ...newRecord({ id: opts.id, bundle, rootfs, spec, cgroupPaths: cgroup?.paths() ?? {} }), hostMountBase };
    const cg = cgroup;
    if (ctx.log.debugEnabled) ctx.log.debug(planOpsLine(plan.steps));
    launched = await launch(plan.steps, {
      stdio: ['inherit', 'inherit', 'inherit'],
      extraFds: [...Array.from({ length: opts.preserveFds + listen }, (_, i) => 3 + i), ...(term ? [term.theirs] : [])],
      onLog: ctx.log.debugEnabled ? (line) => ctx.log.debug(`helper: ${line}`) : undefined,
      onPid: (p) => {
        pid = p;
      },
      onSync: async (name, childPid) => {
        if (name === 'setup') {
          mark('sync setup');
          const made = cg ? await cg.create() : undefined;
          record.cgroup.owned = made?.created ?? false;
          // The record is final from here: pid and start time are known, and nobody reads it before create
          // releases the lock.
          record.pid = childPid ?? 0;
          record.startTime = childPid ? processStartTime(childPid) : undefined;
          if (cg) {
            const applied = await cg.apply(resourcesForCreate(spec));
            for (const w of [...made!.warnings, ...applied.warnings]) ctx.log.warn(w);
            if (!cgroupJoin) await cg.addProcess(childPid!); // else the child joins right after this sync
          }
          mark('cgroup ready');
          if (plan.userns) writeIdMaps(childPid!, plan.uidMappings, plan.gidMappings, ctx.rootless);
          // Written once the child goes on, its two fsyncs in the thread pool: they overlap with the
          // container's mount setup and with this process handling the helper's next events, instead of
          // holding either up. Awaited before the lock is released. From the rename on, delete --force can
          // find and clean the container up.
          return {
            continue: true,
            after: () => {
              mark('state write');
              stateWritten = lock.writeInBackground(record).then(() => {
                mark('state written');
                faultPoint('create:setup');
              });
              stateWritten.catch(() => undefined); // awaited (and reported) after the launch
            },
          };
        }
        if (name === 'hooks') {
          // runtime-tools checks for `created` here: the environment exists, the user process does not yet.
          const state = ociState(record, 'created', childPid);
          await runHooks('prestart', spec.hooks?.prestart, state);
          await runHooks('createRuntime', spec.hooks?.createRuntime, state);
          return { continue: true, payload: Buffer.from(JSON.stringify(ociState(record, 'created', childPid))) };
        }
        throw new RuntimeError('system', `helper asked for an unknown sync point "${name}"`);
      },
    });
    if (launched.outcome !== 'ready' || !pid) {
      throw new RuntimeError('system', `container init exited during setup (${describeExit(launched)})`);
    }
    mark('helper ready');
    await stateWritten;
    faultPoint('create:ready');
    if (record.pid !== pid) {
      // The helper reports the pid before the setup sync, where the record was written; a plan without
      // that sync would get its record here.
      record.pid = pid;
      record.startTime = processStartTime(pid);
      lock.write(record);
    }
    if (opts.pidFile) writeFileAtomic(path.resolve(opts.pidFile), String(pid), 0o644);
    const master = term ? receiveMaster(term) : undefined;
    if (term) closeTerminalSocket(term);
    if (!opts.foreground) detachFromHelper(launched);
    if (!opts.holdLock) lock.release();
    return { record, launched, master, store, lock: opts.holdLock ? lock : undefined };
  } catch (err) {
    await stateWritten?.catch(() => undefined); // no rename may land in the directory the undo removes
    if (term) closeTerminalSocket(term);
    await undoCreate(lock, cgroup, pid, launched);
    if (hostMountBase !== undefined) await unmountOwn(rootfs, hostMountBase).catch(() => undefined);
    throw asCreateError(err);
  }
}

/** LISTEN_FDS passed to stasis (socket activation) are preserved like runc does: count them in. */
function listenFds(spec: Spec): number {
  const n = Number(process.env.LISTEN_FDS ?? 0);
  if (!Number.isInteger(n) || n <= 0) return 0;
  spec.process!.env = [...(spec.process!.env ?? []), `LISTEN_FDS=${n}`, 'LISTEN_PID=1'];
  return n;
}

/**
 * Writes the id maps of the new user namespace. Without privilege (rootless) the kernel allows only the
 * caller's own uid and gid, one id each, and a gid map only once setgroups(2) is denied in the namespace.
 */
function writeIdMaps(pid: number, uid: readonly IdMap[], gid: readonly IdMap[], rootless: boolean): void {
  const fmt = (m: readonly IdMap[]) => m.map((x) => `${x.containerID} ${x.hostID} ${x.size}\n`).join('');
  try {
    fs.writeFileSync(`/proc/${pid}/uid_map`, fmt(uid));
    if (rootless && process.getuid?.() !== 0) fs.writeFileSync(`/proc/${pid}/setgroups`, 'deny');
    fs.writeFileSync(`/proc/${pid}/gid_map`, fmt(gid));
  } catch (err) {
    const hint = rootless && process.getuid?.() !== 0 ? ' (rootless: map only your own uid and gid, one id each)' : '';
    throw new RuntimeError('system', `cannot write user namespace mappings for pid ${pid}: ${errnoText(err)}${hint}`);
  }
}

/**
 * The container's cgroup, or undefined when a rootless container cannot have one: as runc does without
 * systemd, a cgroup this user cannot create is skipped with a warning, unless the spec asks for limits,
 * which then cannot be honoured (an error naming them).
 */
function usableCgroup(ctx: Context, spec: Spec, cg: CgroupManager): CgroupManager | undefined {
  if (!ctx.rootless) return cg;
  const blocked = unwritableCgroupDir(cg);
  if (!blocked) return cg;
  const uid = process.getuid?.() ?? 0;
  const limits = requestedLimits(spec);
  if (limits.length) {
    throw new RuntimeError('unsupported', `rootless: cannot apply linux.resources.${limits.join(', linux.resources.')}: uid ${uid} cannot create cgroup ${blocked} (delegate a cgroup to this user, or drop the limits)`);
  }
  ctx.log.warn(`rootless: uid ${uid} cannot create cgroup ${blocked}: the container runs without a cgroup of its own (no limits, pause, ps or kill --all)`);
  return undefined;
}

interface IdMap {
  containerID: number;
  hostID: number;
  size: number;
}

/** After a detached create (or exec) nothing the helper says later matters any more. */
export function detachFromHelper(l: LaunchResult): void {
  l.detach();
}

async function undoCreate(lock: LockedContainerDir, cgroup: CgroupManager | undefined, pid: number | undefined, l?: LaunchResult): Promise<void> {
  if (pid) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  if (l && l.helper.exitCode === null) l.helper.kill('SIGKILL');
  try {
    if (cgroup && (await cgroup.exists())) {
      await killAll(cgroup);
      await cgroup.destroy(); // removes only what this create made
    }
  } catch {
    /* best effort: the error that caused the undo is the one to report */
  }
  lock.remove();
  lock.release();
}

function describeExit(l: LaunchResult): string {
  if (l.exitSignal) return `killed by signal ${l.exitSignal}`;
  return `exit status ${l.exitStatus}`;
}

function asCreateError(err: unknown): unknown {
  if (err instanceof HelperStepError) {
    const notFound = /executable file not found|no such file or directory/.test(err.detail);
    return new RuntimeError(notFound ? 'exec-not-found' : 'system', `${err.what}: ${err.detail}`);
  }
  return err;
}
