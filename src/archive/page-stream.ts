/**
 * Memory images streamed into the archive while CRIU dumps (native/pagestream/pagestream.c does the moving).
 *
 * An uncompressed archive stores each member's bytes as they are, after a 512-byte header: if CRIU's pages
 * images land at their final offsets in the archive file, the archive costs what a plain dump costs. CRIU
 * names its memory images pages-1.img, pages-2.img… and writes them one at a time by appending; stasis puts
 * FIFOs under those names before the dump, and stasis-pagestream splices each into the archive behind a
 * hole for its header, hashing it as it lands. After the dump the manifest goes into the space reserved at
 * the start, the headers into their holes, and GNU tar appends the rest (export-streamed.ts).
 *
 * Streams that do not fit this plan degrade, never fail: a stream that starts while another runs is
 * spilled to a regular file; images beyond the FIFOs made are written by CRIU as usual; both go into the
 * archive by tar like every other file.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { packageRoot } from '../helper/paths';
import { native } from '../native';
import { ArchiveError, errnoText } from './errors';
import { BLOCK } from './tar-format';

/** One pages image that went into the archive. */
export interface StreamedMember {
  /** File name in the image directory (pages-N.img). */
  name: string;
  /** Archive offset of its 512-byte header hole; the data follows it. */
  header: number;
  size: number;
  sha256: string;
}

/** What the streamer reported at the end. */
export interface PageStreamResult {
  /** Images now inside the archive file (removed from the image directory). */
  members: StreamedMember[];
  /** Images that were spilled, now regular files in the image directory. */
  spilled: string[];
}

/** The stasis-pagestream executable. */
export function pagestreamPath(): string {
  return process.env.STASIS_PAGESTREAM || path.join(packageRoot(), 'build', 'Release', 'stasis-pagestream');
}

/** Bytes reserved at the archive's start for the manifest, for a container of `processes` processes. Pure. */
export function manifestReserve(processes: number): number {
  // ~130 bytes per manifest entry, about a dozen images per process, plus the fixed files: generous.
  return 64 * 1024 + Math.max(1, processes) * 4096;
}

/** Parses the streamer's report (see pagestream.c). Pure. */
export function parseStreamReport(text: string): { members: StreamedMember[]; spills: { name: string; size: number; sha256: string }[]; unused: string[] } {
  const out = { members: [] as StreamedMember[], spills: [] as { name: string; size: number; sha256: string }[], unused: [] as string[] };
  for (const line of text.split('\n')) {
    if (!line || line === 'ready') continue;
    const f = line.split(' ');
    if (f[0] === 'member' && f.length === 5) out.members.push({ name: f[1], header: Number(f[2]), size: Number(f[3]), sha256: f[4] });
    else if (f[0] === 'spill' && f.length === 4) out.spills.push({ name: f[1], size: Number(f[2]), sha256: f[3] });
    else if (f[0] === 'unused' && f.length === 2) out.unused.push(f[1]);
    else if (f[0] === 'error') throw new ArchiveError('system', `page streaming failed: ${line.slice('error '.length)}`);
    else throw new ArchiveError('system', `page streaming: unexpected report line ${JSON.stringify(line)}`);
  }
  for (const m of out.members) {
    if (!Number.isSafeInteger(m.header) || m.header % BLOCK !== 0 || !Number.isSafeInteger(m.size)) {
      throw new ArchiveError('system', `page streaming: bad offsets for ${m.name}`);
    }
  }
  return out;
}

/** FIFOs for pages-1.img … pages-N.img, the streamer reading them into `archive` from `reserve` on. */
export class PageStream {
  private child: ChildProcessByStdio<Writable, Readable, Readable> | undefined;
  private fd: number | undefined;
  private readonly fifos: string[];
  private stdout = '';
  private stderr = '';
  private exited: Promise<number | null> | undefined;
  private watchdog: Worker | undefined;

  constructor(
    private readonly imagesDir: string,
    /** The archive being made (created here, exclusively). */
    readonly archive: string,
    /** Where the first image's header goes: the room kept for the manifest before it. */
    readonly reserve: number,
    count: number,
  ) {
    this.fifos = Array.from({ length: Math.max(1, count) }, (_, i) => path.join(imagesDir, `pages-${i + 1}.img`));
  }

