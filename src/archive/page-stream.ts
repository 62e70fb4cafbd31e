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
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
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
    if (!line || line === 'ready' || line === 'drained' || /^(spliced|spilled) /.test(line)) continue; // see parseDrained
    const f = line.split(' ');
    if (f[0] === 'member' && f.length === 5) out.members.push({ name: f[1], header: Number(f[2]), size: Number(f[3]), sha256: f[4] });
    else if (f[0] === 'spill' && f.length === 4) out.spills.push({ name: f[1], size: Number(f[2]), sha256: f[3] });
    else if (f[0] === 'unused' && f.length === 2) out.unused.push(f[1]);
    else if (f[0] === 'error') throw new ArchiveError('system', `page streaming failed: ${line.slice('error '.length)}`);
    else throw new ArchiveError('system', `page streaming: unexpected report line ${JSON.stringify(line)}`);
  }
  checkOffsets(out.members);
  return out;
}

/** Refuses offsets no archive member can have (the header must start a 512-byte block). */
function checkOffsets(members: Omit<StreamedMember, 'sha256'>[]): void {
  for (const m of members) {
    if (!Number.isSafeInteger(m.header) || m.header % BLOCK !== 0 || !Number.isSafeInteger(m.size)) {
      throw new ArchiveError('system', `page streaming: bad offsets for ${m.name}`);
    }
  }
}

/** Where the images are once every stream is in (the streamer's answer to "d"), hashes not included. Pure. */
export function parseDrained(text: string): { spliced: Omit<StreamedMember, 'sha256'>[]; spilled: string[] } {
  const out = { spliced: [] as Omit<StreamedMember, 'sha256'>[], spilled: [] as string[] };
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f[0] === 'spliced' && f.length === 4) out.spliced.push({ name: f[1], header: Number(f[2]), size: Number(f[3]) });
    else if (f[0] === 'spilled' && f.length === 3) out.spilled.push(f[1]);
  }
  checkOffsets(out.spliced);
  return out;
}

/**
 * FIFOs for pages-1.img … pages-N.img, the streamer reading them into `archive` from `reserve` on.
 *
 * The streamer is started with the addon's posix_spawn and its report read through a socket on the event
 * loop: no child_process module to load and no thread-pool thread held while CRIU dumps. Its guard process
 * (pagestream.c) ends the dump should the streamer die, so no watchdog runs here.
 */
export class PageStream {
  private child: number | undefined;
  private fd: number | undefined;
  private stdin: number | undefined;
  private readonly fifos: string[];
  private stdout = '';
  /** Resolves when the report socket reaches end-of-file: the streamer and its guard are gone. */
  private ended: Promise<void> | undefined;
  private ready: Promise<void> | undefined;
  /** Told of every piece of the report and of its end. */
  private onReport: (() => void) | undefined;
  private closed = false;

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

  /** launch() and wait until the streamer reads every FIFO. */
  async start(): Promise<void> {
    this.launch();
    await this.whenReady();
  }

