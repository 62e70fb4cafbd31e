/**
 * bench/checkpoint-archive: what a portable checkpoint costs over a plain one, for a container holding
 * 1 GiB of memory, incompressible (random) and compressible (text), in one interleaved run:
 *
 *   plain     checkpoint --image-path DIR            restore --image-path DIR
 *   export    checkpoint --export F.tar               restore --import F.tar
 *   zstd      checkpoint --export F.tar.zst           restore --import F.tar.zst
 *
 *   node dist/bench/checkpoint-archive.js [rounds] [--mib N]
 *
 * Reports medians of wall time and the size on disk, and each variant's ratio to plain (the target for
 * export is ≤ 1.3× plain on incompressible memory; zstd should shrink compressible memory). Root only;
 * NODE_EXTRA_CA_CERTS is removed from every child's environment.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const repo = path.resolve(__dirname, '..', '..');
const stasis = path.join(repo, 'bin', 'stasis');
const args = process.argv.slice(2);
const rounds = Number(args.find((a) => /^\d+$/.test(a)) ?? 3);
const mibAt = args.indexOf('--mib');
const mib = mibAt >= 0 ? Number(args[mibAt + 1]) : 1024;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-bench-archive-'));
const root = path.join(work, 'state');
const env: NodeJS.ProcessEnv = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;

/** Fills N MiB with random bytes (xorshift: incompressible) or with text (compressible), then sleeps. */
const FILL_C = `#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
  size_t n = (size_t)atol(argv[1]) << 20;
  int text = argv[2][0] == 't';
  int null = open("/dev/null", O_RDWR);
  dup2(null, 0); dup2(null, 1); dup2(null, 2);
  unsigned long long *p = malloc(n), x = 88172645463325252ULL;
  static const char line[] = "the quick brown fox jumps over the lazy dog, checkpoint after checkpoint.\\n";
  for (size_t i = 0; i < n / 8; i++) {
    if (text) { memcpy(&p[i], line + (i * 8) % (sizeof line - 9), 8); continue; }
    x ^= x << 13; x ^= x >> 7; x ^= x << 17; p[i] = x;
  }
  close(open("/tmp/ready", O_CREAT | O_WRONLY, 0644));
  for (;;) pause();
}
`;

type Variant = 'plain' | 'export' | 'zstd';
const VARIANTS: Variant[] = ['plain', 'export', 'zstd'];

function sh(cmd: string, argv: string[]): string {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

function timed(argv: string[]): number {
  const t0 = process.hrtime.bigint();
  sh(stasis, ['--root', root, ...argv]);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function duBytes(p: string): number {
  return Number(sh('du', ['-sb', p]).split('\t')[0]);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
}

function makeBundle(kind: 'random' | 'text'): string {
  const bundle = path.join(work, `bundle-${kind}`);
  sh('bash', [path.join(repo, 'scripts', 'make-bundle.sh'), bundle, '/fill', String(mib), kind]);
  fs.copyFileSync(path.join(work, 'fill'), path.join(bundle, 'rootfs', 'fill'));
  fs.chmodSync(path.join(bundle, 'rootfs', 'fill'), 0o755);
  const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
  spec.root.readonly = false;
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
  return bundle;
}

async function startFilled(bundle: string, id: string): Promise<void> {
  fs.rmSync(path.join(bundle, 'rootfs', 'tmp', 'ready'), { force: true });
  sh(stasis, ['--root', root, 'run', '-d', '--bundle', bundle, id]);
  const end = Date.now() + 60_000;
  while (!fs.existsSync(path.join(bundle, 'rootfs', 'tmp', 'ready'))) {
    if (Date.now() > end) throw new Error(`${id} did not fill its memory`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One checkpoint + restore of one variant; returns [checkpoint ms, restore ms, bytes on disk]. */
async function once(bundle: string, v: Variant, n: number): Promise<[number, number, number]> {
  const id = `bench-archive-${process.pid}-${n}`;
  await startFilled(bundle, id);
  const target = path.join(work, `ckpt-${n}${v === 'plain' ? '' : v === 'zstd' ? '.tar.zst' : '.tar'}`);
  sh('sync', []);
  const ck = timed(['checkpoint', ...(v === 'plain' ? ['--image-path', target] : ['--export', target]), id]);
  const bytes = duBytes(target);
  sh('sync', []);
  const rs = timed(['restore', '-d', '--bundle', bundle, ...(v === 'plain' ? ['--image-path', target] : ['--import', target]), id]);
  sh(stasis, ['--root', root, 'delete', '--force', id]);
  fs.rmSync(target, { recursive: true, force: true });
  return [ck, rs, bytes];
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root');
  fs.writeFileSync(path.join(work, 'fill.c'), FILL_C);
  sh('gcc', ['-O2', '-static', '-o', path.join(work, 'fill'), path.join(work, 'fill.c')]);
  console.log(`checkpoint-archive: ${mib} MiB, ${rounds} rounds, variants interleaved (rotating order)`);
  let n = 0;
  for (const kind of ['random', 'text'] as const) {
    const bundle = makeBundle(kind);
    const samples = new Map<Variant, [number, number, number][]>(VARIANTS.map((v) => [v, []]));
    for (let r = 0; r < rounds; r++) {
      const order = VARIANTS.map((_, i) => VARIANTS[(i + r) % VARIANTS.length]);
      for (const v of order) samples.get(v)!.push(await once(bundle, v, n++));
    }
    const base = samples.get('plain')!;
    const [pc, pr, pb] = [median(base.map((s) => s[0])), median(base.map((s) => s[1])), median(base.map((s) => s[2]))];
    console.log(`\n${kind} memory (${kind === 'random' ? 'incompressible' : 'compressible'})`);
    console.log('variant   checkpoint        restore           size');
    for (const v of VARIANTS) {
      const s = samples.get(v)!;
      const [c, rs, b] = [median(s.map((x) => x[0])), median(s.map((x) => x[1])), median(s.map((x) => x[2]))];
      const ratio = (a: number, z: number) => (v === 'plain' ? '      ' : `${(a / z).toFixed(2)}×`.padStart(6));
      console.log(
        `${v.padEnd(8)}  ${c.toFixed(0).padStart(6)} ms ${ratio(c, pc)}  ${rs.toFixed(0).padStart(6)} ms ${ratio(rs, pr)}  ${(b / 2 ** 20).toFixed(0).padStart(6)} MiB ${ratio(b, pb)}`,
      );
    }
  }
}

main()
  .catch((err: unknown) => {
    console.error(`bench failed: ${(err as Error).message}`);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const id of spawnSync(stasis, ['--root', root, 'list', '-q'], { encoding: 'utf8', env }).stdout?.split('\n') ?? []) {
      if (id.trim()) spawnSync(stasis, ['--root', root, 'delete', '--force', id.trim()], { env });
    }
    try {
      execFileSync('rm', ['-rf', work]);
    } catch {
      /* best effort */
    }
  });
