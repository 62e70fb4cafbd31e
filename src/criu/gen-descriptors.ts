/**
 * Development tool: turns rpc.proto and stats.proto into the JSON descriptors (rpc.json, stats.json) that
 * proto.ts loads at run time, so production never parses .proto text.
 *
 * Run after editing a .proto: `npx tsc -p tsconfig.json && node dist/src/criu/gen-descriptors.js`.
 * The unit test test/unit/criu/descriptors.test.ts fails when a committed JSON is stale.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';

/** The .proto files and the descriptor each one becomes, by base name. */
export const PROTO_NAMES = ['rpc', 'stats'] as const;

/** Finds src/criu in the source tree, from src/criu itself or from dist/src/criu. */
export function criuSourceDir(from: string = __dirname): string {
  for (const dir of [from, path.resolve(from, '../../../src/criu')]) {
    if (fs.existsSync(path.join(dir, 'rpc.proto'))) return dir;
  }
  throw new Error(`src/criu with rpc.proto not found from ${from}`);
}

/** Parses one .proto file and returns its descriptor as stable, pretty JSON text. */
export function descriptorJson(protoFile: string): string {
  const root = new protobuf.Root();
  root.loadSync(protoFile);
  return JSON.stringify(root.toJSON(), null, 2) + '\n';
}

if (require.main === module) {
  const dir = criuSourceDir();
  for (const name of PROTO_NAMES) {
    const out = path.join(dir, `${name}.json`);
    fs.writeFileSync(out, descriptorJson(path.join(dir, `${name}.proto`)));
    console.log(`wrote ${out}`);
  }
}
