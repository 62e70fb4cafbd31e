/**
 * Lazy pages end to end, the way runc does migration: `checkpoint --lazy-pages --page-server A:P
 * --status-fd 3` dumps everything but the memory and keeps serving pages; once it reports ready on fd 3,
 * `restore --lazy-pages` starts a `criu lazy-pages` daemon and the restored container runs at once, its
 * pages arriving on first touch. The program's 64 MiB pattern (checked page by page) must be intact, and
 * the checkpoint must end by itself once every page was pulled.
 *
 * CRIU's page pipes need fs.pipe-max-size ≥ 4 MiB here (no CAP_SYS_RESOURCE). stasis never changes the
 * sysctl: the test sets it and puts the old value back. The files of this test run one after another, so
 * the refusal (at 1 MiB) and the migration (at 4 MiB) cannot see each other's setting.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { STASIS, World, skipReason, waitFor } from './harness';
import { failures, fidelityWorld, toolchainMissing, verify, waitReady } from './programs';

const skip = skipReason() ?? toolchainMissing();
const SYSCTL = '/proc/sys/fs/pipe-max-size';
const NEEDED = 4 * 1024 * 1024;

/** Sets fs.pipe-max-size for the test and puts the old value back afterwards. */
function withPipeMaxSize(t: { after: (fn: () => void) => void }, value: number): void {
  const old = fs.readFileSync(SYSCTL, 'utf8').trim();
  fs.writeFileSync(SYSCTL, String(value));
  t.after(() => fs.writeFileSync(SYSCTL, old));
}

const now = (): number => Number(process.hrtime.bigint()) / 1e6;

test('--lazy-pages is refused in one line naming fs.pipe-max-size when it is below 4 MiB', { skip }, async (t) => {
  withPipeMaxSize(t, 1024 * 1024);
  const w = new World();
  t.after(() => w.cleanup());
  const id = await w.runCounting('lazy-refused');
  const r = w.stasis(['checkpoint', '--lazy-pages', '--page-server', '127.0.0.1:27999', '--image-path', w.images('images'), id]);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, `stasis: lazy-pages: fs.pipe-max-size is 1048576 but criu's lazy page transfer needs ${NEEDED} (sysctl fs.pipe-max-size=${NEEDED})\n`);
  assert.equal(w.state(id)?.status, 'running');
  const rr = w.stasis(['restore', '-d', '--lazy-pages', '--bundle', w.bundle, '--image-path', w.images('images'), w.id('x')]);
  assert.equal(rr.status, 1);
  assert.match(rr.stderr, /^stasis: lazy-pages: fs\.pipe-max-size is 1048576 .*\n$/);
  const bad = w.stasis(['checkpoint', '--status-fd', '3', '--image-path', w.images('images'), id]);
  assert.match(bad.stderr, /--status-fd: only used with --lazy-pages/);
});

test('--lazy-pages: restore runs before the memory arrives; the 64 MiB pattern is intact', { skip }, async (t) => {
  withPipeMaxSize(t, NEEDED);
  const w = fidelityWorld(64, 8);
  const images = w.images('images');
  let dump: ReturnType<typeof spawn> | undefined;
  t.after(async () => {
    dump?.kill('SIGKILL');
    try {
      process.kill(Number(fs.readFileSync(path.join(images, 'lazy-pages.pid'), 'utf8')), 'SIGKILL');
    } catch {
      /* the daemon finished */
    }
    await w.cleanup();
  });
  const id = w.id('lazy');
  w.ok(['run', '-d', '--bundle', w.bundle, id]);
  await waitReady(w);

  const port = 21000 + (process.pid % 20000);
  const out = fs.openSync(path.join(w.dir, 'dump.out'), 'w+');
  const t0 = now();
  dump = spawn(
    STASIS,
    ['--root', w.root, 'checkpoint', '--lazy-pages', '--page-server', `127.0.0.1:${port}`, '--status-fd', '3', '--image-path', images, id],
    { stdio: ['ignore', out, out, 'pipe'] },
  );
  fs.closeSync(out);
  const dumpExit = new Promise<number | null>((resolve) => dump!.once('exit', (code) => resolve(code)));
  const ready = await new Promise<boolean>((resolve) => {
    dump!.stdio[3]!.once('data', (b: Buffer) => resolve(b[0] === 0));
    dump!.once('exit', () => resolve(false));
  });
  const readyMs = now() - t0;
  assert.ok(ready, `checkpoint never reported ready: ${fs.readFileSync(path.join(w.dir, 'dump.out'), 'utf8')}`);
  // The memory stays with the dumping CRIU: the images hold (almost) no pages.
  const pageBytes = fs.readdirSync(images).filter((n) => n.startsWith('pages-')).reduce((s, n) => s + fs.statSync(path.join(images, n)).size, 0);
  assert.ok(pageBytes < 16 << 20, `${pageBytes} bytes of pages were written to the images`);

  const copy = w.id('lazy-copy');
  const before = w.count();
  const r0 = now();
  w.ok(['restore', '-d', '--lazy-pages', '--bundle', w.bundle, '--image-path', images, copy]);
  const restoreMs = now() - r0;
  assert.equal(w.state(copy)?.status, 'running');
  await waitFor('the restored program to count', () => w.count() > before);
  const runningMs = now() - r0;

  const report = await verify(w);
  assert.deepEqual(failures(report), [], report.join('\n'));
  // Every page delivered: the lazy-pages daemon disconnects and the checkpoint finishes, the original gone.
  const code = await Promise.race([dumpExit, new Promise<string>((r) => setTimeout(() => r('timeout'), 30000).unref())]);
  assert.equal(code, 0, `checkpoint --lazy-pages ended with ${code}: ${fs.readFileSync(path.join(w.dir, 'dump.out'), 'utf8')}`);
  assert.equal(w.state(id), undefined, 'the checkpointed original still exists');
  t.diagnostic(`lazy: dump ready after ${readyMs.toFixed(0)} ms, restore -d ${restoreMs.toFixed(0)} ms, counting after ${runningMs.toFixed(0)} ms`);
});
