/**
 * Writing rootfs-diff.tar from a list of paths: GNU tar reads the files (content, modes, owners, xattrs,
 * hard links, device numbers), stasis re-reads its stream member by member and writes the final archive.
 * That second step is where overlay bookkeeping is interpreted and removed: `trusted.overlay.*` xattrs must
 * not reach a plain rootfs, opaque directories become deletions, and overlay features whose data lives
 * outside the upper directory (redirect_dir, metacopy) are refused rather than silently lost.
 */
import { startTar } from '../archive/tar-process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ArchiveError, errnoText } from '../archive/errors';
import { memberPath } from '../archive/member-path';
import { encodeHeader, endOfArchive, padding, type TarHeader } from '../archive/tar-format';
import { readTar } from '../archive/tar-reader';

/** How overlay xattrs are named: `trusted.overlay.` normally, `user.overlay.` for a `userxattr` mount. */
export type OverlayXattrPrefix = 'trusted.overlay.' | 'user.overlay.';

/** What the stream filter learnt about the tree. */
export interface DiffTarResult {
  /** Directories marked opaque (`<prefix>opaque` = "y"), clean relative paths. */
  opaqueDirs: string[];
  /** Files marked as whiteouts by xattr (`<prefix>whiteout`, "xwhiteouts"): dropped from the tar. */
  xattrWhiteouts: string[];
  /** Members written. */
  members: number;
}

/** GNU tar reading exactly the listed paths (NUL-separated on stdin), not recursing. */
export function tarListArgs(root: string): string[] {
  return [
    '--create',
    '--file=-',
    '--format=posix',
    '--pax-option=delete=atime,delete=ctime',
    '--xattrs',
    '--xattrs-include=*',
    '--numeric-owner',
    '--no-recursion',
    '--null',
    '--verbatim-files-from',
    `--directory=${root}`,
    '--files-from=-',
  ];
}

/**
 * Decides what becomes of one member (pure): dropped (xattr whiteout), or kept with overlay xattrs
 * removed. Records opaque dirs; throws on redirect/metacopy, which this diff cannot represent.
 */
export function filterMember(h: TarHeader, prefix: OverlayXattrPrefix | undefined, acc: DiffTarResult): TarHeader | undefined {
  const rel = memberPath(h.path);
  const out: TarHeader = { ...h, path: h.type === 'dir' ? `${rel}/` : rel, linkpath: h.type === 'link' ? memberPath(h.linkpath) : h.linkpath };
  if (!prefix) return out;
  const x = (name: string) => h.xattrs.get(prefix + name);
  if (x('redirect')) throw new ArchiveError('unsafe', `${rel}: overlay redirect_dir entry (its content lives in a lower layer): not supported`);
  if (x('metacopy')) throw new ArchiveError('unsafe', `${rel}: overlay metacopy entry (its data lives in a lower layer): not supported`);
  if (h.type === 'file' && x('whiteout')) {
    acc.xattrWhiteouts.push(rel);
    return undefined;
  }
  if (h.type === 'dir' && x('opaque')?.toString() === 'y') acc.opaqueDirs.push(rel);
  out.xattrs = new Map([...h.xattrs].filter(([k]) => !k.startsWith(prefix)));
  return out;
}

/** Tars `paths` (clean relative paths under `root`, parents before children) into `outFile`. */
export async function writeDiffTar(
  root: string,
  paths: readonly string[],
  outFile: string,
  opts: { overlayXattrPrefix?: OverlayXattrPrefix } = {},
): Promise<DiffTarResult> {
  const acc: DiffTarResult = { opaqueDirs: [], xattrWhiteouts: [], members: 0 };
  const tmp = path.join(path.dirname(path.resolve(outFile)), `.${path.basename(outFile)}.partial-${process.pid}`);
  const out = fs.createWriteStream(tmp, { flags: 'w', mode: 0o600 });
  const tarProc = startTar(tarListArgs(root), ['pipe', 'pipe']);
  const tar = tarProc.child;
  tar.stdin!.end(paths.map((p) => `${p}\0`).join(''));
  const put = async (b: Buffer) => {
    if (!out.write(b)) await once(out, 'drain');
  };
  try {
    await readTar(tar.stdout as AsyncIterable<Buffer>, async (h, body) => {
      const kept = filterMember(h, opts.overlayXattrPrefix, acc);
      if (!kept) return;
      acc.members++;
      await put(encodeHeader(kept));
      for await (const chunk of body) await put(chunk);
      const pad = padding(kept.type === 'file' ? kept.size : 0);
      if (pad) await put(Buffer.alloc(pad));
    });
    const code = await tarProc.done;
    // Exit 1 means "a file changed while being read": the diff would not be a consistent snapshot.
    if (code !== 0) throw new ArchiveError('system', `tar of ${root} failed (exit ${code}): ${tarProc.firstErrorLine()}`);
    await put(endOfArchive());
    out.end();
    await once(out, 'close');
    fs.renameSync(tmp, outFile);
  } catch (err) {
    tar.kill('SIGKILL');
    out.destroy();
    fs.rmSync(tmp, { force: true });
    throw err instanceof ArchiveError ? err : new ArchiveError('system', `writing ${outFile} failed: ${errnoText(err)}`);
  }
  return acc;
}
