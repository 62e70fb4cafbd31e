/** GNU tar as a child process: started once, its stderr kept for the one line a failure reports. */
import { spawn, type ChildProcessByStdio, type SpawnOptions } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { ArchiveError, errnoText } from './errors';

/** A running tar. */
export interface TarProcess {
  child: ChildProcessByStdio<Writable | null, Readable | null, Readable>;
  /** Resolves with the exit status (null when killed); rejects only when tar cannot be started. Never unhandled. */
  done: Promise<number | null>;
  /** The first line tar wrote to stderr ('' when none). */
  firstErrorLine(): string;
}

/** Starts `tar args`; stderr is always captured (the first 4 KiB), stdin/stdout as `stdio` says. */
export function startTar(args: readonly string[], stdio: ['ignore' | 'pipe', 'ignore' | 'pipe'], opts: Pick<SpawnOptions, 'cwd'> = {}): TarProcess {
  const child = spawn('tar', args, { ...opts, stdio: [stdio[0], stdio[1], 'pipe'] }) as TarProcess['child'];
  let err = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    if (err.length < 4096) err += d;
  });
  child.stdin?.on('error', () => undefined); // tar died early: its exit status tells
  const done = new Promise<number | null>((resolve, reject) => {
    child.on('error', (e) => reject(new ArchiveError('system', `cannot run tar: ${errnoText(e)}`)));
    child.on('close', (code) => resolve(code));
  });
  done.catch(() => undefined);
  return { child, done, firstErrorLine: () => err.trim().split('\n')[0] ?? '' };
}
