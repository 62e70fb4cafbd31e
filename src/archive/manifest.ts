/**
 * stasis-manifest.json: what a checkpoint directory holds (every file's size and sha256) and what it needs
 * from the host (architecture, CPU features, CRIU). `verifyCheckpointDir` checks it before anything else
 * touches the checkpoint, so a damaged, truncated, tampered or foreign checkpoint is refused with one line
 * naming the file or the mismatch.
 */
import { STASIS_VERSION } from '../version';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ArchiveError, errnoCode, errnoText } from './errors';
import { sha256File } from './hash';
import type { KnownHashes } from './growing-hash';
import { compareVersions, readHostInfo, type HostInfo } from './host-info';

/** File name of the manifest, at the top of the checkpoint directory. */
export const MANIFEST_FILE = 'stasis-manifest.json';
/** stasis's version when the caller does not say (keep in step with src/cli/main.ts). */

/** One file of the checkpoint. */
export interface ManifestFile {
  /** Relative to the checkpoint directory, '/'-separated. */
  path: string;
  size: number;
  /** Lower-case hex. */
  sha256: string;
}

/** The manifest's content (version 1). */
export interface Manifest {
  version: 1;
  stasisVersion: string;
  /** RFC 3339. */
  createdAt: string;
  /** CRIU that made the images, or null when unknown. */
  criuVersion: string | null;
  /** `uname -r` of the dumping host (informational: restore warns when it differs). */
  kernel: string;
  /** `uname -m` of the dumping host: restore refuses another architecture. */
  arch: string;
  /** CPU features the restored program may use: restore refuses a host lacking any of them. */
  cpu: { source: '/proc/cpuinfo'; features: string[] };
  /** Every regular file except the manifest, sorted by path. */
  files: ManifestFile[];
}

/** Options of `createManifest` / `writeManifest`. */
export interface ManifestOptions {
  /** Facts of the dumping host (default: read from this host). */
  host?: HostInfo;
  stasisVersion?: string;
  now?: Date;
  /** Told about every hashed chunk (progress). */
  onBytes?: (n: number) => void;
  /** Hashes already computed (growing-hash.ts), used when the file still has the size they cover. */
  known?: KnownHashes;
  /** Files that are no longer in the directory because they already are in the archive (page-stream.ts). */
  inArchive?: ManifestFile[];
}

/** What `verifyCheckpointDir` found acceptable but worth saying. */
export interface VerifyResult {
  manifest: Manifest;
  /** One line each: kernel or CRIU differences that do not block a restore. */
  warnings: string[];
}

/** Compares paths the same way everywhere (UTF-16 code units: stable, locale-free). */
export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * What CRIU writes into the image directory at every restore (its statistics): never read by a restore, so
 * a second restore of an unpacked checkpoint must not see it as an extra file.
 */
const RESTORE_BYPRODUCTS = ['checkpoint/stats-restore'];

/**
 * Every regular file under `dir` except the manifest (and restore's by-products), with its size, sorted. Anything that is not a regular
 * file or a directory (symlink, device, fifo, socket) is refused: a checkpoint never needs one. `skip` leaves
 * out what it is true for (relative path, lstat), before that check.
 */
export function listCheckpointFiles(dir: string, skip?: (rel: string, st: fs.Stats) => boolean): { path: string; size: number }[] {
  const out: { path: string; size: number }[] = [];
  const walk = (rel: string) => {
    const abs = rel ? path.join(dir, rel) : dir;
    let names: string[];
    try {
      names = fs.readdirSync(abs);
    } catch (err) {
      throw new ArchiveError(errnoCode(err) === 'ENOENT' ? 'usage' : 'system', `cannot read directory ${abs}: ${errnoText(err)}`);
    }
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      if (r === MANIFEST_FILE || RESTORE_BYPRODUCTS.includes(r)) continue;
      const st = fs.lstatSync(path.join(dir, r));
      if (skip?.(r, st)) continue;
      if (st.isDirectory()) walk(r);
      else if (st.isFile()) out.push({ path: r, size: st.size });
      else throw new ArchiveError('unsafe', `${r} is ${kindOf(st)}: not allowed in a checkpoint`);
    }
  };
  walk('');
  return out.sort((a, b) => comparePaths(a.path, b.path));
}

