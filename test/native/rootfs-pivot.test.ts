/**
 * PIVOT_ROOT and MOVE_ROOT with a busybox rootfs: the container sees its own /proc, its own root, and
 * a working /dev/null from MKNOD; nothing is left mounted on the host.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  basicMounts,
  enterAndBind,
  hostMountsUnder,
  makeRootfs,
  runPlan,
  shell,
  skipUnlessReady,
  step,
  tempDir,
} from './rootfs-fixture';

const PROBE = [
  'echo "pid=$$"',
  'test -d /proc/$HOST_PID && echo hostpid=visible || echo hostpid=absent',
  'echo "comm=$(cat /proc/1/comm)"',
  'echo "marker=$(cat /inside-marker)"',
  'test -e "$HOST_MARKER" && echo host=visible || echo host=gone',
  'echo "null=$(stat -c %t:%T:%a /dev/null)"',
  'echo discarded > /dev/null && echo "nullsize=$(wc -c < /dev/null)"',
  'echo "root=$(ls / | tr "\\n" " ")"',
].join('; ');

function probe(hostMarker: string): string {
  return `HOST_MARKER=${hostMarker}; HOST_PID=${process.pid}; ${PROBE}`;
}

for (const mode of ['pivot', 'move'] as const) {
  test(`${mode === 'pivot' ? 'PIVOT_ROOT' : 'MOVE_ROOT'} gives the container its own root and /proc`, async (t) => {
    if (skipUnlessReady(t)) return;
    const root = makeRootfs(t);
    fs.writeFileSync(path.join(root, 'inside-marker'), 'rootfs-ok\n');
    const hostDir = tempDir(t, 'stasis-host-marker-');
    const hostMarker = path.join(hostDir, 'host-only');
    fs.writeFileSync(hostMarker, 'host\n');

    const res = await runPlan([
      ...enterAndBind(root),
      ...basicMounts(),
      mode === 'pivot' ? step.pivot() : step.moveRoot(),
      ...shell(probe(hostMarker)),
    ]);
    assert.equal(res.error, undefined, res.error?.message);
    assert.equal(res.status, 0, res.stderr);
    const lines = res.stdout.trim().split('\n');
    assert.deepEqual(lines.slice(0, 7), [
      'pid=1',
      'hostpid=absent',
      'comm=sh',
      'marker=rootfs-ok',
      'host=gone',
      'null=1:3:666',
      'nullsize=0',
    ]);
    assert.equal(lines[7], 'root=bin dev etc inside-marker proc sys tmp');
    assert.deepEqual(hostMountsUnder(root), []);
  });
}

test('PIVOT_ROOT without SET_ROOTFS is refused with a clear message', async (t) => {
  if (skipUnlessReady(t)) return;
  const root = makeRootfs(t);
  const steps = enterAndBind(root).filter((s) => s.op !== 'SET_ROOTFS');
  const res = await runPlan([...steps, step.pivot(), ...shell('echo unreachable')]);
  assert.ok(res.error, 'expected an error');
  assert.equal(res.error.op, 'PIVOT_ROOT');
  assert.match(res.error.detail, /no rootfs is set/);
  assert.equal(res.stdout, '');
});
