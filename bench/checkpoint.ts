/**
 * bench/checkpoint: checkpoint and restore with stasis and with runc on the same machine, interleaved in one
 * run (each round does every runtime once, alternating which goes first, so drift hits both alike).
 *
 *   node dist/bench/checkpoint.js [rounds] [--no-lazy] [--raw]
 *
 * Containers: "tiny" (a busybox shell loop) and "1g" (a static C program that mallocs and touches 1 GiB).
 * Measured: checkpoint and restore -d wall time, image size, and CRIU's own phases from the stats files both
 * runtimes leave in the image directory. Then, unless --no-lazy, lazy-pages time-to-running of the 1 GiB
 * container: restore until the container runs (runc: the `criu lazy-pages` daemon started by hand first,
 * as runc requires) and until every page arrived. Lazy pages need fs.pipe-max-size ≥ 4 MiB: the bench sets
 * it for that part only (it slows normal dumps) and puts the old value back.
 *
 * Both runtimes use the same CRIU: runc finds `criu` in PATH, which starts with a directory holding a link to
 * stasis's CRIU 4.2.1. Run as root; NODE_EXTRA_CA_CERTS is removed from every child's environment.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readDumpStats, readRestoreStats } from '../src/criu/stats';
import { DEFAULT_CRIU_PATH } from '../src/criu/swrk';

const repo = path.resolve(__dirname, '..', '..');
const args = process.argv.slice(2);
const rounds = Number(args.find((a) => /^\d+$/.test(a)) ?? 5);
const withLazy = !args.includes('--no-lazy');
/** --raw: also print every sample (JSON), to see the spread behind the medians. */
const raw = args.includes('--raw');
const criu = process.env.STASIS_CRIU || DEFAULT_CRIU_PATH;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-bench-ckpt-'));
const criuDir = path.join(work, 'criu-bin');
fs.mkdirSync(criuDir);
fs.symlinkSync(criu, path.join(criuDir, 'criu'));
const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${criuDir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
delete env.NODE_EXTRA_CA_CERTS;

/** Mallocs and touches N MiB (one write per page), then says ready and sleeps. */
const MEMHOG_C = `#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
  size_t n = (size_t)atol(argv[1]) << 20;
  int null = open("/dev/null", O_RDWR);
  dup2(null, 0); dup2(null, 1); dup2(null, 2);
  volatile char *p = malloc(n);
  for (size_t i = 0; i < n; i += 4096) p[i] = (char)(i >> 12);
  close(open("/tmp/ready", O_CREAT | O_WRONLY, 0644));
  for (;;) pause();
}
`;

interface Runtime {
  name: 'stasis' | 'runc';
  bin: string;
  root: string;
}
const runtimes: Runtime[] = [
  { name: 'stasis', bin: path.join(repo, 'bin', 'stasis'), root: path.join(work, 'state-stasis') },
  { name: 'runc', bin: which('runc'), root: path.join(work, 'state-runc') },
];

function which(cmd: string): string {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} not found`);
  return r.stdout.trim();
}

/** A bundle per runtime and size (each runtime writes into its own rootfs). */
function makeBundle(name: string, argv: string[]): string {
  const dir = path.join(work, `bundle-${name}`);
  execFileSync('bash', [path.join(repo, 'scripts', 'make-bundle.sh'), dir, ...argv], { env, stdio: 'ignore' });
  const file = path.join(dir, 'config.json');
  const spec = JSON.parse(fs.readFileSync(file, 'utf8'));
  spec.ociVersion = '1.0.2'; // runc 1.1.5 refuses newer spec versions; nothing newer is used
  fs.writeFileSync(file, JSON.stringify(spec));
  return dir;
}

const SIZES = {
  // The shell points its own stdio at the container's /dev/null: CRIU cannot dump host files (runc).
  tiny: ['/bin/sh', '-c', 'exec </dev/null >/dev/null 2>&1; touch /tmp/ready; while true; do usleep 100000; done'],
  '1g': ['/bin/memhog', '1024'],
} as const;
type Size = keyof typeof SIZES;

const bundles: Record<string, string> = {};
for (const rt of runtimes) {
  for (const size of Object.keys(SIZES) as Size[]) {
    const b = makeBundle(`${rt.name}-${size}`, [...SIZES[size]]);
    if (size === '1g') execFileSync('gcc', ['-static', '-O2', '-x', 'c', '-o', path.join(b, 'rootfs', 'bin', 'memhog'), '-'], { input: MEMHOG_C });
    bundles[`${rt.name}-${size}`] = b;
  }
}

const now = (): number => Number(process.hrtime.bigint()) / 1e6;

function call(rt: Runtime, argv: string[], stdio: 'ignore' | 'pipe' = 'ignore'): number {
  const t = now();
  const r = spawnSync(rt.bin, ['--root', rt.root, ...argv], { env, stdio: ['ignore', stdio, 'pipe'], encoding: 'utf8' });
  const elapsed = now() - t;
  if (r.status !== 0) throw new Error(`${rt.name} ${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  return elapsed;
}

async function waitFile(file: string, timeoutMs = 60000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fs.existsSync(file)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${file}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function dirBytes(dir: string): number {
  return fs.readdirSync(dir).reduce((sum, n) => sum + fs.statSync(path.join(dir, n)).size, 0);
}

/** One sample: name → milliseconds (or bytes for image). */
type Sample = Record<string, number>;
const samples: Record<string, Sample[]> = {};
const record = (key: string, s: Sample) => (samples[key] ??= []).push(s);

async function startContainer(rt: Runtime, size: Size, id: string): Promise<string> {
  const bundle = bundles[`${rt.name}-${size}`];
  fs.rmSync(path.join(bundle, 'rootfs', 'tmp', 'ready'), { force: true });
  call(rt, ['run', '-d', '--bundle', bundle, id]);
  await waitFile(path.join(bundle, 'rootfs', 'tmp', 'ready'));
  return bundle;
}

async function cycle(rt: Runtime, size: Size, round: number): Promise<void> {
  const id = `bench-${rt.name}-${size}-${round}`;
  const bundle = await startContainer(rt, size, id);
  const images = path.join(work, `img-${id}`);
  const checkpoint = call(rt, ['checkpoint', '--image-path', images, id]);
  const d = readDumpStats(images);
  const restore = call(rt, ['restore', '-d', '--bundle', bundle, '--image-path', images, id]);
  const r = readRestoreStats(images);
  const st = spawnSync(rt.bin, ['--root', rt.root, 'state', id], { env, encoding: 'utf8' });
  if (!/"status":\s*"running"/.test(st.stdout)) throw new Error(`${rt.name} restored ${id} is not running: ${st.stdout}`);
  record(`${rt.name} ${size}`, {
    checkpoint,
    restore,
    imageMiB: dirBytes(images) / 1048576,
    frozen: d?.frozenTime ?? NaN,
    memdump: d?.memdumpTime ?? NaN,
    memwrite: d?.memwriteTime ?? NaN,
    criuRestore: r?.restoreTime ?? NaN,
  });
  call(rt, ['delete', '--force', id]);
  fs.rmSync(images, { recursive: true, force: true });
}

/** Lazy migration of the 1 GiB container: time until it runs again, and until all pages arrived. */
async function lazyCycle(rt: Runtime, round: number): Promise<void> {
  const id = `lazy-${rt.name}-${round}`;
  const bundle = await startContainer(rt, '1g', id);
  const images = path.join(work, `img-${id}`);
  const port = 23000 + ((process.pid + round * 2 + (rt.name === 'runc' ? 1 : 0)) % 20000);
  // The status fd is a real pipe (a fifo): runc refuses Node's socketpairs there.
  const fifo = path.join(work, `status-${id}`);
  execFileSync('mkfifo', [fifo]);
  const readEnd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const writeEnd = fs.openSync(fifo, fs.constants.O_WRONLY);
  const t0 = now();
  const dump = spawn(rt.bin, ['--root', rt.root, 'checkpoint', '--lazy-pages', '--page-server', `127.0.0.1:${port}`, '--status-fd', '3', '--image-path', images, id], {
    env,
    stdio: ['ignore', 'ignore', 'pipe', writeEnd],
  });
  fs.closeSync(writeEnd);
  let dumpErr = '';
  dump.stderr!.on('data', (b: Buffer) => (dumpErr += b.toString()));
  let exited = false;
  const dumped = new Promise<number | null>((resolve) => dump.once('exit', (code) => ((exited = true), resolve(code))));
  let ready = false;
  for (const buf = Buffer.alloc(1); !ready && !exited; ) {
    try {
      ready = fs.readSync(readEnd, buf, 0, 1, null) === 1;
    } catch {
      /* EAGAIN: not yet */
    }
    if (!ready) await new Promise((r) => setTimeout(r, 5));
  }
  fs.closeSync(readEnd);
  if (!ready) throw new Error(`${rt.name} lazy checkpoint failed: ${dumpErr}`);
  const dumpReady = now() - t0;
  const r0 = now();
  if (rt.name === 'runc') {
    // runc leaves the daemon to its caller; same work dir as the restore (the image dir by default).
    execFileSync(criu, ['lazy-pages', '--page-server', '--address', '127.0.0.1', '--port', String(port), '-D', images, '-W', images, '-d', '-o', 'lazy-pages.log'], { env });
  }
  // The dumping runtime still holds the original id until every page is served: restore as a new one.
  const copy = `${id}-r`;
  try {
    call(rt, ['restore', '-d', '--lazy-pages', '--bundle', bundle, '--image-path', images, copy]);
  } catch (err) {
    dump.kill('SIGKILL');
    await dumped;
    throw err;
  }
  const running = now() - r0;
  const code = await dumped;
  const allPages = now() - r0;
  if (code !== 0) throw new Error(`${rt.name} lazy checkpoint exited ${code}: ${dumpErr}`);
  record(`${rt.name} 1g lazy`, { dumpReady, running, allPages });
  call(rt, ['delete', '--force', copy]);
  spawnSync(rt.bin, ['--root', rt.root, 'delete', '--force', id], { env, stdio: 'ignore' });
  fs.rmSync(images, { recursive: true, force: true });
}

function median(xs: number[]): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function report(sizes: string[]): void {
  const fmt = (v: number) => (Number.isNaN(v) ? '-' : v.toFixed(v >= 100 ? 0 : 1));
  for (const size of sizes) {
    const s = samples[`stasis ${size}`];
    const r = samples[`runc ${size}`];
    if (!s && !r) continue;
    console.log(`\n${size} (medians of ${s?.length ?? 0} stasis / ${r?.length ?? 0} runc runs; ms, image MiB)`);
    console.log(`  ${'metric'.padEnd(14)}${'stasis'.padStart(10)}${'runc'.padStart(10)}${'ratio'.padStart(8)}`);
    for (const key of Object.keys((s ?? r)![0])) {
      const a = median((s ?? []).map((x) => x[key]));
      const b = median((r ?? []).map((x) => x[key]));
      const ratio = a / b;
      console.log(`  ${key.padEnd(14)}${fmt(a).padStart(10)}${fmt(b).padStart(10)}${(Number.isFinite(ratio) ? `${ratio.toFixed(2)}x` : '-').padStart(8)}`);
    }
  }
}

async function main(): Promise<void> {
  console.log(`bench/checkpoint: ${rounds} rounds, criu ${criu}, runc ${runtimes[1].bin}, kernel ${os.release()}`);
  try {
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 ? [...runtimes].reverse() : runtimes;
      for (const size of Object.keys(SIZES) as Size[]) for (const rt of order) await cycle(rt, size, round);
      process.stderr.write('.');
    }
    process.stderr.write('\n');
    report(['tiny', '1g']);
    if (withLazy) {
      const sysctl = '/proc/sys/fs/pipe-max-size';
      const old = fs.readFileSync(sysctl, 'utf8').trim();
      fs.writeFileSync(sysctl, String(4 << 20));
      try {
        for (let round = 0; round < Math.min(rounds, 3); round++) {
          for (const rt of round % 2 ? [...runtimes].reverse() : runtimes) {
            try {
              await lazyCycle(rt, round);
            } catch (err) {
              console.log(`\n${rt.name} lazy pages failed: ${(err as Error).message.split('\n')[0]}`);
            }
          }
          process.stderr.write('l');
        }
      } finally {
        fs.writeFileSync(sysctl, old);
      }
    }
    process.stderr.write('\n');
    report(['1g lazy']);
    if (raw) console.log(JSON.stringify(samples));
  } finally {
    for (const rt of runtimes) {
      for (const id of fs.existsSync(rt.root) ? fs.readdirSync(rt.root) : []) {
        spawnSync(rt.bin, ['--root', rt.root, 'delete', '--force', id], { env, stdio: 'ignore' });
      }
    }
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
