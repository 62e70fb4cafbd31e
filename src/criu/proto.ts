/**
 * Encoding and decoding of the CRIU RPC and stats messages, from the committed JSON descriptors (generated
 * from rpc.proto / stats.proto by gen-descriptors.ts), with stasis's own small codec (wire.ts): loading
 * protobufjs cost every checkpoint and restore 30-45 ms. protobufjs stays available to tests, to check
 * the codec against an independent implementation.
 */
import type * as protobuf from 'protobufjs';
import rpcDescriptor from './rpc.json';
import statsDescriptor from './stats.json';
import type { CriuReq, CriuResp } from './types';
import { WireCodec, type Descriptor } from './wire';

let rpcCodec: WireCodec | undefined;
let statsCodec: WireCodec | undefined;

function rpc(): WireCodec {
  rpcCodec ??= new WireCodec(rpcDescriptor as Descriptor);
  return rpcCodec;
}

/** Decodes one stats_entry (the payload of a stats-dump / stats-restore file). */
export function decodeStatsEntry(data: Uint8Array): { dump?: Record<string, number | undefined>; restore?: Record<string, number | undefined> } {
  statsCodec ??= new WireCodec(statsDescriptor as Descriptor);
  return statsCodec.decode('stats_entry', data);
}

/**
 * The stats_entry type as protobufjs builds it, for tests that write stats files. Loaded on demand (and
 * hidden from the bundler): the runtime never needs it.
 */
export function statsEntryType(): protobuf.Type {
  const pb = require(['protobufjs', 'light'].join('/')) as typeof protobuf;
  return pb.Root.fromJSON(statsDescriptor as protobuf.INamespace).lookupType('stats_entry');
}

/** How protobufjs-decoded messages become plain objects (tests): enums by name, 64-bit integers as numbers. */
export const TO_OBJECT: protobuf.IConversionOptions = { enums: String, longs: Number, defaults: false };

/** Serializes a request for CRIU (field types are guaranteed by the CriuReq type, not checked again). */
export function encodeRequest(req: CriuReq): Buffer {
  return rpc().encode('criu_req', req as unknown as Record<string, unknown>);
}

/** Parses one message from CRIU. */
export function decodeResponse(data: Uint8Array): CriuResp {
  return rpc().decode<CriuResp>('criu_resp', data);
}

/** Parses a request (used by tests to check what stasis sends). */
export function decodeRequest(data: Uint8Array): CriuReq {
  return rpc().decode<CriuReq>('criu_req', data);
}

/** Serializes a response (used by tests to play CRIU's side). */
export function encodeResponse(resp: CriuResp): Buffer {
  return rpc().encode('criu_resp', resp as unknown as Record<string, unknown>);
}
