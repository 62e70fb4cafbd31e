/**
 * CVE-2019-5736: a container made the runtime execute a binary whose interpreter was `/proc/self/exe`, so a
 * process inside the container ran the runtime's own executable; the container kept an O_PATH handle on it
 * and, once it exited, reopened the handle for writing and replaced the host binary.
 *
 * Here the container's `/evil` is `#!/proc/self/exe`. The helper executes it as the container process, so
 * `/evil` becomes a copy of the helper blocked reading fd 3 (a preserved fifo nobody writes). The probe,
 * run with `exec`, finds it through /proc, tries to open its exe for writing, kills it and reopens the kept
 * handle for writing. stasis defends by running the helper from a sealed memfd copy (native/helper/seal.c):
 * what the container reaches is that copy, and F_SEAL_WRITE refuses the write. The on-disk helper must be
 * byte for byte the same afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab, helperBinary, labSkipReason, probeValue, sha256 } from './lab';
import { show } from '../support/run';

const skip = labSkipReason();
const lab = new Lab('exe');

test('CVE-2019-5736: writing the helper through /proc/<pid>/exe fails and the binary is unchanged', { skip }, async (t) => {
  const helper = helperBinary();
  const before = sha256(helper);
  const c = lab.bundle(t, { probe: true, args: ['sh', '-c', '/evil; exec sleep 1000'] });
  fs.writeFileSync(path.join(c.rootfs, 'evil'), '#!/proc/self/exe\n', { mode: 0o755 });
  // A fifo opened read-write never reaches end-of-file: the helper copy waiting on it for a plan stays alive.
  const fifo = lab.scratch('exe-gate');
  execFileSync('mkfifo', [fifo]);
  const gate = fs.openSync(fifo, fs.constants.O_RDWR);
  t.after(() => fs.closeSync(gate));

  const r = await lab.run(['run', '-d', '--preserve-fds', '1', '-b', c.dir, c.id], { extraFds: [gate] });
  assert.equal(r.code, 0, show(r));
  const a = await lab.run(['exec', c.id, '/probe', 'attack-exe', 'stasis-helper'], { timeoutMs: 30_000 });
  console.log(`attack output:\n${a.stdout.trim()}`);
  assert.equal(a.code, 0, show(a));
  assert.notEqual(probeValue(a.stdout, 'attack-target') ?? 'none', 'none', `no helper process was visible: ${show(a)}`);
  // While it runs the kernel refuses writers (ETXTBSY); the sealed copy keeps refusing afterwards (EPERM).
  assert.notEqual(probeValue(a.stdout, 'attack-open-running'), 'ok', show(a));
  assert.notEqual(probeValue(a.stdout, 'attack-write'), 'ok', `the container wrote to the helper: ${show(a)}`);
  assert.equal(sha256(helper), before, `${helper} changed`);
});

test('leaves no cgroups, mounts or state behind', async () => {
  assert.deepEqual(await lab.dispose(), { cgroups: [], mounts: [], state: [] });
});
