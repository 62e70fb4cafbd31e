/**
 * Spawns stasis-helper with the fd layout of docs/protocol.md and drives one plan: sends the PLAN frame,
 * answers `sync` events through a callback, and resolves on `ready`, `exit` or `error`.
 *
 * Start-up cost matters here (every create, run and exec goes through it), so this uses no child_process,
 * net or stream module: the helper is started with posix_spawn from the addon (vfork-style, Node is not
 * forked), the ctl socket is read with blocking reads in libuv's thread pool, and the helper is reaped on
 * SIGCHLD.
 */
import * as fs from 'node:fs';
import { Frame, FrameDecoder, encodeFrame, encodePlan, type HelperEvent, type Step } from './protocol';
import { helperPath } from './paths';
import { helperEnv, mark } from '../runtime/trace';
import { native } from '../native';

/**
 * How a sync point was answered: continue (with the OCI state JSON as payload) or abort. `after` runs right
 * once the reply is sent, while the helper goes on (work that need not hold the container up); if it
 * throws, the launch fails with its error.
 */
export type SyncReply = { continue: true; payload?: Buffer; after?: () => void } | { continue: false };

/**
 * What a stdio slot of the helper gets: our own fd of that number, /dev/null, a given fd, or a pipe whose
 * content LaunchResult.output collects (tests).
 */
export type HelperStdio = 'inherit' | 'ignore' | 'pipe' | number;

/** Options for one helper run. */
export interface LaunchOptions {
  /** stdio of the helper (and so of the container): HelperStdio values (typed loosely for callers that
   *  pass child_process's StdioNull; anything else is refused). */
  stdio?: readonly unknown[];
  /** Extra fds placed at helper fd 5, 6, … (preserved fds). */
  extraFds?: number[];
  /** Called for every `sync` event; must answer. */
  onSync?: (name: string, pid: number | undefined) => Promise<SyncReply> | SyncReply;
  /** Called with the container pid as soon as the helper reports it. */
  onPid?: (pid: number) => void;
  /** Called for each debug log line the helper writes on fd 4. */
  onLog?: (line: string) => void;
  /** Environment of the helper (it does not reach the container: EXEC carries its own env). */
  env?: NodeJS.ProcessEnv;
}

/** A failure reported by the helper for one step of the plan. */
export class HelperStepError extends Error {
  constructor(
    readonly step: number,
    readonly op: string,
    readonly errno: number,
    readonly detail: string,
    readonly what: string,
  ) {
    super(`${what}: ${detail}`);
  }
}

/** The helper process. */
export interface HelperProcess {
  readonly pid: number;
  /** Its exit code once it has ended (128+n when killed by signal n), else null. */
  readonly exitCode: number | null;
  /** Sends a signal unless it has already been reaped. */
  kill(signal: NodeJS.Signals | number): void;
}

/** What a run of the helper ended with. */
export interface LaunchResult {
  pid?: number;
  /** 'ready' when setup finished (create), 'exit' when the child ended (foreground modes). */
  outcome: 'ready' | 'exit';
  exitStatus?: number;
  exitSignal?: number;
  helper: HelperProcess;
  /** Resolves with the helper's own exit code once it has exited. */
  helperExit: Promise<number>;
  /** Resolves with the `exit` event when the plan uses ParentMode.WAIT (after `ready`). */
  childExit: Promise<{ status?: number; signal?: number }>;
  /** Stop caring about the helper (detached create/exec): later events are ignored. */
  detach(): void;
  /** Per stdio slot given as 'pipe': everything written to it, once every writer has closed it. */
  output: (Promise<Buffer> | undefined)[];
}

/** A sealed memfd copy of the helper (close-on-exec), or -1 when none can be made (the helper then makes its own). */
function sealedHelper(n: ReturnType<typeof native>): number {
  try {
    return n.sealedCopy(helperPath());
  } catch {
    return -1;
  }
}

/**
 * Runs a plan. Resolves at `ready` (or at `exit` if the child ended before ready), rejects with a
 * HelperStepError at an `error` event, or with a plain Error if the helper died without saying why.
 */
