/**
 * bench/lifecycle: `run` of /bin/true, and create + start + wait + delete, for stasis, runc and crun,
 * interleaved in one run (each round runs every runtime once, so drift hits all alike). Prints medians and
 * the ratio to runc. Run as root: `node dist/bench/lifecycle.js [rounds]`. NODE_EXTRA_CA_CERTS is removed
 * from the environment of every runtime, since it triples Node's start-up.
 *
 * stasis is measured twice: cold (STASIS_WARM=0: every call starts Node) and warm (calls taken by the warm
 * workers of a `stasis service` the bench starts on its own socket, docs/warm.md). Every measurement starts
 * after a 150 ms pause, so that no runtime pays for the service starting workers after another's calls.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const repo = path.resolve(__dirname, '..', '..');
const rounds = Number(process.argv[2] ?? 20);
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;

interface Runtime {
  name: string;
  bin: string;
  root: string;
  env?: NodeJS.ProcessEnv;
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-bench-'));
const warmSocket = path.join(work, 'warm.sock');
const runtimes: Runtime[] = [
  { name: 'stasis', bin: path.join(repo, 'bin', 'stasis'), root: path.join(work, 'stasis'), env: { ...env, STASIS_WARM: '0' } },
  { name: 'stasis warm', bin: path.join(repo, 'bin', 'stasis'), root: path.join(work, 'stasis-warm'), env: { ...env, STASIS_WARM_SOCKET: warmSocket } },
  { name: 'runc', bin: which('runc'), root: path.join(work, 'runc') },
  { name: 'crun', bin: which('crun'), root: path.join(work, 'crun') },
].filter((r) => r.bin);

function which(cmd: string): string {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : '';
}

function makeBundle(): string {
  const dir = path.join(work, 'bundle');
  execFileSync('bash', [path.join(repo, 'scripts', 'make-bundle.sh'), dir, '/bin/true'], { env, stdio: 'ignore' });
  // Older runtimes refuse spec versions newer than they know; the bundle uses nothing from 1.1+.
  const file = path.join(dir, 'config.json');
  const spec = JSON.parse(fs.readFileSync(file, 'utf8'));
  spec.ociVersion = '1.0.2';
  fs.writeFileSync(file, JSON.stringify(spec));
  return dir;
}

function ms(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function runOnce(rt: Runtime, bundle: string, id: string): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(rt.bin, ['--root', rt.root, 'run', '--bundle', bundle, id], { env: rt.env ?? env, stdio: ['ignore', 'ignore', errFd] });
  const elapsed = ms(t);
  if (r.status !== 0) throw new Error(`${rt.name} run failed (status ${r.status}): ${lastError()}`);
  return elapsed;
}

// stderr goes to a file, not a pipe: a detached container keeps stasis's stderr open, and spawnSync would
// wait for the pipe to close. On a failure, its last line says why (crun: "cgroups in hybrid mode …").
const errFile = path.join(work, 'stderr');
const errFd = fs.openSync(errFile, 'w');

function lastError(): string {
  const lines = fs.readFileSync(errFile, 'utf8').trim().split('\n');
  return lines[lines.length - 1].slice(0, 160);
}

/** `node -e 0`: the floor under any Node program, measured in the same rounds for reference. */
function nodeStartup(): number {
  const t = process.hrtime.bigint();
  spawnSync(process.execPath, ['-e', '0'], { env, stdio: 'ignore' });
  return ms(t);
}

function fullCycle(rt: Runtime, bundle: string, id: string): number {
  const pidFile = path.join(work, `${id}.pid`);
  const t = process.hrtime.bigint();
  const call = (...args: string[]) => {
    const r = spawnSync(rt.bin, ['--root', rt.root, ...args], { env: rt.env ?? env, stdio: ['ignore', 'ignore', errFd] });
    if (r.status !== 0) throw new Error(`${rt.name} ${args[0]} failed (status ${r.status}): ${lastError()}`);
  };
  call('create', '--bundle', bundle, '--pid-file', pidFile, id);
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  call('start', id);
  waitExit(pid);
  call('delete', id);
  return ms(t);
}

/** Waits until pid is gone or a zombie (PID 1 here may not reap). */
function waitExit(pid: number): void {
  for (;;) {
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return;
    }
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return;
  }
}

function settle(): void {
  spawnSync('sleep', ['0.15']);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** `stasis service` on the bench's own socket, listening, with a few calls made so its workers are up. */
function startService(): ChildProcess {
  const service = spawn(path.join(repo, 'bin', 'stasis'), ['service', '--socket', warmSocket, '--workers', '4'], { env, stdio: 'ignore' });
  for (let i = 0; i < 100 && !fs.existsSync(warmSocket); i++) spawnSync('sleep', ['0.1']);
  if (!fs.existsSync(warmSocket)) throw new Error(`stasis service did not listen on ${warmSocket}`);
  // A call waits in the socket's queue until a worker has started: these wait for the first workers.
  for (let i = 0; i < 4; i++) spawnSync(path.join(repo, 'bin', 'stasis'), ['--version'], { env: runtimes[1].env });
  settle();
  return service;
}

function main(): void {
  const bundle = makeBundle();
  const service = startService();
  const results = new Map<string, { run: number[]; cycle: number[]; error?: string }>();
  for (const rt of runtimes) results.set(rt.name, { run: [], cycle: [] });
  const node: number[] = [];
  let n = 0;
  for (let i = 0; i < rounds; i++) {
    node.push(nodeStartup());
    for (const rt of runtimes) {
      const res = results.get(rt.name)!;
      if (res.error) continue;
      try {
        // A quiet moment before each measurement: the warm service starts its next workers when calls stop,
        // and that start-up must not land on the next runtime's clock.
        settle();
        res.run.push(runOnce(rt, bundle, `bench-${n++}`));
        settle();
        res.cycle.push(fullCycle(rt, bundle, `bench-${n++}`));
      } catch (err) {
        res.error = (err as Error).message;
      }
    }
  }
  const base = results.get('runc');
  const baseRun = base && !base.error ? median(base.run) : NaN;
  const baseCycle = base && !base.error ? median(base.cycle) : NaN;
  console.log(`bench/lifecycle: ${rounds} interleaved rounds, medians (ratio to runc); load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log('runtime       run /bin/true        create+start+wait+delete');
  for (const [name, r] of results) {
    if (r.error) {
      console.log(`${name.padEnd(13)} not measured: ${r.error}`);
      continue;
    }
    const a = median(r.run);
    const b = median(r.cycle);
    console.log(`${name.padEnd(13)} ${a.toFixed(1).padStart(6)} ms (${(a / baseRun).toFixed(2)}x)   ${b.toFixed(1).padStart(6)} ms (${(b / baseCycle).toFixed(2)}x)`);
  }
  const floor = median(node);
  console.log(`node -e 0     ${floor.toFixed(1).padStart(6)} ms (${(floor / baseRun).toFixed(2)}x)   (the start-up every stasis command pays; x3 in the cycle)`);
  service.kill('SIGTERM');
  fs.rmSync(work, { recursive: true, force: true });
}

main();
