/**
 * The runtime's log: `--log FILE` with `--log-format text|json`. Errors always go to stderr too; with
 * `--log`, containerd and Podman read the error back from the file, so the JSON shape matches runc's
 * (`{"level":"error","msg":…,"time":…}`).
 */
import * as fs from 'node:fs';

export type LogFormat = 'text' | 'json';
export type Level = 'debug' | 'info' | 'warning' | 'error';

/** Appends lines to the log file (or stderr when no file was given). */
export class Logger {
  constructor(
    private readonly file: string | undefined,
    private readonly format: LogFormat,
    readonly debugEnabled: boolean,
  ) {}

  debug(msg: string): void {
    if (this.debugEnabled) this.write('debug', msg);
  }

  info(msg: string): void {
    this.write('info', msg);
  }

  warn(msg: string): void {
    this.write('warning', msg);
  }

  /** Logs an error line to the log file; the CLI prints it to stderr separately. */
  error(msg: string): void {
    if (this.file) this.write('error', msg);
  }

  private write(level: Level, msg: string): void {
    const time = new Date().toISOString();
    const line =
      this.format === 'json'
        ? JSON.stringify({ level, msg, time }) + '\n'
        : `time="${time}" level=${level} msg=${JSON.stringify(msg)}\n`;
    if (!this.file) {
      // Without --log, warnings and debug lines go to stderr like runc's default logrus output.
      if (level !== 'info') process.stderr.write(line);
      return;
    }
    try {
      fs.appendFileSync(this.file, line);
    } catch {
      process.stderr.write(line);
    }
  }
}
