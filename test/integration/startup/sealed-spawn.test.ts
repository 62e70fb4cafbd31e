/**
 * The helper is spawned from a sealed memfd copy made by the addon (src/helper/launcher.ts): the copy must
 * refuse every write, and a child spawned with execFd must run that copy (its /proc/<pid>/exe is the memfd),
 * even when the copy's fd number is one the child's fd layout overwrites.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { native } from '../../../src/native';

test('sealedCopy makes an identical copy that refuses writes, truncation and growth', (t) => {
  const n = native();
  const fd = n.sealedCopy('/bin/sleep');
  t.after(() => fs.closeSync(fd));
  assert.deepEqual(fs.readFileSync(`/proc/self/fd/${fd}`), fs.readFileSync('/bin/sleep'));
  assert.match(fs.readlinkSync(`/proc/self/fd/${fd}`), /^\/memfd:stasis-helper/);
  assert.throws(() => fs.writeSync(fd, Buffer.from('x'), 0, 1, 0), { code: 'EPERM' });
  assert.throws(() => fs.ftruncateSync(fd, 0), { code: 'EPERM' });
  assert.throws(() => fs.ftruncateSync(fd, 1 << 24), { code: 'EPERM' });
});

test('spawn with execFd runs the sealed copy, not the path, whatever the fd layout', async (t) => {
  const n = native();
  const fd = n.sealedCopy('/bin/sleep');
  t.after(() => fs.closeSync(fd));
  // Child fds 0..fd+2 all /dev/null: a dup2 onto the copy's own number would replace it without the
  // re-placement spawn does.
  const devnull = fs.openSync('/dev/null', 'r');
  t.after(() => fs.closeSync(devnull));
  const layout = Array.from({ length: fd + 3 }, () => devnull);
  const pid = n.spawn('/nonexistent/path', ['sleep', '30'], [], layout, false, fd);
  t.after(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    for (let i = 0; i < 100 && n.waitPid(pid, true) === null; i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  });
  let exe = '';
  for (let i = 0; i < 200 && !exe.startsWith('/memfd:'); i++) {
    await new Promise((r) => setTimeout(r, 5));
    exe = fs.readlinkSync(`/proc/${pid}/exe`);
  }
  assert.match(exe, /^\/memfd:stasis-helper/);
  assert.equal(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'), 'sleep\u000030\u0000');
});
