/**
 * Restoring a portable checkpoint: `restore --import FILE`, or `--image-path DIR` where DIR is such a
 * checkpoint unpacked (it has `stasis-manifest.json` and `checkpoint/`).
 *
 * Order, and why:
 *   the archive is unpacked into a staging directory and verified (compatibility, file set, every sha256)
 *     before the container id is claimed or the bundle touched: a corrupt, truncated, tampered or
 *     incompatible checkpoint is refused with one line and leaves nothing behind;
 *   the root filesystem's changes (deleted.files, then rootfs-diff.tar) go into the bundle's rootfs after
 *     the id is claimed and before CRIU runs (restoreContainer's prepareRootfs), never following a symlink
 *     out of it;
 *   CRIU writes its log into a work directory of its own (the user's --work-path, or a temporary one that is
 *     kept only when the restore fails), never into the checkpoint, where it would be a file the manifest
 *     does not list; the staging directory goes as soon as CRIU is done.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Context } from '../cli/context';
import { ArchiveError, LAYOUT, MANIFEST_FILE, firstMemberName, importCheckpoint, importUnverifiedCheckpoint, readDeletedFiles, verifyCheckpointDir } from '../archive';
import { applyRootfsDiff } from '../rootfs-diff';
import { resolveCriu } from './checkpoint-criu';
import { hostFacts } from './host-facts';
import { RuntimeError, errnoText } from './errors';
import type { RestoreOptions } from './restore';
import { createMountpoints, namedHierarchyMounts, prepareEngineBundle, removeEngineBundle, type PreparedEngineBundle } from './restore-engine';

/** What the portable layer adds to `restore`'s options. */
export interface PortableRestoreOptions extends RestoreOptions {
  /** --import FILE: the archive to restore from. */
  importFile?: string;
  /** --image-path as the user gave it (undefined: not given). */
  imagePathGiven?: boolean;
  /**
   * --no-verify: an --import archive without a stasis manifest (Podman's) is accepted unverified and
   * restored through restore-engine.ts. A stasis archive is verified all the same.
   */
  noVerify?: boolean;
}

/** The restore that runs once the checkpoint is verified (restoreContainer, or the clone loop). */
export type InnerRestore = (ctx: Context, opts: RestoreOptions) => Promise<number>;

/** True when `dir` is a portable checkpoint directory rather than a plain CRIU image directory. */
export function isPortableDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, MANIFEST_FILE)) && fs.statSync(path.join(dir, LAYOUT.checkpointDir), { throwIfNoEntry: false })?.isDirectory() === true;
}

/** Turns the archive modules' one-line errors into the CLI's. */
function asRuntimeError(err: unknown): unknown {
  if (!(err instanceof ArchiveError)) return err;
  const code = err.kind === 'usage' ? 'usage' : err.kind === 'incompatible' ? 'unsupported' : err.kind === 'system' ? 'system' : 'invalid-spec';
  return new RuntimeError(code, `restore: ${err.message}`);
}

/** Staging directories of imports whose restoring process died (kill -9): removed by the next import. */
function removeStaleStaging(stateRoot: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(stateRoot);
  } catch {
    return;
  }
  for (const n of names) {
    const m = /^\.import-(\d+)-/.exec(n);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch {
      fs.rmSync(path.join(stateRoot, n), { recursive: true, force: true });
    }
  }
}

/** A staging directory under the state root, named after this process so a dead one's can be found. */
function makeStaging(stateRoot: string): string {
  fs.mkdirSync(stateRoot, { recursive: true, mode: 0o700 });
  removeStaleStaging(stateRoot);
  return fs.mkdtempSync(path.join(stateRoot, `.import-${process.pid}-`));
}

/**
 * Restores through `inner` once the checkpoint is unpacked (if an archive) and verified; plain CRIU image
 * directories go straight to `inner`.
 */
