/**
 * `checkpoint --export FILE`: a checkpoint that can leave this host. The dump goes into a directory laid out
 * like Podman's and CRI-O's archives (src/archive/layout.ts): CRIU's images in `checkpoint/`, CRIU's
 * `stats-dump` beside them, `spec.dump`, `config.dump`, the root filesystem's changes (`rootfs-diff.tar`,
 * `deleted.files`) and stasis's manifest; that directory is then streamed into the archive.
 *
 * The rootfs changes are captured while the container is frozen, before CRIU runs: the files are then
 * consistent with the memory CRIU dumps, and a capture that fails leaves the container running (CRIU has
 * not killed anything yet).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Context } from '../cli/context';
import type { ContainerRecord } from '../state/record';
import { StateStore } from '../state/store';
import { LockMode } from '../state/lock';
import {
  GrowingFileHasher,
  LAYOUT,
  PageStream,
  imageFromAnnotations,
  exportCheckpoint,
  manifestReserve,
  partialArchivePath,
  unstream,
  type KnownHashes,
  makeConfigDump,
  writeLayoutFiles,
  writeManifest,
  type Compression,
  type HostInfo,
  type StreamedArchive,
  hashFilesOf,
} from '../archive';
import { hostFacts } from './host-facts';
import { diffAgainstBase, diffExclusions, diffOverlay, type RootfsDiff } from '../rootfs-diff';
import { parseMountinfo } from '../util/mountinfo';
import { resolveInRoot } from './checkpoint-rootfs';
import { RuntimeError, errnoText } from './errors';
import { mark } from './trace';
import { checkpointContainer, type CheckpointOptions, type CheckpointResult } from './checkpoint';
import { resolveCriu } from './checkpoint-criu';

/** What `checkpoint` was asked to export. */
export interface ExportRequest {
  /** --export FILE */
  file: string;
  /** --compress; undefined: from the file name (.zst → zstd, .gz/.tgz → gzip, else none). */
  compress?: Compression;
  /** --rootfs-base DIR: the image a plain-directory rootfs was made from. */
  rootfsBase?: string;
  /** --image-path, when given: the layout is written there and kept; otherwise in a temporary directory. */
  dir?: string;
}

/** How the rootfs changes were captured (kept in the checkpoint note). */
export interface RootfsCapture {
  kind: 'overlay' | 'base' | 'none';
  /** Members in rootfs-diff.tar and entries in deleted.files. */
  members: number;
  deleted: number;
  /** For kind none: why the changes could not be recorded. */
  why?: string;
}

/**
 * The container's memory use and process count, read without holding its lock for long (1 GiB and
 * undefined when they cannot be read: the checkpoint itself then reports what is wrong).
 */
function peekContainer(ctx: Context, id: string): { memoryBytes: number; processes?: number } {
  try {
    const { lock, record } = new StateStore(ctx.root).open(id, LockMode.Shared);
    lock.release();
    return { memoryBytes: containerMemoryBytes(record), processes: containerProcesses(record) };
  } catch {
    return { memoryBytes: 1 << 30 };
  }
}

/** The compression a file name asks for. Pure. */
export function compressionFor(file: string, flag?: string): Compression {
  if (flag !== undefined) {
    if (flag === 'none' || flag === 'gzip' || flag === 'zstd') return flag;
    throw new RuntimeError('usage', `checkpoint: invalid value "${flag}" for --compress: expected none, gzip or zstd`);
  }
  if (/\.(zst|zstd)$/.test(file)) return 'zstd';
  if (/\.(gz|tgz)$/.test(file)) return 'gzip';
  return 'none';
}

/**
 * Where a temporary portable directory goes. An uncompressed archive: beside it, on its filesystem, where
 * the biggest image can become the archive without a copy (archive/export-in-place.ts). A compressed one: a
 * tmpfs when the images fit in it with room to spare (they are read once, by the compressor), else beside.
 */
