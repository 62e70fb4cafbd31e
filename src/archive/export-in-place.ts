/**
 * An uncompressed archive made without copying the memory pages. A tar member's bytes are stored as they
 * are, after a header; so the biggest image (a pages file CRIU just wrote, GiBs) can become the archive
 * itself: room is opened in front of its data with fallocate(FALLOC_FL_INSERT_RANGE), which moves extents
 * instead of bytes (ext4, XFS), the members that must come first are written there, and the rest of the
 * checkpoint is appended behind. The archive then costs the dump plus the small files, not a second full
 * write of the memory.
 *
 *   [manifest header][manifest, padded]["checkpoint/" header][pages header] | pages data … | tar of the rest
 *   └──────────── the inserted range: a multiple of the filesystem block ────┘
 *
 * The range's length must be a multiple of the filesystem's block size; the manifest (JSON) takes the
 * slack as trailing whitespace, so every member stays a plain, readable one (GNU tar, Go's archive/tar,
 * checkpointctl and stasis's strict reader read it like any other archive).
 *
 * The pages file is consumed, so this is only for a temporary checkpoint directory on the archive's own
 * filesystem. Any failure before the archive is complete puts the pages file back as it was.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ArchiveError, errnoText } from './errors';
import { LAYOUT } from './layout';
import { MANIFEST_FILE } from './manifest';
import { BLOCK, encodeHeader, padding, type TarHeader } from './tar-format';
import { startTar, tarCreateArgs } from './tar-process';
import { childProcess, sha256 } from '../util/builtins';

/** Smaller images are copied by tar like the rest: moving extents would not save anything worth the steps. */
export const IN_PLACE_MIN_BYTES = 16 << 20;

/** What goes in front of the base image's data. */
export interface InPlacePrefix {
  /** The manifest as it must be stored (the original plus trailing whitespace, or unchanged). */
  manifest: Buffer;
  /** The bytes of the inserted range: a multiple of the alignment. */
  prefix: Buffer;
}

function member(p: string, type: TarHeader['type'], size: number, mode: number, mtime: number): TarHeader {
  return { path: p, type, mode, uid: 0, gid: 0, size, mtime, linkpath: '', devmajor: 0, devminor: 0, xattrs: new Map() };
}

/**
 * The members that open an archive whose next bytes are already in place: the manifest (padded with
 * whitespace as needed), the `checkpoint/` directory, then `following` (headers of members whose data
 * comes next). The result is exactly `size.exactly` bytes, or the shortest multiple of `size.multipleOf`;
 * undefined when the manifest does not fit in `exactly`. Pure.
 */
export function planPrefix(manifest: Buffer, following: Buffer[], mtime: number, size: { exactly: number } | { multipleOf: number }): InPlacePrefix | undefined {
  const unit = 'exactly' in size ? size.exactly : size.multipleOf;
  if (unit % BLOCK !== 0 || unit <= 0) throw new ArchiveError('usage', `in-place export: ${unit} is not a positive multiple of ${BLOCK}`);
  const dirHeader = encodeHeader(member(`${LAYOUT.checkpointDir}/`, 'dir', 0, 0o700, mtime));
  const fixed = dirHeader.length + following.reduce((n, b) => n + b.length, 0) + BLOCK; // + the manifest's own header
  let dataBlocks = Math.ceil(manifest.length / BLOCK);
  if ('exactly' in size) {
    if (fixed + dataBlocks * BLOCK > size.exactly) return undefined;
    dataBlocks = (size.exactly - fixed) / BLOCK;
  } else {
    while ((fixed + dataBlocks * BLOCK) % size.multipleOf !== 0) dataBlocks++;
  }
  let stored = manifest;
  if (dataBlocks * BLOCK - manifest.length >= BLOCK) {
    // Whitespace after the JSON document: still the same manifest to every JSON reader.
    const pad = Buffer.alloc(dataBlocks * BLOCK - manifest.length, 0x20);
    pad[pad.length - 1] = 0x0a;
    stored = Buffer.concat([manifest, pad]);
  }
  const manifestHeader = encodeHeader(member(MANIFEST_FILE, 'file', stored.length, 0o600, mtime));
  const prefix = Buffer.concat([manifestHeader, stored, Buffer.alloc(padding(stored.length)), dirHeader, ...following]);
  return { manifest: stored, prefix };
}

/** The header of an image member in the archive (one block, see encodeHeader's singleBlock). */
export function imageHeader(rel: string, size: number, mtime: number): Buffer {
  return encodeHeader(member(rel, 'file', size, 0o600, mtime), { singleBlock: true });
}

