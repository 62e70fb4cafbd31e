/**
 * containerd's task cgroup commands with the runtime under test behind the runc shim v2 (`--runc-binary`):
 * `ctr task pause/resume` (the runtime's freezer), `ctr task metrics` (cgroup placement and limits) and
 * `ctr task ps` (the runtime's `ps --format json`). Run with ENGINE_RUNTIME=/usr/sbin/runc to check the tests.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CommandResult, containerdSkip, removeImages, runtimeUnderTest, waitFor, tempDirFor } from './engine-env';
import { ContainerdHarness, containerdImage as IMG, startContainerd } from './containerd-harness';

const slow = { timeout: 120_000 };
let counter = 0;
const COUNTER = 'i=0; while :; do i=$((i+1)); echo $i > /out/counter; sleep 0.05; done';

describe(`containerd task cgroup commands with runtime ${runtimeUnderTest}`, { skip: containerdSkip }, () => {
  let cd: ContainerdHarness;
  before(async () => {
    cd = await startContainerd();
  });
  after(async () => {
    await cd?.stop();
    removeImages();
  });

  const runDetached = (id: string, flags: string[], cmd: string[]) =>
    cd.ctr(['run', '--detach', '--runc-binary', cd.runtime, ...cd.privateRunFlags(), ...flags, IMG, id, ...cmd]);
  const status = async (id: string): Promise<string> => {
    const r = await cd.ctr(['tasks', 'list']);
    return r.stdout.split('\n').find((l) => l.startsWith(`${id} `))?.trim().split(/\s+/)[2] ?? '';
  };

  test('task pause freezes the task (counter stands still), resume thaws it', slow, async (t) => {
    const id = cd.named(t, 'pause');
    const out = tempDirFor(t, 'stasis-engine-out-');
    cd.expectCode(await runDetached(id, ['--mount', `type=bind,src=${out},dst=/out,options=rbind:rw`], ['sh', '-c', COUNTER]), 0, 'run -d');
    const read = () => Number((fs.existsSync(path.join(out, 'counter')) && fs.readFileSync(path.join(out, 'counter'), 'utf8').trim()) || 0);
    assert.ok(await waitFor(() => (read() > 2 ? true : undefined)), 'the counter runs');
    cd.expectCode(await cd.ctr(['tasks', 'pause', id]), 0, 'pause');
    assert.equal(await status(id), 'PAUSED');
    const at = read();
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok(read() <= at + 1, `paused: counter went from ${at} to ${read()}`);
    cd.expectCode(await cd.ctr(['tasks', 'resume', id]), 0, 'resume');
    assert.equal(await status(id), 'RUNNING');
    assert.ok(await waitFor(() => (read() > at + 3 ? true : undefined)), 'the counter moves again');
  });

  test('task metrics reports memory in use, the memory limit and the pids', slow, async (t) => {
    const id = cd.named(t, 'metrics');
    cd.expectCode(await runDetached(id, ['--memory-limit', String(100 * 1024 * 1024)], ['sh', '-c', 'sleep 1000 & wait']), 0, 'run -d');
    let r: CommandResult | undefined;
    await waitFor(async () => {
      r = await cd.ctr(['tasks', 'metrics', id]);
      return /pids\.current\s+2\b/.test(r.stdout) ? true : undefined;
    });
    cd.expectCode(r!, 0, 'metrics');
    const metric = (name: string) => Number(new RegExp(`^${name.replace(/\./g, '\\.')}\\s+(\\d+)`, 'm').exec(r!.stdout)?.[1] ?? NaN);
    const v2 = /memory\.usage\b/.test(r!.stdout) && !/memory\.usage_in_bytes/.test(r!.stdout);
    assert.ok(metric(v2 ? 'memory.usage' : 'memory.usage_in_bytes') > 0, r!.stdout);
    assert.equal(metric(v2 ? 'memory.usage_limit' : 'memory.limit_in_bytes'), 100 * 1024 * 1024, r!.stdout);
    assert.equal(metric('pids.current'), 2, 'sh and sleep');
  });

  test('task ps lists the pids of every process in the task', slow, async (t) => {
    const id = cd.named(t, 'ps');
    cd.expectCode(await runDetached(id, [], ['sh', '-c', 'sleep 1000 & sleep 1001 & wait']), 0, 'run -d');
    let r: CommandResult | undefined;
    await waitFor(async () => {
      r = await cd.ctr(['tasks', 'ps', id]);
      return r.stdout.trim().split('\n').length >= 4 ? true : undefined;
    });
    cd.expectCode(r!, 0, 'tasks ps');
    const pids = r!.stdout.trim().split('\n').slice(1).map((l) => Number(l.trim().split(/\s+/)[0]));
    assert.equal(pids.length, 3, r!.stdout);
    const taskPid = Number((await cd.ctr(['tasks', 'list'])).stdout.split('\n').find((l) => l.startsWith(`${id} `))!.trim().split(/\s+/)[1]);
    assert.ok(pids.includes(taskPid), `the init pid ${taskPid} is listed: ${r!.stdout}`);
    const cmdlines = pids.map((p) => fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ').trim()).sort();
    assert.deepEqual(cmdlines, ['sh -c sleep 1000 & sleep 1001 & wait', 'sleep 1000', 'sleep 1001']);
  });
});
