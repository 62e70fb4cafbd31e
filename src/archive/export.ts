/**
 * exportCheckpoint: one checkpoint directory → one archive file, streamed (GNU tar → [check] → compressor →
 * file) so no second copy of the images is ever made on disk. The archive is written to a temporary name
 * beside the target and renamed at the end: a failed export never leaves a partial archive under the name.
 *
 * While the bytes flow, stasis re-reads its own tar stream and checks every member against the manifest,
 * so an archive that leaves this host matches the manifest it carries (a file changed since the manifest
 * was written makes the export fail, naming it).
 */
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import { ArchiveError, errnoText } from './errors';
import { startTar, tarCreateArgs } from './tar-process';
import { exportInPlace } from './export-in-place';
import { finishStreamedArchive, type StreamedArchive } from './export-streamed';
import { gzipStream, startZstd, zstdBinary, type Compression, type ZstdChild } from './compress';
import { LAYOUT } from './layout';
import { MANIFEST_FILE, readManifest, sizeMismatch, writeManifest, type Manifest, type ManifestOptions } from './manifest';
import { memberPath } from './member-path';
import { Progress, type ProgressSink } from './progress';
import { readTar } from './tar-reader';
import { sha256 } from '../util/builtins';

/** Options of exportCheckpoint. */
export interface ExportOptions {
  compress: Compression;
  /**
   * Check each member against the manifest while exporting (default true). Costs one sha256 pass over the
   * images, which the page cache usually serves.
   */
  verify?: boolean;
  /** Used when the directory has no manifest yet (one is then written first). */
  manifest?: ManifestOptions;
  /** Where progress goes (default process.stderr; drawn only on a terminal, after 1 s). */
  progress?: ProgressSink;
  /**
   * The directory is a temporary one, dropped after the export: without compression and verification its
   * biggest image may become the archive itself (export-in-place.ts) instead of being copied into it.
   */
  consume?: boolean;
  /** The memory images were streamed into this archive file during the dump (page-stream.ts): complete it. */
  streamed?: StreamedArchive;
}

