/**
 * restore: bring a checkpointed container back under an id (the old one or a new one), from a bundle that
 * may differ from the original.
 *
 * Order, and why:
 *   flags and the image directory checked, the bundle loaded, the id claimed (mkdir is the atomic claim);
 *   the cgroup created and the spec's limits written *before* CRIU runs, then CRIU itself joins it (v1: its
 *     helper writes "0" into `tasks` before the exec; v2: stasis moves it) and cgroup_root points there: the
 *     restored tree is born inside its limits, never outside;
 *   CRIU started by stasis-helper inside a private mount namespace where the rootfs is bound onto itself
 *     (CRIU needs a mount point as root; nothing can leak to the host's mounts);
 *   external mounts mapped to the new bundle's sources, stdio pipes (descriptors.json) and host-file stdio
 *     re-attached to restore's own stdio (inherit_fd);
 *   post-restore → the pid is recorded; orphan-pts-master → the new pty master goes to --console-socket;
 *   a container that was running when dumped is thawed (stasis froze it for the dump, so the image says
 *     FROZEN).
 * Any failure undoes everything: the restored tasks are killed, the cgroup and the state directory removed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { prestartCriu, restorePlan, runPlan, type PrestartedCriu, type RestoreFlags } from '../criu';
import type { ExtMountMap } from '../criu/types';
import type { Context } from '../cli/context';
import { loadBundleSpec } from '../spec/load';
import type { Spec } from '../spec/types';
import { StateStore, validateId, writeFileAtomic, type LockedContainerDir } from '../state/store';
import { processStartTime } from '../state/proc';
import { newRecord, type CloneRecord, type ContainerRecord } from '../state/record';
import { launch, HelperStepError } from '../helper/launcher';
import type { CgroupManager } from '../cgroups';
import { native } from '../native';
import { killAll, newContainerCgroup, resourcesForCreate } from './cgroup';
import { runHooks, runHooksWarn } from './hooks';
import { ociState } from './oci-state';
import { RuntimeError } from './errors';
import { faultPoint, mark } from './trace';
import { restoreExternalMounts } from './checkpoint-mounts';
import { restoreMountMap } from './mount-policy';
import { inheritHostFiles, inheritStdio, readDescriptorsFile } from './descriptors';
import { readCheckpointMeta, type CheckpointMeta } from './checkpoint-meta';
import { criuUserError, lazyPagesObstacle, pristineNetnsOpts, realLazyPagesHost, requireFeatures, resolveCriu } from './checkpoint-criu';
import { EXTERNAL_NETNS_KEY, openRestoreNetns } from './checkpoint-netns';
import { lazyPageSource, startLazyDaemon, type LazyDaemon } from './restore-lazy';
import { formatRestoreStats, restoreTimings, saveStats, type RestoreTimings } from './checkpoint-stats';
import { HELPER_FIRST_EXTRA_FD, cgroupRoots, criuCgroupJoin, loopbackUpSteps, restoreCriuOpts, restoreCriuStart } from './restore-prepare';
import { cgroupModeObstacle, checkImagesDir, lsmObstacle, realLsmHost, shellJobObstacle } from './restore-checks';
import { waitRestored } from './restore-wait';

/** Options of `restore`. */
export interface RestoreOptions extends RestoreFlags {
  id: string;
  bundle: string;
  detach: boolean;
  pidFile?: string;
  consoleSocket?: string;
  /**
   * Accepted like runc; what stasis always does. runc makes itself a subreaper unless told not to; stasis
   * never does: the restored init is its direct child (rst_sibling), and orphans of a container with its own
   * pid namespace go to that init (docs/checkpoint.md).
   */
  noSubreaper?: boolean;
  /**
   * Accepted like runc, no effect, as in runc: CRIU always pivot_roots into the restored mount namespace and
   * has no option to do otherwise (runc's no-pivot only changes its own init's set-up, which restore skips).
   */
  noPivot?: boolean;
  printStats?: boolean;
  /** --page-server ADDR:PORT with --lazy-pages: where the daemon fetches pages (default: the checkpoint's). */
  pageServer?: string;
  /** --netns PATH: the network namespace for a checkpoint that joined one by path (default: the spec's). */
  netns?: string;
  /** Runs once the id is claimed, before CRIU: a portable checkpoint puts its rootfs changes in place. */
  prepareRootfs?: (rootfs: string) => Promise<void>;
  /** More external mount ids → host paths to offer CRIU (an engine's images: restore-engine.ts). */
  extraExtMnt?: ExtMountMap[];
  /** Called as soon as CRIU has restored the tree (the images are no longer needed). */
  onRestored?: () => void;
  /** Set by restore --clone (restore-clones.ts): the record notes the clone bundle stasis owns. */
  clone?: CloneRecord;
}