export async function restorePortable(ctx: Context, opts: PortableRestoreOptions, inner: InnerRestore): Promise<number> {
  const { importFile, imagePathGiven, noVerify, ...rest } = opts;
  if (noVerify && importFile === undefined) throw new RuntimeError('usage', 'restore: --no-verify only applies to --import FILE');
  if (importFile === undefined && !isPortableDir(path.resolve(rest.imagePath))) return inner(ctx, rest);
  if (importFile !== undefined && imagePathGiven) {
    throw new RuntimeError('usage', 'restore: --import and --image-path both name the checkpoint: give one');
  }
  if (rest.lazyPages) throw new RuntimeError('usage', 'restore: --lazy-pages: a portable checkpoint holds all its memory; restore it without --lazy-pages');
  const criuPath = resolveCriu(ctx);
  const staging = makeStaging(ctx.root);
  let removed = false;
  const removeStaging = () => {
    if (!removed) fs.rmSync(staging, { recursive: true, force: true });
    removed = true;
  };
  let engine = false;
  let prepared: PreparedEngineBundle | undefined;
  try {
    let dir: string;
    try {
      if (importFile !== undefined) {
        dir = path.join(staging, 'checkpoint');
        const file = path.resolve(importFile);
        // Only an archive whose first member is not stasis's manifest can go unverified (a damaged header
        // fails in firstMemberName already): a stasis archive is always checked whole.
        if (noVerify && (await firstMemberName(file)) !== MANIFEST_FILE) {
          await importUnverifiedCheckpoint(file, dir);
          ctx.log.warn(`restore: ${importFile} has no stasis manifest: its integrity is not checked (--no-verify)`);
          engine = true;
        } else {
          const r = await importCheckpoint(file, dir, { host: hostFacts(criuPath) });
          for (const w of r.warnings) ctx.log.warn(`restore: ${w}`);
        }
      } else {
        dir = path.resolve(rest.imagePath);
        const r = await verifyCheckpointDir(dir, hostFacts(criuPath));
        for (const w of r.warnings) ctx.log.warn(`restore: ${w}`);
      }
    } catch (err) {
      throw asRuntimeError(err);
    }
    // An engine's archive: the bundle gets config.json (if it has none) and /dev/shm's content first.
    if (engine) {
      prepared = await prepareEngineBundle(dir, path.resolve(rest.bundle), (m) => ctx.log.warn(m)).catch((err: unknown) => {
        throw asRuntimeError(err);
      });
    }
    // CRIU's log goes outside the checkpoint; it is kept when the restore fails (the error names it).
    const workDir = rest.workPath ?? fs.mkdtempSync(path.join(os.tmpdir(), `stasis-restore-${rest.id}-`));
    const checkpointDir = dir;
    const result = await inner(ctx, {
      ...rest,
      ...(prepared
        ? { extraExtMnt: namedHierarchyMounts(prepared.spec, fs.readFileSync('/proc/self/cgroup', 'utf8'), (p) => fs.existsSync(p)) }
        : {}),
      imagePath: path.join(checkpointDir, LAYOUT.checkpointDir),
      workPath: workDir,
      prepareRootfs: async (rootfs) => {
        await applyCheckpointRootfs(checkpointDir, rootfs).catch((err: unknown) => {
          throw asRuntimeError(err);
        });
        if (prepared) {
          try {
            createMountpoints(rootfs, prepared.spec, path.resolve(rest.bundle));
          } catch (err) {
            throw asRuntimeError(err);
          }
        }
        await rest.prepareRootfs?.(rootfs);
      },
      // The images are not needed once CRIU has restored (a foreground restore then waits for the exit).
      onRestored: () => {
        removeStaging();
        if (rest.workPath === undefined) fs.rmSync(workDir, { recursive: true, force: true });
        rest.onRestored?.();
      },
    });
    return result;
  } catch (err) {
    if (prepared) removeEngineBundle(prepared);
    throw err;
  } finally {
    removeStaging();
  }
}

/** Applies the checkpoint's deleted.files and rootfs-diff.tar (when present) to `rootfs`. */
export async function applyCheckpointRootfs(dir: string, rootfs: string): Promise<void> {
  const tar = path.join(dir, LAYOUT.rootfsDiff);
  const deleted = readDeletedFiles(dir);
  const hasTar = fs.existsSync(tar);
  if (!hasTar && deleted.length === 0) return;
  try {
    await applyRootfsDiff(rootfs, hasTar ? tar : undefined, deleted);
  } catch (err) {
    if (err instanceof ArchiveError) throw err;
    throw new RuntimeError('system', `restore: applying the rootfs changes to ${rootfs} failed: ${errnoText(err)}`);
  }
}
