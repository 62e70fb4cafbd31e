/**
 * The cgroup v2 device program compiler, checked by running its output: a small interpreter for the eBPF
 * instructions it emits evaluates device requests, and the answers are compared with a plain reference
 * evaluation of the same rules (last matching rule wins, allow needs every requested bit, deny any).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BPF_INSN_SIZE, DEVCG_ACC_MKNOD, DEVCG_ACC_READ, DEVCG_ACC_WRITE, DEVCG_DEV_BLOCK, DEVCG_DEV_CHAR,
  compileDeviceProgram, deviceProgramInsns, normalizeDeviceRule,
} from '../../../src/cgroups/v2/device-program';
import { resourcesForCreate } from '../../../src/runtime/cgroup';
import type { LinuxDeviceCgroup } from '../../../src/cgroups/types';
import type { Spec } from '../../../src/spec/types';

interface Request {
  type: 'b' | 'c';
  major: number;
  minor: number;
  /** DEVCG_ACC_* bits */
  access: number;
}

const MASK32 = 0xffffffffn;

/** Runs a compiled program on one request, the way the kernel calls it; returns r0. */
function run(prog: Buffer, req: Request): number {
  assert.equal(prog.length % BPF_INSN_SIZE, 0);
  const ctx = [(req.access << 16) | (req.type === 'b' ? DEVCG_DEV_BLOCK : DEVCG_DEV_CHAR), req.major, req.minor];
  const reg: (bigint | undefined)[] = new Array(11).fill(undefined);
  reg[1] = -1n; // the ctx pointer: only ever used as the base of loads
  const n = prog.length / BPF_INSN_SIZE;
  const get = (r: number) => {
    const v = reg[r];
    assert.notEqual(v, undefined, `r${r} read before it was written`);
    return v as bigint;
  };
  for (let pc = 0, steps = 0; ; pc++, steps++) {
    assert.ok(pc >= 0 && pc < n, `pc ${pc} out of the program`);
    assert.ok(steps < 10_000);
    const o = pc * BPF_INSN_SIZE;
    const code = prog.readUInt8(o);
    const dst = prog.readUInt8(o + 1) & 0x0f;
    const src = prog.readUInt8(o + 1) >> 4;
    const off = prog.readInt16LE(o + 2);
    const imm = BigInt(prog.readInt32LE(o + 4));
    const jump = (taken: boolean) => {
      assert.ok(off >= 0, 'only forward jumps');
      if (taken) pc += off;
    };
    switch (code) {
      case 0x61: // ldxw dst, [src+off]
        assert.equal(get(src), -1n, 'loads only from the ctx');
        assert.ok(off % 4 === 0 && off >= 0 && off <= 8);
        reg[dst] = BigInt(ctx[off / 4] >>> 0);
        break;
      case 0xbf: reg[dst] = get(src); break; // mov64 dst, src
      case 0xb7: reg[dst] = imm; break; // mov64 dst, imm
      case 0x54: reg[dst] = (get(dst) & imm) & MASK32; break; // and32
      case 0x74: reg[dst] = (get(dst) & MASK32) >> imm; break; // rsh32
      case 0x55: jump(get(dst) !== imm); break; // jne imm
      case 0x15: jump(get(dst) === imm); break; // jeq imm
      case 0x95: return Number(get(0)); // exit
      default: assert.fail(`unexpected opcode 0x${code.toString(16)} at ${pc}`);
    }
  }
}

/** The rules' meaning, written as plainly as possible. */
function reference(rules: LinuxDeviceCgroup[], req: Request): number {
  for (let i = rules.length - 1; i >= 0; i--) {
    const r = normalizeDeviceRule(rules[i], 'x');
    if (r.type === 'a') return r.allow ? 1 : 0;
    if (r.type !== req.type) continue;
    if (r.major !== -1 && r.major !== req.major) continue;
    if (r.minor !== -1 && r.minor !== req.minor) continue;
    const matches = r.allow ? (req.access & ~r.access) === 0 : (req.access & r.access) !== 0;
    if (matches) return r.allow ? 1 : 0;
  }
  return 0;
}

const R = DEVCG_ACC_READ, W = DEVCG_ACC_WRITE, M = DEVCG_ACC_MKNOD;

/** The device list a default `stasis spec` container gets. */
function defaultContainerRules(): LinuxDeviceCgroup[] {
  const spec = { ociVersion: '1.0.2', linux: { resources: { devices: [{ allow: false, access: 'rwm' }] } } } as unknown as Spec;
  return resourcesForCreate(spec).devices!;
}