function kindOf(st: fs.Stats): string {
  if (st.isSymbolicLink()) return 'a symlink';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device node';
  if (st.isFIFO()) return 'a fifo';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * The hashes of the files of a checkpoint directory that `skip` leaves out (see listCheckpointFiles), for
 * createManifest's `known`: hashed while something else (the page streamer) still works on the rest.
 */
export async function hashFilesOf(dir: string, skip: (rel: string, st: fs.Stats) => boolean): Promise<KnownHashes> {
  const out: KnownHashes = new Map();
  for (const f of listCheckpointFiles(dir, skip)) out.set(f.path, await sha256File(path.join(dir, f.path)));
  return out;
}

/** Hashes every file of `dir` and returns the manifest (not written). */
export async function createManifest(dir: string, opts: ManifestOptions = {}): Promise<Manifest> {
  const host = opts.host ?? readHostInfo();
  const files: ManifestFile[] = [];
  for (const f of listCheckpointFiles(dir)) {
    const known = opts.known?.get(f.path);
    const { sha256, size } = known && known.size === f.size ? known : await sha256File(path.join(dir, f.path), opts.onBytes);
    files.push({ path: f.path, size, sha256 });
  }
  for (const f of opts.inArchive ?? []) {
    if (files.some((g) => g.path === f.path)) throw new ArchiveError('system', `${f.path} is both in the directory and in the archive`);
    files.push(f);
  }
  files.sort((a, b) => comparePaths(a.path, b.path));
  return {
    version: 1,
    stasisVersion: opts.stasisVersion ?? STASIS_VERSION,
    createdAt: (opts.now ?? new Date()).toISOString(),
    criuVersion: host.criuVersion,
    kernel: host.kernel,
    arch: host.arch,
    cpu: { source: '/proc/cpuinfo', features: [...host.cpuFeatures].sort() },
    files,
  };
}

/** Creates the manifest and writes it to `<dir>/stasis-manifest.json` (atomically, mode 0600). */
export async function writeManifest(dir: string, opts: ManifestOptions = {}): Promise<Manifest> {
  const m = await createManifest(dir, opts);
  const file = path.join(dir, MANIFEST_FILE);
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, `${JSON.stringify(m, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
  return m;
}

const SHA256 = /^[0-9a-f]{64}$/;

/** Parses and checks the manifest's shape; `file` names it in errors. */
export function parseManifest(text: string, file = MANIFEST_FILE): Manifest {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ArchiveError('corrupt', `${file} is corrupt: not valid JSON`);
  }
  const m = v as Partial<Manifest> | null;
  const bad = (what: string) => new ArchiveError('corrupt', `${file} is corrupt: ${what}`);
  if (!m || typeof m !== 'object') throw bad('not an object');
  if (m.version !== 1) throw bad(`unsupported version ${JSON.stringify(m.version)}`);
  if (typeof m.arch !== 'string' || !m.arch) throw bad('arch missing');
  if (typeof m.kernel !== 'string') throw bad('kernel missing');
  if (m.criuVersion !== null && typeof m.criuVersion !== 'string') throw bad('criuVersion missing');
  if (!m.cpu || !Array.isArray(m.cpu.features) || !m.cpu.features.every((f) => typeof f === 'string')) throw bad('cpu.features missing');
  if (!Array.isArray(m.files)) throw bad('files missing');
  const seen = new Set<string>();
  for (const f of m.files) {
    if (!f || typeof f.path !== 'string' || !Number.isSafeInteger(f.size) || f.size < 0 || typeof f.sha256 !== 'string' || !SHA256.test(f.sha256)) {
      throw bad(`bad file entry ${JSON.stringify(f?.path ?? f)}`);
    }
    const clean = f.path.split('/').filter((p) => p && p !== '.');
    if (f.path.startsWith('/') || clean.includes('..') || clean.join('/') !== f.path || f.path === MANIFEST_FILE) {
      throw bad(`unsafe file path ${JSON.stringify(f.path)}`);
    }
    if (seen.has(f.path)) throw bad(`file ${f.path} listed twice`);
    seen.add(f.path);
  }
  return m as Manifest;
}

/**
 * Refuses a checkpoint this host cannot run (other architecture, a CPU feature missing); returns warnings
 * for differences that usually work (kernel release, an older CRIU than the one that dumped).
 */
export function checkCompatibility(m: Manifest, host: HostInfo): string[] {
  if (m.arch !== host.arch) {
    throw new ArchiveError('incompatible', `checkpoint is for ${m.arch}, this host is ${host.arch}`);
  }
  const have = new Set(host.cpuFeatures);
  const missing = m.cpu.features.filter((f) => !have.has(f));
  if (missing.length) {
    throw new ArchiveError('incompatible', `this host's CPU lacks feature${missing.length > 1 ? 's' : ''} the checkpoint may use: ${missing.join(' ')}`);
  }
  const warnings: string[] = [];
  if (m.kernel !== host.kernel) warnings.push(`checkpoint made on kernel ${m.kernel}, this host runs ${host.kernel}`);
  if (m.criuVersion && !host.criuVersion) warnings.push(`checkpoint made with criu ${m.criuVersion}, no criu found here`);
  else if (m.criuVersion && host.criuVersion && compareVersions(host.criuVersion, m.criuVersion) < 0) {
    warnings.push(`checkpoint made with criu ${m.criuVersion}, this host has older ${host.criuVersion}`);
  }
  return warnings;
}