/** The name an archive has while it is being written (beside it, so the final rename stays on one filesystem). */
export function partialArchivePath(file: string): string {
  return path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.partial-${process.pid}`);
}

/** What exportCheckpoint made. */
export interface ExportResult {
  manifest: Manifest;
  /** sha256 of stasis-manifest.json: pass it to importCheckpoint to authenticate the whole archive. */
  manifestSha256: string;
  /** Size of the archive file. */
  bytes: number;
}

/**
 * Without the streaming check, no byte needs to pass through Node: tar writes the archive file itself,
 * through the compressor when one is asked for (a checkpoint's images are GiBs: every copy counts).
 */
async function tarToFile(dir: string, tmp: string, compress: Compression, progress: Progress): Promise<void> {
  const program = compress === 'zstd' ? `${zstdBinary()} -q -3 -T0` : compress === 'gzip' ? 'gzip -6' : undefined;
  const args = tarCreateArgs(dir, fs.readdirSync(dir)).map((a) => (a === '--file=-' ? `--file=${tmp}` : a));
  if (program) args.unshift(`--use-compress-program=${program}`);
  const tar = startTar(args, ['ignore', 'ignore']);
  // Progress from what tar has read so far (its rchar), whatever the compression does to the output.
  let seen = 0;
  const poll = setInterval(() => {
    const rchar = Number(/^rchar: (\d+)$/m.exec(readQuietly(`/proc/${tar.child.pid}/io`))?.[1] ?? seen);
    if (rchar > seen) progress.add(rchar - seen);
    seen = Math.max(seen, rchar);
  }, 200);
  const code = await tar.done
    .catch((e: unknown) => {
      fs.rmSync(tmp, { force: true });
      throw e;
    })
    .finally(() => {
      clearInterval(poll);
      progress.done();
    });
  if (code !== 0) {
    fs.rmSync(tmp, { force: true });
    throw new ArchiveError('system', `tar failed (exit ${code}): ${tar.firstErrorLine()}`);
  }
}

function readQuietly(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Writes `chunk` honouring backpressure. */
async function put(out: Writable, chunk: Buffer): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}

/** Exports the checkpoint directory `dir` (see layout.ts) to the archive `file`. */
export async function exportCheckpoint(dir: string, file: string, opts: ExportOptions): Promise<ExportResult> {
  if (!['none', 'gzip', 'zstd'].includes(opts.compress)) {
    throw new ArchiveError('usage', `compress: unknown compression ${JSON.stringify(opts.compress)} (none, gzip, zstd)`);
  }
  if (!fs.statSync(path.join(dir, LAYOUT.checkpointDir), { throwIfNoEntry: false })?.isDirectory()) {
    throw new ArchiveError('usage', `${dir} has no ${LAYOUT.checkpointDir}/ directory: not a checkpoint directory`);
  }
  const manifest = fs.existsSync(path.join(dir, MANIFEST_FILE)) ? readManifest(dir) : await writeManifest(dir, opts.manifest);
  const manifestBytes = fs.readFileSync(path.join(dir, MANIFEST_FILE));
  const manifestSha256 = sha256().update(manifestBytes).digest('hex');
  const total = manifest.files.reduce((n, f) => n + f.size, 0);

  if (opts.streamed) {
    if (opts.compress !== 'none') throw new ArchiveError('usage', 'streamed images make an uncompressed archive only');
    return { manifest, ...(await finishStreamedArchive(dir, file, opts.streamed)) };
  }
  const tmp = partialArchivePath(file);
  if (opts.verify === false && opts.consume && opts.compress === 'none') {
    const done = await exportInPlace(dir, file, tmp);
    if (done) return { manifest, ...done };
  }
  if (opts.verify === false) {
    await tarToFile(dir, tmp, opts.compress, new Progress(`export ${path.basename(file)}`, total, opts.progress));
    fs.renameSync(tmp, file);
    return { manifest, manifestSha256, bytes: fs.statSync(file).size };
  }
  const out = fs.createWriteStream(tmp, { flags: 'wx', mode: 0o600 });
  const outOpened = once(out, 'open');
  const tarProc = startTar(tarCreateArgs(dir, fs.readdirSync(dir)), ['ignore', 'pipe']);
  const tar = tarProc.child;

  let zstd: ZstdChild | undefined;
  let sink: Writable = out;
  if (opts.compress === 'gzip') {
    const gz = gzipStream();
    gz.pipe(out);
    sink = gz;
  } else if (opts.compress === 'zstd') {
    zstd = startZstd('compress');
    zstd.stdout.pipe(out);
    sink = zstd.stdin;
  }
  const progress = new Progress(`export ${path.basename(file)}`, total, opts.progress);
  const outFinished = once(out, 'close');
  outFinished.catch(() => undefined);
  try {
    await outOpened;
    // Every chunk tar produces goes downstream before the checker sees it: the checker drives the flow.
    async function* tee(): AsyncGenerator<Buffer> {
      for await (const chunk of tar.stdout as AsyncIterable<Buffer>) {
        await put(sink, chunk);
        yield chunk;
      }
    }
    const seen = new Set<string>();
    const want = new Map(manifest.files.map((f) => [f.path, f]));
    await readTar(tee(), async (h, body) => {
      const rel = memberPath(h.path);
      if (h.type === 'dir' || rel === '') return;
      if (h.type !== 'file') throw new ArchiveError('unsafe', `${rel} is a ${h.type}: not allowed in a checkpoint`);
      const hash = sha256();
      let size = 0;
      for await (const chunk of body) {
        if (opts.verify !== false) hash.update(chunk);
        size += chunk.length;
        progress.add(chunk.length);
      }
      if (rel === MANIFEST_FILE) {
        if (hash.digest('hex') !== manifestSha256 && opts.verify !== false) {
          throw new ArchiveError('corrupt', `${MANIFEST_FILE} changed during the export`);
        }
        return;
      }
      const w = want.get(rel);
      if (!w) throw new ArchiveError('corrupt', `${rel} is not in the manifest (added after it was written)`);
      if (size !== w.size) throw new ArchiveError('corrupt', sizeMismatch(rel, size, w.size));
      if (opts.verify !== false && hash.digest('hex') !== w.sha256) {
        throw new ArchiveError('corrupt', `${rel} changed since the manifest was written: sha256 differs`);
      }
      seen.add(rel);
    });
    const code = await tarProc.done;
    if (code !== 0) throw new ArchiveError('system', `tar failed (exit ${code}): ${tarProc.firstErrorLine()}`);
    const missing = manifest.files.find((f) => !seen.has(f.path));
    if (missing) throw new ArchiveError('corrupt', `${missing.path} is missing (listed in the manifest)`);
    sink.end();
    if (zstd) await zstd.finished;
    await outFinished;
    fs.renameSync(tmp, file);
  } catch (err) {
    tar.kill('SIGKILL');
    zstd?.child.kill('SIGKILL');
    out.destroy();
    fs.rmSync(tmp, { force: true });
    throw err instanceof ArchiveError ? err : new ArchiveError('system', `export to ${file} failed: ${errnoText(err)}`);
  } finally {
    progress.done();
  }
  return { manifest, manifestSha256, bytes: fs.statSync(file).size };
}
