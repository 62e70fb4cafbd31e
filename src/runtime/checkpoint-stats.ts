/**
 * `--print-stats`: per-phase timings of a checkpoint or restore, from CRIU's own statistics file plus the
 * times stasis measures around it. Printed as a small table and saved as stats.json next to the images.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DumpStats, RestoreStats } from '../criu/stats';

/** File name of the saved statistics in the image directory. */
export const STATS_JSON_FILE = 'stats.json';

/** Timings of one checkpoint, in milliseconds, and CRIU's page counts. */
export interface CheckpointTimings {
  /** stasis freezing the cgroup before CRIU starts (0 when it was already paused or the pre-freeze is off). */
  preFreeze: number;
  /** CRIU's phases (stats-dump). */
  freezing: number;
  frozen: number;
  memdump: number;
  memwrite: number;
  /** The CRIU request, wall clock. */
  criu: number;
  /** The whole command, from lock to cleanup. */
  total: number;
  pagesScanned: number;
  pagesWritten: number;
}

/** Timings of one restore, in milliseconds. */
export interface RestoreTimings {
  /** CRIU's phases (stats-restore). */
  forking: number;
  restore: number;
  criu: number;
  total: number;
  pagesRestored: number;
}

/** Builds checkpoint timings from CRIU's stats (missing stats count as 0). */
export function checkpointTimings(d: DumpStats | undefined, preFreeze: number, criu: number, total: number): CheckpointTimings {
  return {
    preFreeze,
    freezing: d?.freezingTime ?? 0,
    frozen: d?.frozenTime ?? 0,
    memdump: d?.memdumpTime ?? 0,
    memwrite: d?.memwriteTime ?? 0,
    criu,
    total,
    pagesScanned: d?.pagesScanned ?? 0,
    pagesWritten: d?.pagesWritten ?? 0,
  };
}

/** Builds restore timings from CRIU's stats. */
export function restoreTimings(r: RestoreStats | undefined, criu: number, total: number): RestoreTimings {
  return {
    forking: r?.forkingTime ?? 0,
    restore: r?.restoreTime ?? 0,
    criu,
    total,
    pagesRestored: r?.pagesRestored ?? 0,
  };
}

const ms = (v: number): string => `${v.toFixed(1)} ms`;

function table(title: string, rows: [string, string][]): string {
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  return `${title}\n${rows.map(([k, v]) => `  ${k.padEnd(width)}${v.padStart(12)}`).join('\n')}\n`;
}

/** The --print-stats table of a checkpoint. */
export function formatCheckpointStats(t: CheckpointTimings): string {
  return table('checkpoint statistics', [
    ['pre-freeze', ms(t.preFreeze)],
    ['freezing', ms(t.freezing)],
    ['frozen', ms(t.frozen)],
    ['memdump', ms(t.memdump)],
    ['memwrite', ms(t.memwrite)],
    ['criu', ms(t.criu)],
    ['total', ms(t.total)],
    ['pages scanned', String(t.pagesScanned)],
    ['pages written', String(t.pagesWritten)],
  ]);
}

/** The --print-stats table of a restore. */
export function formatRestoreStats(t: RestoreTimings): string {
  return table('restore statistics', [
    ['forking', ms(t.forking)],
    ['restore', ms(t.restore)],
    ['criu', ms(t.criu)],
    ['total', ms(t.total)],
    ['pages restored', String(t.pagesRestored)],
  ]);
}

/** Writes stats.json into `dir`, merging with what is there (a restore adds to a checkpoint's entry). */
export function saveStats(dir: string, key: 'checkpoint' | 'restore', value: CheckpointTimings | RestoreTimings): void {
  const file = path.join(dir, STATS_JSON_FILE);
  let data: Record<string, unknown> = {};
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    /* first stats for this image */
  }
  data[key] = value;
  fs.writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
}
