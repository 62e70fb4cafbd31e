/** The stasis_native addon (skipped when it is not built; set STASIS_NATIVE to a gcc-built copy). */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native, nativeAddonPath, narrowNative } from '../../../src/native';

function skipReason(): string | undefined {
  try {
    nativeAddonPath();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
const skip = skipReason();

/** Asserts fn throws the addon's errno error with this code and syscall. */
function throwsErrno(fn: () => unknown, code: string, syscall: string): void {
  assert.throws(fn, (err: NodeJS.ErrnoException) => {
    assert.equal(err.code, code);
    assert.equal(err.syscall, syscall);
    assert.equal(typeof err.errno, 'number');
    assert.match(err.message, new RegExp(`^${syscall}: [a-z]`));
    return true;
  });
}

test('narrowNative names what a stale addon lacks', () => {
  assert.throws(() => narrowNative({ flock() {} }, 'x.node'), /^Error: x\.node: addon lacks seqpacketPair, .*LOCK_UN \(rebuild it\)$/);
  assert.throws(() => narrowNative(null, 'x.node'), /did not export an object/);
});

test('nativeAddonPath honours STASIS_NATIVE and explains a missing build', () => {
  assert.equal(nativeAddonPath({ STASIS_NATIVE: '/x/y.node' }), '/x/y.node');
  assert.throws(() => nativeAddonPath({}, '/'), /stasis_native addon not found/);
});

test('seqpacket messages keep their boundaries and carry fds', { skip }, () => {
  const n = native();
  const [a, b] = n.seqpacketPair();
  const file = fs.openSync('/proc/self/status', 'r');
  try {
    assert.equal(n.sendMsg(a, Buffer.from('first'), [file]), 5);
    n.sendMsg(a, Buffer.from('second'));
    const m1 = n.recvMsg(b, 100);
    assert.equal(m1.data.toString(), 'first');
    assert.equal(m1.fds.length, 1);
    assert.equal(fs.readlinkSync(`/proc/self/fd/${m1.fds[0]}`), fs.readlinkSync(`/proc/self/fd/${file}`));
    fs.closeSync(m1.fds[0]);
    const m2 = n.recvMsg(b, 100);
    assert.equal(m2.data.toString(), 'second');
    assert.deepEqual(m2.fds, []);

    n.sendMsg(a, Buffer.alloc(50));
    throwsErrno(() => n.recvMsg(b, 10), 'EMSGSIZE', 'recvmsg');

    fs.closeSync(a);
    const eof = n.recvMsg(b, 100);
    assert.equal(eof.data.length, 0);
    assert.deepEqual(eof.fds, []);
  } finally {
    fs.closeSync(b);
    fs.closeSync(file);
  }
});

test('flock: a second exclusive non-blocking lock fails with EAGAIN until unlocked', { skip }, () => {
  const n = native();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-native-'));
  const f1 = fs.openSync(path.join(dir, 'lock'), 'w');
  const f2 = fs.openSync(path.join(dir, 'lock'), 'r');
  try {
    n.flock(f1, n.LOCK_EX);
    throwsErrno(() => n.flock(f2, n.LOCK_EX | n.LOCK_NB), 'EAGAIN', 'flock');
    n.flock(f1, n.LOCK_UN);
    n.flock(f2, n.LOCK_SH | n.LOCK_NB);
    throwsErrno(() => n.flock(9999, n.LOCK_SH), 'EBADF', 'flock');
  } finally {
    fs.closeSync(f1);
    fs.closeSync(f2);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('clearCloexec lets a child inherit the fd', { skip }, () => {
  const n = native();
  const [a, b] = n.seqpacketPair();
  try {
    const probe = () => spawnSync('/bin/sh', ['-c', `[ -e /proc/self/fd/${a} ]`]).status;
    assert.equal(probe(), 1, 'socketpair fds should start close-on-exec');
    n.clearCloexec(a);
    assert.equal(probe(), 0);
    throwsErrno(() => n.clearCloexec(9999), 'EBADF', 'fcntl');
  } finally {
    fs.closeSync(a);
    fs.closeSync(b);
  }
});

test('pidfdOpen and waitPid report errno errors', { skip }, () => {
  const n = native();
  const fd = n.pidfdOpen(process.pid);
  assert.ok(fd > 2);
  fs.closeSync(fd);
  throwsErrno(() => n.pidfdOpen(0x3fffffff), 'ESRCH', 'pidfd_open');
  throwsErrno(() => n.waitPid(0x3fffffff, true), 'ECHILD', 'waitpid');
});

test('sendFdToUnixSocket connects and sends the name with the fd', { skip }, async () => {
  const n = native();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-native-'));
  const sock = path.join(dir, 'console.sock');
  let resolveText: (text: string) => void = () => {};
  const received = new Promise<string>((resolve) => (resolveText = resolve));
  const server = net.createServer((conn) => {
    let text = '';
    conn.on('data', (d) => (text += d.toString()));
    conn.on('end', () => {
      server.close();
      resolveText(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  const fd = fs.openSync('/dev/null', 'r');
  try {
    n.sendFdToUnixSocket(sock, fd, '/dev/pts/7');
    assert.equal(await received, '/dev/pts/7');
    throwsErrno(() => n.sendFdToUnixSocket(path.join(dir, 'nope'), fd, 'x'), 'ENOENT', 'connect');
  } finally {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
