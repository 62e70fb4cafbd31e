/**
 * CVE-2024-21626: runc leaked a host directory fd into the container, and `cwd: /proc/self/fd/N` (or an exec
 * with that cwd) put the process's working directory on the host. The probe, as the container's init and
 * as an exec'd process, lists its fds and cwd: only 0-2 and the preserved fds may be open, none may be a
 * directory, and the cwd must be inside the container. stasis defends with CLOSE_FDS (native/helper/exec.c,
 * close_range CLOEXEC above the preserved fds), CLOEXEC on ctl/log from the start (main.c), and a CHDIR that
 * refuses a working directory outside the root (process.c).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Lab, labSkipReason, probeFds, probeValue } from './lab';
import { show } from '../support/run';

const skip = labSkipReason();
const lab = new Lab('fds');
// A host file next to the leaked directory's contents: a process whose cwd escaped could read it by name.
fs.writeFileSync(lab.scratch('host-secret'), 'host secret\n');

/** The fd number the "engine" leaks a host directory at: high, because Node reuses low numbers itself. */
const LEAKED = 30;

/** extraFds for stasis() that put `fd` at LEAKED in the stasis process, without --preserve-fds. */
function leak(fd: number): ('ignore' | number)[] {
  const extra: ('ignore' | number)[] = Array.from({ length: LEAKED - 3 }, () => 'ignore');
  extra.push(fd);
  return extra;
}

/** Asserts the fd table holds exactly `expected` and that none of them is a directory. */
function assertFds(out: string, expected: number[]): void {
  const fds = probeFds(out);
  assert.deepEqual([...fds.keys()].sort((a, b) => a - b), expected, `unexpected fds:\n${out}`);
  for (const [n, f] of fds) assert.notEqual(f.type, 'dir', `fd ${n} is a directory (${f.target}):\n${out}`);
}

test('the init process gets only stdio, and its cwd is the container root', { skip }, async (t) => {
  const c = lab.bundle(t, { probe: true, args: ['/probe', 'status', 'fds'] });
  const r = await lab.run(['run', '-b', c.dir, c.id]);
  assert.equal(r.code, 0, show(r));
  assertFds(r.stdout, [0, 1, 2]);
  assert.equal(probeValue(r.stdout, 'cwd'), '/');
});

test('with --preserve-fds 1 the init gets exactly one more fd, the one passed', { skip }, async (t) => {
  const c = lab.bundle(t, { probe: true, args: ['/probe', 'fds'] });
  const file = lab.scratch('preserved.txt');
  fs.writeFileSync(file, 'x');
  const fd = fs.openSync(file, 'r');
  t.after(() => fs.closeSync(fd));
  const r = await lab.run(['run', '--preserve-fds', '1', '-b', c.dir, c.id], { extraFds: [fd] });
  assert.equal(r.code, 0, show(r));
  assertFds(r.stdout, [0, 1, 2, 3]);
  assert.equal(probeFds(r.stdout).get(3)?.type, 'reg');
});

test('a host directory open in the caller does not reach the container', { skip }, async (t) => {
  // The caller (an engine) leaks a host directory fd, as in the runc advisory.
  const dirFd = fs.openSync(lab.base, 'r');
  t.after(() => fs.closeSync(dirFd));
  const c = lab.bundle(t, { probe: true, args: ['/probe', 'status', 'fds'] });
  const r = await lab.run(['run', '-b', c.dir, c.id], { extraFds: leak(dirFd) });
  assert.equal(r.code, 0, show(r));
  assertFds(r.stdout, [0, 1, 2]);
});

test('cwd /proc/self/fd/N never puts the init outside the container', { skip }, async (t) => {
  const dirFd = fs.openSync(lab.base, 'r');
  t.after(() => fs.closeSync(dirFd));
  for (const n of [3, 4, 5, 6, 7, 8, 9, LEAKED]) {
    const c = lab.bundle(t, { probe: true, args: ['/probe', 'status', 'read', 'host-secret'], tweak: (s) => (s.process!.cwd = `/proc/self/fd/${n}`) });
    const r = await lab.run(['run', '-b', c.dir, c.id], { extraFds: leak(dirFd) });
    if (r.code !== 0) {
      assert.equal(r.stderr.trim().split('\n').length, 1, show(r));
      continue;
    }
    const cwd = probeValue(r.stdout, 'cwd') ?? '';
    assert.ok(!/^\d+$/.test(probeValue(r.stdout, 'read host-secret') ?? ''), `fd ${n}: the init read a host file:\n${show(r)}`);
    assert.ok(cwd.startsWith('/') && !cwd.includes(lab.base), `fd ${n}: cwd ${cwd} is outside the container:\n${show(r)}`);
  }
});

test('an exec\'d process gets only stdio (and preserved fds); --cwd /proc/self/fd/N stays inside', { skip }, async (t) => {
  const c = lab.bundle(t, { probe: true, args: ['sleep', '1000'] });
  const r = await lab.run(['run', '-d', '-b', c.dir, c.id]);
  assert.equal(r.code, 0, show(r));
  const dirFd = fs.openSync(lab.base, 'r');
  t.after(() => fs.closeSync(dirFd));
  const e = await lab.run(['exec', c.id, '/probe', 'status', 'fds'], { extraFds: leak(dirFd) });
  assert.equal(e.code, 0, show(e));
  assertFds(e.stdout, [0, 1, 2]);
  assert.equal(probeValue(e.stdout, 'cwd'), '/');

  const file = lab.scratch('exec-preserved.txt');
  fs.writeFileSync(file, 'x');
  const fd = fs.openSync(file, 'r');
  t.after(() => fs.closeSync(fd));
  const p = await lab.run(['exec', '--preserve-fds', '1', c.id, '/probe', 'fds'], { extraFds: [fd] });
  assert.equal(p.code, 0, show(p));
  assertFds(p.stdout, [0, 1, 2, 3]);

  for (const n of [3, 4, 5, 6, 7, 8, 9, LEAKED]) {
    const x = await lab.run(['exec', '--cwd', `/proc/self/fd/${n}`, c.id, '/probe', 'status', 'read', 'host-secret'], { extraFds: leak(dirFd) });
    if (x.code !== 0) continue; // refused: fine, as long as it did not run outside
    const cwd = probeValue(x.stdout, 'cwd') ?? '';
    assert.ok(!/^\d+$/.test(probeValue(x.stdout, 'read host-secret') ?? ''), `fd ${n}: the exec read a host file:\n${show(x)}`);
    assert.ok(cwd.startsWith('/') && !cwd.includes(lab.base), `fd ${n}: cwd ${cwd} is outside the container:\n${show(x)}`);
  }
});

test('leaves no cgroups, mounts or state behind', async () => {
  assert.deepEqual(await lab.dispose(), { cgroups: [], mounts: [], state: [] });
});
