/**
 * Process attributes checked from inside the container process: user and groups, capability sets,
 * rlimits, umask, no_new_privs, personality, cwd, and the console (pty) path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { launch } from '../../src/helper/launcher';
import { ParentMode, str, strlist, u32, u64, type Step } from '../../src/helper/protocol';
import { killLater, outputFile, parseStatus, skipReason, tempDir } from './core-harness';

const skip = skipReason();
const PATH = '/usr/local/bin:/usr/bin:/bin';
const clone: Step = { op: 'CLONE', args: [u64(0), u32(ParentMode.WAIT)], what: 'clone' };
const run = (argv: string[]): Step[] => [
  { op: 'LOOKUP_EXEC', args: [str(argv[0]), str(PATH)], what: 'find' },
  { op: 'EXEC', args: [strlist(argv), strlist([`PATH=${PATH}`])], what: 'exec' },
];
const CAP_CHOWN = 0;
const CAP_KILL = 5;
const CAP_NET_BIND_SERVICE = 10;
const CAP_SETPCAP = 8;
const bit = (n: number) => 1n << BigInt(n);
const hex = (v: bigint) => v.toString(16).padStart(16, '0');

test('SETUSER and CAPS: ids, groups and the five capability sets as seen by the process', { skip }, async (t) => {
  const dir = tempDir(t);
  const out = outputFile(t, dir);
  const bounding = bit(CAP_CHOWN) | bit(CAP_KILL) | bit(CAP_NET_BIND_SERVICE);
  const ambient = bit(CAP_KILL) | bit(CAP_NET_BIND_SERVICE);
  const res = await launch(
    [
      clone,
      { op: 'KEEPCAPS', args: [u32(1)], what: 'keep caps' },
      { op: 'SETUSER', args: [u32(1000), u32(1001), strlist(['1002', '1003']), u32(1)], what: 'set user' },
      { op: 'KEEPCAPS', args: [u32(0)], what: 'drop keepcaps' },
      // CAPS comes after SETUSER: it must still manage to drop from the bounding set.
      { op: 'CAPS', args: [u64(bounding), u64(bounding), u64(bounding), u64(bounding), u64(ambient)], what: 'caps' },
      ...run(['cat', '/proc/self/status']),
    ],
    { stdio: ['ignore', out.fd, out.fd] },
  );
  killLater(t, () => res.pid);
  assert.equal(res.exitStatus, 0, out.read());
  const st = parseStatus(out.read());
  assert.equal(st.get('Uid'), '1000\t1000\t1000\t1000');
  assert.equal(st.get('Gid'), '1001\t1001\t1001\t1001');
  assert.equal(st.get('Groups'), '1002 1003');
  assert.equal(st.get('CapBnd'), hex(bounding));
  assert.equal(st.get('CapAmb'), hex(ambient));
  assert.equal(st.get('CapInh'), hex(bounding));
  // A non-root exec without file caps keeps exactly the ambient set as permitted and effective.
  assert.equal(st.get('CapPrm'), hex(ambient));
  assert.equal(st.get('CapEff'), hex(ambient));
});

test('SETUSER with set_groups 0 leaves the supplementary groups alone; bad gids are refused', { skip }, async (t) => {
  const dir = tempDir(t);
  const out = outputFile(t, dir);
  const res = await launch(
    [
      clone,
      { op: 'SETUSER', args: [u32(0), u32(0), strlist(['4242']), u32(1)], what: 'groups' },
      { op: 'SETUSER', args: [u32(2000), u32(2000), strlist(['9999']), u32(0)], what: 'user only' },
      ...run(['cat', '/proc/self/status']),
    ],
    { stdio: ['ignore', out.fd, out.fd] },
  );
  killLater(t, () => res.pid);
  const st = parseStatus(out.read());
  assert.equal(st.get('Uid'), '2000\t2000\t2000\t2000');
  assert.equal(st.get('Groups'), '4242');
  assert.equal(st.get('CapEff'), hex(0n), 'without keepcaps the caps go with uid 0');

  await assert.rejects(
    launch([{ op: 'SETUSER', args: [u32(0), u32(0), strlist(['12x']), u32(1)], what: 'groups' }]),
    /additional gid 12x is not a decimal id/,
  );
});

test('CAPS as root keeps the requested sets, including CAP_SETPCAP only when asked', { skip }, async (t) => {
  const dir = tempDir(t);
  const out = outputFile(t, dir);
  const set = bit(CAP_CHOWN) | bit(CAP_SETPCAP);
  const res = await launch([clone, { op: 'CAPS', args: [u64(set), u64(set), u64(set), u64(0n), u64(0n)], what: 'caps' }, ...run(['cat', '/proc/self/status'])], {
    stdio: ['ignore', out.fd, out.fd],
  });
  killLater(t, () => res.pid);
  const st = parseStatus(out.read());
  assert.equal(st.get('CapBnd'), hex(set));
  assert.equal(st.get('CapEff'), hex(set));
  assert.equal(st.get('CapPrm'), hex(set));
  assert.equal(st.get('CapInh'), hex(0n));
  assert.equal(st.get('CapAmb'), hex(0n));
});

test('SETRLIMIT, UMASK, NO_NEW_PRIVS, PERSONALITY and CHDIR reach the process', { skip }, async (t) => {
  const dir = tempDir(t);
  const out = outputFile(t, dir);
  const RLIMIT_NOFILE = 7;
  const PER_LINUX32 = 0x0008;
  const res = await launch(
    [
      clone,
      { op: 'SETRLIMIT', args: [u32(RLIMIT_NOFILE), u64(321), u64(654)], what: 'rlimit' },
      { op: 'UMASK', args: [u32(0o027)], what: 'umask' },
      { op: 'NO_NEW_PRIVS', args: [], what: 'nnp' },
      { op: 'PERSONALITY', args: [u32(PER_LINUX32)], what: 'personality' },
      { op: 'CHDIR', args: [str(dir)], what: 'cwd' },
      ...run(['sh', '-c', 'ulimit -Sn; ulimit -Hn; umask; grep NoNewPrivs /proc/self/status; uname -m; pwd']),
    ],
    { stdio: ['ignore', out.fd, out.fd] },
  );
  killLater(t, () => res.pid);
  assert.equal(res.exitStatus, 0, out.read());
  assert.deepEqual(out.read().split('\n'), ['321', '654', '0027', 'NoNewPrivs:\t1', 'i686', dir, '']);
  await assert.rejects(launch([{ op: 'UMASK', args: [u32(0o1777)], what: 'umask' }]), /umask 1777 has bits outside 0777/);
});

test('CONSOLE: the socket receives the pty, the process gets it as a controlling tty of the given size', { skip }, async (t) => {
  const dir = tempDir(t);
  const out = path.join(dir, 'tty-report');
  const sock = path.join(dir, 'console.sock');
  const connections: net.Socket[] = [];
  // Paused sockets leave the message (and the master fd riding on it) queued, so the pty stays open
  // while the process runs; Node cannot receive SCM_RIGHTS, reading would just drop the fd.
  const server = net.createServer({ pauseOnConnect: true }, (c) => connections.push(c));
  await new Promise<void>((r) => server.listen(sock, r));
  t.after(() => {
    for (const c of connections) c.destroy();
    server.close();
  });
  const script = `o1=$(readlink /proc/$$/fd/1); o2=$(readlink /proc/$$/fd/2); { test -t 0 && echo stdin-is-tty; echo $o1; echo $o2; stty size; ps -o tty= -p $$ | grep -q pts && echo ctty; } > ${out} 2>&1`;
  const res = await launch(
    [
      { op: 'CONNECT_CONSOLE', args: [str(sock)], what: 'connect to the console socket' },
      clone,
      { op: 'SETSID', args: [], what: 'new session' },
      { op: 'CONSOLE', args: [u32(24), u32(100)], what: 'set up the console' },
      ...run(['sh', '-c', script]),
    ],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  killLater(t, () => res.pid);
  assert.equal(res.exitStatus, 0);
  assert.equal(connections.length, 1, 'exactly one connection to the console socket');
  const conn = connections[0];
  const data = await new Promise<string>((resolve) => {
    let text = '';
    conn.on('data', (d: Buffer) => (text += d.toString()));
    conn.on('end', () => resolve(text));
    conn.resume();
  });
  assert.match(data, /^\/dev\/pts\/\d+$/, 'one message carrying the pty name');
  // stdout and stderr are that very pty.
  assert.equal(fs.readFileSync(out, 'utf8'), `stdin-is-tty\n${data}\n${data}\n24 100\nctty\n`);
});

test('CONSOLE without CONNECT_CONSOLE, and a console socket nobody listens on, are errors', { skip }, async (t) => {
  await assert.rejects(launch([{ op: 'CONSOLE', args: [u32(0), u32(0)], what: 'console' }]), /no console socket: CONNECT_CONSOLE must come first/);
  const dir = tempDir(t);
  await assert.rejects(
    launch([{ op: 'CONNECT_CONSOLE', args: [str(path.join(dir, 'nobody.sock'))], what: 'connect' }]),
    /connect console socket .*nobody\.sock: No such file or directory/,
  );
});

test('CONNECT_CONSOLE reaches a socket whose path is longer than sun_path', { skip }, async (t) => {
  const dir = tempDir(t);
  let deep = dir;
  while (deep.length < 150) deep = path.join(deep, 'a-rather-long-directory-name');
  fs.mkdirSync(deep, { recursive: true });
  const sock = path.join(deep, 'console.sock');
  // Node cannot bind such a path either: bind relative to the directory through process.chdir.
  const cwd = process.cwd();
  process.chdir(deep);
  const server = net.createServer({ pauseOnConnect: true }, (c) => c.destroy());
  try {
    await new Promise<void>((r) => server.listen('console.sock', r));
  } finally {
    process.chdir(cwd);
  }
  t.after(() => server.close());
  let connected = false;
  server.on('connection', () => (connected = true));
  const res = await launch([{ op: 'CONNECT_CONSOLE', args: [str(sock)], what: 'connect' }, { op: 'READY', args: [], what: 'ready' }]);
  assert.equal(res.outcome, 'ready');
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(connected);
});
