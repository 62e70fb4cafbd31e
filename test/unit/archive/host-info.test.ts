import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareVersions, isaFeatures, parseCpuFlags } from '../../../src/archive/host-info';
import { detectCompression } from '../../../src/archive/compress';
import { encodeHeader } from '../../../src/archive/tar-format';
import { Progress, formatBytes } from '../../../src/archive/progress';

const X86 = `processor\t: 0
vendor_id\t: GenuineIntel
flags\t\t: fpu vme de pse tsc msr sse sse2 ht syscall nx avx avx2 avx512f avx512bw constant_tsc hypervisor bmi2 sha_ni aes
bugs\t\t: spectre_v1

processor\t: 1
flags\t\t: fpu
`;

test('cpu flags: first processor, ISA subset per architecture', () => {
  const flags = parseCpuFlags(X86);
  assert.ok(flags.includes('avx512bw'));
  assert.ok(flags.includes('hypervisor'));
  const isa = isaFeatures('x86_64', flags);
  assert.deepEqual(isa, ['aes', 'avx', 'avx2', 'avx512bw', 'avx512f', 'bmi2', 'fpu', 'sha_ni', 'sse', 'sse2']);
  const arm = parseCpuFlags('processor\t: 0\nFeatures\t: fp asimd evtstrm aes sve cpuid\n');
  assert.deepEqual(isaFeatures('aarch64', arm), ['aes', 'asimd', 'fp', 'sve']);
  assert.deepEqual(parseCpuFlags('nothing here'), []);
});

test('compareVersions is numeric', () => {
  assert.ok(compareVersions('4.2.1', '4.10') < 0);
  assert.equal(compareVersions('4.2', '4.2.0'), 0);
  assert.ok(compareVersions('4.2.1', '4.2') > 0);
});

test('detectCompression by magic bytes', () => {
  assert.equal(detectCompression(Buffer.from([0x1f, 0x8b, 8, 0])), 'gzip');
  assert.equal(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0])), 'zstd');
  const tarHead = encodeHeader({ path: 'x', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0, linkpath: '', devmajor: 0, devminor: 0, xattrs: new Map() });
  assert.equal(detectCompression(tarHead), 'none');
  assert.equal(detectCompression(Buffer.alloc(512, 0x41)), undefined);
  assert.equal(detectCompression(Buffer.from('PK')), undefined);
});

test('progress: silent off a terminal and during the first second', () => {
  let t = 0;
  const written: string[] = [];
  const tty = { isTTY: true, write: (s: string) => written.push(s) };
  const p = new Progress('export x', 4096, tty, () => t);
  p.add(1024);
  assert.equal(written.length, 0);
  t = 1500;
  p.add(1024);
  assert.equal(written.length, 1);
  assert.match(written[0], /export x: 2\.0 KiB \/ 4\.0 KiB \(50%\)/);
  p.done();
  assert.match(written[1], /\n$/);
  const quiet: string[] = [];
  const q = new Progress('x', 1, { isTTY: false, write: (s: string) => quiet.push(s) }, () => (t += 5000));
  q.add(1);
  q.done();
  assert.equal(quiet.length, 0);
  assert.equal(formatBytes(1536), '1.5 KiB');
});
