/**
 * Rootfs diff of an overlay root: everything in the upper directory is a change. Whiteouts (0:0 character
 * devices, or files with the overlay `whiteout` xattr) and opaque directories become deleted.files entries;
 * everything else goes into rootfs-diff.tar with its xattrs (minus the overlay's own), owners, modes,
 * symlinks, hard links and device nodes.
 */
import { writeDiffTar, type OverlayXattrPrefix } from './diff-tar';
import { isWhiteout, walkTree } from './walk';

/** Options of diffOverlay. */
export interface OverlayDiffOptions {
  /** Clean relative paths to leave out (see diffExclusions). */
  exclusions: readonly string[];
  /** `user.overlay.` when the overlay was mounted with `userxattr` (default `trusted.overlay.`). */
  xattrPrefix?: OverlayXattrPrefix;
}

/** What diffOverlay produced. */
export interface RootfsDiff {
  /** Container paths ("/etc/motd") to delete from the base before extracting the tar (deleted.files). */
  deleted: string[];
  /** Members written to the tar. */
  members: number;
}

/** Writes `outTar` from the overlay upper directory `upperDir`; returns the deleted paths. */
export async function diffOverlay(upperDir: string, outTar: string, opts: OverlayDiffOptions): Promise<RootfsDiff> {
  const entries = walkTree(upperDir, opts.exclusions);
  const deleted: string[] = [];
  const paths: string[] = [];
  for (const e of entries) {
    if (isWhiteout(e.st)) deleted.push(e.rel);
    else paths.push(e.rel);
  }
  const r = await writeDiffTar(upperDir, paths, outTar, { overlayXattrPrefix: opts.xattrPrefix ?? 'trusted.overlay.' });
  // An opaque directory hides the base's whole directory: delete it first, the tar brings back the new one.
  deleted.push(...r.opaqueDirs, ...r.xattrWhiteouts);
  return { deleted: toContainerPaths(deleted), members: r.members };
}

/** Sorted, unique, with a leading "/" (the form Podman writes in deleted.files). */
export function toContainerPaths(rels: readonly string[]): string[] {
  return [...new Set(rels)].sort().map((r) => `/${r}`);
}
