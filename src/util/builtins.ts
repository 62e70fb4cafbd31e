/**
 * Node built-ins that take 3–5 ms each to load, loaded on first use. `checkpoint --export` loads the archive
 * code before it freezes the container, but hashes, compresses and runs tar only once the dump is done:
 * loading these up front would delay the freeze, and so the whole checkpoint, by ~8 ms.
 */
import type * as ChildProcessModule from 'node:child_process';
import type * as CryptoModule from 'node:crypto';
import type * as WorkerThreadsModule from 'node:worker_threads';
import type * as ZlibModule from 'node:zlib';

/** A fresh sha256 hash. */
export function sha256(): CryptoModule.Hash {
  return (require('node:crypto') as typeof CryptoModule).createHash('sha256');
}

export function childProcess(): typeof ChildProcessModule {
  return require('node:child_process') as typeof ChildProcessModule;
}

export function workerThreads(): typeof WorkerThreadsModule {
  return require('node:worker_threads') as typeof WorkerThreadsModule;
}

export function zlib(): typeof ZlibModule {
  return require('node:zlib') as typeof ZlibModule;
}
