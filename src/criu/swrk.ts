/**
 * Talks to CRIU in `swrk` mode: CRIU is spawned with one end of a SOCK_SEQPACKET pair as its fd 3 and
 * serves a single request on it. While the request runs, CRIU may send NOTIFY messages (hook points such as
 * "post-dump" or "post-restore"); each is handed to a callback and acknowledged before CRIU continues.
 *
 * The socket is read with blocking recvmsg (through stasis_native): nothing else in the runtime needs the
 * event loop while CRIU works, and it keeps fd passing (SCM_RIGHTS) simple.
 */
import type { StdioNull } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { native } from '../native';
import { mark } from '../runtime/trace';
import { decodeResponse, encodeRequest } from './proto';
import type { CriuOpts, CriuReq, CriuReqType, CriuResp } from './types';
import { errnoName } from '../util/errno';

/** Where install-criu.sh puts the wrapper that runs sid's CRIU with its own libc. */
export const DEFAULT_CRIU_PATH = '/usr/local/lib/stasis/criu/criu';
/** CRIU's fd number of the first entry of SwrkOptions.extraFds (fd 3 is the RPC socket). */
export const CRIU_FIRST_EXTRA_FD = 4;
/** Largest message CRIU sends us; answers are small, this is generous. */
const MAX_RESPONSE_BYTES = 1 << 16;
/** At most this many "Error" lines from the log go into a CriuError message. */
const MAX_QUOTED_LOG_LINES = 6;

/** A hook point CRIU reached. */
export interface CriuNotifyEvent {
  /** The hook name: "pre-dump", "post-dump", "network-lock", "setup-namespaces", "post-restore", … */
  script: string;
  /** Set for "setup-namespaces" and "post-restore": the restored root task's pid. */
  pid?: number;
  /** fds CRIU sent with the notification ("orphan-pts-master" carries the pty master); the callback owns them. */
  fds: number[];
}

/** How to run one CRIU request. */
export interface SwrkOptions {
  /** The criu binary; default criuBinary(). */
  criuPath?: string;
  /**
   * fds given to CRIU at 4, 5, … (namespaces, pipes for inherit_fd, which CRIU reads from its own table).
   * Not the image/work directories: CRIU opens those through /proc/<our pid>/fd/N.
   */
  extraFds?: readonly number[];
  /** CRIU's stdin/stdout/stderr (on restore the restored tree starts from these); default ignore/ignore/captured. */
  stdio?: [StdioNull | number, StdioNull | number, StdioNull | number | 'capture'];
  /** CRIU's log file, absolute; its "Error" lines are quoted when the request fails. */
  logPath?: string;
  /**
   * Called for every NOTIFY. Throwing makes stasis answer notify_success=false (CRIU then aborts) and the
   * request rejects with that error. With no callback, notifications are acknowledged and fds closed.
   */
  onNotify?: (event: CriuNotifyEvent) => void | Promise<void>;
  /** Environment of CRIU. */
  env?: NodeJS.ProcessEnv;
  /**
   * Starts CRIU some other way than a plain spawn (e.g. through stasis-helper inside a private mount
   * namespace). Receives the server end of the socket pair (to be handed to CRIU, which must be told its
   * number: `criu swrk N`) and the fd meant for CRIU's stderr (the capture file unless stdio[2] says
   * otherwise), and resolves once CRIU runs; criuRequest closes its own copy of the socket afterwards.
   * criuPath, stdio[0..1] and extraFds are then the starter's business.
   */
  start?: (socketFd: number, stderr: StdioNull | number) => Promise<StartedCriu>;
  /**
   * Called with CRIU's pid after it started and before the request is sent (e.g. to move it into a
   * cgroup). Options it returns are merged into the request's (e.g. cgroup roots read from CRIU's cgroup).
   */
  beforeRequest?: (criuPid: number) => Promise<Partial<CriuOpts> | void> | Partial<CriuOpts> | void;
  /**
   * A CRIU started ahead of the request (prestartCriu); `start`, `criuPath`, `stdio` and `extraFds` are then
   * ignored: it was started with its own.
   */
  prestarted?: PrestartedCriu;
}

