/** Error type of the cgroup library: one clear line naming the file and the kernel's reason. */

/** strerror(3) texts for the errnos cgroupfs actually returns; Node's libuv texts ("resource busy or locked") are not what the kernel docs or users expect. */
const STRERROR: Record<string, string> = {
  EBUSY: 'device or resource busy',
  EINVAL: 'invalid argument',
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on device',
  ERANGE: 'numerical result out of range',
  EEXIST: 'file exists',
  ENOTEMPTY: 'directory not empty',
  EAGAIN: 'resource temporarily unavailable',
  ESRCH: 'no such process',
  EROFS: 'read-only file system',
  EOPNOTSUPP: 'operation not supported',
  ENOTSUP: 'operation not supported',
  ENODEV: 'no such device',
  ENOTDIR: 'not a directory',
  EIO: 'input/output error',
  ENOMEM: 'cannot allocate memory',
};

/** Node error code of a thrown value ('EBUSY'…), or undefined. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The kernel's wording for a Node fs error (falls back to the error's own message). */
export function describeErrno(err: unknown): string {
  const code = errnoCode(err);
  if (code && STRERROR[code]) return STRERROR[code];
  if (code) return code.toLowerCase();
  return err instanceof Error ? err.message : String(err);
}

/** Any failure of the cgroup library; `code` carries the errno name when the kernel refused something. */
export class CgroupError extends Error {
  /** errno name from the failing syscall ('EBUSY'…), if any. */
  readonly code?: string;

  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'CgroupError';
    this.code = options?.code ?? errnoCode(options?.cause);
  }
}

/** Wrap an fs error as "<action>: <strerror>" keeping the errno; CgroupErrors pass through unchanged. */
export function wrapFsError(action: string, err: unknown): CgroupError {
  if (err instanceof CgroupError) return err;
  return new CgroupError(`${action}: ${describeErrno(err)}`, { cause: err });
}
