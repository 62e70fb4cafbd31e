/** Pure checks made before a restore touches anything: stdio terminals and --shell-job, cgroup modes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cgroupModeObstacle, outsideTerminal, shellJobObstacle } from '../../../src/runtime/restore-checks';

test('outsideTerminal finds a pty or tty among the stdio links', () => {
  assert.equal(outsideTerminal(['/dev/null', '/dev/pts/3', 'pipe:[12]']), '/dev/pts/3');
  assert.equal(outsideTerminal(['/dev/tty1']), '/dev/tty1');
  assert.equal(outsideTerminal(['pipe:[1]', '/dev/null', '/tmp/log']), undefined);
  assert.equal(outsideTerminal(['/dev/ptmx']), undefined);
});

test('shellJobObstacle: a host terminal needs --shell-job and a terminal on stdin', () => {
  const links = ['/dev/pts/0', '/dev/pts/0', '/dev/pts/0'];
  assert.match(shellJobObstacle({ shellJob: false, links, containerTerminal: false, stdinIsTty: true })!, /restore it with --shell-job/);
  assert.match(shellJobObstacle({ shellJob: true, links, containerTerminal: false, stdinIsTty: false })!, /^restore: --shell-job: .*not a terminal$/);
  assert.equal(shellJobObstacle({ shellJob: true, links, containerTerminal: false, stdinIsTty: true }), undefined);
  // A container terminal comes back through --console-socket, whatever the links say.
  assert.equal(shellJobObstacle({ shellJob: false, links, containerTerminal: true, stdinIsTty: false }), undefined);
  assert.equal(shellJobObstacle({ shellJob: false, links: ['pipe:[1]', '/dev/null', '/dev/null'], containerTerminal: false, stdinIsTty: false }), undefined);
});

test('cgroupModeObstacle: strict always refused, full only on an image that says THAWED', () => {
  assert.match(cgroupModeObstacle('strict', 'THAWED')!, /^--manage-cgroups-mode strict: /);
  assert.match(cgroupModeObstacle('full', 'FROZEN')!, /says FROZEN/);
  assert.match(cgroupModeObstacle('full', undefined)!, /says FROZEN/, 'notes older than the field: stasis froze them');
  assert.equal(cgroupModeObstacle('full', 'THAWED'), undefined);
  for (const m of [undefined, 'soft', 'ignore']) assert.equal(cgroupModeObstacle(m, 'FROZEN'), undefined);
});