/**
 * A CRIU started before its request is ready (prestartCriu), so that its start (helper, namespace, exec,
 * dynamic loading: ~20 ms) overlaps the caller's own preparation. A request consumes it; a caller that fails
 * before sending one must call abandon().
 */
export interface PrestartedCriu {
  /** Our end of the socket pair. */
  readonly socket: number;
  /** The stderr capture file, when stdio[2] was 'capture'. */
  readonly captureFd?: number;
  /** Resolves once CRIU runs (rejects when it could not be started). */
  readonly started: Promise<StartedCriu>;
  /** Set by criuRequest when it takes this CRIU over. */
  consumed: boolean;
  /** Ends a CRIU no request took: closes our end (CRIU exits on EOF) and waits for its exit. Idempotent. */
  abandon(): Promise<void>;
}

/** Starts CRIU through `start` now, for a request sent later (SwrkOptions.prestarted). */
export function prestartCriu(
  start: NonNullable<SwrkOptions['start']>,
  stdio: NonNullable<SwrkOptions['stdio']> = ['ignore', 'ignore', 'capture'],
): PrestartedCriu {
  const [mine, theirs] = native().seqpacketPair();
  let captureFd: number | undefined;
  let started: Promise<StartedCriu>;
  try {
    captureFd = stdio[2] === 'capture' ? openStderrCapture() : undefined;
    started = start(theirs, captureFd ?? (stdio[2] as StdioNull | number)).finally(() => fs.closeSync(theirs));
  } catch (err) {
    for (const fd of [mine, theirs, captureFd]) if (fd !== undefined) fs.closeSync(fd);
    throw err;
  }
  // Nobody may await it for a while: a failure is reported where it is awaited, not as an unhandled rejection.
  started.catch(() => undefined);
  const p: PrestartedCriu = {
    socket: mine,
    captureFd,
    started,
    consumed: false,
    abandon: async () => {
      if (p.consumed) return;
      p.consumed = true;
      fs.closeSync(mine);
      const criu = await started.catch(() => undefined);
      if (criu) await criu.exited;
      if (captureFd !== undefined) fs.closeSync(captureFd);
    },
  };
  return p;
}

