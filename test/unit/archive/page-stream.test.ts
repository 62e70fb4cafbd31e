import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manifestReserve, parseDrained, parseStreamReport } from '../../../src/archive/page-stream';
import { imageHeader, planPrefix } from '../../../src/archive/export-in-place';
import { decodeHeader, noPending } from '../../../src/archive/tar-format';

test('the streamer report: members, spills, unused FIFOs; an error line becomes the error', () => {
  const r = parseStreamReport(`member pages-1.img 65536 1048576 ${'a'.repeat(64)}\nspill pages-2.img 8192 ${'b'.repeat(64)}\nunused pages-3.img\n`);
  assert.deepEqual(r.members, [{ name: 'pages-1.img', header: 65536, size: 1048576, sha256: 'a'.repeat(64) }]);
  assert.deepEqual(r.spills, [{ name: 'pages-2.img', size: 8192, sha256: 'b'.repeat(64) }]);
  assert.deepEqual(r.unused, ['pages-3.img']);
  assert.throws(() => parseStreamReport('error splice 28 /x/pages-1.img: No space left on device\n'), /page streaming failed: splice 28 .*No space left/);
  assert.throws(() => parseStreamReport('member pages-1.img 100 5 x\n'), /bad offsets for pages-1\.img/);
  assert.throws(() => parseStreamReport('what\n'), /unexpected report line/);
});

test('the room kept for the manifest grows with the processes and stays block-aligned', () => {
  assert.ok(manifestReserve(1) >= 64 * 1024);
  assert.ok(manifestReserve(100) > manifestReserve(1));
  for (const n of [0, 1, 7, 300]) assert.equal(manifestReserve(n) % 4096, 0);
});

test('a prefix of an exact size: the manifest fills it, or the plan says it does not fit', () => {
  const json = Buffer.from(`${JSON.stringify({ files: 'x'.repeat(3000) })}\n`);
  const p = planPrefix(json, [], 1700000000, { exactly: 64 * 1024 })!;
  assert.equal(p.prefix.length, 64 * 1024);
  assert.deepEqual(JSON.parse(p.manifest.toString()), JSON.parse(json.toString()));
  assert.equal(planPrefix(json, [], 1700000000, { exactly: 2048 }), undefined);
});

test('an image header always fits its one-block hole: sizes beyond octal go base-256', () => {
  for (const size of [0, 4096, 2 ** 33 - 1, 2 ** 33, 40 * 2 ** 30]) {
    const block = imageHeader('checkpoint/pages-1.img', size, 1700000000);
    assert.equal(block.length, 512);
    const h = decodeHeader(block, noPending());
    assert.equal(h.kind, 'member');
    if (h.kind === 'member') assert.equal(h.header.size, size);
  }
  assert.throws(() => imageHeader(`checkpoint/${'x'.repeat(120)}.img`, 1, 0), /does not fit in one header block/);
});

test('parseDrained: where each image is, spilled ones by name; bad offsets refused; the final report skips these lines', () => {
  const text = 'spliced pages-1.img 65536 4096\nspilled pages-2.img 8192\n';
  assert.deepEqual(parseDrained(text), { spliced: [{ name: 'pages-1.img', header: 65536, size: 4096 }], spilled: ['pages-2.img'] });
  assert.throws(() => parseDrained('spliced pages-1.img 100 4096\n'), /bad offsets for pages-1\.img/);
  const report = parseStreamReport(`ready\n${text}drained\nmember pages-1.img 65536 4096 ${'a'.repeat(64)}\n`);
  assert.deepEqual(report.members.map((m) => m.name), ['pages-1.img']);
});
