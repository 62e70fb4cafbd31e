/**
 * Races against mount setup, as in CVE-2021-30465 (runc) and the /dev/null masked-path races (runc
 * CVE-2025-31133): a process outside the container (standing in for a second container that shares a volume
 * with this one) keeps exchanging a directory (or a device node) with a symlink that leads out of the
 * rootfs, while stasis creates the container again and again. Whatever the timing, a create either fails
 * with one line or builds the container it was asked for: the host path is never created or mounted over,
 * and a masked path is never covered by anything but the null device.
 *
 * The racer is the probe's `swap A B`: renameat2(RENAME_EXCHANGE) in a tight loop, so the raced name always
 * exists and flips between its two forms millions of times during the run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab, labSkipReason, probePath, probeValue, type LabContainer } from './lab';
import { show, type RunResult } from '../support/run';

const skip = labSkipReason();
const lab = new Lab('race');
const ITERATIONS = Number(process.env.RACE_ITERATIONS ?? 100);

/** Starts the racer; `stop()` ends it and returns how many swaps it made. */
function racer(a: string, b: string): { stop(): Promise<number> } {
  const child: ChildProcess = spawn(probePath(), ['swap', a, b], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  return {
    async stop() {
      child.kill('SIGTERM');
      await exited;
      const m = /^swap (\d+) (\S+)/m.exec(out);
      assert.ok(m, `racer output: ${out}`);
      assert.equal(m[2], 'ok', `the racer stopped early: ${out}`);
      return Number(m[1]);
    },
  };
}

/** A failed create printed one `stasis: …` line, no stack trace. */
function assertOneLine(r: RunResult): void {
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, show(r));
  assert.match(lines[0], /^stasis: \S/, show(r));
}

/**
 * Runs the bundle `ITERATIONS` times under fresh ids (sequentially, same cgroup path), calling `check` with
 * every result, and deletes each container before the next. Returns how many runs succeeded.
 */
async function runRepeatedly(c: LabContainer, check: (r: RunResult, i: number) => void): Promise<number> {
  let succeeded = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const id = `${c.id}-${i}`;
    lab.track(id);
    const r = await lab.run(['run', '-b', c.dir, id]);
    try {
      check(r, i);
    } finally {
      await lab.remove(id);
    }
    if (r.code === 0) succeeded++;
    else assertOneLine(r);
  }
  return succeeded;
}

test('CVE-2021-30465: a mount destination raced between a directory and a symlink out of the rootfs never lands on the host', { skip, timeout: 600_000 }, async (t) => {
  // The host directory already has the name the mount wants (as /etc would), so a mount that followed the
  // link would succeed out there instead of failing.
  const outside = lab.scratch('outside');
  fs.mkdirSync(path.join(outside, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(outside, 'sub', 'host-file'), 'host');
  const hostTree = () => [fs.readdirSync(outside), fs.readdirSync(path.join(outside, 'sub'))];
  const c = lab.bundle(t, {
    args: ['/bin/cat', '/proc/self/mountinfo'],
    // mode=1713 marks our tmpfs in mountinfo; nothing else uses that mode.
    tweak: (s) => s.mounts!.push({ destination: '/race/sub', type: 'tmpfs', source: 'tmpfs', options: ['mode=1713', 'size=64k'] }),
  });
  fs.mkdirSync(path.join(c.rootfs, 'race'));
  fs.symlinkSync(`/../../../../../../../..${outside}`, path.join(c.rootfs, 'race-alt'));
  const hostMountsBefore = fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(outside);
  const race = racer(path.join(c.rootfs, 'race'), path.join(c.rootfs, 'race-alt'));
  let swaps = 0;
  let ok = 0;
  try {
    ok = await runRepeatedly(c, (r, i) => {
      assert.deepEqual(hostTree(), [['sub'], ['host-file']], `run ${i}: something was created in the host directory`);
      if (r.code !== 0) return;
      // The tmpfs is mounted exactly once, somewhere under the container's root (where the name led at the
      // moment of resolution); a mount made outside the root would have vanished with the old root.
      const ours = r.stdout.split('\n').filter((l) => l.includes('mode=1713'));
      assert.equal(ours.length, 1, `run ${i}: the tmpfs is not in the container's mount table\n${r.stdout}`);
      assert.match(ours[0].split(' ')[4], /\/sub$/, ours[0]);
    });
  } finally {
    swaps = await race.stop();
  }
  t.diagnostic(`${ITERATIONS} runs, ${ok} created, ${ITERATIONS - ok} refused, ${swaps} swaps`);
  assert.deepEqual(hostTree(), [['sub'], ['host-file']]);
  assert.equal(fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(outside), hostMountsBefore, 'a host mount appeared');
  assert.ok(swaps > ITERATIONS, 'the racer really raced');
});

test('/dev/null raced with a symlink to a container file: a masked path is never covered by the link target', { skip, timeout: 600_000 }, async (t) => {
  // /dev is a bind mount of a host directory (a shared volume), so the racer can reach /dev/null from outside.
  const dev = lab.scratch('shared-dev');
  fs.mkdirSync(dev);
  execFileSync('mknod', ['-m', '666', path.join(dev, 'null'), 'c', '1', '3']);
  fs.symlinkSync('/secret', path.join(dev, 'null-alt'));
  const c = lab.bundle(t, {
    probe: true,
    args: ['/probe', 'read', '/proc/keys', 'read', '/proc/timer_list'],
    tweak: (s) => {
      const devMount = s.mounts!.find((m) => m.destination === '/dev')!;
      Object.assign(devMount, { type: 'bind', source: dev, options: ['rbind', 'rw'] });
      // Two masked files: each is its own chance to bind the wrong thing, and a create still succeeds often.
      s.linux!.maskedPaths = ['/proc/keys', '/proc/timer_list'];
    },
  });
  fs.writeFileSync(path.join(c.rootfs, 'secret'), 'leaked\n');
  const race = racer(path.join(dev, 'null'), path.join(dev, 'null-alt'));
  let swaps = 0;
  let ok = 0;
  try {
    ok = await runRepeatedly(c, (r, i) => {
      if (r.code !== 0) return; // refused (one line, checked by runRepeatedly): the attack failed
      // Only the null device may cover them: it reads as 0 bytes, the link target as 7.
      assert.equal(probeValue(r.stdout, 'read /proc/keys'), '0', `run ${i}: ${show(r)}`);
      assert.equal(probeValue(r.stdout, 'read /proc/timer_list'), '0', `run ${i}: ${show(r)}`);
    });
  } finally {
    swaps = await race.stop();
  }
  t.diagnostic(`${ITERATIONS} runs, ${ok} created, ${ITERATIONS - ok} refused, ${swaps} swaps`);
  assert.equal(fs.readFileSync(path.join(c.rootfs, 'secret'), 'utf8'), 'leaked\n');
  assert.ok(swaps > ITERATIONS, 'the racer really raced');
});

test('leaves no cgroups, mounts or state behind', async () => {
  assert.deepEqual(await lab.dispose(), { cgroups: [], mounts: [], state: [] });
});
