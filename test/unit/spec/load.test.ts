import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBundleSpec, parseJson } from '../../../src/spec/load';
import { locateJsonError } from '../../../src/spec/json-error';

const good = {
  ociVersion: '1.2.0',
  root: { path: 'rootfs' },
  process: { args: ['sh'], cwd: '/' },
  linux: { namespaces: [{ type: 'mount' }] },
};

function bundle(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'stasis-spec-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('loads a bundle and resolves a relative rootfs', (t) => {
  const dir = bundle(t);
  mkdirSync(join(dir, 'rootfs'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(good));
  const { spec, rootfs } = loadBundleSpec(dir);
  assert.equal(rootfs, join(dir, 'rootfs'));
  assert.deepEqual(spec.process!.args, ['sh']);
});

test('missing config.json names the file', (t) => {
  const dir = bundle(t);
  assert.throws(() => loadBundleSpec(dir), { message: `${join(dir, 'config.json')}: no such file (is the bundle path right?)` });
});

test('invalid JSON reports line and column', (t) => {
  const dir = bundle(t);
  writeFileSync(join(dir, 'config.json'), '{\n  "ociVersion": "1.2.0",\n  "root": }\n');
  assert.throws(() => loadBundleSpec(dir), {
    message: `${join(dir, 'config.json')}: invalid JSON at line 3 column 11: unexpected character "}"`,
  });
});

test('missing rootfs and non-directory rootfs name the path', (t) => {
  const dir = bundle(t);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(good));
  const file = join(dir, 'config.json');
  assert.throws(() => loadBundleSpec(dir), { message: `${file}: root.path: rootfs ${join(dir, 'rootfs')} does not exist` });
  writeFileSync(join(dir, 'rootfs'), 'x');
  assert.throws(() => loadBundleSpec(dir), { message: `${file}: root.path: rootfs ${join(dir, 'rootfs')} is not a directory` });
});

test('validation errors carry the config path', (t) => {
  const dir = bundle(t);
  mkdirSync(join(dir, 'rootfs'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...good, ociVersion: 5 }));
  assert.throws(() => loadBundleSpec(dir), { message: `${join(dir, 'config.json')}: ociVersion: must be a string` });
});

test('json error locator', () => {
  const cases: [string, string][] = [
    ['', '1:1 unexpected end of input'],
    ['{"a":1,}', '1:8 expected a double-quoted property name'],
    ['[1 2]', '1:4 expected "," or "]" after an array element'],
    ['{"a":1', '1:7 unexpected end of input'],
    ['{"a": tru}', '1:7 unexpected character "t"'],
    ['{"a": "x\ny"}', '1:9 control character in string'],
    ['{} x', '1:4 unexpected content after the JSON value'],
    ['{\n"a": 01}', '2:7 expected "," or "}" after a property value'],
  ];
  for (const [text, want] of cases) {
    assert.throws(() => JSON.parse(text));
    const loc = locateJsonError(text)!;
    assert.equal(`${loc.line}:${loc.column} ${loc.reason}`, want, text);
  }
  assert.equal(locateJsonError('{"a":[1,2.5e3,true,null,"\\u00e9"]}'), undefined);
  assert.throws(() => parseJson('nope', 'p.json'), { message: 'p.json: invalid JSON at line 1 column 1: unexpected character "n"' });
});
