/**
 * checkpoint: dump a running or paused container with CRIU.
 *
 * Order, and why:
 *   flags checked (and kernel features probed) before anything is touched;
 *   lock → load → status must be running or paused;
 *   mountinfo and stdio of the init read → external mounts, external stdio;
 *   freeze the cgroup ourselves: the cgroup library polls in sub-millisecond steps, while CRIU polls its
 *     freezer every 100 ms; CRIU then finds it FROZEN and starts at once (freeze_cgroup is still passed,
 *     so CRIU takes the task list from the freezer);
 *   dump; on failure thaw (if we froze) and report CRIU's Error lines: the container keeps running;
 *   descriptors.json + stasis-checkpoint.json next to the images;
 *   without --leave-running the container is gone: remove its cgroup and state like `delete`.
 */
import * as fs from 'node:fs';
import { CLONE_NEWNET, checkpointPlan, prestartCriu, runPlan, type CheckpointFlags, type PrestartedCriu } from '../criu';
import type { Context } from '../cli/context';
import { loadContainer } from './container';
import { requireStatus } from './lifecycle';
import { openContainerCgroup } from './cgroup';
import { destroy } from './delete';
import { RuntimeError, errnoText } from './errors';
import { faultPoint, mark } from './trace';
import { endCheckpointFreeze, freezeForCheckpoint } from './checkpoint-guard';
import { cgroupTmpfsLayout, dumpExternalMounts, parseMountinfo, type ListedEntry } from './checkpoint-mounts';
import { descriptorLinks, hostFileStdio, readStdio, settleStdio, writeDescriptors } from './descriptors';
import { writeCheckpointMeta, type CheckpointMeta } from './checkpoint-meta';
import { emptyTmpfsCandidates, emptyTmpfsFound, perMountOptions, type RootFacts } from './checkpoint-empty-tmpfs';
import { criuJoinsPristineNetns, criuUserError, dumpCriuStart, lazyPagesObstacle, pristineNetnsOpts, realLazyPagesHost, requireFeatures, resolveCriu } from './checkpoint-criu';
import { checkpointTimings, formatCheckpointStats, saveStats, type CheckpointTimings } from './checkpoint-stats';
import { resolveInRoot } from './checkpoint-rootfs';
import { containerNetnsPristine, dumpExternalNetns } from './checkpoint-netns';
import { mountPolicy } from './mount-policy';
import type { ContainerRecord } from '../state/record';

/** Options of `checkpoint`: the CRIU flags plus stasis's own. */
export interface CheckpointOptions extends CheckpointFlags {
  id: string;
  /** --print-stats: print the phase table and save stats.json. */
  printStats?: boolean;
  /** Freeze the cgroup before CRIU does (default true; off only to measure what it saves). */
  preFreeze?: boolean;
  /**
   * Runs while the container is frozen, before CRIU (an export captures the rootfs changes there); what it
   * returns goes into the checkpoint note. If it throws, the container is thawed and nothing was dumped.
   */
  beforeDump?: (record: ContainerRecord) => Promise<Partial<CheckpointMeta>>;
  /**
   * Runs when CRIU has written the images, before it kills (or resumes) the container: CRIU's post-dump
   * notification. If it throws, CRIU fails the dump and the container runs on.
   */
  afterDump?: () => Promise<void>;
}

/** What a checkpoint produced. */
export interface CheckpointResult {
  imagesDir: string;
  /** The container as it was checkpointed. */
  record: ContainerRecord;
  timings: CheckpointTimings;
}

const now = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Refuses flags that cannot work here, before the container is touched. */
async function refuseUnsupported(criuPath: string, opts: CheckpointOptions): Promise<void> {
  if (opts.preDump) await requireFeatures(criuPath, { memTrack: true }, '--pre-dump');
  if (opts.parentPath !== undefined) await requireFeatures(criuPath, { memTrack: true }, '--parent-path');
  if (opts.lazyPages) {
    const why = lazyPagesObstacle(realLazyPagesHost);
    if (why) throw new RuntimeError('unsupported', why);
    await requireFeatures(criuPath, { lazyPages: true }, '--lazy-pages');
  }
  if (opts.statusFd !== undefined && !opts.lazyPages) {
    throw new RuntimeError('usage', '--status-fd: only used with --lazy-pages (criu reports "ready" only for lazy migration)');
  }
  if (opts.statusFd !== undefined) requireWritableFd(opts.statusFd);
}

/** --status-fd must be an open fd we can write the "ready" byte to (checked before the container is frozen). */
function requireWritableFd(fd: number): void {
  let flags: string;
  try {
    flags = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  } catch {
    throw new RuntimeError('usage', `--status-fd: fd ${fd} is not open`);
  }
  const m = /^flags:\s*([0-7]+)/m.exec(flags);
  // O_ACCMODE is 3; O_RDONLY is 0.
  if (m && (parseInt(m[1], 8) & 3) === 0) throw new RuntimeError('usage', `--status-fd: fd ${fd} is open read-only`);
}

