/**
 * Rootless: a throwaway unprivileged user makes a bundle with `spec --rootless` and runs containers with
 * it, without systemd: user namespace mapping only its own uid, cgroups skipped (with a warning) because
 * nothing delegates one, a clear error when the spec asks for limits, state under $XDG_RUNTIME_DIR/stasis
 * or, without it, <tmpdir>/stasis-<uid>.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRootlessUser, rootlessSkipReason, sharedRootfs, type RootlessUser } from './support';

const skip = rootlessSkipReason();
let user: RootlessUser;
let xdg: string;

before(() => {
  if (skip) return;
  user = createRootlessUser();
  xdg = path.join(user.home, 'xdg');
  fs.mkdirSync(xdg, { mode: 0o700 });
  fs.chownSync(xdg, user.uid, user.gid);
});

after(() => {
  if (!skip) user.remove();
});

/** A bundle made by the user with `stasis spec --rootless`, then given `args` (and `tweak`). */
async function bundle(name: string, args: string[], tweak?: (spec: Record<string, any>) => void): Promise<string> {
  const dir = path.join(user.home, name);
  fs.mkdirSync(dir);
  fs.chownSync(dir, user.uid, user.gid);
  const r = await user.stasis(['spec', '--rootless', '--bundle', dir]);
  assert.equal(r.code, 0, r.stderr);
  const file = path.join(dir, 'config.json');
  const spec = JSON.parse(fs.readFileSync(file, 'utf8'));
  spec.root = { path: sharedRootfs(), readonly: true };
  spec.process.terminal = false;
  spec.process.args = args;
  tweak?.(spec);
  fs.writeFileSync(file, JSON.stringify(spec));
  return dir;
}

async function waitStopped(id: string, env: Record<string, string>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = await user.stasis(['state', id], env);
    if (r.code === 0 && JSON.parse(r.stdout).status === 'stopped') return;
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.fail(`container ${id} did not stop`);
}

test('spec --rootless maps the caller to root in a user namespace, without network or cgroup namespaces', { skip }, async () => {
  const dir = await bundle('spec', ['true']);
  const spec = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  assert.deepEqual(spec.linux.uidMappings, [{ containerID: 0, hostID: user.uid, size: 1 }]);
  assert.deepEqual(spec.linux.gidMappings, [{ containerID: 0, hostID: user.gid, size: 1 }]);
  const types = spec.linux.namespaces.map((n: { type: string }) => n.type);
  assert.ok(types.includes('user'));
  assert.ok(!types.includes('network') && !types.includes('cgroup'), `namespaces: ${types.join(',')}`);
});

test('run as the user: root inside, the user outside, exit status kept, cgroup skipped with a warning', { skip }, async () => {
  const dir = await bundle('run', ['sh', '-c', 'id -u; cat /proc/self/uid_map; exit 3']);
  const r = await user.stasis(['run', '--bundle', dir, 'rl-run'], { XDG_RUNTIME_DIR: xdg });
  assert.equal(r.code, 3, r.stderr);
  const [inside, map] = r.stdout.trim().split('\n');
  assert.equal(inside, '0');
  assert.deepEqual(map.trim().split(/\s+/), ['0', String(user.uid), '1']);
  assert.match(r.stderr, /rootless: uid \d+ cannot create cgroup .*: the container runs without a cgroup of its own/);
  assert.ok(!fs.existsSync(path.join(xdg, 'stasis', 'rl-run')), 'run removed its state');
});

test('create, start, state, exec, list, kill, delete as the user, state under $XDG_RUNTIME_DIR/stasis', { skip }, async () => {
  const env = { XDG_RUNTIME_DIR: xdg };
  const dir = await bundle('life', ['sleep', '600']);
  const pidFile = path.join(user.home, 'life.pid');
  let r = await user.stasis(['create', '--bundle', dir, '--pid-file', pidFile, 'rl-life'], env);
  assert.equal(r.code, 0, r.stderr);
  const stateDir = path.join(xdg, 'stasis', 'rl-life');
  assert.equal(fs.statSync(stateDir).uid, user.uid, 'the state belongs to the user');
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  assert.equal(fs.statSync(`/proc/${pid}`).uid, user.uid, 'the container process runs as the user on the host');
  assert.equal(JSON.parse((await user.stasis(['state', 'rl-life'], env)).stdout).status, 'created');

  r = await user.stasis(['start', 'rl-life'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse((await user.stasis(['state', 'rl-life'], env)).stdout).status, 'running');

  r = await user.stasis(['exec', 'rl-life', 'sh', '-c', 'id -u; cat /proc/1/cmdline | tr "\\0" " "'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['0', 'sleep 600']);

  r = await user.stasis(['list'], env);
  assert.match(r.stdout, new RegExp(`^rl-life\\s+${pid}\\s+running\\s+.*\\s${user.name}$`, 'm'));

  r = await user.stasis(['ps', 'rl-life'], env);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /container rl-life has no cgroup/);
  r = await user.stasis(['pause', 'rl-life'], env);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /cannot freeze the container: container rl-life has no cgroup/);

  r = await user.stasis(['kill', 'rl-life', 'KILL'], env);
  assert.equal(r.code, 0, r.stderr);
  await waitStopped('rl-life', env);
  r = await user.stasis(['delete', 'rl-life'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!fs.existsSync(stateDir), 'delete removed the state');
});

test('without XDG_RUNTIME_DIR the state goes to a private <tmpdir>/stasis-<uid>', { skip }, async () => {
  const dir = await bundle('tmproot', ['sleep', '600']);
  let r = await user.stasis(['create', '--bundle', dir, 'rl-tmp']);
  assert.equal(r.code, 0, r.stderr);
  const root = path.join(os.tmpdir(), `stasis-${user.uid}`);
  const st = fs.statSync(root);
  assert.equal(st.uid, user.uid);
  assert.equal(st.mode & 0o777, 0o700);
  assert.ok(fs.existsSync(path.join(root, 'rl-tmp', 'state.json')));
  r = await user.stasis(['delete', '--force', 'rl-tmp']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!fs.existsSync(path.join(root, 'rl-tmp')));
});

test('resource limits that need a cgroup are refused with one clear line, and nothing is left', { skip }, async () => {
  const env = { XDG_RUNTIME_DIR: xdg };
  const dir = await bundle('limits', ['true'], (spec) => {
    spec.linux.resources = { memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 10 } };
  });
  const r = await user.stasis(['run', '--bundle', dir, 'rl-limits'], env);
  assert.notEqual(r.code, 0);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /rootless: cannot apply linux\.resources\.memory, linux\.resources\.pids: uid \d+ cannot create cgroup/);
  assert.ok(!fs.existsSync(path.join(xdg, 'stasis', 'rl-limits')), 'no state left');
});
