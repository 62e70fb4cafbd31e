import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlags, type FlagTable } from '../../../src/cli/args';
import { RuntimeError } from '../../../src/runtime/errors';

const table: FlagTable = {
  bundle: { type: 'string', short: 'b', help: '' },
  detach: { type: 'boolean', short: 'd', help: '' },
  env: { type: 'string', short: 'e', multiple: true, help: '' },
  'no-subreaper': { type: 'boolean', help: '' },
};

test('accepts --flag value, --flag=value, -flag and short flags', () => {
  const { flags, rest } = parseFlags(['--bundle', '/b', '-d', '-no-subreaper', 'id'], table, 'run');
  assert.deepEqual({ ...flags }, { bundle: '/b', detach: true, 'no-subreaper': true });
  assert.deepEqual(rest, ['id']);
  assert.equal(parseFlags(['--bundle=/x', 'id'], table, 'run').flags.bundle, '/x');
  assert.equal(parseFlags(['-b', '/y', 'id'], table, 'run').flags.bundle, '/y');
});

test('stops at the first positional so the container command keeps its own flags', () => {
  const { flags, rest } = parseFlags(['-e', 'A=1', '--env', 'B=2', 'ctr', 'sh', '-c', 'echo -d'], table, 'exec');
  assert.deepEqual(flags.env, ['A=1', 'B=2']);
  assert.deepEqual(rest, ['ctr', 'sh', '-c', 'echo -d']);
});

test('a double dash ends the flags', () => {
  assert.deepEqual(parseFlags(['--', '-d'], table, 'x').rest, ['-d']);
});

test('boolean flags accept =true and =false like Go flags', () => {
  assert.equal(parseFlags(['--detach=true'], table, 'x').flags.detach, true);
  assert.equal(parseFlags(['--detach=false'], table, 'x').flags.detach, undefined);
  assert.throws(() => parseFlags(['--detach=maybe'], table, 'x'), /invalid boolean value "maybe"/);
});

test('unknown flags and missing values are one-line usage errors', () => {
  assert.throws(() => parseFlags(['--nope'], table, 'create'), (e: unknown) => e instanceof RuntimeError && /create: flag provided but not defined: -nope/.test(e.message));
  assert.throws(() => parseFlags(['--bundle'], table, 'create'), /flag needs an argument: -bundle/);
});
