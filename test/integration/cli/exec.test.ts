/** `exec` through the CLI: output, exit codes, flags, detached processes, --process, lookup failures. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TestEnv, leakTest, type TestContainer } from '../../support/env';
import { bundleSkipReason } from '../../support/bundle';
import { show } from '../../support/run';
import { alive, decodeCaps, parseStatus, readOr, waitFor } from '../../support/proc';

const skip = bundleSkipReason();
const env = new TestEnv('exec');
after(() => env.dispose());

let shared: { c: TestContainer; pid: number } | undefined;

/**
 * One long-running container shared by the exec tests (exec does not change it). env.dispose() deletes it
 * at the end of the file; node:test's after() called inside a test would bind to that test instead.
 */
async function container(_t: unknown): Promise<{ c: TestContainer; pid: number }> {
  if (!shared) shared = await env.startDetached({ after: () => undefined }, { tweak: (s) => (s.root!.readonly = false) });
  return shared;
}

test('exec prints output and propagates the exit status', { skip }, async (t) => {
  const { c } = await container(t);
  const r = await env.run(['exec', c.id, 'sh', '-c', 'echo from-exec; echo to-err >&2; exit 5']);
  assert.equal(r.code, 5, show(r));
  assert.equal(r.stdout, 'from-exec\n');
  assert.match(r.stderr, /to-err/);
});

test('exec runs in the container namespaces and cgroup', { skip }, async (t) => {
  const { c, pid } = await container(t);
  const r = await env.run(['exec', c.id, 'sh', '-c', 'hostname; cat /proc/self/cgroup; ls /proc | grep -c "^[0-9]"']);
  assert.equal(r.code, 0, show(r));
  const [hostname] = r.stdout.split('\n');
  assert.equal(hostname, 'stasis');
  assert.ok(alive(pid));
  // pid namespace: only init, sh, grep/ls are visible, not the host's processes.
  const count = Number(r.stdout.trim().split('\n').pop());
  assert.ok(count > 0 && count < 10, `few processes visible: ${count}`);
});

test('exec killed by a signal gives 128+n', { skip }, async (t) => {
  const { c } = await container(t);
  const r = await env.run(['exec', c.id, 'sh', '-c', 'kill -9 $$']);
  assert.equal(r.code, 137, show(r));
});

test('exec --env and --cwd', { skip }, async (t) => {
  const { c } = await container(t);
  const r = await env.run(['exec', '--env', 'FOO=bar baz', '-e', 'PATH=/bin', '--cwd', '/tmp', c.id, 'sh', '-c', 'echo "$FOO|$PATH|$(pwd)"']);
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stdout, 'bar baz|/bin|/tmp\n');
});

test('exec --user 1000:1000 runs as that user', { skip }, async (t) => {
  const { c } = await container(t);
  const r = await env.run(['exec', '--user', '1000:1000', c.id, 'id']);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^uid=1000\(user\) gid=1000\(user\)/);
  const s = await env.run(['exec', '--user', '1000:1000', c.id, 'cat', '/proc/self/status']);
  const st = parseStatus(s.stdout);
  assert.equal(st.Uid, '1000\t1000\t1000\t1000');
  assert.equal(st.CapEff, '0000000000000000', 'a non-root user without ambient caps has no effective caps');
});

test('exec --cap adds a capability', { skip }, async (t) => {
  const { c } = await container(t);
  const base = parseStatus((await env.run(['exec', c.id, 'cat', '/proc/self/status'])).stdout);
  assert.ok(!decodeCaps(base.CapEff).includes(13), 'CAP_NET_RAW is not in the default set');
  const r = await env.run(['exec', '--cap', 'CAP_NET_RAW', c.id, 'cat', '/proc/self/status']);
  assert.equal(r.code, 0, show(r));
  const st = parseStatus(r.stdout);
  assert.ok(decodeCaps(st.CapEff).includes(13), `CapEff ${st.CapEff}`);
  assert.ok(decodeCaps(st.CapBnd).includes(13), `CapBnd ${st.CapBnd}`);
});

