/**
 * The messages between bin/stasis (native/front/front.c) and a warm worker, and the worker's choice of
 * which calls it takes. Each message is one SOCK_SEQPACKET packet of NUL-terminated fields; fds travel
 * with it as SCM_RIGHTS. docs/warm.md describes the exchange.
 *
 *   front → worker  request  umask argc argv… envc env…           fds: stdin stdout stderr cwd
 *   worker → front  ok pid | cold reason
 *   front → worker  go          (after ok: the call is the worker's; a caller that gave up waiting sends
 *                                nothing and closes, and runs the call cold itself)
 *   worker → front  spawn setsid hasExec slots path argc argv… envc env…
 *                                                                 fds: notes [exec] one per slot
 *   front → worker  pid N | errno N
 *   worker → front  exit code | die signal   (die: the worker is killing itself with that signal)
 *   front → notes   "pid code signal\n" per child that ended (code -1 when a signal ended it)
 */
import { parseFlags, type FlagTable } from '../cli/args';

/** What the caller asked: its argv (without the program name), environment, umask. */
export interface WarmRequest {
  argv: string[];
  env: Record<string, string>;
  umask: number;
}

/** One child the worker asks the caller's process to start (native spawn()'s arguments). */
export interface SpawnRequest {
  path: string;
  argv: readonly string[];
  env: readonly string[];
  setsid: boolean;
  /** Child slot of each fd sent after the notes channel (and the exec fd). */
  slots: number[];
  hasExecFd: boolean;
}

/**
 * Commands a worker runs. checkpoint and restore run cold: restore's process tree is CRIU's child and must
 * descend from the caller, and neither is a call whose speed is Node's start-up.
 */
export const WARM_COMMANDS: ReadonlySet<string> = new Set([
  'create', 'start', 'run', 'state', 'list', 'kill', 'delete', 'pause', 'resume', 'exec', 'ps', 'events',
  'update', 'features', 'spec',
]);

function fields(data: Buffer): string[] {
  const all = data.toString('utf8').split('\0');
  if (all[all.length - 1] === '') all.pop();
  return all;
}

function join(parts: readonly (string | number)[]): Buffer {
  return Buffer.from(parts.map((p) => `${p}\0`).join(''), 'utf8');
}

/** Decodes a REQUEST; throws on anything malformed. */
export function decodeRequest(data: Buffer): WarmRequest {
  const f = fields(data);
  if (f[0] !== 'request') throw new Error(`not a request: ${JSON.stringify(f[0])}`);
  const umask = Number(f[1]);
  const argc = Number(f[2]);
  if (!Number.isInteger(umask) || !Number.isInteger(argc) || argc < 0 || 3 + argc >= f.length) throw new Error('malformed request');
  const argv = f.slice(3, 3 + argc);
  const envc = Number(f[3 + argc]);
  if (!Number.isInteger(envc) || envc < 0 || 4 + argc + envc !== f.length) throw new Error('malformed request environment');
  const env: Record<string, string> = {};
  for (const entry of f.slice(4 + argc)) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return { argv, env, umask };
}

/** Encodes a REQUEST (front.c's encoding; for tests and tools). */
export function encodeRequest(r: WarmRequest): Buffer {
  const env = Object.entries(r.env).map(([k, v]) => `${k}=${v}`);
  return join(['request', r.umask, r.argv.length, ...r.argv, env.length, ...env]);
}

export function encodeOk(pid: number): Buffer {
  return join(['ok', pid]);
}

export function encodeCold(reason: string): Buffer {
  return join(['cold', reason]);
}

export function encodeExit(code: number): Buffer {
  return join(['exit', code]);
}

export function encodeDie(signal: number): Buffer {
  return join(['die', signal]);
}

export function encodeSpawn(s: SpawnRequest): Buffer {
  return join(['spawn', s.setsid ? 1 : 0, s.hasExecFd ? 1 : 0, s.slots.join(','), s.path, s.argv.length, ...s.argv, s.env.length, ...s.env]);
}

/** The reply to a SPAWN: the child's pid, or the errno it failed with. */
export function decodeSpawnReply(data: Buffer): { pid: number } | { errno: number } {
  const [kind, value] = fields(data);
  const n = Number(value);
  if (kind === 'pid' && Number.isInteger(n) && n > 0) return { pid: n };
  if (kind === 'errno' && Number.isInteger(n)) return { errno: n };
  throw new Error(`bad spawn reply ${JSON.stringify(kind)}`);
}

/** Parses the notes channel's complete lines; returns the exits and what is left of an incomplete line. */
export function decodeNotes(text: string): { exits: { pid: number; code: number | null; signal: number | null }[]; rest: string } {
  const lines = text.split('\n');
  const rest = lines.pop() ?? '';
  const exits = lines
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter((n) => n.length === 3 && n.every(Number.isInteger) && n[0] > 0)
    .map(([pid, code, signal]) => (code < 0 ? { pid, code: null, signal } : { pid, code, signal: null }));
  return { exits, rest };
}

/**
 * Why a request must run cold (the caller then execs Node itself), or undefined when a worker may take it:
 * a command outside WARM_COMMANDS, fds to preserve (--preserve-fds, LISTEN_FDS: the worker does not have the
 * caller's fds beyond stdio), a caller outside our namespaces or user, a stale worker.
 */
export function coldReason(
  req: WarmRequest,
  globalFlags: FlagTable,
  facts: { sameUser: boolean; sameNamespaces: boolean; stale: boolean },
): string | undefined {
  if (!facts.sameUser) return 'the caller is another user';
  if (!facts.sameNamespaces) return 'the caller is in other namespaces';
  if (facts.stale) return 'stasis was rebuilt since this worker started';
  if (req.env.LISTEN_FDS !== undefined) return 'LISTEN_FDS: the caller has fds to pass on';
  let command: string | undefined;
  let rest: string[] = [];
  try {
    ({ rest } = parseFlags(req.argv, globalFlags, 'stasis'));
    command = rest[0];
  } catch {
    return undefined; // bad global flags: the worker reports them as the cold path would
  }
  if (command === undefined) return undefined;
  if (!WARM_COMMANDS.has(command)) return `${command} runs cold`;
  for (const arg of rest.slice(1)) {
    if (arg === '--') break;
    const m = /^--?preserve-fds(?:=(.*))?$/.exec(arg);
    if (m && m[1] !== '0') return '--preserve-fds: the caller has fds to pass on';
  }
  return undefined;
}