export function stagingBase(target: string, imagesBytes: number, compress: Compression, shm = '/dev/shm'): string {
  if (compress === 'none') return path.dirname(target);
  try {
    const st = fs.statfsSync(shm);
    // tmpfs only (0x01021994): the images are written once to memory and once, compressed, to the archive's disk.
    if (st.type === 0x01021994 && st.bavail * st.bsize > imagesBytes * 1.25 + (256 << 20)) return shm;
  } catch {
    /* no such tmpfs */
  }
  return path.dirname(target);
}

/** Bytes the container's memory uses now (an upper bound of its memory images), 1 GiB when unknown. */
export function containerMemoryBytes(record: ContainerRecord): number {
  const v1 = record.cgroup.paths.memory;
  const files = v1 ? [path.join(v1, 'memory.usage_in_bytes')] : record.cgroup.paths[''] ? [path.join(record.cgroup.paths[''], 'memory.current')] : [];
  for (const f of files) {
    try {
      const n = Number(fs.readFileSync(f, 'utf8').trim());
      if (Number.isFinite(n)) return n;
    } catch {
      /* no memory controller: assume the default */
    }
  }
  return 1 << 30;
}

/** The portable directory for an export: the user's --image-path, or a fresh temporary one (see stagingBase). */
export function preparePortableDir(req: ExportRequest, imagesBytes = 1 << 30): { dir: string; temporary: boolean } {
  const target = path.resolve(req.file);
  try {
    if (!fs.statSync(path.dirname(target)).isDirectory()) throw new Error('not a directory');
  } catch (err) {
    throw new RuntimeError('usage', `checkpoint: --export ${req.file}: directory ${path.dirname(target)} is not usable: ${errnoText(err)}`);
  }
  if (fs.existsSync(target)) throw new RuntimeError('usage', `checkpoint: --export ${req.file} exists: refusing to overwrite it`);
  if (req.dir) {
    const dir = path.resolve(req.dir);
    fs.mkdirSync(path.join(dir, LAYOUT.checkpointDir), { recursive: true, mode: 0o700 });
    return { dir, temporary: false };
  }
  const base = stagingBase(target, imagesBytes, compressionFor(req.file, req.compress));
  const dir = fs.mkdtempSync(path.join(base, `.${path.basename(target)}.stasis-`));
  fs.mkdirSync(path.join(dir, LAYOUT.checkpointDir), { mode: 0o700 });
  return { dir, temporary: true };
}

/** The overlay upper directory of the mount at `rootfs` in the host's mount table, if the root is an overlay. */
export function overlayUpperDir(mountinfo: string, rootfs: string): { upper?: string; overlay: boolean; userxattr: boolean } {
  let hit;
  for (const m of parseMountinfo(mountinfo)) if (m.mountpoint === rootfs) hit = m;
  if (!hit || hit.fstype !== 'overlay') return { overlay: false, userxattr: false };
  const upper = hit.superOptions.find((o) => o.startsWith('upperdir='))?.slice('upperdir='.length);
  return { upper, overlay: true, userxattr: hit.superOptions.includes('userxattr') };
}

/**
 * Writes rootfs-diff.tar and deleted.files for the (frozen) container into `dir`. An overlay root gives its
 * upper directory; a plain directory needs the base it was made from, else nothing is recorded and the
 * returned capture says why (the caller warns: the restore then needs a bundle that already has the files).
 */
