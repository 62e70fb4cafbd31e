import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BLOCK, decodeHeader, encodeHeader, endOfArchive, noPending, padding, parseNumber, type TarHeader } from '../../../src/archive/tar-format';
import { readTar } from '../../../src/archive/tar-reader';
import { memberPath, isAtOrBelow, splitParent } from '../../../src/archive/member-path';

const base: TarHeader = {
  path: 'a/b.txt',
  type: 'file',
  mode: 0o4755,
  uid: 1000,
  gid: 100,
  size: 5,
  mtime: 1700000000,
  linkpath: '',
  devmajor: 0,
  devminor: 0,
  xattrs: new Map(),
};

async function* chunks(buf: Buffer, size = 7): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

/** Builds an archive from headers and contents with the encoder. */
function archive(members: [TarHeader, Buffer?][]): Buffer {
  const parts: Buffer[] = [];
  for (const [h, data] of members) {
    parts.push(encodeHeader(h));
    if (data) parts.push(data, Buffer.alloc(padding(data.length)));
  }
  parts.push(endOfArchive());
  return Buffer.concat(parts);
}

async function readAll(buf: Buffer): Promise<{ h: TarHeader; data: string }[]> {
  const out: { h: TarHeader; data: string }[] = [];
  await readTar(chunks(buf), async (h, body) => {
    const parts: Buffer[] = [];
    for await (const c of body) parts.push(Buffer.from(c));
    out.push({ h, data: Buffer.concat(parts).toString() });
  });
  return out;
}

test('encode → read round-trips plain, long, non-ASCII, large-id, xattr and device members', async () => {
  const long = `${'d'.repeat(120)}/${'f'.repeat(150)}`;
  const members: [TarHeader, Buffer?][] = [
    [base, Buffer.from('hello')],
    [{ ...base, path: long, size: 3, mtime: 1700000000.25 }, Buffer.from('abc')],
    [{ ...base, path: 'é/ü', size: 0, uid: 2 ** 31, gid: 3e9 }, Buffer.alloc(0)],
    [{ ...base, path: 'x', size: 0, xattrs: new Map([['user.k', Buffer.from([0, 1, 2, 0x0a, 0x3d])]]) }, Buffer.alloc(0)],
    [{ ...base, path: 'dev/null', type: 'char', size: 0, devmajor: 1, devminor: 3 }],
    [{ ...base, path: 'l', type: 'symlink', size: 0, linkpath: `/${'t'.repeat(200)}` }],
  ];
  const got = await readAll(archive(members));
  assert.equal(got.length, members.length);
  assert.equal(got[0].data, 'hello');
  assert.equal(got[0].h.mode, 0o4755);
  assert.equal(got[1].h.path, long);
  assert.equal(got[1].h.mtime, 1700000000.25);
  assert.equal(got[1].data, 'abc');
  assert.equal(got[2].h.path, 'é/ü');
  assert.equal(got[2].h.uid, 2 ** 31);
  assert.equal(got[2].h.gid, 3e9);
  assert.deepEqual(got[3].h.xattrs.get('user.k'), Buffer.from([0, 1, 2, 0x0a, 0x3d]));
  assert.equal(got[4].h.type, 'char');
  assert.equal(got[4].h.devmajor, 1);
  assert.equal(got[4].h.devminor, 3);
  assert.equal(got[5].h.linkpath, `/${'t'.repeat(200)}`);
});

test('a body abandoned by its consumer is skipped, not lost', async () => {
  const buf = archive([
    [{ ...base, path: 'big', size: 3000 }, Buffer.alloc(3000, 0x61)],
    [{ ...base, path: 'next', size: 2 }, Buffer.from('ok')],
  ]);
  const seen: string[] = [];
  await readTar(chunks(buf, 100), async (h, body) => {
    for await (const c of body) {
      void c;
      break;
    }
    seen.push(h.path);
  });
  assert.deepEqual(seen, ['big', 'next']);
});

test('GNU tar archives are read (long names, pax headers, hard links)', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-tarfmt-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const long = 'n'.repeat(160);
  fs.mkdirSync(path.join(dir, 'src'));
  fs.writeFileSync(path.join(dir, 'src', long), 'long');
  fs.linkSync(path.join(dir, 'src', long), path.join(dir, 'src', 'hard'));
  for (const format of ['gnu', 'posix']) {
    const r = spawnSync('tar', ['-c', `--format=${format}`, '-C', dir, 'src'], { maxBuffer: 1 << 24 });
    assert.equal(r.status, 0, r.stderr.toString());
    const got = await readAll(r.stdout);
    const names = got.map((g) => g.h.path.replace(/\/$/, ''));
    assert.ok(names.includes(`src/${long}`), `${format}: ${names.join(',')}`);
    const link = got.find((g) => g.h.type === 'link');
    assert.ok(link, `${format}: a hard link member`);
  }
});

test('header checks: checksum, base-256 numbers, truncation, unsupported types', async () => {
  const block = encodeHeader(base);
  const bad = Buffer.from(block);
  bad[0] ^= 1;
  assert.throws(() => decodeHeader(bad, noPending()), /bad checksum/);
  const b256 = Buffer.alloc(12);
  b256[0] = 0x80;
  b256.writeUIntBE(2 ** 40, 6, 6);
  assert.equal(parseNumber(b256, 0, 12, 'size'), 2 ** 40);
  const sparse = Buffer.from(block);
  sparse[156] = 'S'.charCodeAt(0);
  sparse.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += sparse[i];
  sparse.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  assert.throws(() => decodeHeader(sparse, noPending()), /unsupported type 'S'/);
  const whole = archive([[base, Buffer.from('hello')]]);
  await assert.rejects(readAll(whole.subarray(0, BLOCK + 3)), /truncated/);
});

test('memberPath refuses absolute and ".." names and cleans the rest', () => {
  assert.equal(memberPath('./a//b/'), 'a/b');
  assert.equal(memberPath('./'), '');
  assert.throws(() => memberPath('/etc/passwd'), /absolute path/);
  assert.throws(() => memberPath('../x'), /"\.\." in path/);
  assert.throws(() => memberPath('a/../../x'), /"\.\." in path/);
  assert.deepEqual(splitParent('a/b/c'), ['a/b', 'c']);
  assert.deepEqual(splitParent('c'), ['', 'c']);
  assert.ok(isAtOrBelow('a/b', 'a'));
  assert.ok(!isAtOrBelow('ab', 'a'));
});
