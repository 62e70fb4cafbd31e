/**
 * CVE-2019-5736: a container made the runtime execute a binary whose interpreter was `/proc/self/exe`, so a
 * process inside the container ran the runtime's own executable; the container kept an O_PATH handle on it
 * and, once it exited, reopened the handle for writing and replaced the host binary.
 *
 * Here the container's `/evil` is `#!/proc/self/exe`, started with `exec -d`, so the helper itself executes
 * it and `/evil` becomes a copy of the helper blocked reading fd 3 (a preserved fifo nobody writes). (It is
 * not the init: pid 1 of a pid namespace cannot be killed from inside.) The probe,
 * run with `exec`, finds it through /proc, tries to open its exe for writing, kills it and reopens the kept
 * handle for writing. The helper is dynamically linked, so the bundle also carries the loader and libraries
 * it needs (copied from the host, as an attacker's image could): without them the kernel cannot start the
 * copy at all (ENOENT) and the test would prove nothing. stasis defends by running the helper from a sealed memfd copy (native/helper/seal.c):
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
import { readOr, waitFor } from '../support/proc';

const skip = labSkipReason();
const lab = new Lab('exe');

test('CVE-2019-5736: writing the helper through /proc/<pid>/exe fails and the binary is unchanged', { skip }, async (t) => {
  const helper = helperBinary();
  const before = sha256(helper);
  const c = lab.bundle(t, { probe: true, args: ['sleep', '1000'] });
  fs.writeFileSync(path.join(c.rootfs, 'evil'), '#!/proc/self/exe\n', { mode: 0o755 });
  for (const lib of sharedLibraries(helper)) {
    fs.mkdirSync(path.join(c.rootfs, path.dirname(lib)), { recursive: true });
    fs.copyFileSync(lib, path.join(c.rootfs, lib));
  }
  // A fifo opened read-write never reaches end-of-file: the helper copy waiting on it for a plan stays alive.
  const fifo = lab.scratch('exe-gate');
  execFileSync('mkfifo', [fifo]);
  const gate = fs.openSync(fifo, fs.constants.O_RDWR);
  t.after(() => fs.closeSync(gate));

  const r = await lab.run(['run', '-d', '-b', c.dir, c.id]);
  assert.equal(r.code, 0, show(r));
  const e = await lab.run(['exec', '-d', '--preserve-fds', '1', c.id, '/evil'], { extraFds: [gate] });
  assert.equal(e.code, 0, show(e));
  // Detached, writing to the container's /dev/shm: a foreground exec would keep a runtime process running
  // the helper binary, which by itself makes the kernel refuse writers (ETXTBSY) and would hide the flaw.
  const d = await lab.run(['exec', '-d', c.id, 'sh', '-c', '/probe attack-exe stasis-helper >/dev/shm/attack.out 2>&1; echo done >>/dev/shm/attack.out']);
  assert.equal(d.code, 0, show(d));
  const state = JSON.parse((await lab.run(['state', c.id])).stdout) as { pid: number };
  const outFile = `/proc/${state.pid}/root/dev/shm/attack.out`;
  const text = await waitFor(() => (readOr(outFile) ?? '').includes('done') && readOr(outFile), 20_000, 50);
  const a = { code: text ? 0 : 1, signal: null, stdout: text || readOr(outFile) || '', stderr: '' };
  console.log(`attack output:\n${a.stdout.trim()}`);
  assert.equal(a.code, 0, show(a));
  assert.notEqual(probeValue(a.stdout, 'attack-target') ?? 'none', 'none', `no helper process was visible: ${show(a)}`);
  // While it runs the kernel refuses writers (ETXTBSY); the sealed copy keeps refusing afterwards (EPERM).
  assert.notEqual(probeValue(a.stdout, 'attack-open-running'), 'ok', show(a));
  assert.notEqual(probeValue(a.stdout, 'attack-write'), 'ok', `the container wrote to the helper: ${show(a)}`);
  assert.equal(sha256(helper), before, `${helper} changed`);
});

/** Absolute paths of the shared objects (loader included) a dynamic executable needs, from ldd. */
function sharedLibraries(binary: string): string[] {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  return [...out.matchAll(/(\/\S+\.so[.\d]*) \(/g)].map((m) => m[1]).filter((p) => fs.existsSync(p));
}

test('leaves no cgroups, mounts or state behind', async () => {
  assert.deepEqual(await lab.dispose(), { cgroups: [], mounts: [], state: [] });
});
