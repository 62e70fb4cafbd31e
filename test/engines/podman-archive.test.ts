/**
 * Checkpoint archives between Podman and stasis, both ways (docs/archive.md, "Archives from and for Podman"):
 *   Podman → stasis: `podman container checkpoint --export`, the Podman container removed, then
 *     `stasis restore --import FILE --no-verify` into a bundle holding only the image's rootfs;
 *   stasis → Podman: a stasis container whose spec names the Podman image (io.stasis.image.* annotations),
 *     `stasis checkpoint --export`, the stasis container gone, then `podman container restore --import`.
 * Either way the shell's in-memory counter goes on, and the files written (and deleted) are as they were.
 *
 * Podman runs with the runtime under test (stasis; ENGINE_RUNTIME=/usr/sbin/runc makes Podman dump with runc
 * for the first direction). CRIU 4.2.1 goes first in PATH, as in podman-checkpoint.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CommandResult, buildImages, makeTempDir, podmanSkip, removeImages, repoRoot, runtimeUnderTest, waitFor, expectCode } from './engine-env';
import { PodmanHarness, openPodman, podmanImage as IMG } from './podman-harness';

const CRIU = process.env.STASIS_CRIU || '/usr/local/lib/stasis/criu/criu';
const STASIS = path.join(repoRoot, 'bin', 'stasis');
const skip = podmanSkip || (fs.existsSync(CRIU) ? false : `CRIU 4.2 not installed at ${CRIU} (scripts/install-criu.sh)`);
const slow = { timeout: 180_000 };
/** Podman restores a stasis archive with the runtime its config.dump names: stasis. */
const toPodmanSkip = path.basename(runtimeUnderTest) === 'stasis' ? false : 'stasis → Podman needs stasis as Podman\'s runtime (config.dump names it)';

/** Writes a file, deletes one of the image's, fills /dev/shm, then counts in shell memory into /tmp/count. */
const SCRIPT =
  'echo hello > /hello.txt; rm /www/index.html; echo shm-data > /dev/shm/s; ' +
  'i=0; while true; do i=$((i+1)); echo $i > /tmp/count; usleep 100000; done';

