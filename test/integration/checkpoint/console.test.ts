/**
 * A terminal container: checkpoint with its pty, restore with --console-socket, and the new pty master
 * arrives on the socket (CRIU's orphan-pts-master) and carries the restored shell's output.
 * The console socket server is a few lines of Python (Node cannot receive fds without the addon).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World, skipReason, waitFor } from './harness';

const hasPython = spawnSync('python3', ['-c', 'import socket; socket.recv_fds'], { stdio: 'ignore' }).status === 0;
const skip = skipReason() ?? (hasPython ? undefined : 'needs python3 for the console socket server');

/** Accepts connections forever; every pty master received is read into `out` (appended). */
const SERVER = `
import os, socket, sys, threading
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(4)
def pump(fd):
    with open(out, 'ab', buffering=0) as f:
        while True:
            try:
                data = os.read(fd, 4096)
            except OSError:
                return
            if not data:
                return
            f.write(data)
while True:
    c, _ = s.accept()
    msg, fds, _, _ = socket.recv_fds(c, 1024, 4)
    c.close()
    for fd in fds:
        threading.Thread(target=pump, args=(fd,), daemon=True).start()
`;

test('--console-socket: the restored terminal container gets a new pty that carries its output', { skip }, async (t) => {
  const w = new World('i=0; while true; do i=$((i+1)); echo $i > /tmp/count; echo tick $i; usleep 50000; done', (spec) => {
    spec.process.terminal = true;
  });
  const sock = path.join(w.dir, 'console.sock');
  const out = path.join(w.dir, 'console.out');
  const server = spawn('python3', ['-c', SERVER, sock, out], { stdio: 'ignore' });
  t.after(async () => {
    server.kill('SIGKILL');
    await w.cleanup();
  });
  await waitFor('the console socket', () => fs.existsSync(sock));
  const id = w.id('tty');
  w.ok(['run', '-d', '--console-socket', sock, '--bundle', w.bundle, id]);
  await waitFor('output on the first pty', () => fs.existsSync(out) && fs.readFileSync(out, 'utf8').includes('tick 3'));
  const images = w.images('images');
  w.ok(['checkpoint', '--image-path', images, id]);
  const atDump = w.count();

  const noSocket = w.stasis(['restore', '-d', '--bundle', w.bundle, '--image-path', images, id]);
  assert.equal(noSocket.status, 1);
  assert.match(noSocket.stderr, /--console-socket is required/);

  w.ok(['restore', '-d', '--console-socket', sock, '--bundle', w.bundle, '--image-path', images, id]);
  const want = `tick ${atDump + 3}`;
  await waitFor(`"${want}" on the new pty`, () => fs.readFileSync(out, 'utf8').includes(want));
  assert.equal(w.state(id)?.status, 'running');
});