test('exec -d --pid-file leaves the process running in the container', { skip }, async (t) => {
  const { c } = await container(t);
  const pidFile = env.scratch('exec.pid');
  const r = await env.run(['exec', '-d', '--pid-file', pidFile, c.id, 'sleep', '1000']);
  assert.equal(r.code, 0, show(r));
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  assert.ok(alive(pid), `exec'd pid ${pid} is alive`);
  assert.match(readOr(`/proc/${pid}/cmdline`) ?? '', /^sleep\0/);
  const nspid = parseStatus(readOr(`/proc/${pid}/status`) ?? '').NSpid.split(/\s+/);
  assert.equal(nspid.length, 2, 'the process is in the container pid namespace');
  const procs = readOr(`/sys/fs/cgroup/memory${c.cgroupsPath}/cgroup.procs`) ?? '';
  assert.ok(procs.split('\n').includes(String(pid)), `pid ${pid} in the container cgroup: ${procs}`);
  process.kill(pid, 'SIGKILL');
  assert.ok(await waitFor(() => !alive(pid)));
});

test('exec -d: the process is in every v1 cgroup of the container, the helper in none', { skip }, async (t) => {
  const { c, pid: init } = await container(t);
  const pidFile = env.scratch('exec-cg.pid');
  const r = await env.run(['exec', '-d', '--pid-file', pidFile, c.id, 'sleep', '1000']);
  assert.equal(r.code, 0, show(r));
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  t.after(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  });
  // The init's cgroups, hierarchy by hierarchy, are where the exec'd process must be (v1: one line each).
  const cgroupsOf = (p: number) => (readOr(`/proc/${p}/cgroup`) ?? '').trim().split('\n').filter((l) => !l.startsWith('0::'));
  const want = cgroupsOf(init);
  assert.ok(want.length > 3, `init's v1 cgroups: ${want.join(' ')}`);
  assert.deepEqual(cgroupsOf(pid), want);
  let checked = 0;
  for (const line of want) {
    const [, controllers, dir] = line.split(':');
    const mount = `/sys/fs/cgroup/${controllers.replace(/^name=/, '')}`;
    // Only the container's own cgroups (not, e.g., the root of a named hierarchy stasis does not manage).
    if (dir !== c.cgroupsPath || !fs.existsSync(`${mount}${dir}/tasks`)) continue;
    checked++;
    const tasks = () => (readOr(`${mount}${dir}/tasks`) ?? '').split('\n').filter(Boolean);
    assert.ok(tasks().includes(String(pid)), `pid ${pid} in ${mount}${dir}/tasks`);
    // The helper that joined for it exits right after reporting the pid: then only container processes are left.
    const helpers = () => tasks().filter((p) => /stasis-helper/.test(readOr(`/proc/${p}/cmdline`) ?? ''));
    assert.ok(await waitFor(() => helpers().length === 0, 5000), `helper left in ${mount}${dir}: ${helpers().join(' ')}`);
  }
  assert.ok(checked >= 3, `only ${checked} of the container's own v1 cgroups found`);
});

test('exec --process FILE', { skip }, async (t) => {
  const { c } = await container(t);
  const file = env.scratch('process.json');
  fs.writeFileSync(
    file,
    JSON.stringify({ args: ['sh', '-c', 'echo "$GREETING $(id -u) $(pwd)"; exit 7'], cwd: '/home/user', env: ['GREETING=hello', 'PATH=/bin'], user: { uid: 1000, gid: 1000 } }),
  );
  const r = await env.run(['exec', '--process', file, c.id]);
  assert.equal(r.code, 7, show(r));
  assert.equal(r.stdout, 'hello 1000 /home/user\n');
});

test('exec of a missing executable says so and fails', { skip }, async (t) => {
  const { c } = await container(t);
  const r = await env.run(['exec', c.id, 'no-such-command']);
  assert.notEqual(r.code, 0, show(r));
  assert.match(r.stderr, /executable file not found in \$PATH/);
  assert.equal(r.stderr.trim().split('\n').length, 1, show(r));
  const abs = await env.run(['exec', c.id, '/bin/no-such-command']);
  assert.notEqual(abs.code, 0);
  assert.match(abs.stderr, /no such file or directory/);
});

test('exec --preserve-fds passes an extra fd as fd 3', { skip }, async (t) => {
  const { c } = await container(t);
  const file = path.join(env.base, 'fd3.txt');
  fs.writeFileSync(file, 'through-fd-3\n');
  const fd = fs.openSync(file, 'r');
  try {
    const r = await env.run(['exec', '--preserve-fds', '1', c.id, 'cat', '/proc/self/fd/3'], { extraFds: [fd] });
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, 'through-fd-3\n');
  } finally {
    fs.closeSync(fd);
  }
});

test('exec in a stopped container fails', { skip }, async (t) => {
  const { c, pid } = await env.startDetached(t, { args: ['true'] });
  await waitFor(() => !alive(pid));
  const r = await env.run(['exec', c.id, 'true']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /not running|stopped/, show(r));
});

leakTest(env);
