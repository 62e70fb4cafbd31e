/**
 * The tar format, as pure functions over 512-byte blocks: ustar headers (with GNU base-256 numbers),
 * pax extended headers (`x`) and GNU long names (`L`/`K`). stasis reads archives made by GNU tar, Go's
 * archive/tar (Podman, CRI-O, checkpointctl) and itself, and writes pax (POSIX.1-2001) members.
 */
import { ArchiveError } from './errors';

/** Size of a tar block. */
export const BLOCK = 512;

/** Member types stasis understands. Anything else (sparse, multi-volume…) is refused by the reader. */
export type TarType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

/** One member's metadata, after pax and GNU long-name records were folded in. */
export interface TarHeader {
  /** Member name exactly as stored (may start with "./" or end with "/"); check it with `memberPath`. */
  path: string;
  type: TarType;
  /** Permission bits, including setuid/setgid/sticky. */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of content that follow (0 for everything but `file`). */
  size: number;
  /** Seconds since the epoch, possibly fractional. */
  mtime: number;
  /** Target of a symlink or hard link ('' otherwise). */
  linkpath: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes (pax `SCHILY.xattr.*`), name → raw value. */
  xattrs: Map<string, Buffer>;
}

const TYPE_BY_FLAG: Record<string, TarType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file', // contiguous file: a regular file everywhere that matters
  '1': 'link',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};
const FLAG_BY_TYPE: Record<TarType, string> = {
  file: '0',
  link: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
};

/** What a raw header block is: a member, a record that modifies the next member, or the end marker. */
export type RawHeader =
  | { kind: 'end' }
  | { kind: 'pax' | 'global-pax' | 'longname' | 'longlink'; size: number }
  | { kind: 'member'; header: TarHeader };

/** Trailing NULs cut, decoded as UTF-8. */
function str(block: Buffer, start: number, len: number): string {
  const field = block.subarray(start, start + len);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? len : nul).toString('utf8');
}

/** An octal (space/NUL terminated) or GNU base-256 number field. */
export function parseNumber(block: Buffer, start: number, len: number, field: string): number {
  const b = block.subarray(start, start + len);
  if (b[0] & 0x80) {
    // base-256: big-endian two's complement; the top bit of the first byte only flags the encoding.
    if (b[0] & 0x40) throw new ArchiveError('corrupt', `tar header: negative ${field}`);
    let v = b[0] & 0x3f;
    for (let i = 1; i < len; i++) v = v * 256 + b[i];
    if (!Number.isSafeInteger(v)) throw new ArchiveError('corrupt', `tar header: ${field} too large`);
    return v;
  }
  const text = b.toString('latin1').replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new ArchiveError('corrupt', `tar header: ${field} is not an octal number`);
  return parseInt(text, 8);
}

/** Sum of the header bytes with the checksum field counted as spaces. */
function checksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
  return sum;
}

/** Decodes one 512-byte header block. `pending` holds pax / long-name values that apply to this member. */
export function decodeHeader(block: Buffer, pending: PendingRecords): RawHeader {
  if (block.length !== BLOCK) throw new ArchiveError('corrupt', 'tar header: short block');
  if (block.every((b) => b === 0)) return { kind: 'end' };
  const stored = parseNumber(block, 148, 8, 'checksum');
  if (stored !== checksum(block)) throw new ArchiveError('corrupt', 'tar header: bad checksum (not a tar archive, or damaged)');
  const flag = String.fromCharCode(block[156]);
  const size = parseNumber(block, 124, 12, 'size');
  if (flag === 'x') return { kind: 'pax', size };
  if (flag === 'g') return { kind: 'global-pax', size };
  if (flag === 'L') return { kind: 'longname', size };
  if (flag === 'K') return { kind: 'longlink', size };
  const type = TYPE_BY_FLAG[flag];
  if (!type) throw new ArchiveError('unsafe', `tar member ${str(block, 0, 100)}: unsupported type '${flag}'`);
  // POSIX ustar keeps a name prefix at 345; GNU's own format ("ustar  \0") uses that area for other things.
  const posix = block.toString('latin1', 257, 263) === 'ustar\0';
  const prefix = posix ? str(block, 345, 155) : '';
  let name = str(block, 0, 100);
  if (prefix) name = `${prefix}/${name}`;
  const header: TarHeader = {
    path: pending.path ?? name,
    type,
    mode: parseNumber(block, 100, 8, 'mode') & 0o7777,
    uid: pending.uid ?? parseNumber(block, 108, 8, 'uid'),
    gid: pending.gid ?? parseNumber(block, 116, 8, 'gid'),
    size: type === 'file' ? (pending.size ?? size) : 0,
    mtime: pending.mtime ?? parseNumber(block, 136, 12, 'mtime'),
    linkpath: pending.linkpath ?? str(block, 157, 100),
    devmajor: type === 'char' || type === 'block' ? parseNumber(block, 329, 8, 'devmajor') : 0,
    devminor: type === 'char' || type === 'block' ? parseNumber(block, 337, 8, 'devminor') : 0,
    xattrs: pending.xattrs,
  };
  // Only regular files carry content; a link or directory with a size would desynchronise the reader.
  if (type !== 'file' && (pending.size ?? size) !== 0) {
    throw new ArchiveError('corrupt', `tar member ${header.path}: ${type} with content`);
  }
  return { kind: 'member', header };
}