export async function captureRootfsChanges(record: ContainerRecord, dir: string, rootfsBase?: string): Promise<RootfsCapture> {
  const rootfs = fs.realpathSync(record.rootfs);
  const exclusions = diffExclusions({
    mounts: (record.spec.mounts ?? []).map((m) => ({ destination: resolveInRoot(rootfs, m.destination) })),
    linux: { maskedPaths: record.spec.linux?.maskedPaths ?? [] },
  });
  const tar = path.join(dir, LAYOUT.rootfsDiff);
  const ov = overlayUpperDir(fs.readFileSync('/proc/self/mountinfo', 'utf8'), rootfs);
  let diff: RootfsDiff;
  let kind: RootfsCapture['kind'];
  if (ov.overlay && !rootfsBase) {
    if (!ov.upper) return { kind: 'none', members: 0, deleted: 0, why: `${rootfs} is a read-only overlay: it has no changes` };
    diff = await diffOverlay(ov.upper, tar, { exclusions, xattrPrefix: ov.userxattr ? 'user.overlay.' : 'trusted.overlay.' });
    kind = 'overlay';
  } else if (rootfsBase) {
    const base = path.resolve(rootfsBase);
    if (!fs.statSync(base, { throwIfNoEntry: false })?.isDirectory()) {
      throw new RuntimeError('usage', `checkpoint: --rootfs-base ${rootfsBase} is not a directory`);
    }
    diff = await diffAgainstBase(rootfs, base, tar, { exclusions });
    kind = 'base';
  } else {
    return {
      kind: 'none',
      members: 0,
      deleted: 0,
      why: `${rootfs} is a plain directory, not an overlay: give --rootfs-base DIR (the image it was made from) to record its changes`,
    };
  }
  fs.writeFileSync(path.join(dir, LAYOUT.deletedFiles), `${JSON.stringify(diff.deleted)}\n`, { mode: 0o600 });
  return { kind, members: diff.members, deleted: diff.deleted.length };
}

/**
 * The stasis executable as it was invoked (bin/stasis, an installed copy), for config.dump's `runtime`:
 * Podman restores an imported archive with that runtime. "stasis" when run as `node …/stasis.js`.
 */
export function stasisExecutable(): string {
  const self = process.argv[1];
  if (!self || self.endsWith('.js')) return 'stasis';
  // bin/stasis executes dist/launcher.cjs: name the executable, not the script.
  if (self.endsWith('launcher.cjs')) return path.resolve(path.dirname(self), '..', 'bin', 'stasis');
  return path.resolve(self);
}

/** After a successful dump: spec.dump and config.dump into `dir`; returns the facts of this host for the manifest. */
function completeDumpDir(record: ContainerRecord, dir: string, criuPath: string): HostInfo {
  writeLayoutFiles(dir, {
    spec: record.spec,
    // An image named by annotations lets `podman container restore --import` re-create the container.
    config: makeConfigDump({
      id: record.id,
      createdTime: new Date(record.created),
      checkpointedTime: new Date(),
      runtime: stasisExecutable(),
      ...imageFromAnnotations(record.spec.annotations),
    }),
  });
  // CRIU's log is for this host's diagnostics, not part of the checkpoint.
  fs.rmSync(path.join(dir, 'dump.log'), { force: true });
  return hostFacts(criuPath);
}

/** After completeDumpDir: the manifest, then the archive. Returns its size. */
export async function finishExport(
  ctx: Context,
  dir: string,
  req: ExportRequest,
  host: HostInfo,
  known?: KnownHashes,
  consume = false,
  streamed?: StreamedArchive,
): Promise<{ bytes: number; manifestSha256: string }> {
  const inArchive = streamed?.members.map((m) => ({ path: `${LAYOUT.checkpointDir}/${m.name}`, size: m.size, sha256: m.sha256 }));
  await writeManifest(dir, { host, known, inArchive });
  mark('export: manifest written');
  // The manifest was just computed from these files by this process: no second hashing pass while streaming.
  // A temporary directory may give its biggest image to the archive instead of having it copied.
  const r = await exportCheckpoint(dir, path.resolve(req.file), {
    compress: compressionFor(req.file, req.compress),
    verify: false,
    consume,
    streamed,
  });
  mark('export: archive written');
  ctx.log.debug(`checkpoint: exported ${r.bytes} bytes to ${req.file} (manifest sha256 ${r.manifestSha256})`);
  return { bytes: r.bytes, manifestSha256: r.manifestSha256 };
}