/** A CRIU process started by SwrkOptions.start. */
export interface StartedCriu {
  pid: number;
  /** Resolves when CRIU has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A request CRIU refused or could not complete. */
export class CriuError extends Error {
  constructor(
    message: string,
    /** The request type, e.g. "DUMP". */
    readonly requestType: CriuReqType,
    /** CRIU's cr_errno, when it gave one. */
    readonly crErrno: number | undefined,
    /** The "Error" lines of the CRIU log (without timestamps), possibly empty. */
    readonly logErrors: string[],
    /** CRIU's exit code or signal, when it had exited. */
    readonly exit?: { code: number | null; signal: NodeJS.Signals | null },
  ) {
    super(message);
    this.name = 'CriuError';
  }
}

/** The criu binary to run: $STASIS_CRIU, else the install-criu.sh wrapper if present, else `criu` in PATH. */
export function criuBinary(env: NodeJS.ProcessEnv = process.env): string {
  if (env.STASIS_CRIU) return env.STASIS_CRIU;
  if (fs.existsSync(DEFAULT_CRIU_PATH)) return DEFAULT_CRIU_PATH;
  return 'criu';
}

/**
 * Error lines CRIU logs on every run where it lacks CAP_SYS_RESOURCE; they explain nothing, so they are not
 * quoted in failures.
 */
const HARMLESS_LOG_ERRORS = [
  /rlimit: Can't setup RLIMIT_NOFILE/,
  // A capability probe; inside a container's devices cgroup /dev/net/tun is simply not allowed.
  /tun: Unable to create tun: Operation not permitted/,
];

/**
 * The "Error" lines of a CRIU log, with the "(00.123456) " timestamp removed and known-harmless ones left
 * out. Missing file → [].
 */
export function logErrorLines(logPath: string | undefined): string[] {
  if (!logPath) return [];
  let text: string;
  try {
    text = fs.readFileSync(logPath, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => /(^|\)\s)Error\s/.test(line) || line.startsWith('Error'))
    .map((line) => line.replace(/^\(\s*[\d.]+\)\s*/, '').trim())
    .filter((line) => !HARMLESS_LOG_ERRORS.some((re) => re.test(line)));
}

/** Builds the one-line failure message: what failed, CRIU's errno and message, the log's Error lines. */
export function failureMessage(
  type: CriuReqType,
  resp: Pick<CriuResp, 'crErrno' | 'crErrmsg'> | undefined,
  logErrors: readonly string[],
  logPath: string | undefined,
  extra?: string,
): string {
  const parts = [`criu ${type.toLowerCase().replace(/_/g, '-')} failed`];
  if (extra) parts.push(extra);
  if (resp?.crErrno) parts.push(`errno ${resp.crErrno} (${errnoName(resp.crErrno) ?? 'unknown'})`);
  const quoted = logErrors.slice(-MAX_QUOTED_LOG_LINES).map((l) => l.replace(/\s+/g, ' '));
  // cr_errmsg is the first Error line CRIU logged: say it once, and not when it is a known-harmless one.
  const errmsg = resp?.crErrmsg?.trim().replace(/\s+/g, ' ');
  if (errmsg && !quoted.includes(errmsg) && !HARMLESS_LOG_ERRORS.some((re) => re.test(errmsg))) parts.push(errmsg);
  let msg = parts.join(': ');
  if (quoted.length > 0) msg += `: "${quoted.join(' | ')}"`;
  if (logPath) msg += ` (log ${logPath})`;
  return msg;
}

/** Opens an anonymous temp file for CRIU's stderr, so early failures (before its log opens) are visible. */
function openStderrCapture(): number {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-criu-'));
  const file = path.join(dir, 'stderr');
  const fd = fs.openSync(file, 'w+');
  fs.rmSync(dir, { recursive: true, force: true });
  return fd;
}

function readCapture(fd: number | undefined): string {
  if (fd === undefined) return '';
  const size = fs.fstatSync(fd).size;
  const buf = Buffer.alloc(Math.min(size, 4096));
  fs.readSync(fd, buf, 0, buf.length, Math.max(0, size - buf.length));
  return buf.toString('utf8').trim().replace(/\s*\n\s*/g, ' | ');
}

/** Spawns `criu swrk 3` directly; the socket end is closed here once the child has its copy. */
function spawnCriu(
  bin: string,
  stdio: NonNullable<SwrkOptions['stdio']>,
  stderr: StdioNull | number,
  theirs: number,
  opts: SwrkOptions,
): { ok: true; started: StartedCriu } | { ok: false; error: Promise<Error> } {
  // Loaded here, not at the top: child_process (with net and stream) costs ~3 ms of every checkpoint's and
  // restore's start-up, and stasis starts CRIU through its helper (SwrkOptions.start) on those paths.
  const { spawn } = require('node:child_process') as typeof import('node:child_process');
  let child;
  try {
    child = spawn(bin, ['swrk', '3'], {
      stdio: [stdio[0], stdio[1], stderr, theirs, ...(opts.extraFds ?? [])],
      env: opts.env ?? process.env,
    });
  } finally {
    // CRIU has its own copy now; keeping ours would hide CRIU's death (recvmsg would never see EOF).
    fs.closeSync(theirs);
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  if (child.pid === undefined) return { ok: false, error: new Promise<Error>((resolve) => child.once('error', resolve)) };
  return { ok: true, started: { pid: child.pid, exited } };
}

/**
 * Runs one request through a fresh `criu swrk` and returns CRIU's final answer. Rejects with CriuError when
 * CRIU answers success=false, dies before answering, or cannot be started.
 */
export async function criuRequest(req: CriuReq, opts: SwrkOptions = {}): Promise<CriuResp> {
  const nat = native();
  const bin = opts.criuPath ?? criuBinary(opts.env);
  const pre = opts.prestarted;
  if (pre?.consumed) throw new Error('criu request: the prestarted criu was already used or abandoned');
  if (pre) pre.consumed = true;
  const [mine, theirs] = pre ? [pre.socket, -1] : nat.seqpacketPair();
  const stdio = opts.stdio ?? ['ignore', 'ignore', 'capture'];
  const captureFd = pre ? pre.captureFd : stdio[2] === 'capture' ? openStderrCapture() : undefined;
  const stderr = captureFd ?? (stdio[2] as StdioNull | number);

  let started: StartedCriu;
  if (pre) {
    try {
      started = await pre.started;
    } catch (err) {
      fs.closeSync(mine);
      if (captureFd !== undefined) fs.closeSync(captureFd);
      throw err;
    }
  } else if (opts.start) {
    try {
      started = await opts.start(theirs, stderr);
    } catch (err) {
      fs.closeSync(mine);
      if (captureFd !== undefined) fs.closeSync(captureFd);
      throw err;
    } finally {
      fs.closeSync(theirs);
    }
  } else {
    const spawned = spawnCriu(bin, stdio, stderr, theirs, opts);
    if (!spawned.ok) {
      fs.closeSync(mine);
      if (captureFd !== undefined) fs.closeSync(captureFd);
      const err = await spawned.error;
      throw new CriuError(`criu: cannot run ${bin}: ${err.message}`, req.type, undefined, []);
    }
    started = spawned.started;
  }
  const { exited } = started;
  mark('criu: started');

  const fail = async (resp: CriuResp | undefined, extra?: string): Promise<never> => {
    fs.closeSync(mine);
    const exit = await exited;
    const stderrText = readCapture(captureFd);
    if (captureFd !== undefined) fs.closeSync(captureFd);
    const logErrors = logErrorLines(opts.logPath);
    let detail = extra;
    // stderr only matters when CRIU died before it could log anything useful.
    if (!resp && logErrors.length === 0 && stderrText) {
      detail = [extra, `stderr: ${stderrText}`].filter(Boolean).join('; ');
    }
    const message = failureMessage(req.type, resp, logErrors, opts.logPath, detail);
    throw new CriuError(message, req.type, resp?.crErrno, logErrors, exit);
  };

  if (opts.beforeRequest) {
    try {
      const more = await opts.beforeRequest(started.pid);
      if (more && req.opts) req = { ...req, opts: { ...req.opts, ...more } };
    } catch (err) {
      // Closing our end makes CRIU's read of the request fail, so it exits without doing anything.
      fs.closeSync(mine);
      await exited;
      if (captureFd !== undefined) fs.closeSync(captureFd);
      throw err;
    }
  }

  try {
    nat.sendMsg(mine, encodeRequest(req));
  } catch (err) {
    return fail(undefined, `sending the request: ${(err as Error).message}`);
  }

  let resp: CriuResp;
  for (;;) {
    let msg;
    try {
      msg = nat.recvMsg(mine, MAX_RESPONSE_BYTES);
    } catch (err) {
      return fail(undefined, `reading the answer: ${(err as Error).message}`);
    }
    if (msg.data.length === 0 && msg.fds.length === 0) {
      const exit = await exited;
      return fail(undefined, `criu exited (${exit.signal ?? `status ${exit.code}`}) before answering`);
    }
    try {
      resp = decodeResponse(msg.data);
    } catch (err) {
      for (const fd of msg.fds) fs.closeSync(fd);
      return fail(undefined, `undecodable answer: ${(err as Error).message}`);
    }
    if (resp.type !== 'NOTIFY') {
      for (const fd of msg.fds) fs.closeSync(fd);
      break;
    }
    mark(`criu: notify ${resp.notify?.script}`);
    const event: CriuNotifyEvent = { script: resp.notify?.script ?? '', pid: resp.notify?.pid, fds: msg.fds };
    let hookError: unknown;
    if (opts.onNotify) {
      try {
        await opts.onNotify(event);
      } catch (err) {
        hookError = err;
      }
    } else {
      for (const fd of msg.fds) fs.closeSync(fd);
    }
    try {
      nat.sendMsg(mine, encodeRequest({ type: 'NOTIFY', notifySuccess: hookError === undefined }));
    } catch (err) {
      if (hookError === undefined) return fail(undefined, `answering notify ${event.script}: ${(err as Error).message}`);
    }
    if (hookError !== undefined) {
      // Let CRIU roll back and exit before reporting the hook's own error.
      fs.closeSync(mine);
      await exited;
      if (captureFd !== undefined) fs.closeSync(captureFd);
      throw hookError;
    }
  }

  mark('criu: answered');
  if (!resp.success) return fail(resp);
  fs.closeSync(mine);
  await exited;
  mark('criu: exited');
  if (captureFd !== undefined) fs.closeSync(captureFd);
  return resp;
}
