/** Checking member names before anything is written: the first line of defence of every extractor. */
import { ArchiveError } from './errors';

/**
 * The member name as a clean relative path ("a/b", or "" for the archive root), or an 'unsafe' error:
 * absolute names and `..` components are refused, not rewritten, so a hostile archive is rejected whole.
 */
export function memberPath(raw: string): string {
  if (raw.includes('\0')) throw new ArchiveError('unsafe', `member ${JSON.stringify(raw)}: NUL in name`);
  if (raw.startsWith('/')) throw new ArchiveError('unsafe', `member ${raw}: absolute path`);
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new ArchiveError('unsafe', `member ${raw}: ".." in path`);
  return parts.join('/');
}

/** "a/b/c" → ["a/b", "c"]; "c" → ["", "c"]. */
export function splitParent(rel: string): [string, string] {
  const slash = rel.lastIndexOf('/');
  return slash < 0 ? ['', rel] : [rel.slice(0, slash), rel.slice(slash + 1)];
}

/** True when `rel` is `prefix` or lies below it (both clean relative paths). */
export function isAtOrBelow(rel: string, prefix: string): boolean {
  return prefix === '' || rel === prefix || rel.startsWith(`${prefix}/`);
}
