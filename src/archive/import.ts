/**
 * importCheckpoint: one archive file → a checkpoint directory, checked as it is unpacked.
 *
 * Order matters: the manifest is the archive's first member, so before any other byte is written stasis
 * knows whether this host can run the checkpoint (architecture, CPU features) and which files may follow.
 * Every later member must be a regular file or directory listed in the manifest, with the recorded size
 * (checked from its header, before writing) and sha256 (checked as it is written). Absolute names, `..`,
 * symlinks, hard links and device nodes are refused. On any failure the directory is removed again.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { ArchiveError, errnoCode, errnoText } from './errors';
import { detectCompression, gunzipStream, startZstd, type Compression, type ZstdChild } from './compress';
import { readHostInfo, type HostInfo } from './host-info';
import {
  MANIFEST_FILE,
  checkCompatibility,
  compareFileSets,
  listCheckpointFiles,
  parseManifest,
  sizeMismatch,
  type Manifest,
} from './manifest';
import { memberPath, splitParent } from './member-path';
import { Progress, type ProgressSink } from './progress';
import { ByteReader, readTar } from './tar-reader';
import { sha256 } from '../util/builtins';

/** Bytes gathered before one write to an image file. */
const WRITE_BATCH = 4 << 20;
/** Largest manifest accepted (it is parsed in memory). */
const MAX_MANIFEST_BYTES = 64 << 20;

/** Options of importCheckpoint. */
export interface ImportOptions {
  /** The restoring host (default: this one). */
  host?: HostInfo;
  /** When given, the manifest's sha256 must equal it (from exportCheckpoint's result, sent out of band). */
  expectManifestSha256?: string;
  /** Where progress goes (default process.stderr; drawn only on a terminal, after 1 s). */
  progress?: ProgressSink;
}

/** What importCheckpoint unpacked. */
export interface ImportResult {
  manifest: Manifest;
  compression: Compression;
  /** Differences that do not block a restore (kernel, CRIU version). */
  warnings: string[];
}

/** The archive's decompressed bytes, plus what to await / kill when done. */
export interface Source {
  chunks: AsyncIterable<Buffer>;
  finished: () => Promise<void>;
  abort: () => void;
}

/** Opens the archive `file` and decompresses it (shared with import-unverified.ts). */
export function openSource(file: string, compression: Compression, onRead: (n: number) => void): Source {
  const input = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  input.on('data', (c) => onRead(c.length));
  if (compression === 'none') {
    return { chunks: input as AsyncIterable<Buffer>, finished: async () => undefined, abort: () => input.destroy() };
  }
  if (compression === 'gzip') {
    const gz = gunzipStream();
    input.pipe(gz);
    return {
      chunks: wrapErrors(gz, 'gzip data is corrupt'),
      finished: async () => undefined,
      abort: () => {
        input.destroy();
        gz.destroy();
      },
    };
  }
  const z: ZstdChild = startZstd('decompress');
  input.pipe(z.stdin);
  z.stdin.on('error', () => undefined); // EPIPE when zstd stops early: its exit status says why
  return {
    chunks: z.stdout as AsyncIterable<Buffer>,
    finished: () => z.finished,
    abort: () => {
      input.destroy();
      z.child.kill('SIGKILL');
    },
  };
}

async function* wrapErrors(stream: Readable, message: string): AsyncGenerator<Buffer> {
  try {
    for await (const c of stream as AsyncIterable<Buffer>) yield c;
  } catch (err) {
    throw new ArchiveError('corrupt', `${message}: ${errnoText(err)}`);
  }
}

/** Reads the first bytes of a file. */
export function head(file: string, n: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(n);
    return b.subarray(0, fs.readSync(fd, b, 0, n, 0));
  } finally {
    fs.closeSync(fd);
  }
}

/** Creates `dir` (its parent must exist) or accepts an existing empty directory; returns whether it was made. */
export function prepareDestination(dir: string): boolean {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
    return true;
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw new ArchiveError('usage', `cannot create ${dir}: ${errnoText(err)}`);
  }
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) throw new ArchiveError('usage', `${dir} exists and is not a directory`);
  if (fs.readdirSync(dir).length) throw new ArchiveError('usage', `${dir} is not empty`);
  return false;
}