/** Reads and parses `<dir>/stasis-manifest.json`. */
export function readManifest(dir: string): Manifest {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw new ArchiveError('corrupt', `${dir} has no ${MANIFEST_FILE}: not a verifiable stasis checkpoint`);
    throw new ArchiveError('system', `cannot read ${file}: ${errnoText(err)}`);
  }
  return parseManifest(text, file);
}

/**
 * Compares the files found with the manifest's list: the first extra, missing or resized file is an error.
 * Pure: `found` is `listCheckpointFiles(dir)`.
 */
export function compareFileSets(m: Manifest, found: readonly { path: string; size: number }[]): void {
  const want = new Map(m.files.map((f) => [f.path, f]));
  for (const f of found) {
    const w = want.get(f.path);
    if (!w) throw new ArchiveError('corrupt', `${f.path} is not in the manifest (extra file)`);
    if (f.size !== w.size) throw new ArchiveError('corrupt', sizeMismatch(f.path, f.size, w.size));
    want.delete(f.path);
  }
  const missing = [...want.keys()];
  if (missing.length) throw new ArchiveError('corrupt', `${missing[0]} is missing${missing.length > 1 ? ` (and ${missing.length - 1} more files)` : ''}`);
}

/** "x is truncated: 10 bytes, the manifest says 20". */
export function sizeMismatch(file: string, size: number, want: number): string {
  return `${file} is ${size < want ? 'truncated' : 'larger than recorded'}: ${size} bytes, the manifest says ${want}`;
}

/**
 * Checks a checkpoint directory against its manifest: compatibility with `host` first (cheap), then the set
 * of files and their sizes, then every sha256 (streamed). Throws an ArchiveError naming the first problem.
 */
export async function verifyCheckpointDir(
  dir: string,
  host: HostInfo = readHostInfo(),
  opts: { onBytes?: (n: number) => void } = {},
): Promise<VerifyResult> {
  const m = readManifest(dir);
  const warnings = checkCompatibility(m, host);
  compareFileSets(m, listCheckpointFiles(dir));
  for (const f of m.files) {
    const { sha256, size } = await sha256File(path.join(dir, f.path), opts.onBytes);
    if (size !== f.size) throw new ArchiveError('corrupt', sizeMismatch(f.path, size, f.size));
    if (sha256 !== f.sha256) throw new ArchiveError('corrupt', `${f.path} is corrupt: sha256 differs from the manifest`);
  }
  return { manifest: m, warnings };
}
