/**
 * bench/clones: time-to-running of `restore --clone N` for N = 1, 4 and 16, against one plain `restore -d`
 * of the same checkpoint, and the disk the clones' upper layers use against the base rootfs.
 *
 *   node dist/bench/clones.js [rounds] [--mem MiB] [--raw]
 *
 * The container is a busybox shell that holds --mem MiB (default 0: just the shell) in a static C program
 * and writes a counter file every 100 ms, so each clone has written something of its own by the time the
 * upper layers are measured. One checkpoint is made and every round restores from it. Each round does
 * every N (order rotated per round, so drift hits all alike), measures the wall time of the restore command
 * (it returns once every clone runs), then deletes the clones (timed too). Medians are printed.
 * Run as root; NODE_EXTRA_CA_CERTS is removed from every child's environment.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const repo = path.resolve(__dirname, '..', '..');
const stasis = path.join(repo, 'bin', 'stasis');
const args = process.argv.slice(2);
const rounds = Number(args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== '--mem') ?? 3);
const memIdx = args.indexOf('--mem');
const memMiB = memIdx >= 0 ? Number(args[memIdx + 1]) : 0;
const raw = args.includes('--raw');
const COUNTS = [1, 4, 16];
const env: NodeJS.ProcessEnv = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-bench-clones-'));
const root = path.join(work, 'state');
const bundle = path.join(work, 'bundle');
const images = path.join(work, 'images');

/** Mallocs and touches N MiB, then sleeps (the shell around it keeps writing the counter). */
const MEMHOG_C = `#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
  size_t n = (size_t)atol(argv[1]) << 20;
  volatile char *p = malloc(n ? n : 1);
  for (size_t i = 0; i < n; i += 4096) p[i] = (char)(i >> 12);
  for (;;) pause();
}
`;

const now = (): number => Number(process.hrtime.bigint()) / 1e6;

function run(argv: string[]): number {
  const t = now();
  const r = spawnSync(stasis, ['--root', root, ...argv], { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = now() - t;
  if (r.status !== 0) throw new Error(`stasis ${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  return ms;
}

/** Bytes a tree occupies on disk (st_blocks), without following symlinks or crossing into mounts' content. */
function diskBytes(p: string): number {
  const st = fs.lstatSync(p);
  let sum = st.blocks * 512;
  if (st.isDirectory()) for (const n of fs.readdirSync(p)) sum += diskBytes(path.join(p, n));
  return sum;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const script =
    'exec </dev/null >/dev/null 2>&1; ' +
    (memMiB > 0 ? `/bin/memhog ${memMiB} & ` : '') +
    'i=0; while true; do i=$((i+1)); echo $i > /tmp/count; usleep 100000; done';
  execFileSync('bash', [path.join(repo, 'scripts', 'make-bundle.sh'), bundle, '/bin/sh', '-c', script], { env, stdio: 'ignore' });
  if (memMiB > 0) execFileSync('gcc', ['-static', '-O2', '-x', 'c', '-o', path.join(bundle, 'rootfs', 'bin', 'memhog'), '-'], { input: MEMHOG_C });
  run(['run', '-d', '--bundle', bundle, 'bench-base']);
  await sleep(500 + memMiB * 2);
  run(['checkpoint', '--image-path', images, 'bench-base']);
  const baseBytes = diskBytes(path.join(bundle, 'rootfs'));
  const imageBytes = diskBytes(images);

  const samples: Record<string, number[]> = {};
  const add = (k: string, v: number) => (samples[k] ??= []).push(v);
  const upper: Record<number, number> = {};
  for (let r = 0; r < rounds; r++) {
    const order = [...COUNTS.slice(r % COUNTS.length), ...COUNTS.slice(0, r % COUNTS.length)];
    // The reference: one ordinary restore into the base bundle itself.
    add('plain', run(['restore', '-d', '--bundle', bundle, '--image-path', images, 'bench-plain']));
    run(['delete', '--force', 'bench-plain']);
    for (const n of order) {
      const id = `bench-c${n}`;
      add(`clone${n}`, run(['restore', '--clone', String(n), '-d', '--bundle', bundle, '--image-path', images, id]));
      await sleep(300); // every clone writes its counter a few times
      upper[n] = Array.from({ length: n }, (_, k) => diskBytes(path.join(root, '.clones', `${id}-${k + 1}`, 'upper'))).reduce((a, b) => a + b, 0);
      const t = now();
      for (let k = 1; k <= n; k++) run(['delete', '--force', `${id}-${k}`]);
      add(`delete${n}`, now() - t);
    }
  }

  const cpu = os.cpus()[0]?.model ?? '?';
  console.log(`bench/clones: ${rounds} rounds, ${os.cpus().length} cpus (${cpu}), container memory ${memMiB} MiB + shell`);
  console.log(`base rootfs on disk ${(baseBytes / 1024).toFixed(0)} KiB, checkpoint images ${(imageBytes / 1024).toFixed(0)} KiB`);
  console.log(`plain restore -d (one container, into the base bundle): ${median(samples.plain).toFixed(0)} ms`);
  console.log('');
  console.log('clones | restore total ms | per clone ms | delete per clone ms | upper layers KiB (all clones) | upper / base rootfs');
  console.log('-------|------------------|--------------|---------------------|-------------------------------|--------------------');
  for (const n of COUNTS) {
    const total = median(samples[`clone${n}`]);
    const del = median(samples[`delete${n}`]) / n;
    const up = upper[n];
    console.log(
      `${String(n).padStart(6)} | ${total.toFixed(0).padStart(16)} | ${(total / n).toFixed(0).padStart(12)} | ${del.toFixed(0).padStart(19)} | ` +
        `${(up / 1024).toFixed(0).padStart(29)} | ${((100 * up) / baseBytes).toFixed(2).padStart(17)} %`,
    );
  }
  if (raw) console.log(JSON.stringify(samples));
}

main()
  .catch((err: unknown) => {
    console.error((err as Error).message);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const id of fs.existsSync(root) ? fs.readdirSync(root).filter((n) => !n.startsWith('.')) : []) {
      spawnSync(stasis, ['--root', root, 'delete', '--force', id], { env, stdio: 'ignore' });
    }
    const clones = path.join(root, '.clones');
    for (const id of fs.existsSync(clones) ? fs.readdirSync(clones) : []) {
      spawnSync(stasis, ['--root', root, 'delete', '--force', id], { env, stdio: 'ignore' });
    }
    fs.rmSync(work, { recursive: true, force: true });
  });
