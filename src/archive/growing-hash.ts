/**
 * Hashing images while CRIU is still writing them. A portable checkpoint needs the sha256 of every image
 * byte; hashing after the dump reads the biggest images (the memory pages) a second time, ~0.7 s per GiB on
 * one core. CRIU writes a pages image strictly by appending (its page transfer splices page after page to the
 * end), so the bytes below the size fstat reports are final: this hasher follows the files as they grow, on
 * the core CRIU leaves free, and only the tail is left when the dump ends.
 *
 * It runs in a worker thread: while CRIU dumps, stasis's main thread sits in a blocking wait on CRIU's RPC
 * socket, so a timer there would never fire.
 *
 * Only files that are written by appending may be followed (the caller's pattern): a file rewritten in place
 * would get a wrong hash. The manifest checks each size at the end, and an import verifies every hash again.
 */
import type { Worker } from 'node:worker_threads';
import { workerThreads } from '../util/builtins';

/** What the follower hashed: relative path (to the manifest's directory) → sha256 and size. */
export type KnownHashes = Map<string, { sha256: string; size: number }>;

/** The worker's code (plain CommonJS: it is evaluated, not bundled). */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const path = require('node:path');
const { createHash } = require('node:crypto');
const { dir, pattern, intervalMs } = workerData;
const follows = new RegExp(pattern);
const files = new Map();
const skipped = new Set();
const buf = Buffer.allocUnsafe(1 << 20);
function poll() {
  let names;
  try { names = fs.readdirSync(dir); } catch { return; }
  for (const name of names) {
    if (!follows.test(name) || skipped.has(name)) continue;
    let f = files.get(name);
    if (!f) {
      // Non-blocking: a FIFO (page-stream.ts) would block the open; it is not followed.
      let fd;
      try { fd = fs.openSync(path.join(dir, name), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK); }
      catch { continue; }
      if (!fs.fstatSync(fd).isFile()) { fs.closeSync(fd); skipped.add(name); continue; }
      f = { fd, hash: createHash('sha256'), offset: 0 };
      files.set(name, f);
    }
    const end = fs.fstatSync(f.fd).size;
    while (f.offset < end) {
      const n = fs.readSync(f.fd, buf, 0, Math.min(buf.length, end - f.offset), f.offset);
      if (n <= 0) break;
      f.hash.update(buf.subarray(0, n));
      f.offset += n;
    }
  }
}
const timer = setInterval(poll, intervalMs);
parentPort.on('message', (m) => {
  clearInterval(timer);
  const out = [];
  if (m === 'finish') poll();
  for (const [name, f] of files) {
    if (m === 'finish') out.push([name, f.hash.digest('hex'), f.offset]);
    fs.closeSync(f.fd);
  }
  parentPort.postMessage(out);
  parentPort.close();
});
`;

/** Follows the files of `dir` whose names match `pattern`; `prefix` is their path in the manifest. */
export class GrowingFileHasher {
  private worker: Worker | undefined;

  constructor(
    private readonly dir: string,
    private readonly prefix: string,
    private readonly pattern: RegExp,
  ) {}

  /** Starts following, polling every `intervalMs`. */
  start(intervalMs = 10): void {
    this.worker = new (workerThreads().Worker)(WORKER, { eval: true, workerData: { dir: this.dir, pattern: this.pattern.source, intervalMs } });
    this.worker.unref();
  }

  private async ask(what: 'finish' | 'abort'): Promise<[string, string, number][]> {
    const w = this.worker;
    this.worker = undefined;
    if (!w) return [];
    w.ref();
    const reply = new Promise<[string, string, number][]>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
      w.once('exit', () => resolve([]));
    });
    w.postMessage(what);
    try {
      return await reply;
    } finally {
      await w.terminate();
    }
  }

  /** Stops following, hashes what is left, and returns every followed file's hash. */
  async finish(): Promise<KnownHashes> {
    const out: KnownHashes = new Map();
    for (const [name, sha256, size] of await this.ask('finish')) out.set(`${this.prefix}${name}`, { sha256, size });
    return out;
  }

  /** Stops following and lets go of every file (the dump failed). */
  async abort(): Promise<void> {
    await this.ask('abort').catch(() => undefined);
  }
}
