/**
 * The one error type the CLI prints. `code` is a closed set so callers (and tests) can match on it; the
 * message is a single lower-case line that names what is wrong and where.
 */
export type ErrorCode =
  | 'usage'
  | 'invalid-spec'
  | 'not-found'
  | 'exists'
  | 'bad-state'
  | 'system'
  | 'unsupported'
  | 'hook-failed'
  | 'exec-not-found';

/** A failure meant for the user: printed as one line, exit status 1 (or `exitCode`). */
export class RuntimeError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly hint?: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Node's errno-carrying error, as thrown by fs and child_process. */
export type ErrnoError = NodeJS.ErrnoException;

/** True when `err` is a Node system error with the given code (ENOENT, EEXIST …). */
export function isErrno(err: unknown, code: string): err is ErrnoError {
  return typeof err === 'object' && err !== null && (err as ErrnoError).code === code;
}

/** Lower-case text for a Node system error, e.g. "no such file or directory". */
export function errnoText(err: unknown): string {
  const e = err as ErrnoError;
  if (e && typeof e.message === 'string') {
    // Node formats as "ENOENT: no such file or directory, open '/x'"; keep the human part.
    const m = /^[A-Z0-9]+: ([^,]+)/.exec(e.message);
    if (m) return m[1];
    return e.message;
  }
  return String(err);
}