  /**
   * Makes the FIFOs and starts the streamer; resolves once it reads every FIFO (CRIU must never find one
   * without a reader: its open would wait forever). Throws, having undone its part, when it cannot.
   */
  async start(): Promise<void> {
    try {
      for (const f of this.fifos) native().mkfifo(f, 0o600);
    } catch (err) {
      this.removeFifos();
      throw new ArchiveError('system', `cannot make fifos in ${this.imagesDir}: ${errnoText(err)}`);
    }
    try {
      this.fd = fs.openSync(this.archive, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
      const child = spawn(pagestreamPath(), [String(this.reserve), ...this.fifos], { stdio: ['pipe', 'pipe', 'pipe', this.fd] }) as unknown as ChildProcessByStdio<Writable, Readable, Readable>;
      this.child = child;
      let ready: () => void = () => undefined;
      const isReady = new Promise<void>((resolve) => (ready = resolve));
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        this.stdout += d;
        if (this.stdout.startsWith('ready\n')) ready();
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
      child.stdin.on('error', () => undefined); // it died: its exit status says why
      this.exited = new Promise((resolve, reject) => {
        child.on('error', (e) => reject(new ArchiveError('system', `cannot run ${pagestreamPath()}: ${errnoText(e)}`)));
        child.on('close', (code) => resolve(code));
      });
      this.exited.catch(() => undefined);
      await Promise.race([isReady, this.exited.then((code) => Promise.reject(new ArchiveError('system', `${pagestreamPath()} exited (${code}) before it was ready: ${this.failure()}`)))]);
      this.watchdog = startWatchdog(child.pid!, this.fifos);
    } catch (err) {
      await this.abort();
      throw err instanceof ArchiveError ? err : new ArchiveError('system', `cannot start streaming pages to ${this.archive}: ${errnoText(err)}`);
    }
  }

  /** The streamer's pid (while it runs). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private failure(): string {
    const line = this.stdout.split('\n').find((l) => l.startsWith('error ')) ?? this.stderr.trim().split('\n')[0];
    return line || 'no message';
  }

  /**
   * After CRIU has exited (no writer left): lets the streamer drain and report. Streamed images leave the
   * image directory (they are in the archive), spilled ones take their names, unused FIFOs go.
   */
  async finish(): Promise<PageStreamResult> {
    const child = this.child;
    if (!child) throw new ArchiveError('system', 'page streaming was not started');
    await this.stopWatchdog();
    child.stdin.end();
    const code = await this.exited;
    this.child = undefined;
    this.closeFd();
    const report = parseStreamReport(this.stdout);
    if (code !== 0) throw new ArchiveError('system', `page streaming failed (exit ${code}): ${this.stderr.trim().split('\n')[0] ?? ''}`);
    for (const s of report.spills) fs.renameSync(path.join(this.imagesDir, `${s.name}.spill`), path.join(this.imagesDir, s.name));
    this.removeFifos();
    return { members: report.members, spilled: report.spills.map((s) => s.name) };
  }

  /** Stops streaming and removes the FIFOs, spill files and the archive (the dump failed). */
  async abort(opts: { keepArchive?: boolean } = {}): Promise<void> {
    await this.stopWatchdog();
    if (this.child) {
      this.child.kill('SIGKILL');
      await this.exited?.catch(() => undefined);
      this.child = undefined;
    }
    this.closeFd();
    // keepArchive: after a dump that succeeded, the images in it are the only copy there is.
    if (!opts.keepArchive) fs.rmSync(this.archive, { force: true });
    this.removeFifos();
    for (const f of this.fifos) fs.rmSync(`${f}.spill`, { force: true });
  }

  private async stopWatchdog(): Promise<void> {
    const w = this.watchdog;
    this.watchdog = undefined;
    await w?.terminate();
  }

  private closeFd(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  /**
   * Removes what is still a FIFO among ours (a spilled image has replaced its FIFO by then), and the
   * directories a failing streamer put in place of FIFOs to make CRIU's open fail.
   */
  private removeFifos(): void {
    for (const f of this.fifos) {
      try {
        const st = fs.lstatSync(f);
        if (st.isFIFO()) fs.unlinkSync(f);
        else if (st.isDirectory()) fs.rmdirSync(f);
      } catch {
        /* already gone */
      }
    }
  }
}

/**
 * The watchdog's code (plain CommonJS, evaluated). While CRIU dumps, stasis's main thread is blocked on
 * CRIU's socket and cannot see its children die; this thread can. It holds a read end of every FIFO from
 * its start (it never reads: the data is the streamer's), so that CRIU's open of a FIFO does not wait for
 * a reader for long. Should the streamer die (killed, not failing: a failure does this itself), every FIFO left is
 * replaced by a directory, so that CRIU's next open fails (EISDIR); a moment later the held ends close, so
 * that a CRIU writing to a FIFO it had opened gets EPIPE. The dump then fails and stasis thaws the container,
 * instead of CRIU waiting forever with the container frozen. (Releasing a blocked open by opening and closing
 * the FIFO at once, as before, lost a race: an open whose path lookup came before the swap but whose wait
 * for a reader came after it waited forever on the unlinked FIFO.)
 */
const WATCHDOG = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { pid, fifos } = workerData;
// Opened by this thread, so Node closes them when the thread is terminated.
const held = fifos.map((f) => { try { return fs.openSync(f, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK); } catch { return -1; } });
function release() {
  for (const fd of held.splice(0)) try { if (fd >= 0) fs.closeSync(fd); } catch {}
}
function alive() {
  try { return !/^\\d+ \\(.*\\) [ZX]/.test(fs.readFileSync('/proc/' + pid + '/stat', 'utf8')); } catch { return false; }
}
const timer = setInterval(() => {
  if (alive()) return;
  clearInterval(timer);
  for (const f of fifos) {
    try {
      if (!fs.lstatSync(f).isFIFO()) continue;
      fs.unlinkSync(f);
      fs.mkdirSync(f, 0o700);
    } catch {}
  }
  setTimeout(release, 200);
}, 20);
`;

/** Starts the watchdog over the streamer `pid` and its FIFOs. */
function startWatchdog(pid: number, fifos: string[]): Worker {
  const w = new Worker(WATCHDOG, { eval: true, workerData: { pid, fifos } });
  w.unref();
  return w;
}
