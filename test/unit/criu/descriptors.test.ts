import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { criuSourceDir, descriptorJson, PROTO_NAMES } from '../../../src/criu/gen-descriptors';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../../../src/criu/proto';

const srcDir = criuSourceDir(path.resolve(__dirname, '../../../src/criu'));

test('committed JSON descriptors match the .proto files', () => {
  for (const name of PROTO_NAMES) {
    const committed = fs.readFileSync(path.join(srcDir, `${name}.json`), 'utf8');
    assert.equal(
      committed,
      descriptorJson(path.join(srcDir, `${name}.proto`)),
      `src/criu/${name}.json is stale: run node dist/src/criu/gen-descriptors.js`,
    );
  }
});

/** Field numbers CRIU 4.2's rpc.proto uses; a typo here breaks the wire format silently. */
const CRIU_FIELD_IDS: Record<string, Record<string, number>> = {
  criu_opts: {
    imagesDirFd: 1, pid: 2, leaveRunning: 3, extUnixSk: 4, tcpEstablished: 5, evasiveDevices: 6, shellJob: 7,
    fileLocks: 8, logLevel: 9, logFile: 10, ps: 11, notifyScripts: 12, root: 13, parentImg: 14, trackMem: 15,
    autoDedup: 16, workDirFd: 17, linkRemap: 18, extMnt: 23, manageCgroups: 24, cgRoot: 25, rstSibling: 26,
    inheritFd: 27, skipMnt: 31, manageCgroupsMode: 34, ghostLimit: 35, external: 37, emptyNs: 38, joinNs: 39,
    freezeCgroup: 44, timeout: 45, tcpSkipInFlight: 46, lazyPages: 48, statusFd: 49, orphanPtsMaster: 50,
    configFile: 51, tcpClose: 52, lsmProfile: 53, preDumpMode: 61, lsmMountContext: 63, networkLock: 64,
    mntnsCompatMode: 65, imagesDir: 68, leaveStopped: 69, displayStats: 70, logToStderr: 71,
  },
  criu_req: { type: 1, opts: 2, notifySuccess: 3, keepOpen: 4, features: 5, pid: 6 },
  criu_resp: { type: 1, success: 2, dump: 3, restore: 4, notify: 5, ps: 6, crErrno: 7, features: 8, crErrmsg: 9, version: 10, status: 11 },
  criu_features: { memTrack: 1, lazyPages: 2, pidfdStore: 3 },
  criu_version: { majorNumber: 1, minorNumber: 2, gitid: 3, sublevel: 4, extra: 5, name: 6 },
};

test('field numbers agree with CRIU 4.2', () => {
  const json = JSON.parse(fs.readFileSync(path.join(srcDir, 'rpc.json'), 'utf8'));
  for (const [msg, fields] of Object.entries(CRIU_FIELD_IDS)) {
    for (const [field, id] of Object.entries(fields)) {
      assert.equal(json.nested[msg].fields[field]?.id, id, `${msg}.${field}`);
    }
  }
  assert.deepEqual(json.nested.criu_req_type.values.FEATURE_CHECK, 9);
  assert.deepEqual(json.nested.criu_network_lock_method.values, { IPTABLES: 1, NFTABLES: 2, SKIP: 3 });
  assert.deepEqual(json.nested.criu_cg_mode.values.SOFT, 3);
});

test('a request encodes to the bytes CRIU expects and round-trips', () => {
  // type=VERSION (field 1, varint 10) only.
  assert.deepEqual([...encodeRequest({ type: 'VERSION' })], [0x08, 10]);
  const req = {
    type: 'RESTORE' as const,
    opts: {
      imagesDirFd: 7,
      rstSibling: true,
      manageCgroupsMode: 'IGNORE' as const,
      networkLock: 'NFTABLES' as const,
      inheritFd: [{ key: 'pipe:[123]', fd: 4 }],
      extMnt: [{ key: '/etc/hosts', val: '/run/x/hosts' }],
    },
  };
  assert.deepEqual(decodeRequest(encodeRequest(req)), req);
});

test('a response decodes enums by name', () => {
  const resp = decodeResponse(encodeResponse({ type: 'NOTIFY', success: true, notify: { script: 'post-dump' } }));
  assert.deepEqual(resp, { type: 'NOTIFY', success: true, notify: { script: 'post-dump' } });
});
