// Unit tests for scripts/conformance/classify-tap.sh: the rules that turn one
// runtime-tools validation test's exit status and TAP into pass/fail/skip.
// Pure: runs the script on fixture files, needs neither root nor the suite.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const SCRIPT = path.resolve(__dirname, '../../../scripts/conformance/classify-tap.sh');
const dir = mkdtempSync(path.join(tmpdir(), 'classify-tap-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** Classifies `tap` (with `stderr`) as if the test had exited with `rc`. */
function classify(rc: number, tap: string, stderr = ''): { result: string; detail: string } {
  n++;
  const tapFile = path.join(dir, `${n}.tap`);
  const errFile = path.join(dir, `${n}.stderr`);
  writeFileSync(tapFile, tap);
  writeFileSync(errFile, stderr);
  const out = execFileSync('bash', [SCRIPT, String(rc), tapFile, errFile, '30'], { encoding: 'utf8' });
  const [result, detail = ''] = out.replace(/\n$/, '').split('\t');
  return { result, detail };
}

const YAML_ERROR = '  ---\n  {\n    "error": "hooks MUST be called in order"\n  }\n  ...\n';

test('all ok with a matching plan passes', () => {
  assert.deepEqual(classify(0, 'TAP version 13\nok 1 - a\nok 2 - b\n1..2\n'), { result: 'pass', detail: '' });
});

test('first not ok line is the detail', () => {
  const r = classify(0, 'TAP version 13\nok 1 - a\nnot ok 2 - b broke\nnot ok 3 - c\n1..3\n');
  assert.deepEqual(r, { result: 'fail', detail: 'not ok 2 - b broke' });
});

test('not ok marked TODO does not fail the test', () => {
  assert.equal(classify(0, 'TAP version 13\nok 1 - a\nnot ok 2 - later # TODO\n1..2\n').result, 'pass');
});

test('non-zero exit fails with the first stderr line', () => {
  const r = classify(1, 'TAP version 13\n', '\nfailed to create the container\nexit status 1\n');
  assert.deepEqual(r, { result: 'fail', detail: 'exit 1: failed to create the container' });
});

test('timeout exit statuses report the timeout', () => {
  assert.deepEqual(classify(124, 'TAP version 13\n'), { result: 'fail', detail: 'timeout after 30s' });
  assert.equal(classify(137, '').detail, 'timeout after 30s');
});

test('several streams: plans add up (linux_cgroups_cpus shape)', () => {
  const tap = 'TAP version 13\nok 1 - x\nok 2 - y\n1..2\nTAP version 13\n1..0\n';
  assert.equal(classify(0, tap).result, 'pass');
});

test('missing results against the plan fail', () => {
  assert.deepEqual(classify(0, 'TAP version 13\n1..3\nok 1 - x\n'), {
    result: 'fail',
    detail: 'plan 3 but 1 results',
  });
});

test('result-less stream with only a plan passes (lifecycle test that succeeded)', () => {
  assert.equal(classify(0, 'TAP version 13\n1..0\n').result, 'pass');
});

test('result-less stream with a YAML error fails with the error line', () => {
  const r = classify(0, `TAP version 13\n${YAML_ERROR}1..0\n`);
  assert.equal(r.result, 'fail');
  assert.equal(r.detail, '"error": "hooks MUST be called in order"');
});

test('YAML before a result belongs to that result (RuntimeInsideValidate shape)', () => {
  const tap = `TAP version 13\n${YAML_ERROR}ok 1 - hostname\n1..1\n`;
  assert.equal(classify(0, tap).result, 'pass');
});

test('no output and exit 0 passes (*_fail tests expecting create to fail)', () => {
  assert.deepEqual(classify(0, '', 'failed to create the container\n'), { result: 'pass', detail: '' });
});

test('every result skipped is skip', () => {
  const r = classify(0, 'TAP version 13\n1..1\nok 1 # SKIP not linux\n');
  assert.deepEqual(r, { result: 'skip', detail: 'ok 1 # SKIP not linux' });
});

test('some skipped, some ok is a pass', () => {
  assert.equal(classify(0, 'TAP version 13\nok 1 - a\nok 2 # SKIP b\n1..2\n').result, 'pass');
});
