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
import { RuntimeError, errnoText, isErrno } from './errors';
import { faultPoint } from './trace';

/** Starts a created container and runs its poststart hooks (failures there are warnings, per the spec). */
export async function startContainer(ctx: Context, id: string): Promise<void> {
  await withContainer(ctx, id, (c) => startLoaded(ctx, c));
}

/** Start on an already locked container (used by `run`). */
export async function startLoaded(ctx: Context, c: Loaded): Promise<void> {
  requireStatus('start', c.record.id, c.status);
  await openGate(c.store.fifoPath(c.record.id), c.record.pid, c.record.startTime);
  // A config without a process can be created (its environment exists); started, its init just ends.
  // runtime-tools' `start` test expects success and a stopped container here, so this is a warning.
  if (!c.record.spec.process) ctx.log.warn(`container ${c.record.id} has no process in its config: nothing was run and it stopped`);
  for (const w of await runHooksWarn('poststart', c.record.spec.hooks?.poststart, ociState(c.record, 'running'))) ctx.log.warn(w);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function openGate(fifo: string, pid: number, startTime: string | undefined): Promise<void> {
  let fd: number;
  try {
    fd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    throw new RuntimeError('system', `cannot open the start gate ${fifo}: ${errnoText(err)}`);
  }
  try {
    const buf = Buffer.alloc(1);
    for (let wait = 0; ; wait = Math.min(wait + 1, 10)) {
      try {
        if (fs.readSync(fd, buf, 0, 1, null) === 1) break;
        // 0 bytes: no writer yet. The init opens the fifo as soon as we hold the read end.
      } catch (err) {
        if (!isErrno(err, 'EAGAIN')) throw new RuntimeError('system', `cannot read the start gate: ${errnoText(err)}`);
      }
      if (!isSameProcessAlive(pid, startTime)) throw new RuntimeError('bad-state', 'container init exited before it was started');
      await sleep(wait);
    }
    // The init keeps its (close-on-exec) write end open until it executes the user process: read to
    // end-of-file so that start returns, and poststart hooks run, only after that.
    for (let wait = 0; ; wait = Math.min(wait + 1, 10)) {
      try {
        if (fs.readSync(fd, buf, 0, 1, null) === 0) break;
      } catch (err) {
        if (!isErrno(err, 'EAGAIN')) throw new RuntimeError('system', `cannot read the start gate: ${errnoText(err)}`);
      }
      await sleep(wait);
    }
  } finally {
    fs.closeSync(fd);
  }
  faultPoint('start:opened');
  fs.rmSync(fifo, { force: true });
}
