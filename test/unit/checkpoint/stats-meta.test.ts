/** --print-stats formatting and the checkpoint note (pure). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkpointTimings, formatCheckpointStats, formatRestoreStats, restoreTimings } from '../../../src/runtime/checkpoint-stats';
import { parseCheckpointMeta } from '../../../src/runtime/checkpoint-meta';

test('checkpoint table lists every phase in milliseconds', () => {
  const t = checkpointTimings(
    { freezingTime: 0.5, frozenTime: 140.25, memdumpTime: 4.3, memwriteTime: 0.2, pagesScanned: 50, pagesSkippedParent: 0, pagesWritten: 36, pagesLazy: 0 },
    0.4, 210, 223.4,
  );
  const out = formatCheckpointStats(t);
  for (const [k, v] of [['pre-freeze', '0.4'], ['freezing', '0.5'], ['frozen', '140.3'], ['memdump', '4.3'], ['memwrite', '0.2'], ['total', '223.4']]) {
    assert.match(out, new RegExp(`^  ${k}\\s+${v.replace('.', '\\.')} ms$`, 'm'));
  }
  assert.match(out, /^  pages written\s+36$/m);
});

test('missing CRIU stats count as zero', () => {
  assert.equal(checkpointTimings(undefined, 0, 1, 2).memdump, 0);
  assert.match(formatRestoreStats(restoreTimings(undefined, 5, 6)), /^  restore\s+0\.0 ms$/m);
});

test('the checkpoint note is validated and names its file', () => {
  const ok = parseCheckpointMeta(JSON.stringify({ version: 1, id: 'c', at: 'now', status: 'running', externalStdio: [] }), 'n.json');
  assert.equal(ok.status, 'running');
  assert.deepEqual(ok.externalMounts, []);
  assert.throws(() => parseCheckpointMeta('{"version":2}', 'n.json'), /n\.json is corrupt: not a stasis checkpoint note/);
  assert.throws(() => parseCheckpointMeta('nope', 'n.json'), /n\.json is corrupt: not valid JSON/);
});
