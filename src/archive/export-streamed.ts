/**
 * Completing an archive whose memory images were streamed into it during the dump (page-stream.ts): the
 * manifest and the `checkpoint/` directory go into the room reserved at the start, each image's header
 * into the hole before its data, and GNU tar appends the other files and the end marker.
 *
 *   [manifest][checkpoint/] | [hdr][pages-1.img data] [hdr][pages-2.img data] … | tar of the rest
 *   └── reserved room ────┘
 *
 * A manifest bigger than the reserved room gets more: a range is inserted at the start (export-in-place.ts
 * explains the cost). When the archive cannot be completed, `unstream` copies the images back into the
 * checkpoint directory so that it stays a complete checkpoint.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ArchiveError, errnoText } from './errors';
import { appendRest, imageHeader, planPrefix, shiftRange } from './export-in-place';
import { LAYOUT } from './layout';
import { MANIFEST_FILE } from './manifest';
import type { StreamedMember } from './page-stream';
import { BLOCK } from './tar-format';
import { sha256 } from '../util/builtins';

/** The archive file the images were streamed into. */
export interface StreamedArchive {
  archive: string;
  /** Bytes reserved at its start for the manifest. */
  reserve: number;
  members: StreamedMember[];
}

/** Completes `s.archive` from the checkpoint directory `dir` and renames it to `file`. */
export async function finishStreamedArchive(dir: string, file: string, s: StreamedArchive): Promise<{ manifestSha256: string; bytes: number }> {
  const manifestPath = path.join(dir, MANIFEST_FILE);
  const manifest = fs.readFileSync(manifestPath);
  const mtime = Math.floor(Date.now() / 1000);
  let reserve = s.reserve;
  let members = s.members;
  let plan = planPrefix(manifest, [], mtime, { exactly: reserve });
  if (!plan) {
    const align = Math.max(BLOCK, fs.statfsSync(s.archive).bsize);
    const need = planPrefix(manifest, [], mtime, { multipleOf: align })!.prefix.length;
    const grow = Math.ceil((need - reserve) / align) * align;
    const why = shiftRange(s.archive, 'insert', grow);
    if (why) throw new ArchiveError('system', `the manifest needs ${need} bytes, ${reserve} were kept, and ${s.archive} cannot grow at its start: ${why}`);
    reserve += grow;
    members = members.map((m) => ({ ...m, header: m.header + grow }));
    // unstream must find the images where they now are.
    s.reserve = reserve;
    s.members = members;
    plan = planPrefix(manifest, [], mtime, { exactly: reserve })!;
  }
  fs.writeFileSync(manifestPath, plan.manifest);
  const fd = fs.openSync(s.archive, 'r+');
  try {
    writeAt(fd, plan.prefix, 0);
    for (const m of members) writeAt(fd, imageHeader(`${LAYOUT.checkpointDir}/${m.name}`, m.size, mtime), m.header);
  } finally {
    fs.closeSync(fd);
  }
  await appendRest(dir, s.archive);
  fs.renameSync(s.archive, file);
  return { manifestSha256: sha256().update(plan.manifest).digest('hex'), bytes: fs.statSync(file).size };
}

function writeAt(fd: number, b: Buffer, at: number): void {
  if (fs.writeSync(fd, b, 0, b.length, at) !== b.length) throw new ArchiveError('system', 'short write to the archive');
}

/**
 * Puts the streamed images back into `<dir>/checkpoint/` (copied out of the archive) and removes the
 * archive: after a failed export the directory is again a complete checkpoint. Throws when it cannot.
 */
export function unstream(dir: string, s: { archive: string; members: Omit<StreamedMember, 'sha256'>[] }): void {
  const buf = Buffer.allocUnsafe(4 << 20);
  const src = fs.openSync(s.archive, 'r');
  try {
    for (const m of s.members) {
      const out = fs.openSync(path.join(dir, LAYOUT.checkpointDir, m.name), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
      try {
        for (let done = 0; done < m.size; ) {
          const n = fs.readSync(src, buf, 0, Math.min(buf.length, m.size - done), m.header + BLOCK + done);
          if (n <= 0) throw new ArchiveError('system', `${s.archive} ends inside ${m.name}`);
          fs.writeSync(out, buf, 0, n);
          done += n;
        }
      } finally {
        fs.closeSync(out);
      }
    }
  } catch (err) {
    throw err instanceof ArchiveError ? err : new ArchiveError('system', `cannot copy the images back out of ${s.archive}: ${errnoText(err)}`);
  } finally {
    fs.closeSync(src);
  }
  fs.rmSync(s.archive, { force: true });
}