describe('checkpoint archives between podman and stasis', { skip }, () => {
  let pm: PodmanHarness;
  let criuDir: string;
  let oldPath: string | undefined;
  let work: string;
  let stateRoot: string;
  before(async () => {
    criuDir = makeTempDir('stasis-engine-criu-');
    fs.symlinkSync(CRIU, path.join(criuDir, 'criu'));
    oldPath = process.env.PATH;
    process.env.PATH = `${criuDir}:${oldPath ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`;
    pm = await openPodman();
    work = makeTempDir('stasis-engine-archive-');
    stateRoot = path.join(work, 'state');
  });
  after(async () => {
    await pm?.close();
    removeImages();
    process.env.PATH = oldPath;
    fs.rmSync(criuDir, { recursive: true, force: true });
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  /** Runs stasis with its output in files (a detached container keeps its stdio: no pipe may stay open). */
  const stasis = (args: string[]): CommandResult => {
    const out = path.join(work, 'stasis.out');
    const err = path.join(work, 'stasis.err');
    const fds = [fs.openSync(out, 'w'), fs.openSync(err, 'w')];
    try {
      const r = spawnSync(STASIS, ['--root', stateRoot, ...args], { stdio: ['ignore', fds[0], fds[1]], timeout: 120_000 });
      return { code: r.status, signal: r.signal, stdout: fs.readFileSync(out, 'utf8'), stderr: fs.readFileSync(err, 'utf8'), timedOut: r.error !== undefined };
    } finally {
      fds.forEach((fd) => fs.closeSync(fd));
    }
  };
  /**
   * `stasis run -d` with pipes for stdio, as engines give (a restore under Podman gets conmon's pipes, and
   * CRIU cannot put a regular file's offset on a pipe; Node's 'pipe' stdio is a socketpair, which CRIU
   * cannot dump as external). The shell makes real pipes whose other ends close at once.
   */
  const stasisRunDetached = (args: string[]): CommandResult => {
    const q = (x: string) => `'${x.replace(/'/g, `'\\''`)}'`;
    const cmd = `true | ${[STASIS, '--root', stateRoot, ...args].map(q).join(' ')} 2>&1 | true; exit \${PIPESTATUS[1]}`;
    const r = spawnSync('bash', ['-c', cmd], { stdio: 'ignore', timeout: 120_000 });
    return { code: r.status, signal: r.signal, stdout: '', stderr: '(stasis run -d output is not kept)', timedOut: r.error !== undefined };
  };
  const stasisCat = (id: string, file: string): string | undefined => {
    const r = stasis(['exec', id, 'cat', file]);
    return r.code === 0 ? r.stdout.trim() : undefined;
  };
  const podmanCat = async (name: string, file: string): Promise<string | undefined> => {
    const r = await pm.podman(['exec', name, 'cat', file]);
    return r.code === 0 ? r.stdout.trim() : undefined;
  };
  const countAbove = async (read: () => Promise<string | undefined> | string | undefined, n: number, who: string): Promise<number> => {
    const v = await waitFor(async () => {
      const c = Number(await read());
      return Number.isFinite(c) && c > n ? c : undefined;
    }, 15_000);
    assert.ok(v !== undefined, `the counter of ${who} never went above ${n}`);
    return v;
  };
  /** A directory with the image's rootfs in `rootfs/` (the same busybox tree Podman imported). */
  const rootfsBundle = (name: string): string => {
    const dir = path.join(work, name);
    fs.mkdirSync(path.join(dir, 'rootfs'), { recursive: true });
    const r = spawnSync('tar', ['-C', path.join(dir, 'rootfs'), '-xf', buildImages().rootfsTar]);
    assert.equal(r.status, 0, `untar the image: ${r.stderr}`);
    return dir;
  };
  const removeStasis = (t: TestContext, id: string) => t.after(() => void stasis(['delete', '--force', id]));

  test('a Podman-exported archive restores with stasis into a bundle made from its spec.dump', slow, async (t) => {
    const name = `stasis-arc-p2s-${process.pid}`;
    t.after(() => pm.remove(name));
    expectCode(await pm.run(['-d', '--name', name, IMG, 'sh', '-c', SCRIPT]), 0, 'podman run -d');
    const before = await countAbove(() => podmanCat(name, '/tmp/count'), 20, name);
    const archive = path.join(work, 'podman.tar.gz');
    expectCode(await pm.podman(['container', 'checkpoint', '--export', archive, name]), 0, 'podman checkpoint --export');
    expectCode(await pm.podman(['rm', name]), 0, 'podman rm');
    if (process.env.ENGINE_KEEP_ARCHIVE) fs.copyFileSync(archive, process.env.ENGINE_KEEP_ARCHIVE);

    const bundle = rootfsBundle('p2s');
    const id = `p2s-${process.pid}`;
    removeStasis(t, id);
    // Refused without the flag, and nothing is left behind.
    const refused = stasis(['restore', '-d', '--import', archive, '-b', bundle, id]);
    assert.notEqual(refused.code, 0, 'an archive without a manifest was restored without --no-verify');
    assert.match(refused.stderr, /not a stasis checkpoint archive; restore --no-verify/);
    assert.ok(!fs.existsSync(path.join(bundle, 'config.json')), 'the refused restore wrote config.json');
    assert.deepEqual(fs.readdirSync(stateRoot).filter((n) => !n.startsWith('.')), [], 'the refused restore left state');

    const r = stasis(['restore', '-d', '--import', archive, '--no-verify', '-b', bundle, id]);
    expectCode(r, 0, 'stasis restore --import --no-verify');
    assert.match(r.stderr, /has no stasis manifest: its integrity is not checked/);
    const after = await countAbove(() => stasisCat(id, '/tmp/count'), before, id);
    assert.ok(after < before + 100, `counter jumped from ${before} to ${after}: not the same process`);
    assert.equal(stasisCat(id, '/hello.txt'), 'hello', 'the file written in the Podman container');
    assert.equal(stasisCat(id, '/dev/shm/s'), 'shm-data', '/dev/shm content (devshm-checkpoint.tar)');
    assert.ok(!fs.existsSync(path.join(bundle, 'rootfs', 'www', 'index.html')), 'deleted.files was not applied');
    const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
    assert.equal(spec.root.path, 'rootfs');
    assert.ok(fs.existsSync(path.join(bundle, 'engine-mounts', 'hosts')));
  });

  test('a stasis archive restores with podman container restore --import', { ...slow, skip: toPodmanSkip }, async (t) => {
    const imageId = (await pm.podman(['image', 'inspect', '--format', '{{.Id}}', IMG])).stdout.trim();
    assert.match(imageId, /^[0-9a-f]{64}$/, 'podman image inspect');
    const bundle = rootfsBundle('s2p');
    const base = rootfsBundle('s2p-base'); // the pristine image: the changes are recorded against it
    expectCode(stasis(['spec', '--bundle', bundle]), 0, 'stasis spec');
    const specFile = path.join(bundle, 'config.json');
    const spec = JSON.parse(fs.readFileSync(specFile, 'utf8'));
    spec.process.terminal = false;
    spec.root.readonly = false;
    spec.process.args = ['sh', '-c', SCRIPT];
    spec.annotations = { ...spec.annotations, 'io.stasis.image.name': IMG, 'io.stasis.image.id': imageId };
    fs.writeFileSync(specFile, JSON.stringify(spec));
    const id = `s2p-${process.pid}`;
    removeStasis(t, id);
    expectCode(stasisRunDetached(['run', '-d', '-b', bundle, id]), 0, 'stasis run -d');
    const before = await countAbove(() => stasisCat(id, '/tmp/count'), 20, id);
    const archive = path.join(work, 'stasis.tar');
    expectCode(stasis(['checkpoint', '--export', archive, '--rootfs-base', path.join(base, 'rootfs'), id]), 0, 'stasis checkpoint --export');
    expectCode(stasis(['delete', '--force', id]), 0, 'stasis delete');

    const name = `stasis-arc-s2p-${process.pid}`;
    t.after(() => pm.remove(name));
    // config.dump names this stasis executable as the runtime: the harness's --runtime is that same path.
    const restored = await pm.podman(['container', 'restore', '--import', archive, '--name', name]);
    const log = /\(log (\S+restore\.log)\)/.exec(restored.stderr)?.[1];
    if (restored.code !== 0 && log && process.env.ENGINE_KEEP_RESTORE_LOG) fs.copyFileSync(log, process.env.ENGINE_KEEP_RESTORE_LOG);
    expectCode(restored, 0, 'podman container restore --import');
    assert.equal((await pm.podman(['inspect', '--format', '{{.State.Status}}', name])).stdout.trim(), 'running');
    const after = await countAbove(() => podmanCat(name, '/tmp/count'), before, name);
    assert.ok(after < before + 100, `counter jumped from ${before} to ${after}: not the same process`);
    assert.equal(await podmanCat(name, '/hello.txt'), 'hello');
    assert.equal(await podmanCat(name, '/dev/shm/s'), 'shm-data');
    const gone = await pm.podman(['exec', name, 'ls', '/www/index.html']);
    assert.notEqual(gone.code, 0, 'the deleted file came back');
  });
});
