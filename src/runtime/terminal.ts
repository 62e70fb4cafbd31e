/**
 * The terminal of a foreground container (`run` or `exec -t` without --console-socket), as runc does it:
 * the helper sends the pty master over a socketpair stasis holds, and stasis copies between its own stdio
 * and the master, in raw mode when its stdin is a terminal, following window size changes.
 */
import * as fs from 'node:fs';
import { native } from '../native';
import { RuntimeError } from './errors';

/** A socketpair: `theirs` goes to the helper (USE_CONSOLE_FD), `ours` receives the master. */
export interface TerminalSocket {
  ours: number;
  theirs: number;
}

/** Creates the socketpair the master will travel on. */
export function openTerminalSocket(): TerminalSocket {
  const [ours, theirs] = native().seqpacketPair();
  return { ours, theirs };
}

/** Closes both ends (after the master arrived, or when create failed). */
export function closeTerminalSocket(s: TerminalSocket): void {
  for (const fd of [s.ours, s.theirs]) {
    try {
      fs.closeSync(fd);
    } catch {
      /* already closed */
    }
  }
}

/** Takes the pty master the helper sent (it is queued before `ready`, so this does not block). */
export function receiveMaster(s: TerminalSocket): number {
  const { fds } = native().recvMsg(s.ours, 4096);
  if (!fds.length) throw new RuntimeError('system', 'the container did not send its terminal');
  for (const extra of fds.slice(1)) fs.closeSync(extra);
  return fds[0];
}

/** The size of stasis's own terminal, for the container's pty; undefined when stdout is not a terminal. */
export function ownTerminalSize(): { height: number; width: number } | undefined {
  const out = process.stdout;
  return out.isTTY && out.rows && out.columns ? { height: out.rows, width: out.columns } : undefined;
}

/** A running copy between stasis's stdio and the master. `finished` resolves once the pty is drained. */
export interface TerminalProxy {
  finished: Promise<void>;
  /** Restores stdin's mode and releases everything. */
  stop(): void;
}

/** Starts copying. Output ends when every slave fd is closed (the read then fails with EIO). */
export function proxyTerminal(master: number): TerminalProxy {
  // Loaded here: node:tty pulls in net and stream, which a run without a terminal never needs.
  const tty = require('node:tty') as typeof import('node:tty');
  const pty = new tty.ReadStream(master);
  const stdin = process.stdin;
  const raw = stdin.isTTY === true;
  if (raw) stdin.setRawMode(true);
  const onInput = (chunk: Buffer) => pty.write(chunk);
  stdin.on('data', onInput);
  stdin.resume();
  const onResize = () => {
    const size = ownTerminalSize();
    if (size) native().setWinsize(master, size.height, size.width);
  };
  process.on('SIGWINCH', onResize);
  const finished = new Promise<void>((resolve) => {
    pty.on('data', (chunk: Buffer) => process.stdout.write(chunk));
    pty.on('error', () => resolve()); // EIO: the container side is gone
    pty.on('end', () => resolve());
    pty.on('close', () => resolve());
  });
  let stopped = false;
  return {
    finished,
    stop() {
      if (stopped) return;
      stopped = true;
      process.off('SIGWINCH', onResize);
      stdin.off('data', onInput);
      if (raw) stdin.setRawMode(false);
      stdin.pause();
      pty.destroy();
    },
  };
}
