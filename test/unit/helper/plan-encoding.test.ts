import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgTag, Op, PROTOCOL_VERSION, encodePlan, str, strlist, u32, u64, type Arg, type Step } from '../../../src/helper/protocol';

/** Reads a PLAN payload back (the layout of docs/protocol.md), to check the encoder against it. */
function decodePlan(b: Buffer): { version: number; ops: { code: number; args: Arg[] }[] } {
  let p = 0;
  const u32le = () => {
    const v = b.readUInt32LE(p);
    p += 4;
    return v;
  };
  const string = () => {
    const n = u32le();
    const s = b.toString('utf8', p, p + n);
    p += n;
    return s;
  };
  const version = u32le();
  const count = u32le();
  const ops: { code: number; args: Arg[] }[] = [];
  for (let i = 0; i < count; i++) {
    const code = b.readUInt16LE(p);
    assert.equal(b.readUInt16LE(p + 2), 0, 'reserved');
    p += 4;
    const end = p + 4 + b.readUInt32LE(p);
    p += 4;
    const args: Arg[] = [];
    while (p < end) {
      const tag = b[p++];
      if (tag === ArgTag.U32) args.push(u32(u32le()));
      else if (tag === ArgTag.U64) {
        args.push(u64(b.readBigUInt64LE(p)));
        p += 8;
      } else if (tag === ArgTag.STR) args.push(str(string()));
      else if (tag === ArgTag.STRLIST) {
        const n = u32le();
        args.push(strlist(Array.from({ length: n }, string)));
      } else assert.fail(`unknown tag ${tag}`);
    }
    assert.equal(p, end, 'args length');
    ops.push({ code, args });
  }
  assert.equal(p, b.length, 'no trailing bytes');
  return { version, ops };
}

test('encodePlan: a plan far larger than the first buffer comes back intact (growth keeps every byte)', () => {
  const steps: Step[] = [];
  for (let i = 0; i < 300; i++) {
    steps.push({ op: 'WRITE_FILE', args: [u32(i), str(`/some/path/${'x'.repeat(i % 97)}`), str('é'.repeat(i % 13))], what: 'w' });
    steps.push({ op: 'SETRLIMIT', args: [u32(7), u64(2n ** 63n + BigInt(i)), u64(i)], what: 'r' });
    if (i % 10 === 0) steps.push({ op: 'EXEC', args: [strlist(Array.from({ length: 50 }, (_, j) => `arg-${i}-${j}`)), strlist([])], what: 'e' });
  }
  const encoded = encodePlan(steps);
  assert.ok(encoded.length > 3 * 16 * 1024, `plan of ${encoded.length} bytes`); // the writer starts at 16 KiB
  const { version, ops } = decodePlan(encoded);
  assert.equal(version, PROTOCOL_VERSION);
  assert.deepEqual(ops, steps.map((s) => ({ code: Op[s.op], args: s.args })));
});

test('encodePlan: a NUL byte in a string is refused', () => {
  assert.throws(() => encodePlan([{ op: 'WRITE_FILE', args: [u32(0), str('a\0b'), str('')], what: 'w' }]), /string contains a NUL byte/);
});
