/**
 * A console-socket receiver for `terminal: true` tests. Node cannot receive SCM_RIGHTS, so a tiny Python 3
 * program (socket.recv_fds) listens on the unix socket, takes the pty master stasis sends, and copies what
 * the container writes to the terminal until the slave side is closed (EIO). It reports one JSON line:
 * `{"isatty": bool, "payload": str, "output": str}`.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const RECEIVER = String.raw`
import json, os, socket, sys, time
path, limit = sys.argv[1], float(sys.argv[2])
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
print("ready", flush=True)
srv.settimeout(limit)
conn, _ = srv.accept()
msg, fds, _, _ = socket.recv_fds(conn, 4096, 4)
conn.close()
out = b""
deadline = time.time() + limit
master = fds[0]
while time.time() < deadline:
    try:
        chunk = os.read(master, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
print(json.dumps({"isatty": os.isatty(master), "payload": msg.decode(errors="replace"), "output": out.decode(errors="replace")}), flush=True)
`;

/** What the receiver saw. */
export interface ConsoleCapture {
  isatty: boolean;
  payload: string;
  output: string;
}

/** A listening console socket; `result` settles when the container's terminal closes. */
export interface ConsoleReceiver {
  socketPath: string;
  result: Promise<ConsoleCapture>;
  /** kills the receiver if it is still running */
  close(): void;
}

/** True when python3 with socket.recv_fds (3.9+) is available. */
export function canReceiveConsole(): boolean {
  const r = require('node:child_process').spawnSync('python3', ['-c', 'import socket; socket.recv_fds']);
  return r.status === 0;
}

/** Starts a receiver listening at `dir/console.sock`; resolves once it listens. */
export async function startConsoleReceiver(dir: string, limitSeconds = 20): Promise<ConsoleReceiver> {
  const socketPath = path.join(dir, 'console.sock');
  fs.rmSync(socketPath, { force: true });
  const child = spawn('python3', ['-c', RECEIVER, socketPath, String(limitSeconds)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      if (out.startsWith('ready\n')) resolve();
    });
    child.on('exit', () => reject(new Error(`console receiver exited early: ${err}`)));
  });
  const result = new Promise<ConsoleCapture>((resolve, reject) => {
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code === 0 && line) resolve(JSON.parse(line) as ConsoleCapture);
      else reject(new Error(`console receiver failed (exit ${code}): ${err}`));
    });
  });
  result.catch(() => undefined);
  await ready;
  return {
    socketPath,
    result,
    close: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
