/**
 * The cgroup suites on a real cgroup v2 kernel: scripts/cgv2/run-tests.sh boots the QEMU guest from
 * shared/tools/run-in-cgv2.sh and runs the cgroup unit, v2 library and CLI cgroup tests inside it (~6 min under
 * emulation). Skipped where the runner is not available.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const REPO = path.resolve(__dirname, '../../..');
const RUNNER = [path.join(REPO, '../shared/tools/run-in-cgv2.sh'), '/work/shared/tools/run-in-cgv2.sh'].find((p) => fs.existsSync(p));
const skip = process.getuid?.() !== 0 ? 'needs root' : !RUNNER ? 'shared/tools/run-in-cgv2.sh is not available' : false;

test('cgroup v2: the cgroup suites pass inside a real cgroup v2 guest', { skip, timeout: 40 * 60_000 }, (t) => {
  const env: NodeJS.ProcessEnv = { ...process.env, CGV2_RUNNER: RUNNER };
  delete env.NODE_EXTRA_CA_CERTS;
  const r = spawnSync('bash', [path.join(REPO, 'scripts/cgv2/run-tests.sh')], { encoding: 'utf8', env, timeout: 39 * 60_000 });
  const summary = (r.stdout ?? '').split('\n').filter((l) => /^# (tests|pass|fail)|^not ok|^cgv2:/.test(l));
  for (const line of summary) t.diagnostic(line);
  assert.equal(r.status, 0, `${summary.join('\n')}\n${(r.stderr ?? '').slice(-2000)}`);
  assert.match(r.stdout, /^# fail 0$/m);
});
