/**
 * `stasis service`: keeps warm workers (src/warm/worker.ts) waiting on a socket, so that bin/stasis hands
 * a call to a Node process that has already started instead of starting one (Node's own start-up is about
 * as long as runc's whole `run`). The service only starts workers: it never sees a call, its fds or its
 * containers. Each worker takes one call and ends; the service starts another as soon as one is taken.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { native } from '../native';
import { RuntimeError } from '../runtime/errors';

/** Where bin/stasis looks without $STASIS_WARM_SOCKET (native/front/front.c DEFAULT_SOCKET: the two must agree). */
export const DEFAULT_SOCKET = '/run/stasis-warm/sock';
/** How long no call must be taken before the pool is topped up (unless it ran dry). */
const TOP_UP_QUIET_MS = 30;

export interface ServiceOptions {
  socket: string;
  /** Workers kept waiting. */
  workers: number;
  /** End after this many seconds without a call (0: never). */
  idleExit: number;
  /** One line on stderr per call taken. */
  verbose: boolean;
  /** dist/launcher.cjs, which a worker runs. */
  launcher: string;
  log(line: string): void;
}

/** Runs until SIGTERM/SIGINT (or the idle limit); resolves to the exit status. */
export async function runService(o: ServiceOptions): Promise<number> {
  const n = native();
  const dir = path.dirname(o.socket);
  const madeDir = fs.mkdirSync(dir, { recursive: true, mode: 0o700 }) !== undefined;
  // One service per socket: the lock is held for the service's life, and released by the kernel when it dies.
  const lockFd = fs.openSync(`${o.socket}.lock`, 'w', 0o600);
  try {
    n.flock(lockFd, n.LOCK_EX | n.LOCK_NB);
  } catch {
    throw new RuntimeError('usage', `a stasis service already listens on ${o.socket}`);
  }
  fs.rmSync(o.socket, { force: true }); // a socket left by a service that died
  const listenFd = n.listenSeqpacket(o.socket, 128);

  const idle = new Set<ChildProcess>();
  let stopping = false;
  let calls = 0;
  let recentFailures: number[] = [];
  let idleTimer: NodeJS.Timeout | undefined;
  let finish!: (code: number) => void;
  const done = new Promise<number>((r) => (finish = r));

  const armIdle = () => {
    if (o.idleExit <= 0) return;
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => stop(`no call for ${o.idleExit} s`), o.idleExit * 1000);
  };
  const start = () => {
    if (stopping || idle.size >= o.workers) return;
    const child = spawn(process.execPath, [o.launcher], {
      env: { ...process.env, STASIS_WARM_WORKER: '1' },
      stdio: ['ignore', 'ignore', 'inherit', listenFd, 'pipe'],
      detached: true, // its own session: a Ctrl-C meant for the service must not reach a call in progress
    });
    // Waiting workers start at the lowest priority: a new one starts up while calls run, and on a small
    // machine its start-up would take their CPU. A worker takes its caller's priority with a call.
    try {
      if (child.pid) os.setPriority(child.pid, 19);
    } catch {
      /* already gone: its exit says so */
    }
    idle.add(child);
    const taken = child.stdio[4]!;
    taken.once('data', () => {
      idle.delete(child);
      calls++;
      if (o.verbose) o.log(`worker ${child.pid} took a call (${calls} so far)`);
      armIdle();
      topUp();
    });
    taken.on('error', () => undefined);
    child.on('error', (err) => o.log(`cannot start a worker (${o.launcher}): ${err.message}`)); // 'exit' follows
    child.once('exit', (code, signal) => {
      if (!idle.delete(child) || stopping) return;
      // It ended before taking a call: a broken build or environment. Retry, but not in a tight loop.
      const now = Date.now();
      recentFailures = [...recentFailures.filter((t) => now - t < 10_000), now];
      o.log(`worker ${child.pid} ended before taking a call (${signal ?? `exit ${code}`})`);
      setTimeout(start, recentFailures.length >= 3 ? 5000 : 100);
    });
  };
  // A worker's start-up is a Node start-up: ~30 ms of CPU. Calls come in bursts (create, start, delete), so
  // the pool is topped up once a burst is over, not during it, unless it ran dry.
  let topUpTimer: NodeJS.Timeout | undefined;
  const topUp = () => {
    clearTimeout(topUpTimer);
    if (idle.size === 0) start();
    topUpTimer = setTimeout(() => {
      while (!stopping && idle.size < o.workers) start();
    }, TOP_UP_QUIET_MS);
  };
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    clearTimeout(idleTimer);
    clearTimeout(topUpTimer);
    o.log(`stopping: ${why}`);
    fs.rmSync(o.socket, { force: true });
    fs.closeSync(listenFd);
    for (const child of idle) child.kill('SIGTERM'); // idle: blocked in accept, holding no call
    fs.rmSync(`${o.socket}.lock`, { force: true });
    fs.closeSync(lockFd);
    try {
      if (madeDir) fs.rmdirSync(dir); // ours; left alone if anything else was put in it since
    } catch {
      /* not empty */
    }
    finish(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => stop('SIGHUP'));

  for (let i = 0; i < o.workers; i++) start();
  armIdle();
  o.log(`listening on ${o.socket} with ${o.workers} warm worker${o.workers === 1 ? '' : 's'}`);
  return done;
}
