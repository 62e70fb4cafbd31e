/**
 * Hashing images while CRIU is still writing them. A portable checkpoint needs the sha256 of every image
 * byte; hashing after the dump reads the biggest images (the memory pages) a second time, ~0.7 s per GiB on
 * one core. CRIU writes a pages image strictly by appending (its page transfer splices page after page to the
 * end), so the bytes below the size fstat reports are final: this hasher follows the files as they grow, on
 * the core CRIU leaves free, and only the tail is left when the dump ends.
 *
 * Only files that are written by appending may be followed (the caller's `follows`): a file rewritten in
 * place would get a wrong hash. The manifest still checks each size at the end (a follower whose size
 * differs from the file's is discarded and the file hashed again).
 */
import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Bytes read per file and poll: a poll blocks the event loop for ~30 ms at most. */
const SLICE = 32 << 20;
const BLOCK = 1 << 20;

interface Follower {
  fd: number;
  hash: Hash;
  offset: number;
}

/** What the follower hashed: relative path (to the manifest's directory) → sha256 and size. */
export type KnownHashes = Map<string, { sha256: string; size: number }>;

/** Follows the files of `dir` whose names `follows` accepts; `prefix` is their path in the manifest. */
export class GrowingFileHasher {
  private readonly files = new Map<string, Follower>();
  private readonly buf = Buffer.allocUnsafe(BLOCK);
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly dir: string,
    private readonly prefix: string,
    private readonly follows: (name: string) => boolean,
  ) {}

  /** Starts polling every `intervalMs`. */
  start(intervalMs = 10): void {
    this.timer = setInterval(() => this.poll(SLICE), intervalMs);
    this.timer.unref();
  }

  private poll(budget: number): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (!this.follows(name)) continue;
      let f = this.files.get(name);
      if (!f) {
        try {
          f = { fd: fs.openSync(path.join(this.dir, name), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW), hash: createHash('sha256'), offset: 0 };
        } catch {
          continue;
        }
        this.files.set(name, f);
      }
      const end = Math.min(fs.fstatSync(f.fd).size, f.offset + budget);
      while (f.offset < end) {
        const n = fs.readSync(f.fd, this.buf, 0, Math.min(BLOCK, end - f.offset), f.offset);
        if (n <= 0) break;
        f.hash.update(this.buf.subarray(0, n));
        f.offset += n;
      }
    }
  }

  /** Stops following, hashes what is left, and returns every followed file's hash. */
  finish(): KnownHashes {
    this.stop();
    this.poll(Number.MAX_SAFE_INTEGER);
    const out: KnownHashes = new Map();
    for (const [name, f] of this.files) {
      out.set(`${this.prefix}${name}`, { sha256: f.hash.digest('hex'), size: f.offset });
      fs.closeSync(f.fd);
    }
    this.files.clear();
    return out;
  }

  /** Stops following and lets go of every file (the dump failed). */
  abort(): void {
    this.stop();
    for (const f of this.files.values()) fs.closeSync(f.fd);
    this.files.clear();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
