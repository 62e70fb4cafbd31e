/**
 * start: open the start gate. The container's init is blocked opening exec.fifo for writing; opening it for
 * reading lets it write one byte and go on to exec the user process. The fifo is removed afterwards, which is
 * what turns the derived status from created into running.
 */
import * as fs from 'node:fs';
import type { Context } from '../cli/context';
import { withContainer, type Loaded } from './container';
import { requireStatus } from './lifecycle';
import { runHooksWarn } from './hooks';
import { ociState } from './oci-state';
import { isSameProcessAlive } from '../state/proc';
import { RuntimeError, errnoText } from './errors';
import { faultPoint, mark } from './trace';

/** Starts a created container and runs its poststart hooks (failures there are warnings, per the spec). */
export async function startContainer(ctx: Context, id: string): Promise<void> {
  await withContainer(ctx, id, (c) => startLoaded(ctx, c));
}

/** Start on an already locked container (used by `run`). */
export async function startLoaded(ctx: Context, c: Loaded): Promise<void> {
  requireStatus('start', c.record.id, c.status);
  mark('start: gate');
  await openGate(c.store.fifoPath(c.record.id), c.record.pid, c.record.startTime);
  // A config without a process can be created (its environment exists); started, its init just ends.
  // runtime-tools' `start` test expects success and a stopped container here, so this is a warning.
  mark('start: gate opened');
  if (!c.record.spec.process) ctx.log.warn(`container ${c.record.id} has no process in its config: nothing was run and it stopped`);
  for (const w of await runHooksWarn('poststart', c.record.spec.hooks?.poststart, ociState(c.record, 'running'))) ctx.log.warn(w);
}

/** How often the gate checks that the init is still there while waiting for it to open the fifo. */
const WATCHDOG_MS = 20;

/**
 * Opens the gate with blocking calls in libuv's thread pool, so the start returns the moment the init has
 * executed the user process (no polling). Only the first step can wait on a dead init (an open for reading
 * blocks until a writer comes): a watchdog unblocks it by opening the fifo for writing itself. The reads
 * cannot hang: the init is the only writer, and its end closes when it executes the user process or dies.
 */
async function openGate(fifo: string, pid: number, startTime: string | undefined): Promise<void> {
  let opened = false;
  let initGone = false;
  const watchdog = setInterval(() => {
    if (opened || isSameProcessAlive(pid, startTime)) return;
    initGone = true;
    try {
      fs.closeSync(fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
    } catch {
      /* ENXIO: our open has not reached the kernel yet; the next tick tries again */
    }
  }, WATCHDOG_MS);
  let fd: number;
  try {
    fd = await new Promise<number>((resolve, reject) => fs.open(fifo, fs.constants.O_RDONLY, (err, f) => (err ? reject(err) : resolve(f))));
  } catch (err) {
    throw new RuntimeError('system', `cannot open the start gate ${fifo}: ${errnoText(err)}`);
  } finally {
    opened = true;
    clearInterval(watchdog);
  }
  try {
    const buf = Buffer.alloc(1);
    mark('start: gate open for reading');
    if ((await readOnce(fd, buf)) !== 1 || initGone) throw new RuntimeError('bad-state', 'container init exited before it was started');
    // The init keeps its (close-on-exec) write end open until it executes the user process: read to
    // end-of-file so that start returns, and poststart hooks run, only after that.
    while ((await readOnce(fd, buf)) > 0) {
      /* nothing else is ever written */
    }
  } finally {
    fs.closeSync(fd);
  }
  faultPoint('start:opened');
  fs.rmSync(fifo, { force: true });
}

function readOnce(fd: number, buf: Buffer): Promise<number> {
  return new Promise((resolve, reject) =>
    fs.read(fd, buf, 0, 1, null, (err, n) => (err ? reject(new RuntimeError('system', `cannot read the start gate: ${errnoText(err)}`)) : resolve(n))),
  );
}