/** pax / GNU long-name values waiting for the member they describe. */
export interface PendingRecords {
  path?: string;
  linkpath?: string;
  size?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  xattrs: Map<string, Buffer>;
  /** Keys of records that changed nothing (atime, uname, comments…): a strict reader refuses them. */
  other: string[];
}

/** A fresh, empty set of pending records. */
export function noPending(): PendingRecords {
  return { xattrs: new Map(), other: [] };
}

const XATTR_KEY = 'SCHILY.xattr.';

/** Folds a pax extended header's records ("LEN key=value\n"…) into `into`. Values may be binary (xattrs). */
export function parsePax(data: Buffer, into: PendingRecords): void {
  let at = 0;
  while (at < data.length) {
    if (data[at] === 0) break; // padding some writers leave
    const space = data.indexOf(0x20, at);
    if (space < 0) throw new ArchiveError('corrupt', 'pax header: record without length');
    const len = Number(data.toString('latin1', at, space));
    if (!Number.isSafeInteger(len) || len <= space - at + 1 || at + len > data.length) {
      throw new ArchiveError('corrupt', 'pax header: bad record length');
    }
    const record = data.subarray(space + 1, at + len - 1); // without the trailing "\n"
    const eq = record.indexOf(0x3d);
    if (eq < 0 || data[at + len - 1] !== 0x0a) throw new ArchiveError('corrupt', 'pax header: bad record');
    const key = record.toString('utf8', 0, eq);
    const value = record.subarray(eq + 1);
    applyPaxRecord(key, value, into);
    at += len;
  }
}

function applyPaxRecord(key: string, value: Buffer, into: PendingRecords): void {
  const text = () => value.toString('utf8');
  const int = () => {
    const n = Number(text());
    if (!Number.isSafeInteger(n) || n < 0) throw new ArchiveError('corrupt', `pax header: bad ${key}`);
    return n;
  };
  if (key === 'path') into.path = text();
  else if (key === 'linkpath') into.linkpath = text();
  else if (key === 'size') into.size = int();
  else if (key === 'uid') into.uid = int();
  else if (key === 'gid') into.gid = int();
  else if (key === 'mtime') {
    const t = Number(text());
    if (!Number.isFinite(t)) throw new ArchiveError('corrupt', 'pax header: bad mtime');
    into.mtime = t;
    into.other.push(key); // used, but not covered by anything a strict reader checks
  } else if (key.startsWith(XATTR_KEY)) into.xattrs.set(key.slice(XATTR_KEY.length), Buffer.from(value));
  else if (key.startsWith('GNU.sparse.')) throw new ArchiveError('unsafe', 'pax header: sparse members are not supported');
  // Other keys (atime, ctime, uname, gname, charset, comments, LIBARCHIVE.*) change nothing for stasis.
  else into.other.push(key);
}

/** Bytes of padding after `size` bytes of content. */
export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** One pax record "LEN key=value\n", where LEN counts itself. */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

/** Writes `value` as a NUL-terminated octal field of `len` bytes; false when it does not fit. */
function putOctal(block: Buffer, start: number, len: number, value: number): boolean {
  const text = Math.floor(value).toString(8);
  if (text.length > len - 1 || value < 0) return false;
  block.write(text.padStart(len - 1, '0'), start, 'latin1');
  block[start + len - 1] = 0;
  return true;
}

