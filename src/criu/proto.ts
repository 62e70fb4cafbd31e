/**
 * protobufjs types for the CRIU RPC and stats messages, built from the committed JSON descriptors
 * (generated from rpc.proto / stats.proto by gen-descriptors.ts) with the light build of protobufjs.
 */
import * as protobuf from 'protobufjs/light';
import rpcDescriptor from './rpc.json';
import statsDescriptor from './stats.json';
import type { CriuReq, CriuResp } from './types';

let rpcRoot: protobuf.Root | undefined;
let statsRoot: protobuf.Root | undefined;

function rpc(): protobuf.Root {
  rpcRoot ??= protobuf.Root.fromJSON(rpcDescriptor as protobuf.INamespace);
  return rpcRoot;
}

/** The stats image types (stats_entry and its parts). */
export function statsEntryType(): protobuf.Type {
  statsRoot ??= protobuf.Root.fromJSON(statsDescriptor as protobuf.INamespace);
  return statsRoot.lookupType('stats_entry');
}

/** How decoded messages become plain objects: enums by name, 64-bit integers as numbers. */
export const TO_OBJECT: protobuf.IConversionOptions = { enums: String, longs: Number, defaults: false };

/** Serializes a request for CRIU (field types are guaranteed by the CriuReq type, not checked again). */
export function encodeRequest(req: CriuReq): Buffer {
  const type = rpc().lookupType('criu_req');
  const msg = type.fromObject(req as unknown as Record<string, unknown>);
  return Buffer.from(type.encode(msg).finish());
}

/** Parses one message from CRIU. */
export function decodeResponse(data: Uint8Array): CriuResp {
  const type = rpc().lookupType('criu_resp');
  return type.toObject(type.decode(data), TO_OBJECT) as CriuResp;
}

/** Parses a request (used by tests to check what stasis sends). */
export function decodeRequest(data: Uint8Array): CriuReq {
  const type = rpc().lookupType('criu_req');
  return type.toObject(type.decode(data), TO_OBJECT) as CriuReq;
}

/** Serializes a response (used by tests to play CRIU's side). */
export function encodeResponse(resp: CriuResp): Buffer {
  const type = rpc().lookupType('criu_resp');
  return Buffer.from(type.encode(type.fromObject(resp as unknown as Record<string, unknown>)).finish());
}
