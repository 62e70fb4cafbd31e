/**
 * One flipped byte anywhere in a checkpoint archive or an unpacked checkpoint directory makes restore refuse
 * it, with one line, before anything is touched: no container state, no cgroup, no staging directory, no
 * change in the bundle's rootfs.
 *
 * The archive is uncompressed, so every byte means something: each member's header, pax records, content
 * and padding, and the end-of-archive blocks are each damaged in turn (through the library for all of them,
 * through `stasis restore --import` for a sample of every kind).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { importCheckpoint, verifyCheckpointDir } from '../../../src/archive';
import { cgroupExists, skipReason, waitFor } from '../checkpoint/harness';
import { PortableWorld } from './portable-world';

const skip = skipReason();

/** A place in the archive worth damaging, with a name for the failure message. */
interface Spot {
  what: string;
  offset: number;
}

/** Walks a tar file's blocks: a header, a content and a padding byte of every member, then the trailer. */
function spots(tar: Buffer): Spot[] {
  const out: Spot[] = [];
  let at = 0;
  while (at + 512 <= tar.length) {
    const block = tar.subarray(at, at + 512);
    if (block.every((b) => b === 0)) break;
    const name = block.toString('latin1', 0, 100).replace(/\0.*$/s, '');
    const size = parseInt(block.toString('latin1', 124, 136).replace(/\0.*$/s, '').trim() || '0', 8);
    const flag = String.fromCharCode(block[156]);
    out.push({ what: `header of ${flag} ${name}`, offset: at + 1 + ((at / 512) % 500) });
    const body = at + 512;
    if (size > 0) {
      out.push({ what: `content of ${flag} ${name}`, offset: body + Math.floor(size / 2) });
      if (size % 512) out.push({ what: `padding of ${name}`, offset: body + size + 1 });
    }
    at = body + Math.ceil(size / 512) * 512;
  }
  out.push({ what: 'first end-of-archive block', offset: at + 100 });
  out.push({ what: 'second end-of-archive block', offset: at + 512 + 100 });
  if (tar.length > at + 1024) out.push({ what: 'record padding after the end', offset: tar.length - 1 });
  return out;
}

function flipped(src: Buffer, offset: number, file: string): string {
  const copy = Buffer.from(src);
  copy[offset] ^= 0x01;
  fs.writeFileSync(file, copy);
  return file;
}

test('one flipped byte anywhere: restore refuses, nothing is left behind', { skip }, async (t) => {
  const w = new PortableWorld('echo x > /made-by-container; i=0; while true; do i=$((i+1)); echo $i > /tmp/count; usleep 50000; done');
  t.after(() => w.cleanup());
  const id = w.id('tamper');
  const a = w.bundleFrom('a', 'overlay');
  w.ok(['run', '-d', '--bundle', a, id]);
  await waitFor('the counter', () => w.countIn(a) >= 3);
  const archive = w.images('c.tar');
  const dir = w.images('unpacked');
  w.ok(['checkpoint', '--export', archive, '--image-path', dir, id]);
  const good = fs.readFileSync(archive);
  const all = spots(good);
  assert.ok(all.some((s) => s.what.startsWith('content of 0 checkpoint/pages-')), 'the pages image is in the archive');
  assert.ok(all.some((s) => s.what.startsWith('padding of')), 'there is padding to damage');

  // The library, for every spot: import refuses and leaves the destination empty.
  const lib = w.images('lib');
  for (const s of all) {
    const dest = path.join(lib, 'dest');
    await assert.rejects(importCheckpoint(flipped(good, s.offset, path.join(lib + '.tar')), dest), Error, `a flipped byte in the ${s.what} (offset ${s.offset}) was accepted`);
    assert.equal(fs.existsSync(dest), false, `import left ${dest} behind (${s.what})`);
  }
  t.diagnostic(`${all.length} damaged archives refused by import`);

  // The CLI, for a sample of every kind, against a fresh bundle that must stay untouched.
  const b = w.bundleFrom('b', 'overlay');
  const kinds = new Map<string, Spot>();
  for (const s of all) kinds.set(s.what.replace(/ (of|after) .*$/, '').replace(/^content.*pages.*$/, 'pages'), s);
  kinds.set('pages', all.find((s) => s.what.startsWith('content of 0 checkpoint/pages-'))!);
  kinds.set('manifest', all.find((s) => s.what.startsWith('content of 0 stasis-manifest.json'))!);
  kinds.set('rootfs diff', all.find((s) => s.what.startsWith('content of 0 rootfs-diff.tar'))!);
  for (const [kind, s] of kinds) {
    const newId = w.id('tamper-back');
    const r = w.stasis(['restore', '-d', '--import', flipped(good, s.offset, w.images('bad.tar')), '--bundle', b, newId]);
    assert.notEqual(r.status, 0, `restore accepted a flipped byte in the ${s.what}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line for ${kind}: ${r.stderr}`);
    assert.match(r.stderr, /^stasis: restore: /);
    assert.equal(w.state(newId), undefined, `${kind}: no container`);
    assert.equal(cgroupExists(newId), false, `${kind}: no cgroup`);
    assert.deepEqual(fs.readdirSync(w.root).filter((n) => n !== id), [], `${kind}: nothing left in the state root`);
    assert.deepEqual(fs.readdirSync(path.join(b, 'upper')), [], `${kind}: the bundle's rootfs is untouched`);
  }
  t.diagnostic(`${kinds.size} damaged archives refused by restore --import: ${[...kinds.keys()].join(', ')}`);

  // An unpacked checkpoint directory: a byte flipped in any file is refused by `restore --image-path`.
  const files = fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => fs.statSync(path.join(dir, f)).isFile());
  let refusedByCli = 0;
  for (const f of files) {
    const p = path.join(dir, f);
    const orig = fs.readFileSync(p);
    if (orig.length === 0) continue;
    const bad = Buffer.from(orig);
    bad[Math.floor(orig.length / 2)] ^= 0x80;
    fs.writeFileSync(p, bad);
    try {
      await assert.rejects(verifyCheckpointDir(dir), Error, `a flipped byte in ${f} was accepted`);
      if (f.includes('pages-') || f === 'stasis-manifest.json' || f === 'rootfs-diff.tar') {
        const newId = w.id('tamper-dir');
        const r = w.stasis(['restore', '-d', '--image-path', dir, '--bundle', b, newId]);
        assert.notEqual(r.status, 0, `restore --image-path accepted a flipped byte in ${f}`);
        assert.match(r.stderr, /^stasis: restore: .*(corrupt|manifest|not valid)/);
        assert.equal(w.state(newId), undefined);
        assert.deepEqual(fs.readdirSync(path.join(b, 'upper')), [], `${f}: the bundle's rootfs is untouched`);
        refusedByCli++;
      }
    } finally {
      fs.writeFileSync(p, orig);
    }
  }
  assert.ok(refusedByCli >= 3);
  // Undamaged, the same directory restores.
  const back = w.id('tamper-ok');
  w.ok(['restore', '-d', '--image-path', dir, '--bundle', b, back]);
  assert.equal(w.state(back)?.status, 'running');
  assert.equal(fs.readFileSync(path.join(b, 'rootfs', 'made-by-container'), 'utf8'), 'x\n');
});
