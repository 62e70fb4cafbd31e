/**
 * Progress on stderr for long archive work: shown only on a terminal, and only once the work has taken
 * more than a second (quick operations and scripts see nothing).
 */

/** What Progress writes to (process.stderr in real use). */
export interface ProgressSink {
  isTTY?: boolean;
  write(s: string): unknown;
}

/** Human size: "512 B", "3.4 MiB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${Math.round(n)} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** A byte counter that redraws one stderr line at most every 200 ms. */
export class Progress {
  private bytes = 0;
  private readonly start: number;
  private lastDraw = 0;
  private shown = false;

  constructor(
    private readonly label: string,
    private readonly total: number | undefined,
    private readonly sink: ProgressSink = process.stderr,
    private readonly clock: () => number = Date.now,
    private readonly delayMs = 1000,
  ) {
    this.start = clock();
  }

  /** Counts n more bytes. */
  add(n: number): void {
    this.bytes += n;
    if (!this.sink.isTTY) return;
    const now = this.clock();
    if (now - this.start < this.delayMs || now - this.lastDraw < 200) return;
    this.lastDraw = now;
    this.shown = true;
    this.sink.write(`\r${this.line(now)}\x1b[K`);
  }

  /** Ends the line when one was drawn. */
  done(): void {
    if (this.shown) this.sink.write(`\r${this.line(this.clock())}\x1b[K\n`);
    this.shown = false;
  }

  /** The text of the progress line. */
  line(now: number): string {
    const secs = Math.max((now - this.start) / 1000, 0.001);
    const rate = `${formatBytes(this.bytes / secs)}/s`;
    if (this.total && this.total > 0) {
      const pct = Math.min(100, Math.floor((this.bytes / this.total) * 100));
      return `${this.label}: ${formatBytes(this.bytes)} / ${formatBytes(this.total)} (${pct}%), ${rate}`;
    }
    return `${this.label}: ${formatBytes(this.bytes)}, ${rate}`;
  }
}
