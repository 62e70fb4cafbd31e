/**
 * containerd (a private daemon per file, see containerd-harness.ts) driving the runtime under test three ways:
 *   1. the runc shim v2 told the binary per container: `ctr run --runc-binary <runtime>`;
 *   2. the runc shim v2 with no options, finding `runc` first on the daemon's PATH;
 *   3. the legacy io.containerd.runtime.v1.linux runtime, whose binary comes from config.toml (`runtime = ...`).
 * bookworm's containerd 1.6 has no other non-CRI config-file route: ctr sends --runtime-config-path only to
 * runtimes other than io.containerd.runc.v2, and the runc shim rejects those options (see docs/engines.md).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { containerdSkip, explain, removeImages, runtimeUnderTest, waitFor, tempDirFor } from './engine-env';
import { ContainerdHarness, containerdImage as IMG, startContainerd } from './containerd-harness';

const slow = { timeout: 120_000 };

describe(`containerd with runtime ${runtimeUnderTest}`, { skip: containerdSkip }, () => {
  let cd: ContainerdHarness;
  before(async () => {
    cd = await startContainerd();
  });
  after(async () => {
    await cd?.stop();
    removeImages();
  });



  /** `ctr run` through the runc shim v2 with --runc-binary set to the runtime under test. */
  const run = (flags: string[], id: string, cmd: string[]) =>
    cd.ctr(['run', '--runc-binary', cd.runtime, ...cd.privateRunFlags(), ...flags, IMG, id, ...cmd]);

  /** The STATUS column of `ctr tasks list` for id ('' when absent) and its PID. */
  const task = async (id: string): Promise<{ status: string; pid: number }> => {
    const r = await cd.ctr(['tasks', 'list']);
    const cols = r.stdout.split('\n').find((l) => l.startsWith(`${id} `))?.trim().split(/\s+/) ?? [];
    return { pid: Number(cols[1] ?? 0), status: cols[2] ?? '' };
  };
  const waitStatus = (id: string, status: string) => waitFor(async () => ((await task(id)).status === status ? status : undefined));


  test('ctr run --runc-binary: stdout and stderr of the process', slow, async (t) => {
    const id = cd.named(t, 'run');
    const r = await run(['--rm'], id, ['sh', '-c', 'echo hello from ctr; echo to-stderr >&2; cat /etc/hostname >/dev/null; uname -s']);
    cd.expectCode(r, 0, 'ctr run');
    assert.equal(r.stdout, 'hello from ctr\nLinux\n');
    assert.match(r.stderr, /to-stderr/);
  });

  test("ctr run --runc-binary: sh -c 'exit 3' makes ctr exit 3", slow, async (t) => {
    cd.expectCode(await run(['--rm'], cd.named(t, 'exit'), ['sh', '-c', 'exit 3']), 3, 'exit 3');
  });

  test('ctr run --runc-binary: a missing command fails the run and says why', slow, async (t) => {
    const r = await run(['--rm'], cd.named(t, 'missing'), ['/no/such/command']);
    assert.notEqual(r.code, 0, `missing command must fail: ${explain(r)}`);
    assert.match(r.stderr, /no\/such\/command|not found|no such file/i, 'ctr reports the missing executable');
  });

  test('run -d, tasks list/ps, exec, kill TERM, delete: the whole v2-shim lifecycle', slow, async (t) => {
    const id = cd.named(t, 'life');
    const data = tempDirFor(t, 'stasis-engine-vol-');
    const script = 'trap "echo got-term >> /data/log; exit 7" TERM; echo up >> /data/log; while :; do sleep 0.1; done';
    cd.expectCode(await run(['--detach', '--mount', `type=bind,src=${data},dst=/data,options=rbind:rw`], id, ['sh', '-c', script]), 0, 'run -d');
    const log = () => (fs.existsSync(path.join(data, 'log')) ? fs.readFileSync(path.join(data, 'log'), 'utf8') : '');
    assert.equal(await waitFor(() => (log() === 'up\n' ? log() : undefined)), 'up\n', 'the process wrote through the bind mount');

    const { status, pid } = await task(id);
    assert.equal(status, 'RUNNING');
    assert.equal(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0], 'sh', 'tasks list PID is the container sh');
    assert.notEqual(fs.readlinkSync(`/proc/${pid}/ns/pid`), fs.readlinkSync('/proc/self/ns/pid'), 'own pid namespace');

    const ps = await cd.ctr(['tasks', 'ps', id]);
    cd.expectCode(ps, 0, 'tasks ps');
    const psPids = ps.stdout.split('\n').slice(1).map((l) => Number(l.trim().split(/\s+/)[0])).filter((n) => n > 0);
    assert.ok(psPids.includes(pid), `tasks ps lists the init pid ${pid}: ${ps.stdout}`);

    const ex = await cd.ctr(['tasks', 'exec', '--exec-id', 'calc', '--fifo-dir', cd.fifoDir, id, 'sh', '-c', 'echo $((6 * 7)); cat /data/log; exit 5']);
    cd.expectCode(ex, 5, 'exec exit 5');
    assert.equal(ex.stdout, '42\nup\n');
    const exMissing = await cd.ctr(['tasks', 'exec', '--exec-id', 'missing', '--fifo-dir', cd.fifoDir, id, '/no/such/command']);
    assert.notEqual(exMissing.code, 0, `exec of a missing command must fail: ${explain(exMissing)}`);

    cd.expectCode(await cd.ctr(['tasks', 'kill', '--signal', 'SIGTERM', id]), 0, 'kill TERM');
    assert.equal(await waitStatus(id, 'STOPPED'), 'STOPPED');
    assert.equal(log(), 'up\ngot-term\n', 'the TERM handler ran');

    const del = await cd.ctr(['tasks', 'delete', id]);
    assert.match(del.stderr, /exit code 7/, `delete reports the handler's exit code: ${explain(del)}`);
    assert.equal((await task(id)).status, '', 'task gone');
    cd.expectCode(await cd.ctr(['containers', 'delete', id]), 0, 'containers delete');
    const list = await cd.ctr(['containers', 'list', '--quiet']);
    assert.ok(!list.stdout.split('\n').includes(id), 'container gone');
  });

  test('tasks kill SIGKILL: the task stops with exit code 137', slow, async (t) => {
    const id = cd.named(t, 'kill');
    cd.expectCode(await run(['--detach'], id, ['sleep', '1000']), 0, 'run -d');
    assert.equal(await waitStatus(id, 'RUNNING'), 'RUNNING');
    cd.expectCode(await cd.ctr(['tasks', 'kill', '--signal', 'SIGKILL', id]), 0, 'kill KILL');
    assert.equal(await waitStatus(id, 'STOPPED'), 'STOPPED');
    const del = await cd.ctr(['tasks', 'delete', id]);
    assert.match(del.stderr, /exit code 137/, explain(del));
  });

  test('runc shim v2 without options runs the `runc` first on the daemon PATH (the runtime under test)', slow, async (t) => {
    const id = cd.named(t, 'path');
    const r = await cd.ctr(['run', '--rm', ...cd.privateRunFlags(), IMG, id, 'sh', '-c', 'echo via-path; exit 4']);
    cd.expectCode(r, 4, 'run via PATH');
    assert.equal(r.stdout, 'via-path\n');
    assert.ok(cd.used('path'), 'the shim ran our PATH runc wrapper');
  });

  test('io.containerd.runtime.v1.linux takes the runtime from config.toml', slow, async (t) => {
    const id = cd.named(t, 'v1');
    const data = tempDirFor(t, 'stasis-engine-vol-');
    const r = await cd.ctr(['run', '--rm', '--runtime', 'io.containerd.runtime.v1.linux', '--fifo-dir', cd.fifoDir,
      '--mount', `type=bind,src=${data},dst=/data,options=rbind:rw`, IMG, id, 'sh', '-c', 'echo via-v1; echo v1 > /data/f; exit 6']);
    cd.expectCode(r, 6, 'run via the v1 runtime');
    assert.equal(r.stdout, 'via-v1\n');
    assert.equal(fs.readFileSync(path.join(data, 'f'), 'utf8'), 'v1\n');
    assert.ok(cd.used('v1-config'), 'the v1 shim ran the runtime named in config.toml');
  });
});
