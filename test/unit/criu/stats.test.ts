import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeStats, IMG_SERVICE_MAGIC, readStatsFile, STATS_MAGIC } from '../../../src/criu/stats';
import { statsEntryType } from '../../../src/criu/proto';

/** test/unit/criu/fixtures in the source tree (fixtures are not compiled into dist/). */
function fixture(name: string): string {
  for (const dir of [path.join(__dirname, 'fixtures'), path.resolve(__dirname, '../../../../test/unit/criu/fixtures')]) {
    if (fs.existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  throw new Error(`fixture ${name} not found`);
}

/** Builds a stats file the way CRIU writes one. */
function statsFile(entry: Record<string, unknown>): Buffer {
  const type = statsEntryType();
  const body = Buffer.from(type.encode(type.fromObject(entry)).finish());
  const head = Buffer.alloc(12);
  head.writeUInt32LE(IMG_SERVICE_MAGIC, 0);
  head.writeUInt32LE(STATS_MAGIC, 4);
  head.writeUInt32LE(body.length, 8);
  return Buffer.concat([head, body]);
}

test('stats-dump written by CRIU 4.2.1 decodes to milliseconds and page counts', () => {
  const stats = readStatsFile(fixture('stats-dump'));
  assert.equal(stats.restore, undefined);
  assert.deepEqual(stats.dump, {
    freezingTime: 0.153,
    frozenTime: 14.611,
    memdumpTime: 2.113,
    memwriteTime: 0.218,
    pagesScanned: 104,
    pagesSkippedParent: 0,
    pagesWritten: 73,
    pagesLazy: 0,
    irmapResolveTime: 0,
    pagePipes: 8,
    pagePipeBufs: 8,
    shpagesScanned: 0,
    shpagesSkippedParent: 0,
    shpagesWritten: 0,
  });
});

test('stats-restore written by CRIU 4.2.1 decodes', () => {
  const stats = readStatsFile(fixture('stats-restore'));
  assert.equal(stats.dump, undefined);
  assert.deepEqual(stats.restore, {
    forkingTime: 0.002,
    restoreTime: 5.988,
    pagesCompared: 0,
    pagesSkippedCow: 0,
    pagesRestored: 73,
  });
});

test('64-bit page counts survive decoding', () => {
  const buf = statsFile({
    dump: {
      freezingTime: 1000,
      frozenTime: 2000,
      memdumpTime: 3000,
      memwriteTime: 4000,
      pagesScanned: 5_000_000_000,
      pagesSkippedParent: 0,
      pagesWritten: 4_000_000_000,
      pagesLazy: 0,
    },
  });
  const d = decodeStats(buf).dump!;
  assert.equal(d.freezingTime, 1);
  assert.equal(d.memwriteTime, 4);
  assert.equal(d.pagesScanned, 5_000_000_000);
  assert.equal(d.pagesWritten, 4_000_000_000);
  assert.equal(d.irmapResolveTime, undefined);
});

test('a file without the service magic is still read', () => {
  const buf = statsFile({ restore: { pagesCompared: 1, pagesSkippedCow: 2, forkingTime: 3000, restoreTime: 9000 } });
  assert.deepEqual(decodeStats(buf.subarray(4)).restore, {
    forkingTime: 3,
    restoreTime: 9,
    pagesCompared: 1,
    pagesSkippedCow: 2,
  });
});

test('wrong magic, short and truncated files are refused with the file name', () => {
  assert.throws(() => decodeStats(Buffer.alloc(4), 'w/stats-dump'), /^Error: w\/stats-dump: too short/);
  const bad = statsFile({});
  bad.writeUInt32LE(0x12345678, 4);
  assert.throws(() => decodeStats(bad, 'x'), /x: bad magic 0x12345678/);
  const good = statsFile({ restore: { pagesCompared: 1, pagesSkippedCow: 2, forkingTime: 3, restoreTime: 4 } });
  assert.throws(() => decodeStats(good.subarray(0, good.length - 2), 'y'), /y: entry of \d+ bytes is truncated/);
});
