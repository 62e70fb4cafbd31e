/**
 * Podman's cgroup features with the runtime under test (ENGINE_RUNTIME, default bin/stasis; run with
 * ENGINE_RUNTIME=/usr/sbin/runc to check the tests): pause/unpause (the runtime's freezer), stats (cgroup
 * placement), top (the runtime's ps), update (the runtime's `update --resources`). Each test asserts what
 * happened to the container, not just exit codes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CommandResult, explain, podmanSkip, removeImages, runtimeUnderTest, waitFor, expectCode, tempDirFor } from './engine-env';
import { PodmanHarness, openPodman, podmanImage as IMG } from './podman-harness';

const slow = { timeout: 120_000 };
let counter = 0;
const COUNTER = 'i=0; while :; do i=$((i+1)); echo $i > /out/counter; sleep 0.05; done';

/** The container's cgroup directory in one v1 hierarchy (or the v2 one), from the host view of its pid. */
function cgroupDir(pid: number, controller: string): string {
  const lines = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  const v1 = lines.find((l) => l.split(':')[1]?.split(',').includes(controller));
  if (v1) return path.join('/sys/fs/cgroup', controller, v1.split(':')[2]);
  return path.join('/sys/fs/cgroup', lines.find((l) => l.startsWith('0::'))!.slice(3));
}

describe(`podman cgroup features --runtime ${runtimeUnderTest}`, { skip: podmanSkip }, () => {
  let pm: PodmanHarness;
  before(async () => {
    pm = await openPodman();
  });
  after(async () => {
    await pm?.close();
    removeImages();
  });


  test('pause stops the container (its counter stands still), unpause lets it go on', slow, async (t) => {
    const name = pm.named(t, 'pause');
    const out = tempDirFor(t, 'stasis-engine-out-');
    expectCode(await pm.run(['-d', '--name', name, '-v', `${out}:/out`, IMG, 'sh', '-c', COUNTER]), 0, 'run -d');
    const read = () => Number((fs.existsSync(path.join(out, 'counter')) && fs.readFileSync(path.join(out, 'counter'), 'utf8').trim()) || 0);
    assert.ok(await waitFor(() => (read() > 2 ? true : undefined)), 'the counter runs');
    expectCode(await pm.podman(['pause', name]), 0, 'pause');
    assert.equal(await pm.inspect(name, '.State.Status'), 'paused');
    const at = read();
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok(read() <= at + 1, `paused: counter went from ${at} to ${read()}`);
    expectCode(await pm.podman(['unpause', name]), 0, 'unpause');
    assert.equal(await pm.inspect(name, '.State.Status'), 'running');
    assert.ok(await waitFor(() => (read() > at + 3 ? true : undefined)), 'the counter moves again');
  });

  test('stats reports the memory the container uses and its limit, and its pids', slow, async (t) => {
    const name = pm.named(t, 'stats');
    expectCode(await pm.run(['-d', '--name', name, '--memory', '100m', IMG, 'sh', '-c', 'sleep 1000 & sleep 1000 & wait']), 0, 'run -d');
    let r: CommandResult | undefined;
    await waitFor(async () => {
      r = await pm.podman(['stats', '--no-stream', '--format', '{{.MemUsage}}|{{.PIDs}}', name]);
      return r.code === 0 && / \/ /.test(r.stdout) && r.stdout.trim().endsWith('|3') ? true : undefined;
    }, 20_000);
    expectCode(r!, 0, 'stats');
    const [usage, pids] = r!.stdout.trim().split('|');
    const [used, limit] = usage.split(' / ');
    assert.ok(parseFloat(used) > 0, `memory in use: ${usage}`);
    assert.match(limit, /^(104\.9MB|100MiB)$/, `the 100m limit: ${usage}`);
    assert.equal(pids, '3', 'sh and two sleeps');
  });

  test('top lists every process of the container', slow, async (t) => {
    const name = pm.named(t, 'top');
    expectCode(await pm.run(['-d', '--name', name, IMG, 'sh', '-c', 'sleep 1001 & sleep 1002 & wait']), 0, 'run -d');
    let top: CommandResult | undefined;
    await waitFor(async () => {
      top = await pm.podman(['top', name, 'pid', 'args']);
      return /sleep 1002/.test(top.stdout) ? true : undefined;
    });
    expectCode(top!, 0, 'top');
    assert.match(top!.stdout, /^\s*1\s+sh -c sleep 1001/m, top!.stdout);
    assert.match(top!.stdout, /sleep 1001\s*$/m);
    assert.match(top!.stdout, /sleep 1002\s*$/m);
  });

  test('update changes the memory limit and the cpu shares in the cgroup', slow, async (t) => {
    const name = pm.named(t, 'update');
    expectCode(await pm.run(['-d', '--name', name, '--memory', '100m', '--cpu-shares', '1024', IMG, 'sleep', '1000']), 0, 'run -d');
    const pid = Number(await pm.inspect(name, '.State.Pid'));
    const mem = cgroupDir(pid, 'memory');
    const v2 = !mem.includes('/memory/');
    const memFile = path.join(mem, v2 ? 'memory.max' : 'memory.limit_in_bytes');
    assert.equal(fs.readFileSync(memFile, 'utf8').trim(), String(100 * 1024 * 1024));
    const u = await pm.podman(['update', '--memory', '64m', '--cpu-shares', '512', name]);
    expectCode(u, 0, 'update');
    assert.equal(fs.readFileSync(memFile, 'utf8').trim(), String(64 * 1024 * 1024));
    const cpu = cgroupDir(pid, 'cpu');
    // v2 holds the weight converted from shares (512 → 20, the mapping runc and crun use).
    assert.equal(fs.readFileSync(path.join(cpu, v2 ? 'cpu.weight' : 'cpu.shares'), 'utf8').trim(), v2 ? '20' : '512');
    // Behaviour, not only the file: 80 MiB no longer fits.
    const dd = await pm.podman(['exec', name, 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=80M', 'count=1']);
    assert.equal(dd.code, 137, `dd past the new limit is OOM-killed: ${explain(dd)}`);
  });
});
