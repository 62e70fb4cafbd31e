/**
 * stasis's protobuf codec (src/criu/wire.ts) checked against protobufjs, an independent implementation:
 * what one encodes the other must decode to the same object, for every kind of field the CRIU messages use.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as protobuf from 'protobufjs/light';
import rpcDescriptor from '../../../src/criu/rpc.json';
import statsDescriptor from '../../../src/criu/stats.json';
import { WireCodec, type Descriptor } from '../../../src/criu/wire';
import { decodeResponse, encodeRequest, TO_OBJECT } from '../../../src/criu/proto';
import type { CriuReq, CriuResp } from '../../../src/criu/types';

const pbRoot = protobuf.Root.fromJSON(rpcDescriptor as protobuf.INamespace);
const pb = (name: string) => pbRoot.lookupType(name);

const REQUEST: CriuReq = {
  type: 'RESTORE',
  opts: {
    imagesDirFd: -1, // negative int32: ten-byte varint
    workDirFd: 12,
    logLevel: 4,
    logFile: 'restore.log',
    root: '/var/lib/ünïcode/rootfs',
    ps: { address: '127.0.0.1', port: 27 },
    extMnt: [
      { key: '/etc/hosts', val: '/srv/hosts' },
      { key: '/dev/null', val: '/dev/null' },
    ],
    inheritFd: [{ key: 'pipe:[123]', fd: 6 }],
    cgRoot: [{ ctrl: 'memory', path: '/stasis/x' }, { path: '/stasis/x' }],
    external: ['net[4026531992]:extRootNetNS', 'file[2a:1f]'],
    manageCgroupsMode: 'SOFT',
    networkLock: 'NFTABLES',
    emptyNs: 0x40000000,
    ghostLimit: 4294967295,
    tcpEstablished: true,
    shellJob: false,
    lazyPages: true,
  },
  features: { lazyPages: true, memTrack: false },
};

test('requests encoded by stasis decode identically with protobufjs', () => {
  const bytes = encodeRequest(REQUEST);
  const viaPb = pb('criu_req').toObject(pb('criu_req').decode(bytes), TO_OBJECT);
  assert.deepEqual(viaPb, REQUEST);
  // And the bytes are the ones protobufjs writes.
  const pbBytes = Buffer.from(pb('criu_req').encode(pb('criu_req').fromObject(REQUEST as unknown as Record<string, unknown>)).finish());
  assert.deepEqual(bytes, pbBytes);
});

test('responses encoded by protobufjs decode identically with stasis', () => {
  const resp: CriuResp = {
    type: 'NOTIFY',
    success: true,
    notify: { script: 'post-restore', pid: 4242 },
    crErrno: 2,
    crErrmsg: 'no such file',
    version: { majorNumber: 4, minorNumber: 2, sublevel: 1, gitid: '0' },
    features: { lazyPages: true, memTrack: false, pidfdStore: true },
    restore: { pid: 77 },
    status: -3,
  };
  const bytes = pb('criu_resp').encode(pb('criu_resp').fromObject(resp as unknown as Record<string, unknown>)).finish();
  assert.deepEqual(decodeResponse(bytes), resp);
});

test('64-bit counters of the stats image, packed fields and unknown fields', () => {
  const stats = protobuf.Root.fromJSON(statsDescriptor as protobuf.INamespace).lookupType('stats_entry');
  const entry = { dump: { freezingTime: 1, frozenTime: 2, memdumpTime: 3, memwriteTime: 4, pagesScanned: 2 ** 40 + 5, pagesSkippedParent: 0, pagesWritten: 262158 } };
  const bytes = stats.encode(stats.fromObject(entry)).finish();
  const codec = new WireCodec(statsDescriptor as Descriptor);
  const expected = stats.toObject(stats.decode(bytes), TO_OBJECT); // required pagesLazy comes back as 0
  assert.equal((expected as { dump: { pagesScanned: number } }).dump.pagesScanned, 2 ** 40 + 5);
  assert.deepEqual(codec.decode('stats_entry', bytes), expected);
  // An unknown field (id 99, varint) is skipped; a truncated message is refused.
  const withUnknown = Buffer.concat([Buffer.from([0x98, 0x06, 0x05]), Buffer.from(bytes)]);
  assert.deepEqual(codec.decode('stats_entry', withUnknown), expected);
  assert.throws(() => codec.decode('stats_entry', bytes.subarray(0, bytes.length - 1)), /truncated/);
});
