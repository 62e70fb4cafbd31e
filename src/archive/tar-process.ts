/** GNU tar as a child process: started once, its stderr kept for the one line a failure reports. */
import type { ChildProcessByStdio, SpawnOptions } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { ArchiveError, errnoText } from './errors';
import { MANIFEST_FILE } from './manifest';
import { childProcess } from '../util/builtins';

/** A running tar. */
export interface TarProcess {
  child: ChildProcessByStdio<Writable | null, Readable | null, Readable>;
  /** Resolves with the exit status (null when killed); rejects only when tar cannot be started. Never unhandled. */
  done: Promise<number | null>;
  /** The first line tar wrote to stderr ('' when none). */
  firstErrorLine(): string;
}

/**
 * GNU tar's arguments to archive `names` (relative to `dir`) in a checkpoint archive's member format, onto
 * stdout; with `manifestFirst` the manifest leads (import reads it before anything else).
 */
export function tarCreateArgs(dir: string, names: readonly string[], manifestFirst = true): string[] {
  const rest = names.filter((n) => n !== MANIFEST_FILE).sort();
  return [
    '--create',
    '--file=-',
    '--format=posix',
    // No times in pax records: a strict import accepts only records whose damage it can detect.
    '--pax-option=delete=atime,delete=ctime,delete=mtime',
    '--sort=name',
    '--numeric-owner',
    '--hard-dereference', // two names of one image file become two members: import accepts only files
    `--directory=${dir}`,
    '--',
    ...(manifestFirst ? [MANIFEST_FILE] : []),
    ...rest,
  ];
}

/**
 * Starts `tar args`; stderr is always captured (the first 4 KiB), stdin/stdout as `stdio` says (stdout may
 * be an open file descriptor: tar then writes there itself).
 */
export function startTar(args: readonly string[], stdio: ['ignore' | 'pipe', 'ignore' | 'pipe' | number], opts: Pick<SpawnOptions, 'cwd'> = {}): TarProcess {
  const child = childProcess().spawn('tar', args, { ...opts, stdio: [stdio[0], stdio[1], 'pipe'] }) as TarProcess['child'];
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
