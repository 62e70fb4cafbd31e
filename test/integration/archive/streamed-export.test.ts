/**
 * `checkpoint --export F.tar` of a real container with several processes: CRIU's memory images go through
 * FIFOs straight into the archive (src/archive/page-stream.ts), one member per process, and the restored
 * processes still hold the memory they had (each keeps checking a random buffer it holds and writes the
 * checksum).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pagestreamPath } from '../../../src/archive/page-stream';
import { World, skipReason, waitFor } from '../checkpoint/harness';

const skip = skipReason();

/** Three workers each hold ~1 MiB of random text in a shell variable and write its md5 every 100 ms. */
const SCRIPT = [
  'for k in 1 2 3; do (x=$(head -c 786432 /dev/urandom | base64 -w0); while :; do echo "$x" | md5sum > /tmp/m$k.new; mv /tmp/m$k.new /tmp/m$k; usleep 100000; done) & done',
  'i=0; while true; do i=$((i+1)); echo $i > /tmp/count; usleep 50000; done',
].join('; ');

test('--export to an uncompressed archive streams every process memory image into it; the memory comes back', { skip }, async (t) => {
  const w = new World(SCRIPT);
  t.after(() => w.cleanup());
  const id = w.id('streamed');
  w.ok(['run', '-d', '--bundle', w.bundle, id]);
  const sums = () => [1, 2, 3].map((k) => {
    try {
      return fs.readFileSync(path.join(w.bundle, 'rootfs', 'tmp', `m${k}`), 'utf8');
    } catch {
      return '';
    }
  });
  await waitFor('the workers to hash their memory', () => sums().every((s) => s.length > 0) && w.count() > 2);
  const before = sums();

  const archive = w.images('c.tar');
  process.env.STASIS_TRACE = '1';
  let err: string;
  try {
    const r = w.stasis(['checkpoint', '--export', archive, id]);
    assert.equal(r.status, 0, r.stderr);
    err = r.stderr;
  } finally {
    delete process.env.STASIS_TRACE;
  }
  assert.match(err, /export: pages streamed/, 'the images went through the FIFOs');
  const list = spawnSync('tar', ['-tf', archive], { encoding: 'utf8' }).stdout.split('\n');
  const pages = list.filter((n) => /^checkpoint\/pages-\d+\.img$/.test(n));
  assert.ok(pages.length >= 4, `one pages image per process: ${pages.join(' ')}`);
  assert.deepEqual(list.slice(0, 2), ['stasis-manifest.json', 'checkpoint/']);
  assert.deepEqual(fs.readdirSync(path.dirname(archive)).filter((n) => n.includes('partial') || n.includes('.stasis-')), [], 'nothing temporary is left');

  for (const k of [1, 2, 3]) fs.rmSync(path.join(w.bundle, 'rootfs', 'tmp', `m${k}`));
  w.ok(['restore', '-d', '--import', archive, '--bundle', w.bundle, id]);
  assert.equal(w.state(id)?.status, 'running');
  await waitFor('the restored workers to hash their memory again', () => sums().every((s) => s.length > 0));
  assert.deepEqual(sums(), before, 'every worker still holds the bytes it had');
});

test('a streamer that dies during the dump: the dump fails, the container runs on, nothing is left', { skip }, async (t) => {
  const w = new World();
  t.after(() => w.cleanup());
  const id = await w.runCounting('streamdies');
  // The real streamer, killed (SIGKILL) the moment it is ready: only its guard stands between CRIU and FIFOs
  // nobody reads. (Started with no environment: hence PATH.)
  const fake = w.images('dead-streamer.sh');
  const said = w.images('streamer-said');
  fs.writeFileSync(
    fake,
    // (A job in the background reads /dev/null unless told otherwise: hence fd 3.)
    `#!/bin/sh\nPATH=/usr/bin:/bin\nexec 3<&0\n'${pagestreamPath()}' "$@" <&3 > '${said}' &\n` +
      `until grep -qs ready '${said}'; do sleep 0.01; done\necho ready\nkill -KILL $!\n`,
    { mode: 0o755 },
  );
  const out = w.images('out');
  fs.mkdirSync(out);
  process.env.STASIS_PAGESTREAM = fake;
  let r: { status: number | null; stderr: string };
  try {
    r = w.stasis(['checkpoint', '--export', path.join(out, 'c.tar'), id], 60000);
  } finally {
    delete process.env.STASIS_PAGESTREAM;
  }
  assert.equal(r.status, 1, `status ${r.status}: ${r.stderr}`);
  // A warning line first (this plain-directory rootfs has no recorded changes), then the one error line.
  const errors = r.stderr.trim().split('\n').filter((l) => !l.includes('level=warning'));
  assert.equal(errors.length, 1, r.stderr);
  // CRIU either was writing when the FIFO lost its reader (EPIPE) or opened it after the guard had put a
  // directory in its place (EISDIR): both end the dump.
  assert.match(errors[0], /^stasis: criu dump failed: .*(Broken pipe|Is a directory)/);
  // The error names CRIU's log, kept outside the removed staging directory: this test's to remove.
  const log = /\(log (\/[^)]+\.log)\)/.exec(errors[0])?.[1];
  assert.ok(log && fs.existsSync(log), `the log the error names exists: ${errors[0]}`);
  fs.rmSync(log);
  assert.equal(w.state(id)?.status, 'running');
  const now = w.count();
  await waitFor('the counter to keep moving', () => w.count() > now + 2);
  assert.deepEqual(fs.readdirSync(out), [], 'no archive, partial archive or staging directory');
});

test('--export refuses what cannot travel, in one line, before the container is touched', { skip }, async (t) => {
  const w = new World();
  t.after(() => w.cleanup());
  const id = await w.runCounting('refuse');
  const cases: [string[], RegExp][] = [
    [['--pre-dump'], /--export cannot be used with --pre-dump/],
    [['--lazy-pages'], /--export cannot be used with --lazy-pages/],
    [['--link-remap'], /--export cannot be used with --link-remap/],
    [['--page-server', '127.0.0.1:1'], /--export cannot be used with --page-server/],
    [['--compress', 'lz4'], /invalid value "lz4" for --compress/],
  ];
  for (const [flags, want] of cases) {
    const r = w.stasis(['checkpoint', '--export', w.images(`x-${flags[0].slice(2)}.tar`), ...flags, id]);
    assert.notEqual(r.status, 0, flags.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, want);
    assert.equal(w.state(id)?.status, 'running');
  }
});