/**
 * The ustar block for `h` plus, when something does not fit in ustar, a pax header before it. With
 * `singleBlock` the result is always one block (a header written into a 512-byte hole): a size too big for
 * octal is stored in GNU base-256 (read by GNU tar, Go's archive/tar and stasis), anything else that would
 * need a pax record throws.
 */
export function encodeHeader(h: TarHeader, opts: { singleBlock?: boolean } = {}): Buffer {
  const records: Buffer[] = [];
  const block = Buffer.alloc(BLOCK);
  const nameBytes = Buffer.from(h.path, 'utf8');
  if (nameBytes.length <= 100 && isAscii(h.path)) nameBytes.copy(block, 0);
  else {
    records.push(paxRecord('path', nameBytes));
    block.write(asciiStub(h.path, 100), 0, 'latin1');
  }
  putOctal(block, 100, 8, h.mode & 0o7777);
  if (!putOctal(block, 108, 8, h.uid)) records.push(paxRecord('uid', Buffer.from(String(h.uid))));
  if (!putOctal(block, 116, 8, h.gid)) records.push(paxRecord('gid', Buffer.from(String(h.gid))));
  const size = h.type === 'file' ? h.size : 0;
  if (!putOctal(block, 124, 12, size)) {
    if (opts.singleBlock) putBase256(block, 124, 12, size);
    else records.push(paxRecord('size', Buffer.from(String(size))));
  }
  putOctal(block, 136, 12, Math.max(0, h.mtime));
  if (!Number.isInteger(h.mtime)) records.push(paxRecord('mtime', Buffer.from(h.mtime.toFixed(9).replace(/0+$/, ''))));
  block.write(FLAG_BY_TYPE[h.type], 156, 'latin1');
  const linkBytes = Buffer.from(h.linkpath, 'utf8');
  if (linkBytes.length <= 100 && isAscii(h.linkpath)) linkBytes.copy(block, 157);
  else {
    records.push(paxRecord('linkpath', linkBytes));
    block.write(asciiStub(h.linkpath, 100), 157, 'latin1');
  }
  block.write('ustar\x0000', 257, 'latin1');
  if (h.type === 'char' || h.type === 'block') {
    putOctal(block, 329, 8, h.devmajor);
    putOctal(block, 337, 8, h.devminor);
  }
  for (const [name, value] of h.xattrs) records.push(paxRecord(XATTR_KEY + name, value));
  writeChecksum(block);
  if (records.length === 0) return block;
  if (opts.singleBlock) throw new ArchiveError('usage', `tar member ${h.path}: does not fit in one header block`);
  const data = Buffer.concat(records);
  const pax = Buffer.alloc(BLOCK);
  pax.write(asciiStub(`PaxHeaders/${h.path.split('/').filter(Boolean).pop() ?? 'x'}`, 100), 0, 'latin1');
  putOctal(pax, 100, 8, 0o644);
  putOctal(pax, 108, 8, 0);
  putOctal(pax, 116, 8, 0);
  putOctal(pax, 124, 12, data.length);
  putOctal(pax, 136, 12, Math.max(0, h.mtime));
  pax.write('x', 156, 'latin1');
  pax.write('ustar\x0000', 257, 'latin1');
  writeChecksum(pax);
  return Buffer.concat([pax, data, Buffer.alloc(padding(data.length)), block]);
}

/** GNU base-256: the first byte's high bit set, the number big-endian in the rest of the field. */
function putBase256(block: Buffer, start: number, len: number, value: number): void {
  let v = BigInt(value);
  for (let i = start + len - 1; i > start; i--) {
    block[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  block[start] = 0x80;
}

function writeChecksum(block: Buffer): void {
  block.fill(0x20, 148, 156);
  const text = checksum(block).toString(8).padStart(6, '0');
  block.write(`${text}\0 `, 148, 'latin1');
}

function isAscii(s: string): boolean {
  return /^[\x20-\x7e]*$/.test(s);
}

/** A printable stand-in for a field whose real value is in the pax header. */
function asciiStub(s: string, len: number): string {
  return s.replace(/[^\x20-\x7e]/g, '_').slice(0, len);
}

/** The end-of-archive marker: two zero blocks. */
export function endOfArchive(): Buffer {
  return Buffer.alloc(2 * BLOCK);
}
