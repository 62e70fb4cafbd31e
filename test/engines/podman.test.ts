/**
 * Podman driving the runtime under test (ENGINE_RUNTIME, default bin/stasis) through `--runtime <path>`.
 * Run with ENGINE_RUNTIME=/usr/sbin/runc to check the tests themselves. Every test asserts what the container
 * did (output, exit status, files, signals seen), and removes its containers even when it fails.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { freePort, podmanSkip, removeImages, runtimeUnderTest, waitFor, expectCode, tempDirFor } from './engine-env';
import { PodmanHarness, openPodman, podmanImage as IMG } from './podman-harness';

const slow = { timeout: 120_000 };

describe(`podman --runtime ${runtimeUnderTest}`, { skip: podmanSkip }, () => {
  let pm: PodmanHarness;
  before(async () => {
    pm = await openPodman();
  });
  after(async () => {
    await pm?.close();
    removeImages();
  });





  /** Waits until the container's logs contain text; returns the logs. */
  const logsContaining = async (name: string, text: string): Promise<string> => {
    let last = '';
    await waitFor(async () => {
      const r = await pm.podman(['logs', name]);
      last = r.stdout + r.stderr;
      return last.includes(text) ? true : undefined;
    });
    return last;
  };

  test('run: stdout and stderr come back separately', slow, async () => {
    const r = await pm.run(['--rm', IMG, 'sh', '-c', 'echo hello from the container; echo to-stderr >&2; uname -s']);
    expectCode(r, 0, 'run');
    assert.equal(r.stdout, 'hello from the container\nLinux\n');
    assert.match(r.stderr, /to-stderr/);
  });

  test("exit code propagates: sh -c 'exit 3' makes podman exit 3", slow, async () => {
    const r = await pm.run(['--rm', IMG, 'sh', '-c', 'exit 3']);
    expectCode(r, 3, 'exit 3');
  });

  test('missing command: podman exits 127', slow, async () => {
    const r = await pm.run(['--rm', IMG, '/no/such/command']);
    expectCode(r, 127, 'missing command');
    assert.match(r.stderr, /no\/such\/command|not found|no such file/i, 'the error names the problem');
  });

  test('run -d, then logs, inspect and the host view of the container process', slow, async (t) => {
    const name = pm.named(t, 'detached');
    const r = await pm.run(['-d', '--name', name, IMG, 'sh', '-c', 'echo first line; echo second line; exec sleep 1000']);
    expectCode(r, 0, 'run -d');
    assert.match(r.stdout.trim(), /^[0-9a-f]{64}$/, 'run -d prints the container id');
    const logs = await logsContaining(name, 'second line');
    assert.equal(logs, 'first line\nsecond line\n');
    assert.equal(await pm.inspect(name, '.State.Running'), 'true');
    const pid = Number(await pm.inspect(name, '.State.Pid'));
    assert.ok(pid > 0, `State.Pid ${pid}`);
    // The process Podman reports is real, is `sleep 1000`, and sits in namespaces of its own.
    assert.equal(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, 2).join(' '), 'sleep 1000');
    for (const ns of ['pid', 'mnt', 'uts', 'ipc']) {
      assert.notEqual(fs.readlinkSync(`/proc/${pid}/ns/${ns}`), fs.readlinkSync(`/proc/self/ns/${ns}`), `${ns} namespace is new`);
    }
  });

  test('exec: output, exit code, and the same filesystem as the container', slow, async (t) => {
    const name = pm.named(t, 'exec');
    expectCode(await pm.run(['-d', '--name', name, IMG, 'sh', '-c', 'echo made-by-pid1 > /tmp/marker; exec sleep 1000']), 0, 'run -d');
    await waitFor(async () => ((await pm.podman(['exec', name, 'test', '-f', '/tmp/marker'])).code === 0 ? true : undefined));
    const r = await pm.podman(['exec', name, 'sh', '-c', 'echo $((6 * 7)); cat /tmp/marker; exit 5']);
    expectCode(r, 5, 'exec exit 5');
    assert.equal(r.stdout, '42\nmade-by-pid1\n');
    const missing = await pm.podman(['exec', name, '/no/such/command']);
    expectCode(missing, 127, 'exec of a missing command');
    const pid1 = await pm.podman(['exec', name, 'cat', '/proc/1/cmdline']);
    expectCode(pid1, 0, 'exec cat');
    assert.equal(pid1.stdout.split('\0').slice(0, 2).join(' '), 'sleep 1000', 'exec runs inside the container pid namespace');
  });

  test('ps and top list the running container and its process', slow, async (t) => {
    const name = pm.named(t, 'ps');
    expectCode(await pm.run(['-d', '--name', name, IMG, 'sleep', '1000']), 0, 'run -d');
    const ps = await pm.podman(['ps', '--format', '{{.Names}}|{{.Status}}|{{.Command}}']);
    expectCode(ps, 0, 'ps');
    const line = ps.stdout.split('\n').find((l) => l.startsWith(`${name}|`));
    assert.ok(line, `ps lists ${name}: ${ps.stdout}`);
    assert.match(line, /\|Up /);
    assert.match(line, /sleep 1000/);
    const top = await pm.podman(['top', name, 'pid', 'args']);
    expectCode(top, 0, 'top');
    assert.match(top.stdout, /^\s*1\s+sleep 1000\s*$/m, `top shows pid 1 = sleep 1000: ${top.stdout}`);
  });

  test('stop: SIGTERM reaches the container and its handler decides the exit code', slow, async (t) => {
    const name = pm.named(t, 'stop');
    const script = 'trap "echo got TERM; exit 42" TERM; echo ready; while :; do sleep 0.1; done';
    expectCode(await pm.run(['-d', '--name', name, IMG, 'sh', '-c', script]), 0, 'run -d');
    await logsContaining(name, 'ready');
    const started = Date.now();
    expectCode(await pm.podman(['stop', '--time', '20', name]), 0, 'stop');
    assert.ok(Date.now() - started < 15_000, 'stopped by SIGTERM, not by the SIGKILL after the grace period');
    assert.equal(await pm.inspect(name, '.State.Running'), 'false');
    assert.equal(await pm.inspect(name, '.State.ExitCode'), '42');
    assert.match(await logsContaining(name, 'got TERM'), /got TERM/);
  });

  test('kill: a chosen signal is delivered, then SIGKILL ends it with 137', slow, async (t) => {
    const name = pm.named(t, 'kill');
    const script = 'trap "echo got USR1" USR1; echo ready; while :; do sleep 0.1; done';
    expectCode(await pm.run(['-d', '--name', name, IMG, 'sh', '-c', script]), 0, 'run -d');
    await logsContaining(name, 'ready');
    expectCode(await pm.podman(['kill', '--signal', 'USR1', name]), 0, 'kill -s USR1');
    assert.match(await logsContaining(name, 'got USR1'), /got USR1/);
    assert.equal(await pm.inspect(name, '.State.Running'), 'true', 'USR1 was handled, the container lives on');
    expectCode(await pm.podman(['kill', name]), 0, 'kill');
    const state = await waitFor(async () => ((await pm.inspect(name, '.State.Running')) === 'false' ? true : undefined));
    assert.ok(state, 'container stopped after SIGKILL');
    assert.equal(await pm.inspect(name, '.State.ExitCode'), '137');
  });

  test('run -t: the process gets a terminal (tty prints /dev/pts/0)', slow, async () => {
    const r = await pm.run(['--rm', '-t', IMG, 'sh', '-c', 'tty; test -t 0 && test -t 1 && echo both-are-ttys']);
    expectCode(r, 0, 'run -t');
    assert.equal(r.stdout.replace(/\r/g, ''), '/dev/pts/0\nboth-are-ttys\n');
  });

  test('restart: the container process runs again (a bind-mounted log gains a line)', slow, async (t) => {
    const name = pm.named(t, 'restart');
    const data = tempDirFor(t, 'stasis-engine-vol-');
    expectCode(await pm.run(['-d', '--name', name, '-v', `${data}:/data`, IMG, 'sh', '-c', 'echo start >> /data/starts; exec sleep 1000']), 0, 'run -d');
    const starts = () => (fs.existsSync(`${data}/starts`) ? fs.readFileSync(`${data}/starts`, 'utf8') : '');
    assert.equal(await waitFor(() => (starts() === 'start\n' ? starts() : undefined)), 'start\n');
    const pidBefore = await pm.inspect(name, '.State.Pid');
    expectCode(await pm.podman(['restart', '--time', '0', name]), 0, 'restart');
    assert.equal(await waitFor(() => (starts() === 'start\nstart\n' ? starts() : undefined)), 'start\nstart\n');
    assert.equal(await pm.inspect(name, '.State.Running'), 'true');
    assert.notEqual(await pm.inspect(name, '.State.Pid'), pidBefore, 'a new process');
  });

  test('volume: a host dir bind-mounted in is readable and writes show up on the host', slow, async (t) => {
    const data = tempDirFor(t, 'stasis-engine-vol-');
    fs.writeFileSync(path.join(data, 'from-host'), 'written on the host\n');
    const r = await pm.run(['--rm', '-v', `${data}:/data`, IMG, 'sh', '-c', 'cat /data/from-host; echo written inside > /data/from-container']);
    expectCode(r, 0, 'run with -v');
    assert.equal(r.stdout, 'written on the host\n');
    assert.equal(fs.readFileSync(path.join(data, 'from-container'), 'utf8'), 'written inside\n');
  });

  test('--read-only: writing the root fails, the /tmp tmpfs Podman adds is writable', slow, async () => {
    const r = await pm.run(['--rm', '--read-only', IMG, 'sh', '-c', 'touch /rootfile; echo touch=$?; touch /tmp/ok && echo tmp=ok']);
    expectCode(r, 0, 'run --read-only');
    assert.match(r.stdout, /^touch=1\ntmp=ok\n$/);
    assert.match(r.stderr, /read-only file system/i);
  });

  test('--user, --env and --workdir are what the process sees', slow, async () => {
    const r = await pm.run(['--rm', '--user', '1000:1000', '--env', 'GREETING=hi there', '--workdir', '/www', IMG, 'sh', '-c', 'id -u; id -g; echo "$GREETING"; pwd']);
    expectCode(r, 0, 'run --user --env --workdir');
    assert.equal(r.stdout, '1000\n1000\nhi there\n/www\n');
    const byName = await pm.run(['--rm', '--user', 'tester', IMG, 'id', '-un']);
    expectCode(byName, 0, 'run --user tester');
    assert.equal(byName.stdout, 'tester\n');
  });

  test('port publish on 127.0.0.1: busybox httpd inside answers the host', slow, async (t) => {
    const name = pm.named(t, 'web');
    const port = await freePort();
    // slirp4netns with its own port handler: no bridge, no iptables rules on the shared host.
    const r = await pm.run(['-d', '--name', name, '--network', 'slirp4netns:port_handler=slirp4netns', '-p', `127.0.0.1:${port}:8080`, IMG, 'httpd', '-f', '-p', '8080', '-h', '/www']);
    expectCode(r, 0, 'run -d -p');
    const body = await waitFor(() => httpGet(`http://127.0.0.1:${port}/index.html`), 15_000, 250);
    assert.equal(body, 'hello from busybox httpd\n');
  });
});

/** GET a URL; the body on 200, undefined on any failure (so waitFor retries). */
function httpGet(url: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(res.statusCode === 200 ? body : undefined));
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
  });
}
