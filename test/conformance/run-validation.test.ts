// Integration test for scripts/conformance/run-validation.sh: runs two real
// validation tests against runc and checks the results file, the summary
// line and that nothing is left behind. Needs root, runc and a built suite
// (scripts/conformance/build-runtime-tools.sh); skipped otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const SCRIPTS = path.resolve(__dirname, '../../../scripts/conformance');
const CACHE = process.env.STASIS_CONFORMANCE_CACHE ?? '/var/cache/stasis-conformance';
const SUITE_BUILT = existsSync(path.join(CACHE, 'suite', 'validation', 'default.t'));
const IS_ROOT = process.getuid?.() === 0;
const HAS_RUNC = spawnSync('runc', ['--version']).status === 0;

/** Names of the harness's own work dirs currently in /tmp. */
function workDirs(): string[] {
  return readdirSync('/tmp').filter((d) => d.startsWith('stasis-conformance-run.'));
}

test(
  'runc: default passes, pidfile fails, results file and summary agree',
  { skip: !(IS_ROOT && HAS_RUNC && SUITE_BUILT) && 'needs root, runc and a built suite' },
  (t) => {
    const out = mkdtempSync(path.join(tmpdir(), 'conformance-out-'));
    t.after(() => rmSync(out, { recursive: true, force: true }));
    const before = workDirs();

    const run = spawnSync('bash', [path.join(SCRIPTS, 'run-validation.sh'), '-o', out, '-n', 'runc-it', 'runc', 'default', 'pidfile'], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    // pidfile fails with every runtime (the test kills an already-exited
    // container), so the harness reports a failure: exit 1, not 2.
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stdout, /^validation: 1 passed, 1 failed, 0 skipped$/m);

    const rows = readFileSync(path.join(out, 'runc-it.tsv'), 'utf8').trim().split('\n').map((l) => l.split('\t'));
    assert.deepEqual(rows[0], ['test', 'result', 'detail']);
    assert.deepEqual(rows[1], ['default', 'pass', '']);
    assert.equal(rows[2][0], 'pidfile');
    assert.equal(rows[2][1], 'fail');
    assert.match(rows[2][2], /^not ok 1 - create with '--pid-file' option works/);
    assert.match(readFileSync(path.join(out, 'runc-it', 'default.tap'), 'utf8'), /^1\.\.\d+$/m);

    // Cleanup: no new work dir, and no container runc still knows whose bundle
    // was in one (other users of this machine may have containers of their own).
    assert.deepEqual(workDirs().filter((d) => !before.includes(d)), []);
    const listed = JSON.parse(execFileSync('runc', ['list', '--format', 'json'], { encoding: 'utf8' }) || 'null') as
      | { id: string; bundle: string }[]
      | null;
    const ours = (listed ?? []).filter((c) => c.bundle.startsWith('/tmp/stasis-conformance-run.'));
    assert.deepEqual(ours, []);
  },
);
