/**
 * Spawns stasis-helper with the fd layout of docs/protocol.md and drives one plan: sends the PLAN frame,
 * answers `sync` events through a callback, and resolves on `ready`, `exit` or `error`.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import * as fs from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { Frame, FrameDecoder, encodeFrame, encodePlan, type HelperEvent, type Step } from './protocol';
import { helperPath } from './paths';
import { mark } from '../runtime/trace';

/** How a sync point was answered: continue (with the OCI state JSON as payload) or abort. */
export type SyncReply = { continue: true; payload?: Buffer } | { continue: false };

/** Options for one helper run. */
export interface LaunchOptions {
  /** stdio of the helper (and so of the container): fds or 'inherit'/'pipe'/'ignore'. */
  stdio?: [StdioOptions | number | 'pipe' | 'inherit' | 'ignore', unknown, unknown] | Array<unknown>;
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

/** What a run of the helper ended with. */
export interface LaunchResult {
  pid?: number;
  /** 'ready' when setup finished (create), 'exit' when the child ended (foreground modes). */
  outcome: 'ready' | 'exit';
  exitStatus?: number;
  exitSignal?: number;
  helper: ChildProcess;
  /** Resolves with the helper's own exit code once it has exited. */
  helperExit: Promise<number>;
  /** Resolves with the `exit` event when the plan uses ParentMode.WAIT (after `ready`). */
  childExit: Promise<{ status?: number; signal?: number }>;
}

/**
 * Runs a plan. Resolves at `ready` (or at `exit` if the child ended before ready), rejects with a
 * HelperStepError at an `error` event, or with a plain Error if the helper died without saying why.
 */
export function launch(steps: readonly Step[], opts: LaunchOptions = {}): Promise<LaunchResult> {
  // Encode first: a plan that cannot be encoded must fail before any process exists.
  const planFrame = encodeFrame(Frame.PLAN, encodePlan(steps));
  // The log fd is a pipe only when someone reads it: otherwise /dev/null, so the helper's debug line per
  // step does not wake this process ~80 times during setup. (An fd, not 'ignore': a closed fd 4 could be
  // an fd inherited from our caller in the helper.)
  const logFd = opts.onLog ? 'pipe' : fs.openSync('/dev/null', 'w');
  const stdio = [...(opts.stdio ?? ['inherit', 'inherit', 'inherit']), 'pipe', logFd, ...(opts.extraFds ?? [])];
  // detached: the helper gets its own process group, so a terminal's Ctrl-C reaches only stasis, which
  // forwards it once to the container instead of the container getting it twice.
  let helper: ChildProcess;
  try {
    helper = spawn(helperPath(), ['run'], { stdio: stdio as StdioOptions, env: opts.env ?? {}, detached: true });
  } finally {
    if (typeof logFd === 'number') fs.closeSync(logFd);
  }
  mark('helper spawned');
  const ctl = helper.stdio[3] as unknown as Readable & Writable;
  const log = helper.stdio[4] as Readable | null;
  const decoder = new FrameDecoder();
  let pid: number | undefined;
  let settled = false;
  let resolveChildExit!: (v: { status?: number; signal?: number }) => void;
  const childExit = new Promise<{ status?: number; signal?: number }>((r) => (resolveChildExit = r));
  const helperExit = new Promise<number>((resolve) => {
    helper.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? signalNumber(signal) : 0)));
  });

  if (opts.onLog && log) {
    let pending = '';
    log.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        opts.onLog!(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    });
  }

  return new Promise<LaunchResult>((resolve, reject) => {
    const finish = (outcome: 'ready' | 'exit', ev?: { status?: number; signal?: number }) => {
      if (settled) return;
      settled = true;
      resolve({ pid, outcome, exitStatus: ev?.status, exitSignal: ev?.signal, helper, helperExit, childExit });
    };
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    helper.on('error', (err) => fail(new Error(`cannot start the helper ${helperPath()}: ${err.message}`)));
    ctl.on('error', () => {
      /* EPIPE when the helper died first; the exit handler reports it */
    });
    ctl.on('data', (chunk: Buffer) => {
      let events: HelperEvent[];
      try {
        events = decoder.push(chunk);
      } catch (err) {
        fail(err as Error);
        return;
      }
      for (const ev of events) handle(ev);
    });
    // ctl reaches end-of-file when every holder (helper and container child) has closed it. Before `ready`
    // that means setup died; the helper's own exit is normal once it has reported the child (PARENT_EXIT).
    ctl.on('close', () => {
      setImmediate(() => {
        if (!settled) fail(new Error(`container setup ended without reporting why (helper ${describe(helper.exitCode, helper.signalCode)})`));
      });
    });
    helper.on('exit', (code, signal) => {
      if (pid === undefined || code !== 0) {
        setImmediate(() => {
          if (!settled) fail(new Error(`the helper ended without finishing setup (${describe(code, signal)})`));
        });
      }
    });

    const handle = (ev: HelperEvent) => {
      switch (ev.type) {
        case 'pid':
          mark('pid event');
          pid = ev.pid;
          opts.onPid?.(ev.pid);
          break;
        case 'sync':
          Promise.resolve(opts.onSync ? opts.onSync(ev.name, pid) : { continue: true as const }).then(
            (reply) => {
              if (reply.continue) ctl.write(encodeFrame(Frame.CONTINUE, reply.payload));
              else ctl.write(encodeFrame(Frame.ABORT));
            },
            (err: Error) => {
              ctl.write(encodeFrame(Frame.ABORT));
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

    ctl.write(planFrame);
  });
}

function describe(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `killed by ${signal}`;
  return code === null ? 'still running' : `exit code ${code}`;
}

function signalNumber(name: NodeJS.Signals): number {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { constants } = require('node:os') as typeof import('node:os');
  return constants.signals[name] ?? 0;
}