  /**
   * Makes the FIFOs and starts the streamer, without waiting for it: whenReady() must have resolved before
   * CRIU may open a FIFO (with no reader its open would wait forever). Throws, having undone its part.
   */
  launch(): void {
    try {
      for (const f of this.fifos) native().mkfifo(f, 0o600);
    } catch (err) {
      this.removeFifos();
      throw new ArchiveError('system', `cannot make fifos in ${this.imagesDir}: ${errnoText(err)}`);
    }
    const theirs: number[] = [];
    let reportFd: number | undefined; // ours until the socket owns it
    try {
      this.fd = fs.openSync(this.archive, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
      const [inOurs, inTheirs] = native().streamPair();
      this.stdin = inOurs;
      theirs.push(inTheirs);
      const [outOurs, outTheirs] = native().streamPair();
      reportFd = outOurs;
      theirs.push(outTheirs);
      // stderr shares the report socket: anything the streamer says there is an unexpected line, reported.
      this.child = native().spawn(pagestreamPath(), [pagestreamPath(), String(this.reserve), ...this.fifos], [], [inTheirs, outTheirs, outTheirs, this.fd], false);
      const report = new net.Socket({ fd: outOurs, readable: true, writable: false });
      reportFd = undefined;
      let isReady: () => void = () => undefined;
      this.ready = new Promise<void>((resolve) => (isReady = resolve));
      this.ended = new Promise<void>((resolve) => {
        report.setEncoding('utf8').on('data', (d: string) => {
          this.stdout += d;
          if (this.stdout.startsWith('ready\n')) isReady();
          this.onReport?.();
        });
        report.on('error', () => undefined); // read errors end it like end-of-file
        report.on('close', () => {
          this.closed = true;
          resolve();
          this.onReport?.();
        });
      });
    } catch (err) {
      this.dropFds();
      if (reportFd !== undefined) fs.closeSync(reportFd);
      if (this.fd !== undefined) fs.rmSync(this.archive, { force: true });
      this.closeFd();
      this.removeFifos();
      throw new ArchiveError('system', `cannot start streaming pages to ${this.archive}: ${errnoText(err)}`);
    } finally {
      for (const fd of theirs) fs.closeSync(fd);
    }
  }

  /** Resolves once the streamer reads every FIFO; throws, having undone everything, when it cannot. */
  async whenReady(): Promise<void> {
    const failed = this.ended!.then(() => Promise.reject(new ArchiveError('system', `${pagestreamPath()} exited before it was ready: ${this.failure()}`)));
    try {
      await Promise.race([this.ready, failed]);
    } catch (err) {
      await this.abort();
      throw err;
    } finally {
      failed.catch(() => undefined);
    }
  }

  /**
   * Once CRIU has written its images (its post-dump notification, before it kills the container): waits
   * until every stream a writer opened is in, and says where. Throws when the streamer is gone or does not
   * answer within `timeoutMs`: the images are then not all safe, and CRIU must not kill the container.
   */
  async drained(timeoutMs = 10_000): Promise<ReturnType<typeof parseDrained>> {
    if (this.child === undefined || this.stdin === undefined) throw new ArchiveError('system', 'page streaming was not started');
    const from = this.stdout.length;
    try {
      fs.writeSync(this.stdin, 'd');
    } catch (err) {
      throw new ArchiveError('system', `the page streamer is gone: ${errnoText(err)}`);
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => reject(new ArchiveError('system', `the page streamer did not take every image within ${timeoutMs / 1000} s`)), timeoutMs);
        this.onReport = () => {
          if (/(^|\n)drained\n/.test(this.stdout.slice(from))) resolve();
          else if (this.closed) reject(new ArchiveError('system', `the page streamer is gone: ${this.failure()}`));
        };
        this.onReport();
      });
    } finally {
      clearTimeout(timer);
      this.onReport = undefined;
    }
    const answer = this.stdout.slice(from);
    return parseDrained(answer.slice(0, answer.search(/(^|\n)drained\n/)));
  }

  private failure(): string {
    const line = this.stdout.split('\n').find((l) => l.startsWith('error ')) ?? this.stdout.trim().split('\n')[0];
    return line || 'no message';
  }

  /**
   * After CRIU has exited (no writer left): lets the streamer drain and report. Streamed images leave the
   * image directory (they are in the archive), spilled ones take their names, unused FIFOs go.
   */
  async finish(): Promise<PageStreamResult> {
    if (this.child === undefined) throw new ArchiveError('system', 'page streaming was not started');
    this.dropFds(); // end-of-file on its stdin: CRIU is done
    await this.ended;
    const status = this.reap();
    this.closeFd();
    const report = parseStreamReport(this.stdout);
    if (status) throw new ArchiveError('system', `page streaming failed (${status}): ${this.failure()}`);
    for (const s of report.spills) fs.renameSync(path.join(this.imagesDir, `${s.name}.spill`), path.join(this.imagesDir, s.name));
    this.removeFifos();
    return { members: report.members, spilled: report.spills.map((s) => s.name) };
  }

  /** Stops streaming and removes the FIFOs, spill files and the archive (the dump failed). */
  async abort(opts: { keepArchive?: boolean } = {}): Promise<void> {
    if (this.child !== undefined) {
      process.kill(this.child, 'SIGKILL'); // still ours: it is reaped only below
      this.dropFds();
      // Its guard swaps what is left of the FIFOs and goes: only then are they safe to remove.
      await this.ended;
      this.reap();
    }
    this.closeFd();
    // keepArchive: after a dump that succeeded, the images in it are the only copy there is.
    if (!opts.keepArchive) fs.rmSync(this.archive, { force: true });
    this.removeFifos();
    for (const f of this.fifos) fs.rmSync(`${f}.spill`, { force: true });
  }

  /** The streamer's pid (until it is reaped). */
  get pid(): number | undefined {
    return this.child;
  }

  /** Reaps the streamer (gone by now: its report ended); '' when it exited 0, else how it ended. */
  private reap(): string {
    const r = native().waitPid(this.child!);
    this.child = undefined;
    if (r?.code === 0) return '';
    return r?.signal ? `killed by signal ${r.signal}` : `exit ${r?.code}`;
  }

  private dropFds(): void {
    if (this.stdin !== undefined) fs.closeSync(this.stdin);
    this.stdin = undefined;
  }

  private closeFd(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  /**
   * Removes what is still a FIFO among ours (a spilled image has replaced its FIFO by then), and the
   * directories a failing streamer or its guard put in place of FIFOs to make CRIU's open fail.
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
