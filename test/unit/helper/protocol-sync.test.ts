import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Op, Frame, ArgTag, Base, ParentMode, TargetKind, PROTOCOL_VERSION, encodePlan, encodeFrame, FrameDecoder, str, u32, u64, strlist } from '../../../src/helper/protocol';

// The header is the wire format's source of truth; this keeps the TS mirror honest.
const header = fs.readFileSync(path.join(__dirname, '../../../../native/include/protocol.h'), 'utf8');
const enumValue = (name: string): number => {
  const m = new RegExp(`\\b${name}\\s*=\\s*(\\d+)`).exec(header);
  assert.ok(m, `${name} missing from protocol.h`);
  return Number(m[1]);
};

test('every op code matches protocol.h', () => {
  for (const [name, value] of Object.entries(Op)) assert.equal(value, enumValue(`OP_${name}`), name);
});

test('frames, tags, bases, modes and the version match protocol.h', () => {
  for (const [k, v] of Object.entries(Frame)) assert.equal(v, enumValue(`FRAME_${k}`));
  for (const [k, v] of Object.entries(ArgTag)) assert.equal(v, enumValue(`ARG_${k}`));
  for (const [k, v] of Object.entries(Base)) assert.equal(v, enumValue(`BASE_${k}`));
  for (const [k, v] of Object.entries(ParentMode)) assert.equal(v, enumValue(`PARENT_${k}`));
  for (const [k, v] of Object.entries(TargetKind)) assert.equal(v, enumValue(`TARGET_${k}`));
  assert.equal(PROTOCOL_VERSION, Number(/STASIS_PROTOCOL_VERSION (\d+)/.exec(header)![1]));
});

test('a plan encodes to the documented byte layout', () => {
  const buf = encodePlan([{ op: 'SETHOSTNAME', args: [str('ab')], what: 'x' }, { op: 'CAPS', args: [u64(1n), u32(7), strlist(['x'])], what: 'y' }]);
  assert.equal(buf.readUInt32LE(0), PROTOCOL_VERSION);
  assert.equal(buf.readUInt32LE(4), 2);
  assert.equal(buf.readUInt16LE(8), Op.SETHOSTNAME);
  assert.equal(buf.readUInt32LE(12), 1 + 4 + 2);
  assert.deepEqual([...buf.subarray(16, 23)], [ArgTag.STR, 2, 0, 0, 0, 0x61, 0x62]);
  const second = 23;
  assert.equal(buf.readUInt16LE(second), Op.CAPS);
  assert.equal(buf.readUInt32LE(second + 4), 9 + 5 + (5 + 4 + 1));
});

test('NUL bytes in strings are refused instead of being silently truncated by C', () => {
  assert.throws(() => encodePlan([{ op: 'CHDIR', args: [str('a\0b')], what: '' }]), /NUL byte/);
});

test('the decoder reassembles events split across chunks', () => {
  const ev = Buffer.from(JSON.stringify({ type: 'pid', pid: 7 }));
  const frame = Buffer.concat([encodeFrame(Frame.EVENT, ev), encodeFrame(Frame.EVENT, Buffer.from('{"type":"ready"}'))]);
  const d = new FrameDecoder();
  assert.deepEqual(d.push(frame.subarray(0, 3)), []);
  assert.deepEqual(d.push(frame.subarray(3)), [{ type: 'pid', pid: 7 }, { type: 'ready' }]);
});
