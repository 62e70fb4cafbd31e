/**
 * A small protobuf (proto2) codec driven by the committed JSON descriptors (rpc.json, stats.json): what the
 * CRIU RPC and stats files need, and nothing more: varint scalars (bool, int32, uint32, int64, uint64,
 * enums), strings, bytes, nested messages, repeated fields (packed accepted when decoding).
 *
 * Why not protobufjs at run time: loading it, building the types and its first generated encoder cost
 * 30-45 ms on every `checkpoint` and `restore` (measured here), a tenth of a small container's restore.
 * Messages use the descriptors' camelCase field names and enum names, like protobufjs's toObject with
 * `enums: String, longs: Number, defaults: false`.
 */

/** A message type in a descriptor file. */
interface MessageDesc {
  fields: Record<string, { type: string; id: number; rule?: string }>;
}
/** An enum type in a descriptor file. */
interface EnumDesc {
  values: Record<string, number>;
}
/** The root of a descriptor file: types by name. */
export interface Descriptor {
  nested: Record<string, MessageDesc | EnumDesc | object>;
}

const VARINT_TYPES = new Set(['bool', 'int32', 'uint32', 'int64', 'uint64', 'sint32', 'sint64']);

/** One codec per descriptor file. */
export class WireCodec {
  private readonly byId = new Map<string, Map<number, { name: string; type: string; repeated: boolean }>>();

  constructor(private readonly desc: Descriptor) {}

  private message(name: string): MessageDesc {
    const m = this.desc.nested[name] as MessageDesc | undefined;
    if (!m || !('fields' in m)) throw new Error(`protobuf: no message type ${name}`);
    return m;
  }

  private enumOf(type: string): EnumDesc | undefined {
    const e = this.desc.nested[type] as EnumDesc | undefined;
    return e && 'values' in e ? e : undefined;
  }

  private fieldsById(name: string): Map<number, { name: string; type: string; repeated: boolean }> {
    let m = this.byId.get(name);
    if (!m) {
      m = new Map();
      for (const [field, f] of Object.entries(this.message(name).fields)) m.set(f.id, { name: field, type: f.type, repeated: f.rule === 'repeated' });
      this.byId.set(name, m);
    }
    return m;
  }

  /** Serializes `value` as message type `name`; absent (undefined/null) fields are left out. */
  encode(name: string, value: Record<string, unknown>): Buffer {
    const out: number[] = [];
    this.encodeInto(out, name, value);
    return Buffer.from(out);
  }

  private encodeInto(out: number[], name: string, value: Record<string, unknown>): void {
    const fields = Object.entries(this.message(name).fields).sort((a, b) => a[1].id - b[1].id);
    for (const [field, f] of fields) {
      const v = value[field];
      if (v === undefined || v === null) continue;
      for (const item of f.rule === 'repeated' ? (v as unknown[]) : [v]) this.encodeField(out, f.id, f.type, item, `${name}.${field}`);
    }
  }

  private encodeField(out: number[], id: number, type: string, v: unknown, where: string): void {
    const en = this.enumOf(type);
    if (en || VARINT_TYPES.has(type)) {
      let n: bigint;
      if (en) {
        const num = typeof v === 'string' ? en.values[v] : (v as number);
        if (num === undefined) throw new Error(`protobuf: ${where}: unknown enum value ${String(v)}`);
        n = BigInt(num);
      } else if (type === 'bool') n = v ? 1n : 0n;
      else if (type === 'sint32' || type === 'sint64') {
        const s = BigInt(v as number);
        n = s >= 0n ? s << 1n : ((-s) << 1n) - 1n;
      } else n = BigInt(v as number);
      writeVarint(out, BigInt(id) << 3n);
      writeVarint(out, BigInt.asUintN(64, n)); // negative int32/int64 take ten bytes, as protobuf says
      return;
    }
    let bytes: Uint8Array;
    if (type === 'string') bytes = Buffer.from(String(v), 'utf8');
    else if (type === 'bytes') bytes = v as Uint8Array;
    else {
      const inner: number[] = [];
      this.encodeInto(inner, type, v as Record<string, unknown>);
      bytes = Uint8Array.from(inner);
    }
    writeVarint(out, (BigInt(id) << 3n) | 2n);
    writeVarint(out, BigInt(bytes.length));
    for (const b of bytes) out.push(b);
  }

