/**
 * Importing an archive that has no stasis manifest (`podman container checkpoint --export`, CRI-O's): only
 * with the user's explicit consent (`restore --no-verify`), because nothing says whether its bytes are the
 * ones that were dumped.
 *
 * What is still enforced is everything that keeps the host safe: names relative and free of `..`, only
 * regular files and directories (no links, devices, fifos), no member twice, files created with
 * O_EXCL|O_NOFOLLOW without setuid/setgid/sticky bits, and only the top-level names an engine's archive
 * has (Podman's layout). A stasis archive never takes this path: `firstMemberName` sends an archive whose
 * first member is the manifest to the strict import, and a stasis archive whose manifest member was
 * renamed by damage is refused here, because that name is not one of the engine layout's.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ArchiveError, errnoText } from './errors';
import { detectCompression, type Compression } from './compress';
import { head, openNew, openSource, prepareDestination, undoImport, writeAll } from './import';
import { LAYOUT } from './layout';
import { MANIFEST_FILE } from './manifest';
import { memberPath } from './member-path';
import { Progress, type ProgressSink } from './progress';
import { ByteReader, readTar } from './tar-reader';

/**
 * Top-level names of Podman's checkpoint archive (libpod's exportCheckpoint): CRIU's images, the two
 * dumps, the rootfs changes, /dev/shm's content, CRIU's stats, network.status, the container log,
 * `artifacts/` and named volumes' tars under `volumes/`.
 */
export const ENGINE_ARCHIVE_NAMES: ReadonlySet<string> = new Set([
  LAYOUT.checkpointDir,
  LAYOUT.spec,
  LAYOUT.config,
  LAYOUT.rootfsDiff,
  LAYOUT.deletedFiles,
  LAYOUT.devShm,
  LAYOUT.statsDump,
  'network.status',
  'ctr.log',
  'artifacts',
  'volumes',
]);

/** What importUnverifiedCheckpoint unpacked. */
export interface UnverifiedImportResult {
  compression: Compression;
  /** Regular files written. */
  files: number;
}

/** The archive's compression, or a one-line error when `file` is not a (compressed) tar. */
function compressionOf(file: string): Compression {
  let compression: Compression | undefined;
  try {
    compression = detectCompression(head(file, 512));
  } catch (err) {
    throw new ArchiveError('usage', `cannot read ${file}: ${errnoText(err)}`);
  }
  if (!compression) throw new ArchiveError('corrupt', `${file} is not a tar archive (plain, gzip or zstd)`);
  return compression;
}

/** Thrown inside the reader to stop after the first member (not an error). */
class Found {
  constructor(readonly name: string) {}
}

/**
 * The name of the archive's first member other than its root directory ("" for an empty archive). A header
 * whose checksum is wrong is refused here already, so damage cannot turn a stasis archive's first member
 * into something else.
 */
export async function firstMemberName(file: string): Promise<string> {
  const source = openSource(file, compressionOf(file), () => undefined);
  try {
    await readTar(new ByteReader(source.chunks), async (h) => {
      const rel = memberPath(h.path);
      if (rel !== '') throw new Found(rel);
    });
    return '';
  } catch (err) {
    if (err instanceof Found) return err.name;
    if (err instanceof ArchiveError) throw err;
    throw new ArchiveError('corrupt', `${file}: ${errnoText(err)}`);
  } finally {
    source.abort();
  }
}

/**
 * Unpacks an engine's checkpoint archive (no stasis manifest) into the new or empty directory `dir`,
 * with the safety rules above; it must hold CRIU's inventory and spec.dump. On failure `dir` is emptied
 * (or removed when this call made it).
 */
export async function importUnverifiedCheckpoint(file: string, dir: string, opts: { progress?: ProgressSink } = {}): Promise<UnverifiedImportResult> {
  const compression = compressionOf(file);
  const created = prepareDestination(dir);
  const progress = new Progress(`import ${path.basename(file)}`, fs.statSync(file).size, opts.progress);
  const source = openSource(file, compression, (n) => progress.add(n));
  const seen = new Set<string>();
  try {
    await readTar(new ByteReader(source.chunks), async (h, body) => {
      const rel = memberPath(h.path);
      if (rel === '') return;
      const top = rel.split('/')[0];
      if (top === MANIFEST_FILE) throw new ArchiveError('corrupt', `${file}: ${MANIFEST_FILE} is not the first member: a damaged stasis archive`);
      if (!ENGINE_ARCHIVE_NAMES.has(top)) throw new ArchiveError('unsafe', `member ${rel} is not part of a checkpoint archive's layout`);
      if (seen.has(rel)) throw new ArchiveError('corrupt', `member ${rel} appears twice`);
      seen.add(rel);
      if (h.type === 'dir') {
        fs.mkdirSync(path.join(dir, rel), { recursive: true, mode: 0o700 });
        return;
      }
      if (h.type !== 'file') {
        throw new ArchiveError('unsafe', `member ${rel} is a ${h.type === 'link' ? 'hard link' : h.type}: not allowed in a checkpoint archive`);
      }
      const fh = await openNew(dir, rel, 0o600);
      try {
        for await (const chunk of body) await writeAll(fh, [chunk], chunk.length);
        await fh.chmod(h.mode & 0o777);
      } finally {
        await fh.close();
      }
    });
    await source.finished();
    for (const need of [path.join(LAYOUT.checkpointDir, 'inventory.img'), LAYOUT.spec]) {
      if (!fs.statSync(path.join(dir, need), { throwIfNoEntry: false })?.isFile()) {
        throw new ArchiveError('corrupt', `${file} is not a checkpoint archive: it has no ${need}`);
      }
    }
  } catch (err) {
    undoImport(err, source, dir, created, file);
  } finally {
    progress.done();
  }
  return { compression, files: [...seen].filter((r) => fs.statSync(path.join(dir, r)).isFile()).length };
}
