/**
 * The helper refuses malformed plans with one error event, before any op has an effect.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HelperStepError, launch } from '../../src/helper/launcher';
import { Frame, Op, encodeFrame, encodePlan, str, strlist, u32, type Step } from '../../src/helper/protocol';
import { rawPlan, runRaw, skipReason, tempDir } from './core-harness';

const skip = skipReason();
const EINVAL = 22;
const EPROTO = 71;

function strArg(s: string): Buffer {
  const b = Buffer.from(s);
  const head = Buffer.alloc(5);
  head.writeUInt8(3, 0);
  head.writeUInt32LE(b.length, 1);
  return Buffer.concat([head, b]);
}

function u32Arg(v: number): Buffer {
  const b = Buffer.alloc(5);
  b.writeUInt8(1, 0);
  b.writeUInt32LE(v, 1);
  return b;
}

/** The only event of a run that must fail at plan level. */
async function planError(frames: Buffer) {
  const res = await runRaw(frames, { end: true });
  assert.equal(res.code, 1, 'the helper exits 1 on a refused plan');
  assert.equal(res.events.length, 1, `exactly one event, got ${JSON.stringify(res.events)}`);
  const ev = res.events[0];
  assert.equal(ev.type, 'error');
  if (ev.type !== 'error') throw new Error('unreachable');
  return ev;
}

test('an arg with the wrong tag is refused with EINVAL naming the step and op', { skip }, async () => {
  const steps: Step[] = [
    { op: 'UMASK', args: [u32(0o22)], what: 'set umask' },
    { op: 'SETNS', args: [u32(1)], what: 'join namespace' },
  ];
  await assert.rejects(launch(steps), (err: unknown) => {
    assert.ok(err instanceof HelperStepError);
    assert.equal(err.step, 1);
    assert.equal(err.op, 'SETNS');
    assert.equal(err.errno, EINVAL);
    assert.match(err.detail, /expected a str argument, found tag 1 \(u32\)/);
    assert.equal(err.message, 'join namespace: ' + err.detail);
    return true;
  });
});

test('a malformed op later in the plan stops the plan before the first op runs', { skip }, async (t) => {
  const dir = tempDir(t);
  const marker = path.join(dir, 'hook-ran');
  const steps: Step[] = [
    { op: 'RUN_HOOK', args: [str('/bin/sh'), strlist(['sh', '-c', `touch ${marker}`]), strlist([]), u32(5000)], what: 'hook' },
    { op: 'CHDIR', args: [str('/'), str('extra')], what: 'chdir' },
  ];
  await assert.rejects(launch(steps), (err: unknown) => {
    assert.ok(err instanceof HelperStepError);
    assert.equal(err.step, 1);
    assert.match(err.detail, /unexpected trailing bytes/);
    return true;
  });
  assert.equal(fs.existsSync(marker), false, 'the valid first op must not have run');
});

test('a wrong protocol version is refused', { skip }, async () => {
  const ev = await planError(encodeFrame(Frame.PLAN, rawPlan([], 99)));
  assert.equal(ev.step, -1);
  assert.equal(ev.op, 'PLAN');
  assert.equal(ev.errno, EPROTO);
  assert.match(ev.message, /version 99/);
});

test('an unknown op code is refused', { skip }, async () => {
  const ev = await planError(encodeFrame(Frame.PLAN, rawPlan([{ code: 99, args: Buffer.alloc(0) }])));
  assert.equal(ev.step, 0);
  assert.equal(ev.op, 'UNKNOWN');
  assert.match(ev.message, /unknown op code 99/);
  const reserved = await planError(encodeFrame(Frame.PLAN, rawPlan([{ code: 39, args: Buffer.alloc(0) }])));
  assert.match(reserved.message, /unknown op code 39/);
});

test('truncated plans, args running past the end and bogus counts are refused', { skip }, async () => {
  const one = { code: Op.UMASK, args: u32Arg(0o22) };
  const tooFew = await planError(encodeFrame(Frame.PLAN, rawPlan([one], 1, 3)));
  assert.match(tooFew.message, /plan claims 3 ops|truncated/);

  const cut = rawPlan([one]).subarray(0, 8 + 8 + 3);
  const cutEv = await planError(encodeFrame(Frame.PLAN, cut));
  assert.match(cutEv.message, /run past the end|truncated/);

  const huge = Buffer.alloc(5);
  huge.writeUInt8(4, 0);
  huge.writeUInt32LE(0xffffffff, 1);
  const hugeEv = await planError(encodeFrame(Frame.PLAN, rawPlan([{ code: Op.FDMAP, args: huge }])));
  assert.equal(hugeEv.op, 'FDMAP');
  assert.match(hugeEv.message, /strlist claims 4294967295 items/);

  const shortStr = Buffer.from([3, 50, 0, 0, 0, 65]);
  const strEv = await planError(encodeFrame(Frame.PLAN, rawPlan([{ code: Op.CHDIR, args: shortStr }])));
  assert.match(strEv.message, /str argument truncated/);

  const nul = await planError(encodeFrame(Frame.PLAN, rawPlan([{ code: Op.CHDIR, args: strArg('/tmp\0/etc') }])));
  assert.match(nul.message, /contains a NUL byte/);

  const reserved = await planError(encodeFrame(Frame.PLAN, rawPlan([{ ...one, reserved: 7 }])));
  assert.match(reserved.message, /reserved field/);

  const trailing = await planError(encodeFrame(Frame.PLAN, Buffer.concat([rawPlan([one]), Buffer.from([1, 2])])));
  assert.match(trailing.message, /2 unexpected bytes after the last op/);
});

test('a first frame that is not PLAN, or an empty frame, is refused', { skip }, async () => {
  const notPlan = await planError(encodeFrame(Frame.CONTINUE, Buffer.from('x')));
  assert.equal(notPlan.errno, EPROTO);
  assert.match(notPlan.message, /first frame has kind 2/);

  const empty = await planError(Buffer.from([0, 0, 0, 0]));
  assert.match(empty.message, /frame length 0/);

  const hugeLen = Buffer.from([0xff, 0xff, 0xff, 0x7f, 1]);
  const big = await planError(hugeLen);
  assert.match(big.message, /exceeds the limit/);

  const closed = await planError(Buffer.alloc(0));
  assert.match(closed.message, /ctl closed before a frame arrived/);
});

test('a well-formed plan with messages full of quotes and control characters yields valid JSON', { skip }, async () => {
  const weird = '/no/such "dir"\\\n\t\u0001é';
  const steps: Step[] = [{ op: 'CHDIR', args: [str(weird)], what: 'chdir' }];
  await assert.rejects(launch(steps), (err: unknown) => {
    assert.ok(err instanceof HelperStepError);
    assert.equal(err.detail, `chdir ${weird}: No such file or directory`);
    assert.equal(err.errno, 2);
    return true;
  });
  // encodePlan is only used here to show the plan itself was valid.
  assert.ok(encodePlan(steps).length > 8);
});