/**
 * `checkpoint --export`: dumps into the portable layout (rootfs changes captured while frozen), then writes
 * the archive. Refused up front: what cannot travel (pre-dump, lazy pages and a page server leave memory
 * behind; --link-remap adds files to the rootfs during the dump, after the changes were captured).
 */
export async function exportContainer(ctx: Context, opts: CheckpointOptions, req: ExportRequest): Promise<CheckpointResult> {
  if (opts.preDump) throw new RuntimeError('usage', 'checkpoint: --export cannot be used with --pre-dump: a pre-dump is not a complete checkpoint');
  if (opts.lazyPages) throw new RuntimeError('usage', 'checkpoint: --export cannot be used with --lazy-pages: the memory would stay on this host');
  if (opts.linkRemap) {
    throw new RuntimeError('usage', 'checkpoint: --export cannot be used with --link-remap: criu links files into the rootfs during the dump, after its changes were recorded');
  }
  if (opts.pageServer) throw new RuntimeError('usage', 'checkpoint: --export cannot be used with --page-server: the memory would go to the page server, not into the archive');
  const compress = compressionFor(req.file, req.compress); // a bad --compress fails before anything is frozen
  const peek = peekContainer(ctx, opts.id);
  const { dir, temporary } = preparePortableDir(req, peek.memoryBytes);
  const images = path.join(dir, LAYOUT.checkpointDir);
  // Into an uncompressed archive the memory goes straight from CRIU, written once (page-stream.ts). The
  // streamer starts now and has the container's loading and freezing to get ready.
  let stream = temporary && compress === 'none' ? launchPageStream(ctx, peek.processes, images, req.file) : undefined;
  // Without it, the pages images are hashed while CRIU appends to them (growing-hash.ts).
  let hasher: GrowingFileHasher | undefined;
  let streamed: StreamedArchive | undefined;
  // Where the streamed images are, known before CRIU may kill the container (drained()).
  let drained: Awaited<ReturnType<PageStream['drained']>> | undefined;
  let dumped = false;
  try {
    const result = await checkpointContainer(ctx, {
      ...opts,
      imagePath: images,
      workPath: opts.workPath ?? dir,
      beforeDump: async (record) => {
        const rootfs = await captureRootfsChanges(record, dir, req.rootfsBase);
        if (rootfs.why) ctx.log.warn(`checkpoint: the rootfs changes are not recorded: ${rootfs.why}`);
        if (stream && !(await pageStreamReady(ctx, stream))) stream = undefined;
        if (!stream) {
          hasher = new GrowingFileHasher(images, `${LAYOUT.checkpointDir}/`, /^pages-\d+\.img$/);
          hasher.start();
        }
        mark('export: rootfs changes captured, pages awaited');
        return { rootfs };
      },
      // A streamer that died during the dump may have lost pages CRIU wrote into its FIFOs' buffers: CRIU
      // must then fail the dump, and not kill the container, so every image is known to be in first.
      afterDump: async () => {
        if (stream) drained = await stream.drained();
        mark('export: every image in');
      },
    });
    dumped = true;
    mark('export: container checkpointed');
    // The streamer's hash of the memory is the last part of the dump to end: what does not wait for it is
    // done meanwhile (the other files' hashes, the layout files, this host's facts).
    const host = completeDumpDir(result.record, dir, resolveCriu(ctx));
    let known = await hasher?.finish();
    if (stream) {
      known = await hashFilesOf(dir, (rel, st) => !st.isDirectory() && (!st.isFile() || STREAMED_IMAGE.test(rel)));
      mark('export: other files hashed');
      const { members } = await stream.finish();
      streamed = { archive: stream.archive, reserve: stream.reserve, members };
      mark('export: pages streamed');
    }
    await finishExport(ctx, dir, req, host, known, temporary, streamed);
    if (temporary) fs.rmSync(dir, { recursive: true, force: true });
    return result;
  } catch (err) {
    await hasher?.abort();
    if (dumped && !opts.leaveRunning) {
      // The container is gone: its only copy is this directory (with its memory back from the partial archive).
      const msg = err instanceof Error ? err.message : String(err);
      let where = `the checkpoint is kept in ${dir} (restore --image-path ${dir})`;
      try {
        if (streamed) unstream(dir, streamed);
        else if (stream && drained) {
          // The streamer failed while hashing: every image is in (drained), in the archive or spilled.
          for (const name of drained.spilled) fs.renameSync(path.join(images, `${name}.spill`), path.join(images, name));
          await stream.abort({ keepArchive: true });
          unstream(dir, { archive: stream.archive, members: drained.spliced });
        } else if (stream) {
          // Only should CRIU skip its post-dump notification: where each image lies is then not known.
          await stream.abort({ keepArchive: true });
          where = `the checkpoint is incomplete: CRIU's memory images are in ${stream.archive}, unfinished, the rest in ${dir}`;
        }
      } catch (e) {
        where = `its memory images are in ${streamed?.archive}, the rest in ${dir}: ${e instanceof Error ? e.message : String(e)}`;
      }
      throw new RuntimeError('system', `checkpoint: ${msg}; ${where}`);
    }
    if (streamed) fs.rmSync(streamed.archive, { force: true });
    else await stream?.abort();
    if (temporary) {
      // CRIU's log is what explains a failed dump: it outlives the temporary directory the error names.
      const log = keepLog(dir, opts.id);
      fs.rmSync(dir, { recursive: true, force: true });
      if (log && err instanceof RuntimeError) throw new RuntimeError(err.code, err.message.split(path.join(dir, 'dump.log')).join(log));
    }
    throw err;
  }
}

