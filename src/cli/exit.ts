/**
 * How a stasis command ends. process.exit tears Node down first (it joins the V8 platform's and libuv's
 * worker threads and runs atexit handlers): ~2 ms of every command, three times per create + start +
 * delete. When nothing is left to flush, stasis ends with _exit(2) from the addon instead; the kernel
 * closes the fds (and so releases the state locks) either way.
 *
 * "Nothing left to flush": stdout and stderr are written synchronously on Linux except to a pipe that is
 * full, where the rest waits in the stream (writableLength > 0). Those two streams are made on first use
 * of process.stdout/process.stderr, so trackStdio() notes which ones exist without creating the others.
 */
import { loadedNative } from '../native';

const made: NodeJS.WriteStream[] = [];
let tracking = false;

/** Starts noting which of process.stdout and process.stderr get made. Call before anything writes. */
export function trackStdio(): void {
  if (tracking) return;
  tracking = true;
  for (const name of ['stdout', 'stderr'] as const) {
    const d = Object.getOwnPropertyDescriptor(process, name);
    if (!d?.get || !d.configurable) {
      tracking = false; // not Node's lazy getter: cannot tell what is pending, so never exit early
      continue;
    }
    const get = d.get;
    let stream: NodeJS.WriteStream | undefined;
    Object.defineProperty(process, name, {
      configurable: true,
      enumerable: d.enumerable,
      get() {
        if (!stream) made.push((stream = get.call(process) as NodeJS.WriteStream));
        return stream;
      },
    });
  }
}

/** True when _exit loses nothing: stdio tracked from the start, no output waiting in a stream. */
export function nothingToFlush(streams: readonly { writableLength: number }[] = made): boolean {
  return tracking && streams.every((s) => s.writableLength === 0);
}

/** Ends the process with `code`: _exit when the addon is loaded and nothing is pending, else process.exit. */
export function exitProcess(code: number): never {
  const n = loadedNative();
  if (n && nothingToFlush()) n.exitNow(code);
  process.exit(code);
}
