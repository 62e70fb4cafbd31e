import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GrowingFileHasher } from '../../../src/archive/growing-hash';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('follows files while they grow: the hashes equal those of the finished files', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-grow-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const h = new GrowingFileHasher(dir, 'checkpoint/', /^pages-/);
  h.start(1);
  const chunks = [0, 1, 2].map((i) => Buffer.alloc(3 << 20, i + 1));
  for (const name of ['pages-1.img', 'pages-2.img']) {
    for (const c of chunks) {
      fs.appendFileSync(path.join(dir, name), c);
      await sleep(5); // let the hasher catch up with part of the file
    }
  }
  fs.writeFileSync(path.join(dir, 'core-1.img'), 'not followed');
  const known = await h.finish();
  assert.deepEqual([...known.keys()].sort(), ['checkpoint/pages-1.img', 'checkpoint/pages-2.img']);
  for (const name of ['pages-1.img', 'pages-2.img']) {
    const bytes = fs.readFileSync(path.join(dir, name));
    assert.deepEqual(known.get(`checkpoint/${name}`), { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length });
  }
});

test('abort lets go of every file', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-grow-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const h = new GrowingFileHasher(dir, '', /./);
  h.start(1);
  fs.writeFileSync(path.join(dir, 'x'), 'abc');
  await sleep(20);
  await h.abort();
  const open = fs.readdirSync('/proc/self/fd').map((fd) => { try { return fs.readlinkSync(`/proc/self/fd/${fd}`); } catch { return ''; } });
  assert.equal(open.filter((p) => p.startsWith(dir)).length, 0);
});