/** The biggest file directly in the checkpoint's image directory, when it is big enough to be worth it. */
export function pickBaseImage(dir: string): { rel: string; size: number } | undefined {
  let best: { rel: string; size: number } | undefined;
  const images = path.join(dir, LAYOUT.checkpointDir);
  for (const d of fs.readdirSync(images, { withFileTypes: true })) {
    if (!d.isFile()) continue;
    const size = fs.statSync(path.join(images, d.name)).size;
    if (!best || size > best.size) best = { rel: `${LAYOUT.checkpointDir}/${d.name}`, size };
  }
  return best && best.size >= IN_PLACE_MIN_BYTES ? best : undefined;
}

/** fallocate(1) from util-linux: opens (insert) or closes (collapse) `len` bytes at the start of `file`. */
export function shiftRange(file: string, how: 'insert' | 'collapse', len: number): string | undefined {
  const r = childProcess().spawnSync('fallocate', [`--${how}-range`, '--offset', '0', '--length', String(len), file], { encoding: 'utf8' });
  if (r.error) return errnoText(r.error);
  return r.status === 0 ? undefined : r.stderr.trim().split('\n')[0] || `exit ${r.status}`;
}

/** What exportInPlace made: the stored manifest's sha256 and the archive's size. */
export interface InPlaceResult {
  manifestSha256: string;
  bytes: number;
}

/**
 * Turns the checkpoint directory `dir` (consumed: its biggest image becomes the archive) into the
 * uncompressed archive `file`, going through `tmp` beside it. Returns undefined, with nothing changed, when
 * there is no big image or this filesystem cannot insert a range: the caller then copies.
 */
export async function exportInPlace(dir: string, file: string, tmp: string): Promise<InPlaceResult | undefined> {
  const base = pickBaseImage(dir);
  if (!base) return undefined;
  const basePath = path.join(dir, base.rel);
  const st = fs.statSync(path.dirname(path.resolve(tmp)));
  if (fs.statSync(basePath).dev !== st.dev) return undefined;
  const align = Math.max(BLOCK, fs.statfsSync(basePath).bsize);
  const manifestPath = path.join(dir, MANIFEST_FILE);
  const mtime = Math.floor(Date.now() / 1000);
  const plan = planPrefix(fs.readFileSync(manifestPath), [imageHeader(base.rel, base.size, mtime)], mtime, { multipleOf: align })!;
  if (shiftRange(basePath, 'insert', plan.prefix.length) !== undefined) return undefined;

  let moved = false;
  try {
    // The directory's manifest stays the one in the archive (a failure below leaves a usable directory).
    fs.writeFileSync(manifestPath, plan.manifest);
    const fd = fs.openSync(basePath, 'r+');
    try {
      if (fs.writeSync(fd, plan.prefix, 0, plan.prefix.length, 0) !== plan.prefix.length) throw new Error('short write');
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(basePath, tmp);
    moved = true;
    await appendRest(dir, tmp, base.rel);
    fs.renameSync(tmp, file);
  } catch (err) {
    restoreBase(basePath, tmp, moved, plan.prefix.length, base.size);
    throw err instanceof ArchiveError ? err : new ArchiveError('system', `export to ${file} failed: ${errnoText(err)}`);
  }
  return { manifestSha256: sha256().update(plan.manifest).digest('hex'), bytes: fs.statSync(file).size };
}

/**
 * GNU tar writes the checkpoint's other files (all but the manifest, the `checkpoint/` directory entry and
 * `baseRel`), and the end marker, straight onto the archive's end.
 */
export async function appendRest(dir: string, archive: string, baseRel?: string): Promise<void> {
  const names = fs.readdirSync(dir).filter((n) => n !== MANIFEST_FILE && n !== LAYOUT.checkpointDir);
  for (const n of fs.readdirSync(path.join(dir, LAYOUT.checkpointDir))) {
    const rel = `${LAYOUT.checkpointDir}/${n}`;
    if (rel !== baseRel) names.push(rel);
  }
  const fd = fs.openSync(archive, fs.constants.O_WRONLY | fs.constants.O_APPEND);
  try {
    const tar = startTar(tarCreateArgs(dir, names, false), ['ignore', fd]);
    const code = await tar.done;
    if (code !== 0) throw new ArchiveError('system', `tar failed (exit ${code}): ${tar.firstErrorLine()}`);
  } finally {
    fs.closeSync(fd);
  }
}

/** Undoes a failed in-place export: the pages file gets back its name and its original bytes. */
function restoreBase(basePath: string, tmp: string, moved: boolean, prefixLen: number, size: number): void {
  try {
    if (moved) fs.renameSync(tmp, basePath);
    fs.truncateSync(basePath, prefixLen + size);
    const why = shiftRange(basePath, 'collapse', prefixLen);
    if (why) throw new Error(why);
  } catch {
    /* the caller reports the export's own error; the directory it names may then be damaged */
  }
}
