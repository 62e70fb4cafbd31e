/**
 * LOOKUP_EXEC (the texts engines match), FDMAP + CLOSE_FDS (only the preserved fds reach the process)
 * and EXEC failures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HelperStepError, launch } from '../../src/helper/launcher';
import { ParentMode, str, strlist, u32, u64, type Step } from '../../src/helper/protocol';
import { killLater, outputFile, skipReason, tempDir } from './core-harness';

const skip = skipReason();
const PATH = '/usr/local/bin:/usr/bin:/bin';
const lookup = (file: string, pathValue = PATH): Step => ({ op: 'LOOKUP_EXEC', args: [str(file), str(pathValue)], what: 'find the executable' });
const exec = (argv: string[]): Step => ({ op: 'EXEC', args: [strlist(argv), strlist([`PATH=${PATH}`])], what: 'exec' });
const clone: Step = { op: 'CLONE', args: [u64(0), u32(ParentMode.WAIT)], what: 'clone' };

async function lookupError(file: string, pathValue = PATH): Promise<HelperStepError> {
  try {
    await launch([lookup(file, pathValue)]);
  } catch (err) {
    assert.ok(err instanceof HelperStepError, String(err));
    return err;
  }
  throw new Error('LOOKUP_EXEC unexpectedly succeeded');
}

test('LOOKUP_EXEC error texts match what engines expect', { skip }, async (t) => {
  const notFound = await lookupError('no-such-cmd-xyz');
  assert.equal(notFound.detail, 'exec: "no-such-cmd-xyz": executable file not found in $PATH');
  assert.equal(notFound.errno, 2);

  const emptyPath = await lookupError('sh', '');
  assert.equal(emptyPath.detail, 'exec: "sh": executable file not found in $PATH');

  const missing = await lookupError('/no/such/file');
  assert.equal(missing.detail, 'exec: "/no/such/file": no such file or directory');
  assert.equal(missing.errno, 2);

  const dir = await lookupError('/etc');
  assert.equal(dir.detail, 'exec: "/etc": permission denied');
  assert.equal(dir.errno, 13);

  const tmp = tempDir(t);
  const plain = path.join(tmp, 'not-executable');
  fs.writeFileSync(plain, '#!/bin/sh\n', { mode: 0o644 });
  const noExec = await lookupError(plain);
  assert.equal(noExec.detail, `exec: "${plain}": permission denied`);

  // A non-executable match earlier in PATH is skipped, like execvp does.
  fs.mkdirSync(path.join(tmp, 'a'));
  fs.mkdirSync(path.join(tmp, 'b'));
  fs.writeFileSync(path.join(tmp, 'a', 'tool'), '#!/bin/sh\necho from-a\n', { mode: 0o644 });
  fs.writeFileSync(path.join(tmp, 'b', 'tool'), '#!/bin/sh\necho from-b\n', { mode: 0o755 });
  const out = outputFile(t, tmp);
  const res = await launch([clone, lookup('tool', `${tmp}/a:${tmp}/b`), exec(['tool'])], { stdio: ['ignore', out.fd, out.fd] });
  killLater(t, () => res.pid);
  assert.equal(res.exitStatus, 0);
  assert.equal(out.read(), 'from-b\n');
});

test('a name with a slash is used as is, relative to the working directory', { skip }, async (t) => {
  const tmp = tempDir(t);
  fs.writeFileSync(path.join(tmp, 'run.sh'), '#!/bin/sh\necho relative-ok\n', { mode: 0o755 });
  const out = outputFile(t, tmp);
  const res = await launch([clone, { op: 'CHDIR', args: [str(tmp)], what: 'cwd' }, lookup('./run.sh', ''), exec(['./run.sh'])], {
    stdio: ['ignore', out.fd, out.fd],
  });
  killLater(t, () => res.pid);
  assert.equal(res.exitStatus, 0);
  assert.equal(out.read(), 'relative-ok\n');
});

test('EXEC before LOOKUP_EXEC, or with an empty argv, is refused', { skip }, async () => {
  await assert.rejects(launch([exec(['sh'])]), /no executable resolved: LOOKUP_EXEC must come before EXEC/);
  await assert.rejects(launch([lookup('sh'), exec([])]), /exec: "\/usr\/bin\/sh": argv is empty|exec: "\/bin\/sh": argv is empty/);
});

test('EXEC passes argv and exactly the given environment', { skip }, async (t) => {
  const tmp = tempDir(t);
  const out = outputFile(t, tmp);
  const res = await launch(
    [clone, lookup('env'), { op: 'EXEC', args: [strlist(['env']), strlist(['A=1', 'B=two words'])], what: 'exec' }],
    { stdio: ['ignore', out.fd, out.fd], env: { LEAK: 'helper-env' } },
  );
  killLater(t, () => res.pid);
  assert.equal(out.read(), 'A=1\nB=two words\n');
});

/** Lists the fd numbers of the shell itself, one a line (ls runs as its child, so its own fds do not
 * appear; no pipeline, whose pipe the shell holds for a moment, would show up too). */
