// Runs the whole OCI runtime-tools validation suite against bin/stasis and checks that every test stasis
// is required to pass does pass (the floor only rises). The required list is the tests crun 1.8.1 passes on
// this machine plus delete, start, process_capabilities and process_capabilities_fail (docs/conformance.md),
// minus what is flaky with every runtime (killsig, poststart, poststop). Needs root and a built suite; ~90 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const REPO = path.resolve(__dirname, '../../..');
const CACHE = process.env.STASIS_CONFORMANCE_CACHE ?? '/var/cache/stasis-conformance';
const SUITE_BUILT = existsSync(path.join(CACHE, 'suite', 'validation', 'default.t'));
const IS_ROOT = process.getuid?.() === 0;
const STASIS = path.join(REPO, 'bin', 'stasis');

/** Tests stasis must pass. */
export const REQUIRED = [
  'config_updates_without_affect', 'create', 'default', 'delete', 'delete_only_create_resources', 'delete_resources',
  'hooks_stdin', 'hostname', 'kill', 'kill_no_effect', 'linux_cgroups_cpus', 'linux_cgroups_devices',
  'linux_cgroups_pids', 'linux_cgroups_relative_cpus', 'linux_cgroups_relative_devices', 'linux_cgroups_relative_pids',
  'linux_devices', 'linux_masked_paths', 'linux_mount_label', 'linux_ns_itype', 'linux_ns_nopath', 'linux_ns_path', 'linux_ns_path_type',
  'linux_readonly_paths', 'linux_rootfs_propagation', 'linux_seccomp', 'linux_sysctl', 'linux_uid_mappings', 'mounts',
  'poststart_fail', 'poststop_fail', 'prestart_fail', 'process', 'process_capabilities', 'process_capabilities_fail', 'process_oom_score_adj',
  'process_rlimits_fail', 'process_user', 'root_readonly_true', 'start', 'state',
];

test('stasis passes every required runtime-tools validation test', { skip: !(IS_ROOT && SUITE_BUILT && existsSync(STASIS)) && 'needs root, bin/stasis and a built suite (scripts/conformance/build-runtime-tools.sh)', timeout: 900_000 }, (t) => {
  const out = mkdtempSync(path.join(tmpdir(), 'conformance-stasis-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const run = spawnSync('bash', [path.join(REPO, 'scripts/conformance/run-validation.sh'), '-U', '-o', out, '-n', 'stasis', STASIS, ...REQUIRED], {
    encoding: 'utf8',
    env,
    timeout: 880_000,
  });
  const rows = readFileSync(path.join(out, 'stasis.tsv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t'));
  const failed = rows.filter((r) => r[1] !== 'pass').map((r) => `${r[0]}: ${r[2]}`);
  t.diagnostic(run.stdout.split('\n').find((l) => l.startsWith('validation:')) ?? 'no summary');
  assert.deepEqual(failed, [], `required validation tests failed:\n${failed.join('\n')}`);
  assert.equal(rows.length, REQUIRED.length);
});