test('default container rules: /dev/null, /dev/zero, ptys allowed; block devices and unknown chars denied', () => {
  const rules = defaultContainerRules();
  const prog = compileDeviceProgram(rules);
  const cases: [Request, number][] = [
    [{ type: 'c', major: 1, minor: 3, access: R | W }, 1], // /dev/null
    [{ type: 'c', major: 1, minor: 3, access: M }, 1],
    [{ type: 'c', major: 1, minor: 5, access: R }, 1], // /dev/zero
    [{ type: 'c', major: 1, minor: 9, access: R }, 1], // /dev/urandom
    [{ type: 'c', major: 5, minor: 2, access: R | W }, 1], // /dev/ptmx
    [{ type: 'c', major: 136, minor: 7, access: R | W }, 1], // /dev/pts/7
    [{ type: 'c', major: 1, minor: 1, access: R }, 0], // /dev/mem
    [{ type: 'b', major: 8, minor: 0, access: R }, 0], // /dev/sda
    [{ type: 'b', major: 8, minor: 0, access: M }, 0],
    [{ type: 'b', major: 1, minor: 3, access: R }, 0], // same numbers as /dev/null but a block device
    [{ type: 'c', major: 10, minor: 200, access: R | W }, 0], // /dev/net/tun
  ];
  for (const [req, want] of cases) assert.equal(run(prog, req), want, JSON.stringify(req));
});

test('last matching rule wins; partial access rules', () => {
  const rules: LinuxDeviceCgroup[] = [
    { allow: false, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
    { allow: false, type: 'c', major: 1, minor: 3, access: 'w' },
    { allow: true, type: 'b', major: 8, access: 'r' },
  ];
  const prog = compileDeviceProgram(rules);
  assert.equal(run(prog, { type: 'c', major: 1, minor: 3, access: R }), 1);
  assert.equal(run(prog, { type: 'c', major: 1, minor: 3, access: W }), 0, 'the later deny w wins');
  assert.equal(run(prog, { type: 'c', major: 1, minor: 3, access: R | W }), 0, 'a deny covering one requested bit denies');
  assert.equal(run(prog, { type: 'b', major: 8, minor: 17, access: R }), 1, 'wildcard minor');
  assert.equal(run(prog, { type: 'b', major: 8, minor: 17, access: R | W }), 0, 'allow r does not cover rw');
  assert.equal(run(prog, { type: 'b', major: 9, minor: 0, access: R }), 0);
});

test('an "a" rule ends the program: allow-all after deny-all allows everything, nothing before it is emitted', () => {
  const rules: LinuxDeviceCgroup[] = [
    { allow: true, type: 'c', major: 4, minor: 4, access: 'r' },
    { allow: true },
    { allow: false, type: 'b', major: 8, minor: 0, access: 'w' },
  ];
  const prog = compileDeviceProgram(rules);
  assert.equal(run(prog, { type: 'b', major: 8, minor: 0, access: W }), 0);
  assert.equal(run(prog, { type: 'b', major: 8, minor: 0, access: R }), 1);
  assert.equal(run(prog, { type: 'c', major: 99, minor: 1, access: R | W | M }), 1);
  // prologue (6) + deny b 8:0 w (type, 3 for access, major, minor, verdict 2 = 8) + allow a (2): the rule
  // before "a" is unreachable and left out.
  assert.equal(deviceProgramInsns(rules).length, 16);
  assert.equal(run(compileDeviceProgram([]), { type: 'c', major: 1, minor: 3, access: R }), 0, 'no rules: deny');
});

test('random rule lists agree with the reference evaluation', () => {
  let seed = 12345;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  const pick = <T>(xs: T[]) => xs[rnd(xs.length)];
  const accesses = ['r', 'w', 'm', 'rw', 'rm', 'wm', 'rwm', 'mwr'];
  for (let round = 0; round < 300; round++) {
    const rules: LinuxDeviceCgroup[] = [];
    for (let i = rnd(7); i >= 0; i--) {
      const type = pick(['a', 'b', 'c', 'c', 'b', undefined]);
      rules.push({ allow: rnd(2) === 1, type, major: pick([undefined, -1, 1, 2, 8]), minor: pick([undefined, -1, 0, 3]), access: pick(accesses) });
    }
    const prog = compileDeviceProgram(rules);
    for (let q = 0; q < 40; q++) {
      const req: Request = { type: pick(['b', 'c'] as const), major: pick([1, 2, 8, 9]), minor: pick([0, 3, 4]), access: 1 + rnd(7) };
      assert.equal(run(prog, req), reference(rules, req), `${JSON.stringify(rules)} ${JSON.stringify(req)}`);
    }
  }
});

test('encoding: little endian, dst in the low nibble, ends in exit; bad rules name the field', () => {
  const prog = compileDeviceProgram([{ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }]);
  // first instruction: ldxw r2, [r1+0] = 61 12 0000 00000000
  assert.equal(prog.subarray(0, 8).toString('hex'), '6112000000000000');
  assert.equal(prog.readUInt8(prog.length - 8), 0x95);
  assert.throws(() => compileDeviceProgram([{ allow: true, type: 'x' }]), /devices\[0\]\.type "x" must be a, b or c/);
  assert.throws(() => compileDeviceProgram([{ allow: true }, { allow: true, type: 'c', access: 'rx' }]), /devices\[1\]\.access "rx"/);
  assert.throws(() => compileDeviceProgram([{ allow: true, type: 'c', major: 2 ** 40 }]), /devices\[0\]\.major has invalid value/);
  assert.throws(() => compileDeviceProgram([{ allow: true, type: 'c', minor: 1.5 }]), /devices\[0\]\.minor has invalid value 1.5/);
});