const LIST_FDS = 'ls /proc/$$/fd';

test('FDMAP puts a preserved fd at its number and CLOSE_FDS keeps everything else from the process', { skip }, async (t) => {
  const tmp = tempDir(t);
  const out = outputFile(t, tmp);
  const keptPath = path.join(tmp, 'kept');
  const droppedPath = path.join(tmp, 'dropped');
  fs.writeFileSync(keptPath, 'kept-content');
  fs.writeFileSync(droppedPath, 'dropped-content');
  const kept = fs.openSync(keptPath, 'r');
  const dropped = fs.openSync(droppedPath, 'r');
  t.after(() => (fs.closeSync(kept), fs.closeSync(dropped)));
  // extraFds land at helper fds 5 and 6; ctl (3) and log (4) are still open when FDMAP runs.
  const res = await launch(
    [
      clone,
      { op: 'FDMAP', args: [strlist(['5:3'])], what: 'map preserved fds' },
      { op: 'SYNC', args: [str('after-fdmap')], what: 'ctl still works after fdmap' },
      { op: 'CLOSE_FDS', args: [u32(3)], what: 'close other fds' },
      lookup('sh'),
      exec(['sh', '-c', `${LIST_FDS}; readlink /proc/$$/fd/3; cat <&3`]),
    ],
    { stdio: ['ignore', out.fd, out.fd], extraFds: [kept, dropped] },
  );
  killLater(t, () => res.pid);
  assert.equal(res.exitStatus, 0);
  assert.equal(out.read(), `0\n1\n2\n3\n${keptPath}\nkept-content`);
});

test('FDMAP chains cannot clobber each other and move the helper\'s own fds out of the way', { skip }, async (t) => {
  const tmp = tempDir(t);
  const out = outputFile(t, tmp);
  fs.writeFileSync(path.join(tmp, 'a'), 'A');
  fs.writeFileSync(path.join(tmp, 'b'), 'B');
  const a = fs.openSync(path.join(tmp, 'a'), 'r');
  const b = fs.openSync(path.join(tmp, 'b'), 'r');
  t.after(() => (fs.closeSync(a), fs.closeSync(b)));
  const logs: string[] = [];
  const res = await launch(
    [
      clone,
      // Targets 3 and 4 are ctl and log; 5 and 6 swap places, so each must read the original of the other.
      { op: 'FDMAP', args: [strlist(['6:3', '5:4', '5:6', '6:5'])], what: 'map' },
      { op: 'SYNC', args: [str('ctl-moved')], what: 'sync' },
      { op: 'CLOSE_FDS', args: [u32(6)], what: 'close' },
      lookup('sh'),
      exec(['sh', '-c', `${LIST_FDS}; cat <&3; cat <&4; echo; readlink /proc/$$/fd/5 /proc/$$/fd/6`]),
    ],
    { stdio: ['ignore', out.fd, out.fd], extraFds: [a, b], onLog: (l) => logs.push(l) },
  );
  killLater(t, () => res.pid);
  assert.equal(res.exitStatus, 0);
  assert.equal(out.read(), `0\n1\n2\n3\n4\n5\n6\nBA\n${tmp}/b\n${tmp}/a\n`);
  assert.ok(logs.some((l) => l.includes('exec /')), 'the log fd still works after it was moved');
});

test('FDMAP refuses a malformed pair and a closed source fd', { skip }, async () => {
  await assert.rejects(launch([{ op: 'FDMAP', args: [strlist(['5-3'])], what: 'map' }]), /fdmap entry 5-3 is not "from:to"/);
  await assert.rejects(launch([{ op: 'FDMAP', args: [strlist(['77:3'])], what: 'map' }]), /fdmap entry 77:3: fd 77 is not open/);
});
