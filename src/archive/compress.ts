/**
 * Compression of checkpoint archives: none, gzip (Node's zlib) or zstd (Debian's `zstd`, multi-threaded).
 * On import the format is recognised by its magic bytes, never by the file name.
 */
import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type * as Zlib from 'node:zlib';
import { ArchiveError } from './errors';
import { BLOCK, decodeHeader, noPending } from './tar-format';
import { childProcess, zlib } from '../util/builtins';

/** Supported compressions. */
export type Compression = 'none' | 'gzip' | 'zstd';

/** The zstd binary ($STASIS_ZSTD overrides; scripts/install-deps.sh installs Debian's). */
export function zstdBinary(env: NodeJS.ProcessEnv = process.env): string {
  return env.STASIS_ZSTD || 'zstd';
}

/** The compression of a file from its first bytes (at least 512 for a plain tar), or undefined. */
export function detectCompression(head: Buffer): Compression | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.length >= BLOCK) {
    try {
      if (decodeHeader(head.subarray(0, BLOCK), noPending()).kind !== 'end') return 'none';
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** A running zstd child with its stderr collected; `finished` rejects when it exits non-zero. */
export interface ZstdChild {
  child: ChildProcess;
  stdin: Writable;
  stdout: Readable;
  finished: Promise<void>;
}

/** Starts `zstd` compressing (level 3, all cores) or decompressing stdin to stdout. */
export function startZstd(mode: 'compress' | 'decompress'): ZstdChild {
  const args = mode === 'compress' ? ['-q', '-c', '-3', '-T0'] : ['-q', '-d', '-c'];
  const child = childProcess().spawn(zstdBinary(), args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    if (stderr.length < 4096) stderr += d;
  });
  const finished = new Promise<void>((resolve, reject) => {
    child.on('error', (err) =>
      reject(new ArchiveError('system', `cannot run ${zstdBinary()}: ${(err as NodeJS.ErrnoException).code ?? err.message} (install zstd)`)),
    );
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else {
        const line = stderr.trim().split('\n').pop() ?? '';
        const kind = mode === 'decompress' ? 'corrupt' : 'system';
        reject(new ArchiveError(kind, `zstd ${mode} failed (${signal ?? `exit ${code}`})${line ? `: ${line}` : ''}`));
      }
    });
  });
  finished.catch(() => undefined); // observed by the caller; never an unhandled rejection
  return { child, stdin: child.stdin!, stdout: child.stdout!, finished };
}

/** A gzip compressor (level 6: zlib's default balance). */
export function gzipStream(): Zlib.Gzip {
  return zlib().createGzip({ level: 6 });
}

/** A gzip decompressor whose errors say which file was corrupt. */
export function gunzipStream(): Zlib.Gunzip {
  return zlib().createGunzip();
}
