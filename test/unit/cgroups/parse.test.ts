import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseBlkioV1, parseCpuList, parseFlatKeyed, parseNestedKeyed, parseSingle,
} from '../../../src/cgroups/parse';
import { CgroupError, describeErrno, wrapFsError } from '../../../src/cgroups/errors';

test('single values, max and flat keyed files', () => {
  assert.equal(parseSingle('42\n'), 42);
  assert.equal(parseSingle('max\n', 7), 7);
  assert.equal(parseSingle(undefined), 0);
  assert.deepEqual(parseFlatKeyed('oom_kill_disable 0\nunder_oom 1\noom_kill 3\n'), { oom_kill_disable: 0, under_oom: 1, oom_kill: 3 });
});

test('nested keyed io.stat and v1 blkio lines', () => {
  assert.deepEqual(parseNestedKeyed('8:0 rbytes=1 wbytes=2\n8:16 rios=3\n'), [
    { major: 8, minor: 0, values: { rbytes: 1, wbytes: 2 } },
    { major: 8, minor: 16, values: { rios: 3 } },
  ]);
  assert.deepEqual(parseBlkioV1('8:0 Read 5\n8:0 Write 6\nTotal 11\n8:16 99\n'), [
    { major: 8, minor: 0, op: 'Read', value: 5 },
    { major: 8, minor: 0, op: 'Write', value: 6 },
    { major: 8, minor: 16, op: '', value: 99 },
  ]);
});

test('cpu lists', () => {
  assert.deepEqual(parseCpuList('0-2,5,7-8\n'), [0, 1, 2, 5, 7, 8]);
  assert.deepEqual(parseCpuList(''), []);
});

test('errno texts follow strerror, not libuv', () => {
  assert.equal(describeErrno(Object.assign(new Error('EBUSY: resource busy or locked'), { code: 'EBUSY' })), 'device or resource busy');
  const e = wrapFsError('cannot read x', Object.assign(new Error('e'), { code: 'ENOENT' }));
  assert.ok(e instanceof CgroupError);
  assert.equal(e.message, 'cannot read x: no such file or directory');
  assert.equal(e.code, 'ENOENT');
});
