/** The one error type of the archive and rootfs-diff modules: a single line that names the file or field. */

/** What went wrong, so callers can map it to an exit status or a message prefix. */
export type ArchiveErrorKind =
  | 'corrupt' // bytes do not match the manifest, or the archive cannot be parsed
  | 'unsafe' // a member would escape the destination or is of a forbidden type
  | 'incompatible' // the checkpoint needs something this host lacks
  | 'usage' // bad arguments (destination not empty, unknown compression…)
  | 'system'; // an I/O or child process failure

/** Thrown by every function of src/archive and src/rootfs-diff. */
export class ArchiveError extends Error {
  constructor(
    readonly kind: ArchiveErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'ArchiveError';
  }
}

/** Node errno code of an error, or undefined. */
export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** "ENOENT: no such file…" without Node's trailing path noise: the caller names the path itself. */
export function errnoText(err: unknown): string {
  const code = errnoCode(err);
  if (code && /^E[A-Z0-9]+$/.test(code)) return code;
  return err instanceof Error ? err.message : String(err);
}