export function launch(steps: readonly Step[], opts: LaunchOptions = {}): Promise<LaunchResult> {
  // Encode first: a plan that cannot be encoded must fail before any process exists.
  const planFrame = encodeFrame(Frame.PLAN, encodePlan(steps));
  mark('plan encoded');
  const n = native();
  const [ctl, ctlTheirs] = n.streamPair();
  // The log fd is a socket only when someone reads it: otherwise /dev/null, so the helper's debug line per
  // step does not wake this process ~80 times during setup.
  const [logOurs, logTheirs] = opts.onLog ? n.streamPair() : [-1, fs.openSync('/dev/null', 'w')];
  const temp = [ctlTheirs, logTheirs];
  const pipes: number[] = [];
  const fds = [...(opts.stdio ?? ['inherit', 'inherit', 'inherit']).map((s, i) => stdioFd(s, i, temp, pipes)), ctlTheirs, logTheirs, ...(opts.extraFds ?? [])];
  const env = Object.entries(opts.env ?? helperEnv()).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);

  let exitCode: number | null = null;
  let resolveHelperExit!: (code: number) => void;
  const helperExit = new Promise<number>((r) => (resolveHelperExit = r));
  let pidOfHelper = 0;
  // Listen before spawning: a helper that fails at once must not exit unseen. Other children (hooks) raise
  // SIGCHLD too; waitpid on our pid alone leaves them to whoever spawned them.
  const reap = () => {
    if (!pidOfHelper || exitCode !== null) return;
    let r: ReturnType<typeof n.waitPid>;
    try {
      r = n.waitPid(pidOfHelper, true);
    } catch {
      r = { pid: pidOfHelper, code: 1, signal: null }; // ECHILD: reaped elsewhere; nothing better to say
    }
    if (!r) return;
    exitCode = r.code ?? 128 + (r.signal ?? 0);
    process.off('SIGCHLD', reap);
    clearInterval(keepAlive);
    resolveHelperExit(exitCode);
  };
  process.on('SIGCHLD', reap);
  // Signal listeners do not keep the event loop alive, and someone may be waiting for helperExit: this does
  // (and checks once a second, should a SIGCHLD ever go unnoticed). detach() lets go of it.
  const keepAlive = setInterval(reap, 1000);
  // setsid (detached): the helper gets its own session and process group, so a terminal's Ctrl-C reaches
  // only stasis, which forwards it once to the container instead of the container getting it twice.
  // The helper runs only from a sealed memfd copy of itself (native/helper/seal.c). Made here, the copy
  // spares the helper its own copy and re-exec (an execve and a dynamic link); should it fail, the helper
  // still seals itself.
  const sealed = sealedHelper(n);
  try {
    pidOfHelper = n.spawn(helperPath(), [helperPath(), 'run'], env, fds, true, sealed);
  } catch (err) {
    process.off('SIGCHLD', reap);
    clearInterval(keepAlive);
    for (const fd of [ctl, logOurs, ...temp, ...pipes]) if (fd >= 0) fs.closeSync(fd);
    return Promise.reject(new Error(`cannot start the helper ${helperPath()}: ${(err as Error).message}`));
  } finally {
    if (sealed >= 0) fs.closeSync(sealed);
    // Their ends now live in the helper; ours would keep ctl from ever reaching end-of-file.
    if (pidOfHelper) for (const fd of temp) fs.closeSync(fd);
  }
  setImmediate(reap);
  mark('helper spawned');
  const output = pipes.map((fd) => {
    if (fd < 0) return undefined;
    const chunks: Buffer[] = [];
    return new Promise<Buffer>((resolve) => readUntilEnd(fd, (c) => chunks.push(c), () => resolve(Buffer.concat(chunks))));
  });
  const helper: HelperProcess = {
    pid: pidOfHelper,
    get exitCode() {
      return exitCode;
    },
    kill(signal) {
      if (exitCode === null) process.kill(pidOfHelper, signal);
    },
  };

  const decoder = new FrameDecoder();
  let pid: number | undefined;
  let settled = false;
  let detached = false;
  let resolveChildExit!: (v: { status?: number; signal?: number }) => void;
  const childExit = new Promise<{ status?: number; signal?: number }>((r) => (resolveChildExit = r));
  const send = (frame: Buffer) => {
    try {
      for (let off = 0; off < frame.length; ) off += fs.writeSync(ctl, frame, off);
    } catch {
      /* EPIPE when the helper died first; end-of-file on ctl reports it */
    }
  };

  // Resolves when the log fd reaches end-of-file, so a failure is reported after the lines that explain it.
  let logDone: Promise<void> = Promise.resolve();
  if (opts.onLog) {
    let pending = '';
    let endLog!: () => void;
    logDone = new Promise((r) => (endLog = r));
    readUntilEnd(logOurs, (chunk) => {
      pending += chunk.toString('utf8');
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        opts.onLog!(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    }, () => endLog());
  }

  return new Promise<LaunchResult>((resolve, reject) => {
    const finish = (outcome: 'ready' | 'exit', ev?: { status?: number; signal?: number }) => {
      if (settled) return;
      settled = true;
      const detach = () => {
        detached = true;
        keepAlive.unref();
      };
      resolve({ pid, outcome, exitStatus: ev?.status, exitSignal: ev?.signal, helper, helperExit, childExit, detach, output });
    };
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      // The log is read in the thread pool and may lag the control channel. A container child that still
      // holds the log fd would keep it open, so wait for it for a moment at most.
      let timer: NodeJS.Timeout | undefined;
      const lag = new Promise<void>((r) => (timer = setTimeout(r, 250)));
      void Promise.race([logDone, lag]).then(() => {
        clearTimeout(timer);
        reject(err);
      });
    };

    const handle = (ev: HelperEvent) => {
      if (detached) return;
      switch (ev.type) {
        case 'pid':
          mark('pid event');
          pid = ev.pid;
          opts.onPid?.(ev.pid);
          break;
        case 'sync':
          Promise.resolve(opts.onSync ? opts.onSync(ev.name, pid) : { continue: true as const }).then(
            (reply) => {
              send(reply.continue ? encodeFrame(Frame.CONTINUE, reply.payload) : encodeFrame(Frame.ABORT));
              try {
                if (reply.continue) reply.after?.();
              } catch (err) {
                fail(err as Error);
              }
            },
            (err: Error) => {
              send(encodeFrame(Frame.ABORT));
              fail(err);
            },
          );
          break;
        case 'ready':
          finish('ready');
          break;
        case 'exit':
          resolveChildExit({ status: ev.status, signal: ev.signal });
          finish('exit', ev);
          break;
        case 'error': {
          const what = steps[ev.step]?.what ?? `step ${ev.step} (${ev.op})`;
          fail(new HelperStepError(ev.step, ev.op, ev.errno, ev.message, what));
          break;
        }
      }
    };

    // ctl reaches end-of-file when every holder (helper and container child) has closed it, after every
    // event they sent has been read. Before `ready` that means setup died; the helper's own exit is normal
    // once it has reported the child (PARENT_EXIT).
    readUntilEnd(
      ctl,
      (chunk) => {
        let events: HelperEvent[];
        try {
          events = decoder.push(chunk);
        } catch (err) {
          fail(err as Error);
          return;
        }
        for (const ev of events) handle(ev);
      },
      () => {
        if (settled) return;
        // The helper has closed ctl, so it is exiting: give it a moment to be reaped, to say how it ended.
        const timer = setTimeout(() => fail(new Error('container setup ended without reporting why (helper still running)')), 1000);
        void helperExit.then((code) => {
          clearTimeout(timer);
          fail(new Error(`container setup ended without reporting why (helper ${code > 128 ? `killed by signal ${code - 128}` : `exit code ${code}`})`));
        });
      },
    );

    send(planFrame);
  });
}