/** The pages images a streamer takes (through FIFOs) or spills: its own hash covers them. */
const STREAMED_IMAGE = new RegExp(`^${LAYOUT.checkpointDir}/pages-\\d+\\.img(\\.spill)?$`);

/**
 * FIFOs for the container's pages images and the streamer behind them, or undefined (the export then copies
 * the images as before) when it cannot start. One FIFO per process: CRIU numbers pages images from 1.
 */
function launchPageStream(ctx: Context, processes: number | undefined, images: string, file: string): PageStream | undefined {
  const n = Math.min(processes ?? 8, 256);
  const stream = new PageStream(images, partialArchivePath(file), manifestReserve(n), n);
  try {
    stream.launch();
    return stream;
  } catch (err) {
    ctx.log.debug(`checkpoint: memory images will be copied into the archive: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

/** Whether the streamer reads its FIFOs (before CRIU may open them); when not, it is undone and said why. */
async function pageStreamReady(ctx: Context, stream: PageStream): Promise<boolean> {
  try {
    await stream.whenReady();
    return true;
  } catch (err) {
    ctx.log.debug(`checkpoint: memory images will be copied into the archive: ${err instanceof Error ? err.message : String(err)}`);
    return false;
  }
}

/** How many processes the (frozen) container has, from its cgroup; undefined when it cannot be read. */
export function containerProcesses(record: ContainerRecord): number | undefined {
  for (const dir of Object.values(record.cgroup.paths)) {
    try {
      return fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).length;
    } catch {
      /* next controller */
    }
  }
  return undefined;
}

/** Moves `<dir>/dump.log` to the temp directory; returns its new path, or undefined when there is none. */
function keepLog(dir: string, id: string): string | undefined {
  const log = path.join(os.tmpdir(), `stasis-checkpoint-${id}-${process.pid}.log`);
  try {
    fs.copyFileSync(path.join(dir, 'dump.log'), log);
    return log;
  } catch {
    return undefined;
  }
}
