/**
 * importUnverifiedCheckpoint (restore --import --no-verify): an engine's archive without a manifest is
 * unpacked with the safety rules still on, and a stasis archive never falls into it.
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { firstMemberName, importUnverifiedCheckpoint, imageFromAnnotations, makeConfigDump } from '../../../src/archive';
import { encodeHeader, endOfArchive, padding, type TarHeader } from '../../../src/archive/tar-format';

function scratch(t: TestContext): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-unverified-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A tar of [header fields, content] pairs. */
function tar(members: [Partial<TarHeader>, Buffer?][]): Buffer {
  const parts: Buffer[] = [];
  for (const [h, data] of members) {
    const body = data ?? Buffer.alloc(0);
    parts.push(
      encodeHeader({ path: 'x', type: 'file', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: 0, linkpath: '', devmajor: 0, devminor: 0, xattrs: new Map(), ...h }),
      body,
      Buffer.alloc(padding(body.length)),
    );
  }
  parts.push(endOfArchive());
  return Buffer.concat(parts);
}

const x = Buffer.from('x');
/** The smallest engine archive: a directory root, CRIU's inventory and spec.dump. */
const minimal: [Partial<TarHeader>, Buffer?][] = [
  [{ path: './', type: 'dir', mode: 0o755 }],
  [{ path: 'checkpoint/', type: 'dir', mode: 0o700 }],
  [{ path: 'checkpoint/inventory.img', mode: 0o4755 }, x],
  [{ path: 'spec.dump' }, Buffer.from('{}')],
];

test('an engine archive unpacks, modes without setuid, root entry skipped', async (t) => {
  const base = scratch(t);
  const f = path.join(base, 'p.tar');
  fs.writeFileSync(f, tar([...minimal, [{ path: 'ctr.log' }, x], [{ path: 'devshm-checkpoint.tar' }, x]]));
  assert.equal(await firstMemberName(f), 'checkpoint');
  const out = path.join(base, 'out');
  const r = await importUnverifiedCheckpoint(f, out);
  assert.equal(r.files, 4);
  assert.equal(fs.statSync(path.join(out, 'checkpoint/inventory.img')).mode & 0o7777, 0o755);
  assert.equal(fs.readFileSync(path.join(out, 'spec.dump'), 'utf8'), '{}');
});

test('the safety rules still apply and nothing is left behind', async (t) => {
  const base = scratch(t);
  const cases: [string, [Partial<TarHeader>, Buffer?][], RegExp][] = [
    ['symlink', [...minimal, [{ path: 'checkpoint/esc', type: 'symlink', linkpath: '/' }]], /checkpoint\/esc is a symlink: not allowed/],
    ['hard link', [...minimal, [{ path: 'checkpoint/h', type: 'link', linkpath: '/etc/shadow' }]], /is a hard link: not allowed/],
    ['device', [...minimal, [{ path: 'checkpoint/mem', type: 'char', devmajor: 1, devminor: 1 }]], /is a char: not allowed/],
    ['..', [...minimal, [{ path: 'checkpoint/../../pwned' }, x]], /"\.\." in path$/],
    ['unknown top-level name', [...minimal, [{ path: 'etc/passwd' }, x]], /member etc\/passwd is not part of a checkpoint archive's layout$/],
    ['a manifest that is not first', [...minimal, [{ path: 'stasis-manifest.json' }, x]], /stasis-manifest\.json is not the first member: a damaged stasis archive$/],
    ['duplicate', [...minimal, [{ path: 'spec.dump' }, x]], /member spec\.dump appears twice$/],
    ['no inventory', [[{ path: 'spec.dump' }, x]], /has no checkpoint\/inventory\.img$/],
  ];
  for (const [name, members, want] of cases) {
    const f = path.join(base, 'bad.tar');
    fs.writeFileSync(f, tar(members));
    const out = path.join(base, 'out');
    await assert.rejects(importUnverifiedCheckpoint(f, out), want, name);
    assert.ok(!fs.existsSync(out), `${name}: destination removed`);
  }
});

test('firstMemberName: a stasis archive is recognised, a damaged header is refused', async (t) => {
  const base = scratch(t);
  const f = path.join(base, 's.tar');
  const good = tar([[{ path: 'stasis-manifest.json' }, x], ...minimal]);
  fs.writeFileSync(f, good);
  assert.equal(await firstMemberName(f), 'stasis-manifest.json');
  const bad = Buffer.from(good);
  bad[3] ^= 1; // inside the manifest's name: the header checksum no longer matches
  fs.writeFileSync(f, bad);
  await assert.rejects(firstMemberName(f), /checksum|not a tar archive/); // refused either way
});

test('config.dump names the image for Podman when the spec annotates it', () => {
  assert.deepEqual(imageFromAnnotations(undefined), {});
  const img = imageFromAnnotations({ 'io.stasis.image.name': 'localhost/busybox:latest', 'io.stasis.image.id': 'a'.repeat(64) });
  const c = makeConfigDump({ id: 'web', checkpointedTime: new Date(0), ...img });
  assert.equal(c.rootfsImageName, 'localhost/busybox:latest');
  assert.equal(c.rootfsImageID, 'a'.repeat(64));
  assert.equal(c.rootfsImage, 'localhost/busybox:latest');
  assert.equal(c.logDriver, 'k8s-file');
  assert.equal(makeConfigDump({ id: 'web', checkpointedTime: new Date(0) }).logDriver, undefined);
});
