/**
 * Real CRIU over swrk (root; skipped when CRIU or the native addon is missing): VERSION, and a dump and
 * restore of a plain process tree (a bash loop appending a counter to a file), with its statistics.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native, nativeAddonPath } from '../../../src/native';
import { checkpointPlan, criuBinary, restorePlan, runPlan, version } from '../../../src/criu';

/** Why these tests cannot run here, or undefined when they can. */
function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  try {
    nativeAddonPath();
  } catch {
    return 'stasis_native addon not built (or set STASIS_NATIVE)';
  }
  const bin = criuBinary();
  if (bin === 'criu' && !process.env.PATH?.split(':').some((d) => fs.existsSync(path.join(d, 'criu')))) {
    return 'criu not installed (run scripts/install-criu.sh)';
  }
  if (!fs.existsSync('/bin/bash')) return 'needs /bin/bash';
  return undefined;
}
const skip = skipReason();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The counter lines written so far. */
function counterLines(file: string): number[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map(Number);
}

/** The parent pid of pid, from /proc. */
function parentOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** True while pid exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

test('criu version through swrk is 4.2.x', { skip }, async () => {
  const v = await version();
  assert.equal(v.major, 4);
  assert.equal(v.minor, 2);
  assert.match(v.text, /^4\.2\.\d+$/);
  assert.equal(v.number, 40200 + v.sublevel);
});

test('dump a process tree, see it die, restore it and see it count on', { skip }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-criu-it-'));
  const counter = path.join(dir, 'counter');
  const fifo = path.join(dir, 'tick');
  const script = path.join(dir, 'loop.sh');
  // No child processes: pid 1 on some machines does not reap orphans, and a zombie grandchild would hold
  // its pid and make the restore fail. `read -t` on a fifo (opened read-write, so it never gets data)
  // is a fork-free sleep.
  fs.writeFileSync(
    script,
    `i=0\nwhile :; do i=$((i+1)); echo $i >> ${counter}; read -t 0.05 <> ${fifo}; done\n`,
  );
  fs.mkdirSync(path.join(dir, 'images'));
  execFileSync('mkfifo', [fifo]);

  let restoredPid: number | undefined;
  const child = spawn('/bin/bash', [script], { detached: true, stdio: 'ignore', cwd: dir });
  const pid = child.pid!;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.after(async () => {
    for (const p of [pid, restoredPid]) {
      if (p === undefined) continue;
      try {
        process.kill(-p, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    if (restoredPid !== undefined) {
      // rst_sibling made the restored tree our child; reap it so it does not linger as a zombie.
      try {
        native().waitPid(restoredPid);
      } catch {
        /* not ours or already reaped */
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  await waitFor('the loop to count to 5', () => counterLines(counter).length >= 5);

  const dumpPlan = checkpointPlan({ imagePath: path.join(dir, 'images'), workPath: path.join(dir, 'work-dump') });
  const dumped = await runPlan(dumpPlan, { opts: { pid } });
  await exited; // the original process must have been killed by the dump (leave_running is off)
  assert.equal(alive(pid), false, 'dumped process is still running');
  const atDump = counterLines(counter);
  await sleep(200);
  assert.deepEqual(counterLines(counter), atDump, 'counter moved while the process was dumped');
  assert.ok(fs.existsSync(path.join(dir, 'images', 'pstree.img')), 'no pstree.img in the image directory');

  const restPlan = restorePlan({ imagePath: path.join(dir, 'images'), workPath: path.join(dir, 'work-restore') });
  const restored = await runPlan(restPlan);
  restoredPid = restored.pid;
  assert.equal(restoredPid, pid, 'restored tree has a different root pid');
  assert.ok(alive(pid), 'restored process is not running');
  // rst_sibling: the tree is born as CRIU's sibling, i.e. our child, not an orphan of the exited CRIU.
  assert.equal(parentOf(pid), process.pid, 'restored tree is not our child');

  const last = atDump[atDump.length - 1];
  await waitFor('the restored loop to count on', () => counterLines(counter).length >= atDump.length + 5);
  const lines = counterLines(counter);
  // One unbroken sequence 1..n: the restored loop continued from `last`, it did not start over.
  assert.deepEqual(lines, Array.from({ length: lines.length }, (_, k) => k + 1));
  assert.ok(lines[lines.length - 1] > last + 4);

  const d = dumped.dumpStats;
  assert.ok(d, 'no stats-dump in the work directory');
  assert.ok(d.freezingTime > 0 && d.frozenTime > 0 && d.memdumpTime > 0 && d.memwriteTime > 0, JSON.stringify(d));
  assert.ok(d.pagesScanned > 0 && d.pagesWritten > 0, JSON.stringify(d));
  const r = restored.restoreStats;
  assert.ok(r, 'no stats-restore in the work directory');
  assert.ok(r.restoreTime > 0 && r.forkingTime > 0, JSON.stringify(r));

  if (process.env.STASIS_KEEP_CRIU_STATS) {
    // Used once to produce the unit-test fixtures.
    fs.mkdirSync(process.env.STASIS_KEEP_CRIU_STATS, { recursive: true });
    fs.copyFileSync(path.join(dir, 'work-dump', 'stats-dump'), path.join(process.env.STASIS_KEEP_CRIU_STATS, 'stats-dump'));
    fs.copyFileSync(path.join(dir, 'work-restore', 'stats-restore'), path.join(process.env.STASIS_KEEP_CRIU_STATS, 'stats-restore'));
  }
});
