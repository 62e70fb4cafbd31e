/**
 * --shell-job (a container whose stdio is a terminal of the host) and --manage-cgroups-mode (what CRIU does
 * with the cgroups below and at the container's cgroup on restore), each shown to have its own effect.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { STASIS, World, skipReason, waitFor } from './harness';

const skip = skipReason() ?? (fs.existsSync('/usr/bin/script') ? undefined : 'needs script(1) from util-linux');

/**
 * Runs `stasis ARGS` on a new terminal made by script(1) (its output, the terminal's, goes to `out`); the
 * terminal stays open (script keeps running) until the returned process is killed.
 */
function onTerminal(w: World, args: string[], out: string): ChildProcess {
  const cmd = [STASIS, '--root', w.root, ...args].map((a) => `'${a}'`).join(' ');
  return spawn('script', ['-qfec', `${cmd}; exec sleep 120`, out], { stdio: 'ignore' });
}

/** The "tick N" numbers written on a terminal. */
function ticks(out: string): number[] {
  try {
    return [...fs.readFileSync(out, 'utf8').matchAll(/tick (\d+)/g)].map((m) => Number(m[1]));
  } catch {
    return [];
  }
}

test('--shell-job: a container on a terminal of the host dumps only with it; restore hands it restore\'s terminal', { skip }, async (t) => {
  const w = new World('i=0; while true; do i=$((i+1)); echo $i > /tmp/count; echo tick $i; usleep 50000; done');
  const terminals: ChildProcess[] = [];
  t.after(async () => {
    for (const p of terminals) p.kill('SIGKILL');
    await w.cleanup();
  });
  const id = w.id('shelljob');
  const out1 = path.join(w.dir, 'tty1');
  terminals.push(onTerminal(w, ['run', '-d', '--bundle', w.bundle, id], out1));
  await waitFor('ticks on the first terminal', () => ticks(out1).length > 3, 10000);
  const refused = w.stasis(['checkpoint', '--image-path', w.images('no'), id]);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /criu dump failed: .*tty/i);
  assert.equal(w.state(id)?.status, 'running');

  const images = w.images('images');
  w.ok(['checkpoint', '--shell-job', '--image-path', images, id]);
  const atDump = w.count();
  // Without the flag, and with it but no terminal as stdin (w.stasis gives /dev/null): refused up front.
  const noFlag = w.stasis(['restore', '-d', '--bundle', w.bundle, '--image-path', images, id]);
  assert.equal(noFlag.status, 1);
  assert.match(noFlag.stderr, /terminal outside the container \(\/dev\/pts\/\d+\): restore it with --shell-job/);
  const noTty = w.stasis(['restore', '-d', '--shell-job', '--bundle', w.bundle, '--image-path', images, id]);
  assert.equal(noTty.status, 1);
  assert.match(noTty.stderr, /--shell-job: .*restore's stdin .*not a terminal/);
  assert.equal(w.state(id), undefined);

  const out2 = path.join(w.dir, 'tty2');
  terminals.push(onTerminal(w, ['restore', '-d', '--shell-job', '--bundle', w.bundle, '--image-path', images, id], out2));
  await waitFor('ticks on the second terminal', () => ticks(out2).length > 3, 10000);
  // The counter came back from memory: the new terminal shows it going on from where it was dumped.
  const got = ticks(out2);
  assert.ok(got[0] > atDump - 2 && got[0] <= atDump + 1, `first tick ${got[0]} after a dump at ${atDump}`);
  const pid = w.state(id)!.pid;
  assert.match(fs.readlinkSync(`/proc/${pid}/fd/1`), /^\/dev\/pts\/\d+/);
});

const PIDS = (id: string) => `/sys/fs/cgroup/pids/stasis/${id}`;

/** A cgroup below the container's, made from the host, with a property CRIU dumps. */
function makeSubCgroup(id: string): void {
  fs.mkdirSync(path.join(PIDS(id), 'sub'));
  fs.writeFileSync(path.join(PIDS(id), 'sub', 'pids.max'), '7');
}

function readProp(id: string, file: string): string | undefined {
  try {
    return fs.readFileSync(path.join(PIDS(id), file), 'utf8').trim();
  } catch {
    return undefined;
  }
}

test('--manage-cgroups-mode: soft rebuilds cgroups below the container\'s, ignore leaves them, full also restores the container\'s own, strict is refused', { skip }, async (t) => {
  const w = new World();
  t.after(() => w.cleanup());
  const id = await w.runCounting('cgmode');
  makeSubCgroup(id);
  // A limit the bundle does not set, written from outside: only a full restore brings it back.
  fs.writeFileSync(path.join(PIDS(id), 'pids.max'), '50');
  const roundTrip = async (name: string, ckArgs: string[], rsArgs: string[]) => {
    const images = w.images(name);
    w.ok(['checkpoint', ...ckArgs, '--image-path', images, id]);
    const atDump = w.count();
    w.ok(['restore', '-d', ...rsArgs, '--bundle', w.bundle, '--image-path', images, id]);
    await waitFor('the counter to go on', () => w.count() > atDump + 2);
    return images;
  };

  await roundTrip('soft', [], []);
  assert.equal(readProp(id, 'sub/pids.max'), '7', 'soft (default): criu re-creates the cgroup it dumped below the container\'s');
  assert.equal(readProp(id, 'pids.max'), 'max', 'soft: the container\'s own cgroup has the bundle\'s limits, not the dumped ones');

  await roundTrip('ignore', [], ['--manage-cgroups-mode', 'ignore']);
  assert.equal(readProp(id, 'sub/pids.max'), undefined, 'ignore: criu made no cgroup');
  const pid = w.state(id)!.pid;
  assert.match(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8'), new RegExp(`pids:/stasis/${id}\\n`));

  // strict aborts on any cgroup that exists, and stasis always makes the container's first: refused.
  const plain = w.images('plain');
  w.ok(['checkpoint', '--leave-running', '--image-path', plain, id]);
  const strict = w.stasis(['restore', '-d', '--manage-cgroups-mode', 'strict', '--bundle', w.bundle, '--image-path', plain, `${id}-x`]);
  assert.equal(strict.status, 1);
  assert.match(strict.stderr, /--manage-cgroups-mode strict: stasis creates the container's cgroup/);
  // full on a checkpoint stasis froze would write FROZEN back before resuming the tasks: refused.
  const fullOnFrozen = w.stasis(['restore', '-d', '--manage-cgroups-mode', 'full', '--bundle', w.bundle, '--image-path', plain, `${id}-x`]);
  assert.equal(fullOnFrozen.status, 1);
  assert.match(fullOnFrozen.stderr, /--manage-cgroups-mode full: the checkpoint's cgroup image says FROZEN/);
  assert.equal(w.state(`${id}-x`), undefined);
  assert.ok(!fs.existsSync(PIDS(`${id}-x`)), 'a refused restore left its cgroup');

  makeSubCgroup(id);
  fs.writeFileSync(path.join(PIDS(id), 'pids.max'), '50');
  await roundTrip('full', ['--manage-cgroups-mode', 'full'], ['--manage-cgroups-mode', 'full']);
  assert.equal(readProp(id, 'sub/pids.max'), '7', 'full: the cgroup below the container\'s is re-created');
  assert.equal(readProp(id, 'pids.max'), '50', 'full: the dumped properties of the container\'s own cgroup are written back');
  assert.equal(fs.readFileSync(`/sys/fs/cgroup/freezer/stasis/${id}/freezer.state`, 'utf8').trim(), 'THAWED');
});
