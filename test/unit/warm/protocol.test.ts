/** The warm path's messages (src/warm/protocol.ts) and its choice of calls that run cold. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  coldReason,
  decodeNotes,
  decodeRequest,
  decodeSpawnReply,
  encodeRequest,
  encodeSpawn,
  WARM_COMMANDS,
} from '../../../src/warm/protocol';
import { GLOBAL_FLAGS } from '../../../src/cli/main';

const ok = { sameUser: true, sameNamespaces: true, stale: false };
const req = (argv: string[], env: Record<string, string> = {}) => ({ argv, env, umask: 0o22 });

test('a request survives encoding, including empty strings and = in values', () => {
  const r = { argv: ['--root', '/r', 'exec', 'id', 'sh', '-c', '', 'a=b'], env: { PATH: '/bin', X: 'y=z', EMPTY: '' }, umask: 0o77 };
  assert.deepEqual(decodeRequest(encodeRequest(r)), r);
});

test('a truncated or foreign request is refused', () => {
  const good = encodeRequest(req(['state', 'x'], { A: '1' }));
  assert.throws(() => decodeRequest(good.subarray(0, good.length - 4)), /malformed/);
  assert.throws(() => decodeRequest(Buffer.from('spawn\0')), /not a request/);
});

test('spawn messages name each sent fd\'s slot, and replies decode', () => {
  const text = encodeSpawn({ path: '/h', argv: ['/h', 'run'], env: [], setsid: true, slots: [0, 1, 2, 3, 4], hasExecFd: true }).toString();
  assert.equal(text, 'spawn\0' + '1\0' + '1\0' + '0,1,2,3,4\0' + '/h\0' + '2\0' + '/h\0' + 'run\0' + '0\0');
  assert.deepEqual(decodeSpawnReply(Buffer.from('pid\x0042\0')), { pid: 42 });
  assert.deepEqual(decodeSpawnReply(Buffer.from('errno\x002\0')), { errno: 2 });
  assert.throws(() => decodeSpawnReply(Buffer.from('pid\0-1\0')), /bad spawn reply/);
});

test('exit notes are read line by line, keeping an incomplete line for later', () => {
  const first = decodeNotes('10 0 0\n11 -1 9\n12 3');
  assert.deepEqual(first.exits, [{ pid: 10, code: 0, signal: null }, { pid: 11, code: null, signal: 9 }]);
  assert.equal(first.rest, '12 3');
  assert.deepEqual(decodeNotes(`${first.rest} 0\n`).exits, [{ pid: 12, code: 3, signal: null }]);
});

test('lifecycle calls go warm; checkpoint, restore and fd-passing calls go cold', () => {
  for (const c of ['create', 'start', 'run', 'delete', 'kill', 'state', 'exec']) assert.ok(WARM_COMMANDS.has(c), c);
  assert.equal(coldReason(req(['--root', '/r', '--log-format', 'json', 'create', '-b', 'b', 'x']), GLOBAL_FLAGS, ok), undefined);
  assert.equal(coldReason(req(['-root=/r', 'delete', '-force', 'x']), GLOBAL_FLAGS, ok), undefined);
  assert.match(coldReason(req(['checkpoint', 'x']), GLOBAL_FLAGS, ok)!, /checkpoint runs cold/);
  assert.match(coldReason(req(['--root', '/r', 'restore', 'x']), GLOBAL_FLAGS, ok)!, /restore runs cold/);
  assert.match(coldReason(req(['run', '--preserve-fds', '2', 'x']), GLOBAL_FLAGS, ok)!, /preserve-fds/);
  assert.match(coldReason(req(['exec', '-preserve-fds=1', 'x', 'sh']), GLOBAL_FLAGS, ok)!, /preserve-fds/);
  assert.equal(coldReason(req(['run', '--preserve-fds=0', 'x']), GLOBAL_FLAGS, ok), undefined);
  assert.match(coldReason(req(['create', 'x'], { LISTEN_FDS: '1' }), GLOBAL_FLAGS, ok)!, /LISTEN_FDS/);
});

test('a caller in other namespaces, of another user, or a rebuilt stasis goes cold', () => {
  const r = req(['state', 'x']);
  assert.match(coldReason(r, GLOBAL_FLAGS, { ...ok, sameNamespaces: false })!, /namespaces/);
  assert.match(coldReason(r, GLOBAL_FLAGS, { ...ok, sameUser: false })!, /another user/);
  assert.match(coldReason(r, GLOBAL_FLAGS, { ...ok, stale: true })!, /rebuilt/);
  // Bad global flags are the CLI's to report, warm or cold.
  assert.equal(coldReason(req(['--no-such-flag', 'state']), GLOBAL_FLAGS, ok), undefined);
});
