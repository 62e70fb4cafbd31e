/**
 * `podman container checkpoint` / `restore` with `--runtime <runtime under test>`: a plain cycle,
 * --leave-running, --keep and --tcp-established. Validate with ENGINE_RUNTIME=/usr/sbin/runc first.
 *
 * CRIU: Podman (for its version check) and runc look up `criu` in PATH. The test puts a directory holding a
 * `criu` link to stasis's CRIU 4.2.1 (the only CRIU that works on this kernel) first in PATH before Podman
 * starts, so the engine, the runtime and conmon all use the same one.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTempDir, podmanSkip, removeImages, runtimeUnderTest, waitFor, expectCode } from './engine-env';
import { PodmanHarness, openPodman, podmanImage as IMG } from './podman-harness';

const CRIU = process.env.STASIS_CRIU || '/usr/local/lib/stasis/criu/criu';
const skip = podmanSkip || (fs.existsSync(CRIU) ? false : `CRIU 4.2 not installed at ${CRIU} (scripts/install-criu.sh)`);
const slow = { timeout: 120_000 };
let counter = 0;

/** The counter loop: `i` lives in the shell's memory and is written to /tmp/count every 100 ms. */
const COUNTER = 'i=0; while true; do i=$((i+1)); echo $i > /tmp/count; usleep 100000; done';

describe(`podman checkpoint/restore --runtime ${runtimeUnderTest}`, { skip }, () => {
  let pm: PodmanHarness;
  let criuDir: string;
  let oldPath: string | undefined;
  before(async () => {
    criuDir = makeTempDir('stasis-engine-criu-');
    fs.symlinkSync(CRIU, path.join(criuDir, 'criu'));
    oldPath = process.env.PATH;
    process.env.PATH = `${criuDir}:${oldPath ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`;
    pm = await openPodman(); // copies process.env, PATH included
  });
  after(async () => {
    await pm?.close();
    removeImages();
    process.env.PATH = oldPath;
    fs.rmSync(criuDir, { recursive: true, force: true });
  });

  /** The counter the container wrote last, read through exec (undefined while it is not running). */
  const count = async (name: string): Promise<number | undefined> => {
    const r = await pm.podman(['exec', name, 'cat', '/tmp/count']);
    return r.code === 0 ? Number(r.stdout.trim()) : undefined;
  };
  const countAbove = async (name: string, n: number): Promise<number> => {
    const v = await waitFor(async () => {
      const c = await count(name);
      return c !== undefined && c > n ? c : undefined;
    }, 15_000);
    assert.ok(v !== undefined, `the counter of ${name} never went above ${n}`);
    return v;
  };
  const userdata = async (name: string): Promise<string> => {
    const id = await pm.inspect(name, '.Id');
    return path.join(pm.dir, 'root', 'vfs-containers', id, 'userdata');
  };

  test('checkpoint stops the container, restore continues its in-memory counter', slow, async (t) => {
    const name = pm.named(t, 'cycle');
    expectCode(await pm.run(['-d', '--name', name, IMG, 'sh', '-c', COUNTER]), 0, 'run -d');
    const before = await countAbove(name, 20);
    expectCode(await pm.podman(['container', 'checkpoint', name]), 0, 'checkpoint');
    assert.equal(await pm.inspect(name, '.State.Status'), 'exited');
    assert.equal(await pm.inspect(name, '.State.Checkpointed'), 'true');
    expectCode(await pm.podman(['container', 'restore', name]), 0, 'restore');
    assert.equal(await pm.inspect(name, '.State.Status'), 'running');
    // A restart from scratch would be back near 1; the restored loop goes on from where it was.
    const after = await countAbove(name, before);
    assert.ok(after < before + 100, `counter jumped from ${before} to ${after}`);
    const dir = await userdata(name);
    assert.ok(!fs.existsSync(path.join(dir, 'checkpoint')), 'the checkpoint images were kept without --keep');
  });

  test('--leave-running: the container keeps running and counting', slow, async (t) => {
    const name = pm.named(t, 'leave');
    expectCode(await pm.run(['-d', '--name', name, IMG, 'sh', '-c', COUNTER]), 0, 'run -d');
    const before = await countAbove(name, 5);
    expectCode(await pm.podman(['container', 'checkpoint', '--leave-running', name]), 0, 'checkpoint --leave-running');
    assert.equal(await pm.inspect(name, '.State.Status'), 'running');
    await countAbove(name, before + 5);
  });

  test('--keep: the images and CRIU logs stay after checkpoint and restore', slow, async (t) => {
    const name = pm.named(t, 'keep');
    expectCode(await pm.run(['-d', '--name', name, IMG, 'sh', '-c', COUNTER]), 0, 'run -d');
    const before = await countAbove(name, 5);
    expectCode(await pm.podman(['container', 'checkpoint', '--keep', name]), 0, 'checkpoint --keep');
    const dir = await userdata(name);
    assert.ok(fs.existsSync(path.join(dir, 'checkpoint', 'inventory.img')), 'no images in userdata/checkpoint');
    assert.ok(fs.existsSync(path.join(dir, 'dump.log')), 'no dump.log');
    expectCode(await pm.podman(['container', 'restore', '--keep', name]), 0, 'restore --keep');
    await countAbove(name, before);
    assert.ok(fs.existsSync(path.join(dir, 'restore.log')), 'no restore.log');
    assert.ok(fs.existsSync(path.join(dir, 'checkpoint', 'inventory.img')), 'restore --keep removed the images');
  });

  test('--tcp-established: a connection inside the container survives', slow, async (t) => {
    const name = pm.named(t, 'tcp');
    // Server and client in the container; the client sends the counter over the connection.
    const script =
      'mkfifo /tmp/idle; exec 3<>/tmp/idle; nc -l -p 5000 <&3 > /tmp/got & usleep 300000; ' +
      'i=0; while true; do i=$((i+1)); echo $i > /tmp/count; echo $i; usleep 100000; done | nc 127.0.0.1 5000';
    // slirp4netns: Podman makes the network namespace and hands its path to the runtime, which must leave it
    // out of the dump and restore into the new one Podman makes (with netns "none" runc restores an empty,
    // loopback-down namespace, where no connection can be restored).
    expectCode(await pm.run(['-d', '--network', 'slirp4netns', '--name', name, IMG, 'sh', '-c', script]), 0, 'run -d');
    const received = async (): Promise<number[]> => {
      const r = await pm.podman(['exec', name, 'cat', '/tmp/got']);
      return r.code === 0 ? r.stdout.split('\n').filter(Boolean).map(Number) : [];
    };
    await waitFor(async () => ((await received()).length > 3 ? true : undefined), 15_000);
    const refused = await pm.podman(['container', 'checkpoint', name]);
    assert.notEqual(refused.code, 0, 'an established connection was dumped without --tcp-established');
    assert.equal(await pm.inspect(name, '.State.Status'), 'running', 'a refused checkpoint stopped the container');
    expectCode(await pm.podman(['container', 'checkpoint', '--tcp-established', name]), 0, 'checkpoint --tcp-established');
    expectCode(await pm.podman(['container', 'restore', '--tcp-established', name]), 0, 'restore --tcp-established');
    const atRestore = (await received()).length;
    await waitFor(async () => ((await received()).length > atRestore + 3 ? true : undefined), 15_000);
    const got = await received();
    assert.deepEqual(got, Array.from({ length: got.length }, (_, k) => k + 1), 'the stream lost or repeated lines');
  });
});
