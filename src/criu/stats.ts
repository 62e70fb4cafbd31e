/**
 * Decodes CRIU's statistics files, `stats-dump` and `stats-restore`, which CRIU writes into the work
 * directory after a dump or restore. This gives per-phase timings (like `podman --print-stats`) for free.
 *
 * File layout: u32 IMG_SERVICE_MAGIC, u32 STATS_MAGIC (little endian), then one stats_entry prefixed by its
 * u32 length. Times in the file are microseconds; here they are milliseconds.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeStatsEntry } from './proto';

/** Magic of CRIU's "service" files (stats, irmap cache), which precedes the per-file magic. */
export const IMG_SERVICE_MAGIC = 0x55105940;
/** Magic of the stats image. */
export const STATS_MAGIC = 0x57093306;

/** Dump timings (ms) and page counts. */
export interface DumpStats {
  freezingTime: number;
  frozenTime: number;
  memdumpTime: number;
  memwriteTime: number;
  pagesScanned: number;
  pagesSkippedParent: number;
  pagesWritten: number;
  pagesLazy: number;
  irmapResolveTime?: number;
  pagePipes?: number;
  pagePipeBufs?: number;
  shpagesScanned?: number;
  shpagesSkippedParent?: number;
  shpagesWritten?: number;
}

/** Restore timings (ms) and page counts. */
export interface RestoreStats {
  forkingTime: number;
  restoreTime: number;
  pagesCompared: number;
  pagesSkippedCow: number;
  pagesRestored?: number;
}

/** One decoded stats file: `dump` for stats-dump, `restore` for stats-restore. */
export interface CriuStats {
  dump?: DumpStats;
  restore?: RestoreStats;
}

/** Names of the stats files in a work directory. */
export const STATS_DUMP_FILE = 'stats-dump';
export const STATS_RESTORE_FILE = 'stats-restore';

const usToMs = (us: number): number => us / 1000;

/** Decodes the bytes of a stats file; `name` is used in error messages. */
export function decodeStats(buf: Buffer, name = 'stats'): CriuStats {
  if (buf.length < 8) throw new Error(`${name}: too short for a CRIU stats image (${buf.length} bytes)`);
  let off = 0;
  // The service magic is written by every CRIU since 3.x; tolerate its absence (older image format).
  if (buf.readUInt32LE(0) === IMG_SERVICE_MAGIC) off = 4;
  const magic = buf.readUInt32LE(off);
  if (magic !== STATS_MAGIC) throw new Error(`${name}: bad magic 0x${magic.toString(16)}, not a CRIU stats image`);
  off += 4;
  if (buf.length < off + 4) throw new Error(`${name}: truncated before the entry size`);
  const size = buf.readUInt32LE(off);
  off += 4;
  if (buf.length < off + size) throw new Error(`${name}: entry of ${size} bytes is truncated`);
  const raw = decodeStatsEntry(buf.subarray(off, off + size));

  const out: CriuStats = {};
  if (raw.dump) {
    const d = raw.dump;
    out.dump = {
      freezingTime: usToMs(d.freezingTime ?? 0),
      frozenTime: usToMs(d.frozenTime ?? 0),
      memdumpTime: usToMs(d.memdumpTime ?? 0),
      memwriteTime: usToMs(d.memwriteTime ?? 0),
      pagesScanned: d.pagesScanned ?? 0,
      pagesSkippedParent: d.pagesSkippedParent ?? 0,
      pagesWritten: d.pagesWritten ?? 0,
      pagesLazy: d.pagesLazy ?? 0,
    };
    if (d.irmapResolve !== undefined) out.dump.irmapResolveTime = usToMs(d.irmapResolve);
    for (const key of ['pagePipes', 'pagePipeBufs', 'shpagesScanned', 'shpagesSkippedParent', 'shpagesWritten'] as const) {
      if (d[key] !== undefined) out.dump[key] = d[key];
    }
  }
  if (raw.restore) {
    const r = raw.restore;
    out.restore = {
      forkingTime: usToMs(r.forkingTime ?? 0),
      restoreTime: usToMs(r.restoreTime ?? 0),
      pagesCompared: r.pagesCompared ?? 0,
      pagesSkippedCow: r.pagesSkippedCow ?? 0,
    };
    if (r.pagesRestored !== undefined) out.restore.pagesRestored = r.pagesRestored;
  }
  return out;
}

/** Reads and decodes one stats file. */
export function readStatsFile(file: string): CriuStats {
  return decodeStats(fs.readFileSync(file), file);
}

/** The dump statistics in a work directory, or undefined when CRIU wrote none. */
export function readDumpStats(workDir: string): DumpStats | undefined {
  const file = path.join(workDir, STATS_DUMP_FILE);
  return fs.existsSync(file) ? readStatsFile(file).dump : undefined;
}

/** The restore statistics in a work directory, or undefined when CRIU wrote none. */
export function readRestoreStats(workDir: string): RestoreStats | undefined {
  const file = path.join(workDir, STATS_RESTORE_FILE);
  return fs.existsSync(file) ? readStatsFile(file).restore : undefined;
}
