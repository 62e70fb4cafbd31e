/**
 * A streaming tar reader: members are handed out one at a time with their content as an async stream,
 * so a multi-GiB member is never held in memory and nothing is buffered on disk.
 */
import { ArchiveError } from './errors';
import { BLOCK, decodeHeader, noPending, padding, parsePax, type PendingRecords, type TarHeader } from './tar-format';

/** Largest pax / long-name record accepted (they are held in memory). */
const MAX_RECORD_BYTES = 1 << 20;

/** Reads exact byte counts from a chunked source. */
export class ByteReader {
  private readonly it: AsyncIterator<Buffer>;
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  /** Bytes consumed so far (for progress). */
  consumed = 0;

  constructor(source: AsyncIterable<Buffer>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return false;
    }
    const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    return true;
  }

  /** Exactly n bytes, or null at a clean end of input (no byte read); throws on a short read. */
  async read(n: number): Promise<Buffer | null> {
    while (this.buf.length < n) {
      if (!(await this.fill())) {
        if (this.buf.length === 0) return null;
        throw new ArchiveError('corrupt', 'archive is truncated');
      }
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.consumed += n;
    return out;
  }

  /**
   * n bytes as a sequence of chunks (views, no copy). The iterable survives a `break` of its consumer:
   * whatever was not read is still there for `skip` (the tar reader relies on that).
   */
  body(n: number): MemberBody {
    return new MemberBody(this, n);
  }

  /** Up to max bytes that are available now (reading more input when none is). */
  async some(max: number): Promise<Buffer> {
    if (this.buf.length === 0 && !(await this.fill())) throw new ArchiveError('corrupt', 'archive is truncated');
    const take = Math.min(max, this.buf.length);
    const out = this.buf.subarray(0, take);
    this.buf = this.buf.subarray(take);
    this.consumed += take;
    return out;
  }

  /**
   * Reads and drops everything left (so a producer writing into a pipe is not left blocked). With
   * `zerosOnly`, a byte that is not zero is an error: a strict archive ends with zero blocks and nothing else.
   */
  async drain(zerosOnly = false): Promise<void> {
    do {
      if (zerosOnly && !this.buf.every((b) => b === 0)) throw new ArchiveError('corrupt', 'archive has data after its end marker');
      this.buf = Buffer.alloc(0);
    } while (await this.fill());
  }
}

/** Called for each member; `body` must be consumed or abandoned (the reader skips what is left). */
export type MemberHandler = (header: TarHeader, body: AsyncIterable<Buffer>) => Promise<void>;

/**
 * Walks a tar stream. pax (`x`) and GNU long-name records are folded into the member that follows; global
 * pax headers are ignored. Ends at the two-zero-block marker, or at end of input after a block boundary.
 *
 * `strict` (checkpoint archives, whose every content byte a manifest covers): every other byte must be
 * accounted for too, so that any damage is refused: padding and everything after the end marker must be
 * zero, the end marker must be there, and pax records may only carry what stasis's export writes (path,
 * linkpath, size, uid, gid); a header's own bytes are covered by its checksum.
 */
export async function readTar(source: AsyncIterable<Buffer> | ByteReader, onMember: MemberHandler, opts: { strict?: boolean } = {}): Promise<void> {
  const r = source instanceof ByteReader ? source : new ByteReader(source);
  const strict = opts.strict === true;
  const zeroPadding = (pad: Buffer) => {
    if (strict && !pad.every((b) => b === 0)) throw new ArchiveError('corrupt', 'archive is damaged: padding after a member is not zero');
  };
  let pending: PendingRecords = noPending();
  for (;;) {
    const block = await r.read(BLOCK);
    if (block === null) {
      if (strict) throw new ArchiveError('corrupt', 'archive is truncated: no end marker');
      break; // some writers omit the end marker
    }
    const raw = decodeHeader(block, pending);
    if (raw.kind === 'end') break;
    if (raw.kind !== 'member') {
      if (raw.size > MAX_RECORD_BYTES) throw new ArchiveError('corrupt', `tar ${raw.kind} record too large`);
      if (strict && raw.kind !== 'pax') throw new ArchiveError('corrupt', `archive is damaged: unexpected ${raw.kind} record`);
      const data = (await r.read(raw.size + padding(raw.size))) ?? Buffer.alloc(0);
      if (data.length < raw.size) throw new ArchiveError('corrupt', 'archive is truncated');
      const body = data.subarray(0, raw.size);
      zeroPadding(data.subarray(raw.size));
      if (raw.kind === 'pax') parsePax(body, pending);
      if (strict && pending.other.length) {
        throw new ArchiveError('corrupt', `archive is damaged: unexpected pax record ${JSON.stringify(pending.other[0])}`);
      }
      else if (raw.kind === 'longname') pending.path = cString(body);
      else if (raw.kind === 'longlink') pending.linkpath = cString(body);
      continue;
    }
    pending = noPending();
    const h = raw.header;
    const body = r.body(h.size);
    await onMember(h, body);
    // Whatever the handler did not read is skipped, then the padding up to the next block.
    await body.skip();
    const pad = padding(h.size);
    if (pad) {
      const bytes = await r.read(pad);
      if (bytes === null) throw new ArchiveError('corrupt', 'archive is truncated');
      zeroPadding(bytes);
    }
  }
  if (strict) {
    // The end marker is two zero blocks; the first one ended the loop.
    const second = await r.read(BLOCK);
    if (second === null) throw new ArchiveError('corrupt', 'archive is truncated: no end marker');
    zeroPadding(second);
  }
  await r.drain(strict);
}

/** One member's content: an async iterable of chunks that a consumer's `break` does not close. */
export class MemberBody implements AsyncIterable<Buffer> {
  constructor(
    private readonly r: ByteReader,
    private left: number,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return {
      next: async () => {
        if (this.left === 0) return { done: true, value: undefined };
        const chunk = await this.r.some(this.left);
        this.left -= chunk.length;
        return { done: false, value: chunk };
      },
    };
  }

  /** Reads and drops the rest. */
  async skip(): Promise<void> {
    while (this.left > 0) this.left -= (await this.r.some(this.left)).length;
  }
}

function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.toString('utf8', 0, nul < 0 ? b.length : nul);
}