  /** Parses message type `name`; unknown fields are skipped. */
  decode<T = Record<string, unknown>>(name: string, data: Uint8Array): T {
    return this.decodeRange(name, data, 0, data.length) as T;
  }

  private decodeRange(name: string, data: Uint8Array, start: number, end: number): Record<string, unknown> {
    const fields = this.fieldsById(name);
    const out: Record<string, unknown> = {};
    const pos = { p: start };
    while (pos.p < end) {
      const key = readVarint(data, pos);
      const id = Number(key >> 3n);
      const wire = Number(key & 7n);
      const f = fields.get(id);
      if (!f) {
        skip(data, pos, wire);
        continue;
      }
      const put = (v: unknown) => {
        if (f.repeated) ((out[f.name] ??= []) as unknown[]).push(v);
        else out[f.name] = v;
      };
      const en = this.enumOf(f.type);
      const scalar = en || VARINT_TYPES.has(f.type);
      if (scalar && wire === 2) {
        // packed repeated scalars
        const len = Number(readVarint(data, pos));
        const stop = pos.p + len;
        while (pos.p < stop) put(this.scalar(f.type, en, readVarint(data, pos)));
      } else if (scalar) {
        if (wire !== 0) throw new Error(`protobuf: ${name}.${f.name}: wire type ${wire} for a varint`);
        put(this.scalar(f.type, en, readVarint(data, pos)));
      } else {
        if (wire !== 2) throw new Error(`protobuf: ${name}.${f.name}: wire type ${wire} for a length-delimited field`);
        const len = Number(readVarint(data, pos));
        if (pos.p + len > end) throw new Error(`protobuf: ${name}.${f.name}: truncated`);
        const s = pos.p;
        pos.p += len;
        if (f.type === 'string') put(Buffer.from(data.buffer, data.byteOffset + s, len).toString('utf8'));
        else if (f.type === 'bytes') put(Buffer.from(data.subarray(s, s + len)));
        else put(this.decodeRange(f.type, data, s, s + len));
      }
    }
    if (pos.p !== end) throw new Error(`protobuf: ${name}: truncated`);
    return out;
  }

  private scalar(type: string, en: EnumDesc | undefined, v: bigint): unknown {
    if (en) {
      const n = Number(BigInt.asIntN(32, v));
      return Object.keys(en.values).find((k) => en.values[k] === n) ?? n;
    }
    switch (type) {
      case 'bool':
        return v !== 0n;
      case 'int32':
        return Number(BigInt.asIntN(32, v));
      case 'uint32':
        return Number(BigInt.asUintN(32, v));
      case 'int64':
        return Number(BigInt.asIntN(64, v));
      case 'sint32':
      case 'sint64':
        return Number((v & 1n) === 0n ? v >> 1n : -((v + 1n) >> 1n));
      default:
        return Number(v);
    }
  }
}

function writeVarint(out: number[], n: bigint): void {
  while (n > 0x7fn) {
    out.push(Number(n & 0x7fn) | 0x80);
    n >>= 7n;
  }
  out.push(Number(n));
}

function readVarint(data: Uint8Array, pos: { p: number }): bigint {
  let result = 0n;
  for (let shift = 0n; shift < 70n; shift += 7n) {
    if (pos.p >= data.length) throw new Error('protobuf: truncated varint');
    const b = data[pos.p++];
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return result;
  }
  throw new Error('protobuf: varint too long');
}

function skip(data: Uint8Array, pos: { p: number }, wire: number): void {
  if (wire === 0) readVarint(data, pos);
  else if (wire === 1) pos.p += 8;
  else if (wire === 2) pos.p += Number(readVarint(data, pos));
  else if (wire === 5) pos.p += 4;
  else throw new Error(`protobuf: unsupported wire type ${wire}`);
  if (pos.p > data.length) throw new Error('protobuf: truncated');
}