/** Unpacks and checks the archive `file` into the new (or empty) directory `dir`. */
export async function importCheckpoint(file: string, dir: string, opts: ImportOptions = {}): Promise<ImportResult> {
  let compression: Compression | undefined;
  let total = 0;
  try {
    compression = detectCompression(head(file, 512));
    total = fs.statSync(file).size;
  } catch (err) {
    throw new ArchiveError('usage', `cannot read ${file}: ${errnoText(err)}`);
  }
  if (!compression) throw new ArchiveError('corrupt', `${file} is not a tar archive (plain, gzip or zstd)`);
  const created = prepareDestination(dir);
  const progress = new Progress(`import ${path.basename(file)}`, total, opts.progress);
  const source = openSource(file, compression, (n) => progress.add(n));
  let manifest: Manifest | undefined;
  let warnings: string[] = [];
  try {
    const seen = new Set<string>();
    let wanted: Map<string, Manifest['files'][number]> | undefined;
    await readTar(new ByteReader(source.chunks), async (h, body) => {
      const rel = memberPath(h.path);
      if (rel === '') return;
      if (!manifest) {
        if (rel !== MANIFEST_FILE || h.type !== 'file') {
          throw new ArchiveError('corrupt', `${file}: first member is ${rel}, not ${MANIFEST_FILE} (not a stasis checkpoint archive; restore --no-verify takes an engine's archive without integrity checks)`);
        }
        if (h.size > MAX_MANIFEST_BYTES) throw new ArchiveError('corrupt', `${MANIFEST_FILE} is too large`);
        const parts: Buffer[] = [];
        for await (const c of body) parts.push(Buffer.from(c));
        const bytes = Buffer.concat(parts);
        const digest = sha256().update(bytes).digest('hex');
        if (opts.expectManifestSha256 && digest !== opts.expectManifestSha256.toLowerCase()) {
          throw new ArchiveError('corrupt', `${MANIFEST_FILE} has sha256 ${digest}, expected ${opts.expectManifestSha256}`);
        }
        manifest = parseManifest(bytes.toString('utf8'), `${file}:${MANIFEST_FILE}`);
        // Refuse a checkpoint this host cannot run before a single image byte is written.
        warnings = checkCompatibility(manifest, opts.host ?? readHostInfo());
        const fh = await openNew(dir, rel, 0o600);
        await fh.writeFile(bytes).finally(() => fh.close());
        return;
      }
      if (h.type === 'dir') {
        fs.mkdirSync(path.join(dir, rel), { recursive: true, mode: 0o700 });
        return;
      }
      if (h.type !== 'file') {
        throw new ArchiveError('unsafe', `member ${rel} is a ${h.type === 'link' ? 'hard link' : h.type}: not allowed in a checkpoint archive`);
      }
      wanted ??= new Map(manifest.files.map((f) => [f.path, f]));
      const want = wanted.get(rel);
      if (!want) throw new ArchiveError('corrupt', `member ${rel} is not in the manifest (extra file)`);
      if (seen.has(rel)) throw new ArchiveError('corrupt', `member ${rel} appears twice`);
      if (h.size !== want.size) throw new ArchiveError('corrupt', sizeMismatch(rel, h.size, want.size));
      seen.add(rel);
      const hash = sha256();
      const fh = await openNew(dir, rel, 0o600);
      try {
        // Pipes deliver 64 KiB chunks: gather them into ~4 MiB writes (one thread-pool round trip each).
        let batch: Buffer[] = [];
        let batched = 0;
        for await (const chunk of body) {
          hash.update(chunk);
          batch.push(chunk);
          batched += chunk.length;
          if (batched >= WRITE_BATCH) {
            await writeAll(fh, batch, batched);
            batch = [];
            batched = 0;
          }
        }
        if (batched) await writeAll(fh, batch, batched);
        await fh.chmod(h.mode & 0o777);
      } finally {
        await fh.close();
      }
      if (hash.digest('hex') !== want.sha256) throw new ArchiveError('corrupt', `${rel} is corrupt: sha256 differs from the manifest`);
    }, { strict: true });
    await source.finished();
    if (!manifest) throw new ArchiveError('corrupt', `${file} is empty: no ${MANIFEST_FILE}`);
    const missing = manifest.files.find((f) => !seen.has(f.path));
    if (missing) throw new ArchiveError('corrupt', `${missing.path} is missing from the archive (listed in the manifest)`);
    compareFileSets(manifest, listCheckpointFiles(dir));
  } catch (err) {
    undoImport(err, source, dir, created, file);
  } finally {
    progress.done();
  }
  return { manifest: manifest!, compression, warnings };
}

/**
 * After a failed import: stops reading, removes what was written (the directory itself when the import made
 * it) and rethrows as an ArchiveError.
 */
export function undoImport(err: unknown, source: Source, dir: string, created: boolean, file: string): never {
  source.abort();
  if (created) fs.rmSync(dir, { recursive: true, force: true });
  else for (const n of fs.readdirSync(dir)) fs.rmSync(path.join(dir, n), { recursive: true, force: true });
  if (err instanceof ArchiveError) throw err;
  throw new ArchiveError('system', `import of ${file} failed: ${errnoText(err)}`);
}

/** Writes every byte of `bufs` (writev may write less than asked; the rest is written again). */
export async function writeAll(fh: fs.promises.FileHandle, bufs: Buffer[], total: number): Promise<void> {
  const { bytesWritten } = await fh.writev(bufs);
  if (bytesWritten === total) return;
  let rest = Buffer.concat(bufs).subarray(bytesWritten);
  while (rest.length) {
    const r = await fh.write(rest);
    rest = rest.subarray(r.bytesWritten);
  }
}

/**
 * Opens a new file `rel` under `dir` for writing: parents are created as directories, the final component
 * must not exist (O_EXCL) and is never followed (O_NOFOLLOW). The destination starts empty and stasis
 * creates only directories and regular files in it, so no path can lead outside.
 */
export async function openNew(dir: string, rel: string, mode: number): Promise<fs.promises.FileHandle> {
  const [parent] = splitParent(rel);
  try {
    if (parent) fs.mkdirSync(path.join(dir, parent), { recursive: true, mode: 0o700 });
    const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
    return await fs.promises.open(path.join(dir, rel), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
  } catch (err) {
    throw new ArchiveError('unsafe', `cannot create ${rel} in ${dir}: ${errnoText(err)}`);
  }
}