/**
 * The fd a stdio slot becomes. Fds opened here for the helper go to `temp` (closed after the spawn); our end
 * of a 'pipe' goes to pipes[i] (-1 for other slots).
 */
function stdioFd(s: unknown, i: number, temp: number[], pipes: number[]): number {
  pipes[i] = -1;
  if (typeof s === 'number') return s;
  if (s === 'inherit') return i;
  if (s === 'ignore') {
    const fd = fs.openSync('/dev/null', i === 0 ? 'r' : 'w');
    temp.push(fd);
    return fd;
  }
  if (s === 'pipe') {
    const [ours, theirs] = native().streamPair();
    pipes[i] = ours;
    temp.push(theirs);
    return theirs;
  }
  throw new Error(`helper stdio ${i}: unsupported value ${String(s)} (use inherit, ignore, pipe or an fd)`);
}

/**
 * Reads fd to end-of-file with blocking reads in the thread pool (each returns as soon as data arrives),
 * then closes it. The fd is never closed while a read is in flight: a blocked read would not notice.
 */
function readUntilEnd(fd: number, onData: (chunk: Buffer) => void, onEnd: () => void): void {
  const buf = Buffer.allocUnsafe(64 * 1024);
  const next = () =>
    fs.read(fd, buf, 0, buf.length, null, (err, got) => {
      if (err && (err.code === 'EINTR' || err.code === 'EAGAIN')) return next();
      if (err || got === 0) {
        fs.close(fd, () => undefined);
        onEnd();
        return;
      }
      onData(Buffer.from(buf.subarray(0, got)));
      next();
    });
  next();
}


/** The plan by name (`plan ops: 0:UNSHARE 1:MOUNT …`) for a debug log: the helper's own step lines stop once its log is no longer read. */
export function planOpsLine(steps: readonly Step[]): string {
  return `plan ops: ${steps.map((s, i) => `${i}:${s.op}`).join(' ')}`;
}