/** Checkpoints container `opts.id`. */
export async function checkpointContainer(ctx: Context, opts: CheckpointOptions): Promise<CheckpointResult> {
  const t0 = now();
  mark('checkpoint: begin');
  let plan;
  try {
    plan = checkpointPlan(opts);
  } catch (err) {
    throw criuUserError(err);
  }
  const criuPath = resolveCriu(ctx);
  await refuseUnsupported(criuPath, opts);

  const c = await loadContainer(ctx, opts.id);
  let early: PrestartedCriu | undefined;
  try {
    requireStatus('checkpoint', opts.id, c.status);
    const { record } = c;
    const cg = openContainerCgroup(record);
    const freezer = record.cgroup.paths.freezer ?? record.cgroup.paths[''];
    // An explicit --empty-ns network is the user's choice; otherwise skip a namespace with nothing to save.
    const pristine = !(plan.opts.emptyNs && plan.opts.emptyNs & CLONE_NEWNET) && containerNetnsPristine(record.spec, record.pid);
    // A pristine namespace is either left out (empty_ns) or, cheaper, not seen at all: CRIU runs inside it.
    const criuNetns = criuJoinsPristineNetns(pristine, opts, plan.type);
    // CRIU starts now (helper, namespace, exec, dynamic loading: ~20 ms) while the mounts and stdio are
    // read and the container is frozen; it waits for its request. Any failure before that abandons it.
    const criu = dumpCriuStart(ctx, criuPath, record.rootfs, c.lock.dir, criuNetns ? `/proc/${record.pid}/ns/net` : undefined);
    mark('checkpoint: container loaded, criu starting');
    early = prestartCriu(criu.start);

    const mountinfo = readProc(`/proc/${record.pid}/mountinfo`);
    const mounts = parseMountinfo(mountinfo);
    const resolve = (dest: string) => resolveInRoot(record.rootfs, dest);
    const cgroupTmpfs = cgroupTmpfsLayout(record.spec, mounts, (mp) => listDir(`/proc/${record.pid}/root${mp}`), resolve);
    const specExtMnt = dumpExternalMounts(record.spec, mounts, resolve, { cgroupTmpfs });
    const tmpfsCandidates = emptyTmpfsCandidates(mounts, perMountOptions(mountinfo), new Set(specExtMnt.map((e) => e.key)));
    const containerMountIds = new Set(mounts.map((m) => m.id));
    const stdioBefore = readStdio(record.pid);
    const externalNetns = dumpExternalNetns(record.spec, record.pid);
    for (const m of specExtMnt) ctx.log.debug(`checkpoint: external mount ${m.key} as ${m.val} (${m.reason})`);

    // Both directories exist before the freeze, so a bad path never touches the container.
    for (const [what, dir] of [['image', plan.imagesDir], ['work', plan.workDir]]) {
      try {
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      } catch (err) {
        throw new RuntimeError('system', `cannot create ${what} directory ${dir}: ${errnoText(err)}`);
      }
    }

    mark('checkpoint: mounts and stdio read');
    let preFreeze = 0;
    // --manage-cgroups-mode full: CRIU freezes the cgroup itself, so its image records the state it found
    // (THAWED) and a full restore, which writes that state back, resumes the tasks (restore-checks.ts).
    const criuFreezes = opts.manageCgroupsMode === 'full' && opts.beforeDump === undefined;
    const froze = (opts.preFreeze !== false || opts.beforeDump !== undefined) && !criuFreezes && c.status === 'running';
    if (froze) {
      const f0 = now();
      await freezeForCheckpoint(c, cg);
      faultPoint('checkpoint:frozen');
      preFreeze = now() - f0;
    }
    let extra: Partial<CheckpointMeta> = {};
    try {
      if (opts.beforeDump) extra = await opts.beforeDump(record);
    } catch (err) {
      if (froze) await thawQuietly(ctx, cg);
      throw err;
    }
    // Frozen: nothing writes to a tmpfs any more, so "empty" is final until the dump ends.
    // (Not without the freeze: a running container could write between the look and the dump.)
    const frozenNow = froze || c.status === 'paused';
    // Read again once nothing moves: see settleStdio (a shell's redirect can hide the real stdout).
    const stdio = frozenNow ? settleStdio(stdioBefore, readStdio(record.pid), containerMountIds) : stdioBefore;
    const externalStdio = hostFileStdio(stdio, containerMountIds);
    for (const e of externalStdio) ctx.log.debug(`checkpoint: stdio fd ${e.fd} is a host file, external as ${e.key}`);
    const rebuilt = {
      cgroupTmpfs,
      emptyTmpfs: frozenNow ? emptyTmpfsFound(tmpfsCandidates, (mp) => rootFacts(`/proc/${record.pid}/root${mp}`)) : [],
    };
    const extMnt = dumpExternalMounts(record.spec, mounts, resolve, rebuilt);
    for (const t of rebuilt.emptyTmpfs) ctx.log.debug(`checkpoint: empty tmpfs ${t.mountpoint} left external (restore mounts a fresh one)`);
    mark('checkpoint: frozen');
    const meta: CheckpointMeta = {
      version: 1,
      id: record.id,
      at: new Date().toISOString(),
      status: c.status === 'paused' ? 'paused' : 'running',
      imageFreezer: froze || c.status === 'paused' ? 'FROZEN' : 'THAWED',
      externalStdio,
      externalMounts: extMnt,
      terminal: !!record.spec.process?.terminal,
      mounts: mountPolicy(record.spec, mounts, resolve, rebuilt),
      ...(cgroupTmpfs ? { cgroupTmpfs } : {}),
      ...(rebuilt.emptyTmpfs.length > 0 ? { emptyTmpfs: rebuilt.emptyTmpfs } : {}),
      ...extra,
      ...(externalNetns ? { externalNetns: true } : {}),
      ...(criuNetns ? { criuNetns: true } : pristine ? { pristineNetns: true } : {}),
      ...(opts.lazyPages ? { lazyPages: { pageServer: opts.pageServer ?? '' } } : {}),
    };
    /** What restore reads besides CRIU's images; with lazy pages, needed while this dump still serves pages. */
    const writeNotes = (): void => {
      writeDescriptors(plan.imagesDir, descriptorLinks(stdio));
      writeCheckpointMeta(plan.imagesDir, meta);
    };
    const c0 = now();
    let result;
    try {
      result = await runPlan(plan, {
        criuPath,
        skipFeatureCheck: true,
        opts: {
          pid: record.pid,
          root: record.rootfs,
          extMnt: extMnt.map(({ key, val }) => ({ key, val })),
          external: [...externalStdio.map((e) => e.key), ...(externalNetns ? [externalNetns] : [])],
          manageCgroups: true,
          ...(freezer ? { freezeCgroup: freezer } : {}),
          ...(record.spec.process?.terminal ? { orphanPtsMaster: true } : {}),
          ...(criuNetns ? { networkLock: plan.opts.networkLock ?? 'SKIP' } : pristine ? pristineNetnsOpts(plan.opts) : {}),
          ...(criu.cgroupYard ? { cgroupYard: criu.cgroupYard } : {}),
        },
        prestarted: early,
        // status-ready: the images are written and CRIU now serves the memory pages; a restore may start.
        onNotify: async (event) => {
          for (const fd of event.fds) fs.closeSync(fd);
          if (event.script === 'status-ready') writeNotes();
          if (event.script === 'post-dump') await opts.afterDump?.();
        },
      });
    } catch (err) {
      // CRIU put the freezer back the way it found it: frozen by us. The container must go on running.
      if (froze) await thawQuietly(ctx, cg);
      throw criuUserError(err);
    }
    const criuMs = now() - c0;

    if (!opts.lazyPages) writeNotes();
    faultPoint('checkpoint:dumped');

    if (opts.leaveRunning || plan.type === 'PRE_DUMP') {
      if (froze) await cg.thaw();
    } else {
      // CRIU killed the tasks; the container is gone. Clean up like delete (cgroup, poststop hooks, state).
      await destroy(ctx, { ...c, status: 'stopped' });
    }
    mark('checkpoint: container removed');
    const timings = checkpointTimings(result.dumpStats, preFreeze, criuMs, now() - t0);
    if (opts.printStats) {
      process.stdout.write(formatCheckpointStats(timings));
      saveStats(plan.imagesDir, 'checkpoint', timings);
    }
    return { imagesDir: plan.imagesDir, record, timings };
  } finally {
    await early?.abandon();
    await endCheckpointFreeze(c);
    c.lock.release();
  }
}

/** Entry count, mode and owner of a directory; undefined when it cannot be read. */
function rootFacts(dir: string): RootFacts | undefined {
  try {
    const st = fs.statSync(dir);
    return { entries: fs.readdirSync(dir).length, mode: st.mode, uid: st.uid, gid: st.gid };
  } catch {
    return undefined;
  }
}

/** A directory's entries with their kind (links with their target); undefined when it cannot be read. */
function listDir(dir: string): ListedEntry[] | undefined {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).map((d) =>
      d.isDirectory() ? { name: d.name, kind: 'dir' } : d.isSymbolicLink() ? { name: d.name, kind: 'link', target: fs.readlinkSync(`${dir}/${d.name}`) } : { name: d.name, kind: 'other' },
    );
  } catch {
    return undefined;
  }
}

function readProc(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new RuntimeError('bad-state', `cannot read ${file}: ${errnoText(err)} (did the container exit?)`);
  }
}

async function thawQuietly(ctx: Context, cg: ReturnType<typeof openContainerCgroup>): Promise<void> {
  try {
    await cg.thaw();
  } catch (err) {
    ctx.log.warn(`cannot thaw the container after the failed checkpoint: ${(err as Error).message}`);
  }
}
