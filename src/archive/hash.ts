/** Streaming sha256 of files: images can be many GiB, so they are read in 1 MiB chunks, never whole. */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';

/** Read size for hashing. */
const CHUNK = 1 << 20;

/** sha256 (hex) and byte count of a file; `onBytes` is told about every chunk (progress). */
export async function sha256File(file: string, onBytes?: (n: number) => void): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const stream = fs.createReadStream(file, { highWaterMark: CHUNK });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
    onBytes?.(chunk.length);
  }
  return { sha256: hash.digest('hex'), size };
}