const now = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Restores a container; resolves to the exit status stasis should return (0 when detached). */
export async function restoreContainer(ctx: Context, opts: RestoreOptions): Promise<number> {
  const t0 = now();
  mark('restore: begin');
  validateId(opts.id);
  let plan;
  try {
    plan = restorePlan(opts);
  } catch (err) {
    throw criuUserError(err);
  }
  const lsm = lsmObstacle(opts, realLsmHost);
  if (lsm) throw new RuntimeError('unsupported', lsm);
  if (opts.pageServer !== undefined && !opts.lazyPages) {
    throw new RuntimeError('usage', '--page-server: restore only uses it with --lazy-pages (where to fetch the pages from)');
  }
  if (opts.lazyPages) {
    const why = lazyPagesObstacle(realLazyPagesHost);
    if (why) throw new RuntimeError('unsupported', why);
  }
  const criuPath = resolveCriu(ctx);
  checkImagesDir(plan.imagesDir);
  const meta = readCheckpointMeta(plan.imagesDir);
  const cgroupWhy = cgroupModeObstacle(opts.manageCgroupsMode, meta?.imageFreezer);
  if (cgroupWhy) throw new RuntimeError('unsupported', cgroupWhy);
  if (meta?.lazyPages && !opts.lazyPages) {
    throw new RuntimeError('usage', `restore: ${plan.imagesDir} was dumped with --lazy-pages: its memory is only served by the checkpoint's page server, restore it with --lazy-pages`);
  }
  let lazySource;
  try {
    lazySource = opts.lazyPages ? lazyPageSource(opts.pageServer, meta?.lazyPages?.pageServer) : undefined;
  } catch (err) {
    throw criuUserError(err);
  }
  if (opts.lazyPages) await requireFeatures(criuPath, { lazyPages: true }, '--lazy-pages');
  const descriptors = readDescriptorsFile(plan.imagesDir);
  const shellJobWhy = shellJobObstacle({
    shellJob: !!opts.shellJob,
    links: descriptors,
    containerTerminal: !!meta?.terminal,
    stdinIsTty: require('node:tty').isatty(0),
  });
  if (shellJobWhy) throw new RuntimeError('usage', shellJobWhy);
  const bundle = path.resolve(opts.bundle);
  const loaded = loadBundleSpec(bundle);
  const rootfs = loaded.rootfs;
  if (opts.netns !== undefined && !meta?.externalNetns) {
    throw new RuntimeError('usage', 'restore: --netns: the checkpoint has its own network namespace (it did not join one by path): criu restores that one');
  }
  // The record says where the container really is: --netns replaces the bundle's path.
  const spec = opts.netns !== undefined ? withNetnsPath(loaded.spec, path.resolve(opts.netns)) : loaded.spec;
  const terminal = !!spec.process?.terminal || !!meta?.terminal;
  if (terminal && !opts.consoleSocket) {
    throw new RuntimeError('usage', 'restore: the container has a terminal: --console-socket is required to receive its new pty');
  }

  mark('restore: checks done, bundle loaded');
  const store = new StateStore(ctx.root);
  const lock = store.claim(opts.id);
  let cgroup: CgroupManager | undefined;
  let pid: number | undefined;
  let lazyDaemon: LazyDaemon | undefined;
  let netnsFd: number | undefined;
  let early: PrestartedCriu | undefined;
  try {
    cgroup = newContainerCgroup(spec, opts.id);
    const record: ContainerRecord = {
      ...newRecord({ id: opts.id, bundle, rootfs, spec, cgroupPaths: cgroup.paths() }),
      restored: { from: plan.imagesDir, at: new Date().toISOString() },
      ...(opts.clone ? { clone: opts.clone } : {}),
    };
    const made = await cgroup.create();
    record.cgroup.owned = made.created;
    lock.write(record); // from here on, delete --force can find and clean it

    const cg = cgroup;
    const controllers = Object.keys(cg.paths());
    // CRIU gets our stdio as extra fds after its socket; inherit_fd names them by CRIU's fd numbers.
    const stdioBase = HELPER_FIRST_EXTRA_FD + 1;
    const inherit = [...inheritStdio(descriptors), ...inheritHostFiles(meta?.externalStdio ?? [])].map((e) => ({
      key: e.key,
      fd: stdioBase + e.fd,
    }));
    // The external network namespace goes to CRIU right after our stdio.
    if (meta?.externalNetns) {
      netnsFd = openRestoreNetns(spec, opts.netns);
      inherit.push({ key: EXTERNAL_NETNS_KEY, fd: stdioBase + 3 });
    }
    // CRIU is in the container's cgroup before it forks anything: the restored tree is born inside its limits.
    const cgroupJoin = criuCgroupJoin(cg.version, cg.paths());
    const available = restoreExternalMounts({ spec, bundle, cgroupPaths: cg.paths() });
    const criu = restoreCriuStart({
      criuPath,
      rootfs,
      extMnt: available,
      stateDir: lock.dir,
      moreFds: [0, 1, 2, ...(netnsFd !== undefined ? [netnsFd] : [])],
      freshNetns: !!meta?.criuNetns,
      cgroupJoin,
      cgroupTmpfs: meta?.cgroupTmpfs,
      emptyTmpfs: meta?.emptyTmpfs,
      shellJob: !!opts.shellJob,
      onLog: ctx.log.debugEnabled ? (line) => ctx.log.debug(`helper: ${line}`) : undefined,
    });
    // CRIU starts now (helper, namespace, cgroup join, exec, dynamic loading: ~20 ms) while the limits are
    // written and the request prepared; it forks nothing before the request, which comes after the limits.
    // Not when the rootfs is still to be prepared: CRIU's namespace binds it as it is at the start.
    mark('restore: cgroup made, criu starting');
    if (!opts.prepareRootfs) early = prestartCriu(criu.start);
    const applied = await cgroup.apply(resourcesForCreate(spec));
    for (const w of [...made.warnings, ...applied.warnings]) ctx.log.warn(w);
    faultPoint('restore:cgroup');
    const offered = [...available, ...criu.extMnt, ...(opts.extraExtMnt ?? [])];
    const extraOpts = restoreCriuOpts({
      rootfs,
      // A stasis checkpoint lists its external mounts: exactly those are mapped, a missing one is refused.
      extMnt: meta?.mounts ? restoreMountMap(meta.mounts, offered, bundle) : offered,
      inheritFd: inherit,
      cgRoot: [], // filled in once CRIU sits in the cgroup (beforeRequest)
      terminal,
      cgroupYard: criu.cgroupYard,
    });
    if (meta?.pristineNetns) Object.assign(extraOpts, pristineNetnsOpts(plan.opts));
    if (meta?.criuNetns) extraOpts.networkLock = plan.opts.networkLock ?? 'SKIP';
    if (opts.prepareRootfs) await opts.prepareRootfs(rootfs);
    faultPoint('restore:rootfs');
    mark('restore: limits written, request ready');
    const c0 = now();
    if (opts.lazyPages) lazyDaemon = await startLazyDaemon(criuPath, plan.imagesDir, plan.workDir, lazySource);
    const result = await runPlan(plan, {
      criuPath,
      skipFeatureCheck: true,
      start: criu.start,
      prestarted: early,
      beforeRequest: async (criuPid) => {
        if (!cgroupJoin) await cg.addProcess(criuPid);
        const roots = cgroupRoots(fs.readFileSync(`/proc/${criuPid}/cgroup`, 'utf8'), controllers);
        return roots.length > 0 ? { cgRoot: roots } : {};
      },
      opts: extraOpts,
      onNotify: async (event) => {
        if (event.script === 'orphan-pts-master') {
          try {
            for (const fd of event.fds) native().sendFdToUnixSocket(path.resolve(opts.consoleSocket!), fd, '/dev/ptmx');
          } finally {
            for (const fd of event.fds) fs.closeSync(fd);
          }
          return;
        }
        for (const fd of event.fds) fs.closeSync(fd);
        if (event.script === 'setup-namespaces' && event.pid && meta?.pristineNetns) await loopbackUp(event.pid);
        if (event.script === 'setup-namespaces' && event.pid) {
          const state = ociState(record, 'creating', event.pid);
          await runHooks('prestart', spec.hooks?.prestart, state);
          await runHooks('createRuntime', spec.hooks?.createRuntime, state);
        }
        if (event.script === 'post-restore' && event.pid) pid = event.pid;
      },
    }).catch((err: unknown) => {
      if (err instanceof HelperStepError) throw new RuntimeError('system', `restore: ${err.message}`);
      throw criuUserError(err);
    });
    const criuMs = now() - c0;
    pid = result.pid ?? pid;
    if (!pid) throw new RuntimeError('system', 'restore: criu reported success but no pid');

    mark('restore: restored');
    opts.onRestored?.();
    faultPoint('restore:restored');
    await thawIfWasRunning(cg, meta);
    record.pid = pid;
    record.startTime = processStartTime(pid);
    lock.write(record);
    if (opts.pidFile) writeFileAtomic(path.resolve(opts.pidFile), String(pid), 0o644);
    // The restored process runs again: poststart, as after `start` (a failure is a warning, per the spec).
    // createContainer and startContainer are not run: see "Hooks on restore" in docs/checkpoint.md.
    for (const w of await runHooksWarn('poststart', spec.hooks?.poststart, ociState(record, 'running', pid))) ctx.log.warn(w);

    const timings = restoreTimings(result.restoreStats, criuMs, now() - t0);
    mark('restore: state written');
    if (opts.printStats) printStats(plan.workDir, timings);
    lock.release();
    if (opts.detach) return 0;
    return await waitRestored(ctx, record);
  } catch (err) {
    lazyDaemon?.stop();
    await early?.abandon(); // a CRIU that got no request leaves the cgroup before it is removed
    await undoRestore(lock, cgroup, pid);
    throw err;
  } finally {
    if (netnsFd !== undefined) fs.closeSync(netnsFd);
  }
}

