/**
 * The Podman and containerd suites again, with `stasis service` on its default socket, so that the calls
 * the engines make (create, start, exec, kill, delete, pause, state...) are taken by warm workers
 * (docs/warm.md). Engines set up their own environment for the runtime: only the default socket reaches it.
 * Skipped when a service already listens there (someone else's: this machine may be shared).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { podmanSkip, repoRoot, runtimeUnderTest } from './engine-env';

const DEFAULT_SOCKET = '/run/stasis-warm/sock';
const skip =
  podmanSkip ||
  (runtimeUnderTest !== path.join(repoRoot, 'bin', 'stasis') && 'ENGINE_RUNTIME is not this build of stasis') ||
  (fs.existsSync(DEFAULT_SOCKET) && `a stasis service already listens on ${DEFAULT_SOCKET}`);

test('Podman and containerd pass their suites with calls taken by warm workers', { skip, timeout: 600_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-warm-engines-'));
  const log = path.join(dir, 'service.log');
  const logFd = fs.openSync(log, 'w');
  const service = spawn(runtimeUnderTest, ['service', '--workers', '3', '--verbose'], { stdio: ['ignore', 'ignore', logFd] });
  fs.closeSync(logFd);
  try {
    const suites = ['podman.test.js', 'containerd.test.js'].map((f) => path.join(__dirname, f));
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    delete env.NODE_TEST_CONTEXT; // set by the runner running this file: the inner runner would report to it, not print
    const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=tap', ...suites], { env, encoding: 'utf8', timeout: 580_000 });
    const summary = (r.stdout.match(/^# (tests|pass|fail|skipped) \d+$/gm) ?? []).join(', ');
    assert.equal(r.status, 0, `engine suites failed under the warm service (${summary}):\n${r.stdout.slice(-4000)}`);
    assert.match(summary, /# fail 0/);
    const taken = (fs.readFileSync(log, 'utf8').match(/took a call/g) ?? []).length;
    assert.ok(taken >= 20, `the engines' calls went to warm workers (${taken} taken):\n${fs.readFileSync(log, 'utf8')}`);
  } finally {
    service.kill('SIGTERM');
    if (service.exitCode === null) await new Promise((res) => service.once('exit', res));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
