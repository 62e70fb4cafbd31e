/**
 * CLONE in both parent modes, namespaces, hostname, the sealed re-exec, SETNS into a running child and
 * exit status / signal propagation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HelperStepError, launch } from '../../src/helper/launcher';
import { Frame, ParentMode, encodeFrame, encodePlan, str, strlist, u32, u64, type Step } from '../../src/helper/protocol';
import { killLater, outputFile, runRaw, skipReason, tempDir, waitFor } from './core-harness';

const skip = skipReason();
const CLONE_NEWNS = 0x00020000;
const CLONE_NEWUTS = 0x04000000;
const CLONE_NEWPID = 0x20000000;
const PATH = '/usr/local/bin:/usr/bin:/bin';

const clone = (flags: number, mode: number): Step => ({ op: 'CLONE', args: [u64(flags), u32(mode)], what: 'clone' });
const sh = (script: string): Step[] => [
  { op: 'LOOKUP_EXEC', args: [str('sh'), str(PATH)], what: 'find sh' },
  { op: 'EXEC', args: [strlist(['sh', '-c', script]), strlist([`PATH=${PATH}`])], what: 'exec sh' },
];

test('CLONE into new pid/uts/mount namespaces: hostname is set and the process is pid 1', { skip }, async (t) => {
  const dir = tempDir(t);
  const out = outputFile(t, dir);
  const steps: Step[] = [
    clone(CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWNS, ParentMode.WAIT),
    { op: 'SETHOSTNAME', args: [str('stasis-core')], what: 'set hostname' },
    ...sh('hostname; echo $$; exit 3'),
  ];
  const res = await launch(steps, { stdio: ['ignore', out.fd, out.fd] });
  killLater(t, () => res.pid);
  assert.equal(res.outcome, 'exit');
  assert.equal(res.exitStatus, 3);
  assert.ok(res.pid && res.pid > 1, 'the host pid of the child is reported');
  assert.equal(out.read(), 'stasis-core\n1\n');
  assert.equal(await res.helperExit, 3, 'the helper exits with the child status');
  assert.notEqual(fs.readFileSync('/proc/sys/kernel/hostname', 'utf8').trim(), 'stasis-core');
});

test('PARENT_WAIT reports a killing signal and exits 128+sig', { skip }, async () => {
  const res = await launch([clone(0, ParentMode.WAIT), ...sh('kill -KILL $$')], { stdio: ['ignore', 'ignore', 'ignore'] });
  assert.equal(res.outcome, 'exit');
  assert.equal(res.exitSignal, 9);
  assert.equal(res.exitStatus, undefined);
  assert.equal(await res.helperExit, 137);
});

test('PARENT_WAIT forwards SIGTERM to the child', { skip }, async (t) => {
  const dir = tempDir(t);
  const out = outputFile(t, dir);
  const readyFile = path.join(dir, 'trap-set');
  const script = `trap 'echo got-term; exit 42' TERM; touch ${readyFile}; while :; do sleep 0.05; done`;
  let childPid: number | undefined;
  killLater(t, () => childPid);
  const run = launch([clone(0, ParentMode.WAIT), ...sh(script)], {
    stdio: ['ignore', out.fd, out.fd],
    onPid: (pid) => (childPid = pid),
  });
  await waitFor(() => fs.existsSync(readyFile), 5000, 'the child to set its trap');
  const helperPid = Number(fs.readFileSync(`/proc/${childPid}/status`, 'utf8').match(/PPid:\s+(\d+)/)![1]);
  assert.notEqual(helperPid, process.pid);
  process.kill(helperPid, 'SIGTERM');
  const res = await run;
  assert.equal(res.exitStatus, 42);
  assert.match(out.read(), /got-term/);
});

test('the helper runs from a sealed memfd copy, in the parent and in the cloned child', { skip }, async (t) => {
  let seen: { child: string; parent: string } | undefined;
  const res = await launch([clone(0, ParentMode.WAIT), { op: 'SYNC', args: [str('check-exe')], what: 'sync' }, ...sh('exit 0')], {
    stdio: ['ignore', 'ignore', 'ignore'],
    onSync: (name, pid) => {
      assert.equal(name, 'check-exe');
      assert.ok(pid, 'the pid event precedes the sync event');
      const ppid = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/PPid:\s+(\d+)/)![1];
      seen = { child: fs.readlinkSync(`/proc/${pid}/exe`), parent: fs.readlinkSync(`/proc/${ppid}/exe`) };
      return { continue: true };
    },
  });
  killLater(t, () => res.pid);
  assert.equal(res.exitStatus, 0);
  assert.ok(seen);
  assert.match(seen.child, /^\/memfd:stasis-helper/);
  assert.match(seen.parent, /^\/memfd:stasis-helper/);
});

test('SETNS joins the uts namespace of a running child', { skip }, async (t) => {
  const dir = tempDir(t);
  const out = outputFile(t, dir);
  const res = await launch(
    [
      clone(CLONE_NEWUTS, ParentMode.WAIT),
      { op: 'SETHOSTNAME', args: [str('joined-uts')], what: 'hostname' },
      { op: 'SYNC', args: [str('joinable')], what: 'sync' },
      ...sh('exit 0'),
    ],
    {
      stdio: ['ignore', 'ignore', 'ignore'],
      onSync: async (_name, pid) => {
        const CLONE_NEWUTS_NSTYPE = CLONE_NEWUTS;
        const join = await launch(
          [{ op: 'SETNS', args: [str(`/proc/${pid}/ns/uts`), u32(CLONE_NEWUTS_NSTYPE)], what: 'join uts' }, clone(0, ParentMode.WAIT), ...sh('hostname')],
          { stdio: ['ignore', out.fd, out.fd] },
        );
        assert.equal(join.exitStatus, 0);
        return { continue: true };
      },
    },
  );
  killLater(t, () => res.pid);
  assert.equal(res.exitStatus, 0);
  assert.equal(out.read(), 'joined-uts\n');
});

test('UNSHARE then SETHOSTNAME changes only the new uts namespace', { skip }, async (t) => {
  const dir = tempDir(t);
  const out = outputFile(t, dir);
  const res = await launch(
    [
      { op: 'UNSHARE', args: [u64(CLONE_NEWUTS)], what: 'unshare' },
      { op: 'SETHOSTNAME', args: [str('unshared')], what: 'hostname' },
      { op: 'SETDOMAINNAME', args: [str('example.test')], what: 'domainname' },
      clone(0, ParentMode.WAIT),
      ...sh('hostname; cat /proc/sys/kernel/domainname'),
    ],
    { stdio: ['ignore', out.fd, out.fd] },
  );
  killLater(t, () => res.pid);
  assert.equal(res.exitStatus, 0);
  assert.equal(out.read(), 'unshared\nexample.test\n');
});

test('an error in the cloned child names its step; the parent mirrors exit 1', { skip }, async () => {
  const run = launch([clone(0, ParentMode.WAIT), { op: 'CHDIR', args: [str('/no/such/dir')], what: 'enter the cwd' }]);
  await assert.rejects(run, (err: unknown) => {
    assert.ok(err instanceof HelperStepError);
    assert.equal(err.step, 1);
    assert.equal(err.op, 'CHDIR');
    assert.equal(err.errno, 2);
    assert.equal(err.message, 'enter the cwd: chdir /no/such/dir: No such file or directory');
    return true;
  });
});

test('CLONE refuses flags other than namespaces and unknown parent modes', { skip }, async () => {
  const CLONE_VM = 0x100;
  await assert.rejects(launch([clone(CLONE_VM, ParentMode.WAIT)]), /contain bits other than namespace flags/);
  await assert.rejects(launch([clone(0, 7)]), /unknown clone parent mode 7/);
});

test('PARENT_EXIT: the parent reports the pid and exits 0, the child reaches ready and runs on', { skip }, async (t) => {
  const dir = tempDir(t);
  const done = path.join(dir, 'done');
  const plan = encodePlan([clone(0, ParentMode.EXIT), { op: 'READY', args: [], what: 'ready' }, ...sh(`echo $PPID > ${done}`)]);
  const res = await runRaw(encodeFrame(Frame.PLAN, plan));
  assert.equal(res.code, 0);
  assert.deepEqual(
    res.events.map((e) => e.type),
    ['pid', 'ready'],
  );
  const pid = (res.events[0] as { pid: number }).pid;
  killLater(t, () => pid);
  await waitFor(() => fs.existsSync(done) && fs.readFileSync(done, 'utf8').endsWith('\n'), 5000, 'the detached child');
});