/** `spec` with its network namespace joined at `p`. */
function withNetnsPath(spec: Spec, p: string): Spec {
  const namespaces = (spec.linux?.namespaces ?? []).filter((n) => n.type !== 'network');
  return { ...spec, linux: { ...spec.linux, namespaces: [...namespaces, { type: 'network', path: p }] } };
}

/** Brings lo up in the restored task's network namespace (helper: SETNS, LOOPBACK_UP). */
async function loopbackUp(pid: number): Promise<void> {
  const launched = await launch(loopbackUpSteps(pid), { stdio: ['ignore', 'ignore', 'inherit'] });
  const code = await launched.helperExit;
  if (code !== 0) throw new RuntimeError('system', `restore: bringing up lo of the restored container failed (helper exit ${code})`);
}

async function thawIfWasRunning(cg: CgroupManager, meta: CheckpointMeta | undefined): Promise<void> {
  if (meta?.status !== 'running') return;
  if ((await cg.state()) === 'frozen') await cg.thaw();
}

function printStats(workDir: string, t: RestoreTimings): void {
  process.stdout.write(formatRestoreStats(t));
  try {
    saveStats(workDir, 'restore', t);
  } catch {
    /* the images may be read-only: the table was printed, that is what was asked */
  }
}

/** Leaves nothing behind: the restored tasks, the cgroup, the state directory. */
async function undoRestore(lock: LockedContainerDir, cgroup: CgroupManager | undefined, pid: number | undefined): Promise<void> {
  if (pid) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  try {
    // killAll also thaws: a frozen task never dies of SIGKILL.
    if (cgroup && (await cgroup.exists())) await killAll(cgroup);
    if (pid) reapQuietly(pid);
    if (cgroup && (await cgroup.exists())) await cgroup.destroy();
  } catch {
    /* best effort: the error that caused the undo is the one to report */
  }
  lock.remove();
  lock.release();
}

/** The restored tree is our child (rst_sibling): reap it so it does not stay a zombie. */
function reapQuietly(pid: number): void {
  try {
    native().waitPid(pid);
  } catch {
    /* not ours or already reaped */
  }
}
