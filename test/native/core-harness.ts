/**
 * Shared pieces of the helper core tests: root / binary gating, temp dirs cleaned up by t.after, output
 * files handed to the container as stdio, and a raw runner for plans launch() cannot express
 * (malformed frames, PARENT_EXIT where the helper exits before `ready`).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import { helperPath } from '../../src/helper/paths';
import { Frame, FrameDecoder, encodeFrame, type HelperEvent } from '../../src/helper/protocol';

/** Why the core tests cannot run here, or undefined when they can. */
export function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'the helper core tests need root (namespaces, setuid, capabilities)';
  if (!fs.existsSync(helperPath())) return `no helper binary at ${helperPath()}: build it and set STASIS_HELPER`;
  return undefined;
}

/** A fresh temp dir, removed when the test ends (pass or fail). */
export function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-core-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** An output file opened for writing (to pass as the container's stdout/stderr) and a reader for it. */
export function outputFile(t: TestContext, dir: string, name = 'out'): { fd: number; path: string; read: () => string } {
  const file = path.join(dir, name);
  const fd = fs.openSync(file, 'w');
  t.after(() => {
    try {
      fs.closeSync(fd);
    } catch {
      /* already closed */
    }
  });
  return { fd, path: file, read: () => fs.readFileSync(file, 'utf8') };
}

/** Kills a process if it is still there (cleanup of containers a failing test left behind). */
export function killLater(t: TestContext, pid: () => number | undefined): void {
  t.after(() => {
    const p = pid();
    if (p === undefined) return;
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* already gone */
    }
  });
}

/** Resolves when cond() is true, rejects after timeoutMs. */
export async function waitFor(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What a raw run produced: every event in order and the helper's exit code. */
export interface RawResult {
  events: HelperEvent[];
  code: number | null;
  stderr: string;
}

/**
 * Spawns the helper, writes `frames` (already encoded) on ctl, and collects events until ctl is closed
 * by every holder and the helper has exited. A `sync` event is answered with CONTINUE (ABORT with
 * `abort`). With `end`, our
 * side of ctl is shut down after the frames (the helper then reads EOF).
 */
export function runRaw(frames: Buffer, opts: { end?: boolean; abort?: boolean; timeoutMs?: number } = {}): Promise<RawResult> {
  const timeoutMs = opts.timeoutMs ?? 10000;
  const helper = spawn(helperPath(), ['run'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], env: {} });
  const ctl = helper.stdio[3] as unknown as NodeJS.ReadWriteStream;
  (helper.stdio[4] as NodeJS.ReadableStream).resume();
  const decoder = new FrameDecoder();
  const events: HelperEvent[] = [];
  let stderr = '';
  helper.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  ctl.on('error', () => undefined);
  ctl.on('data', (chunk: Buffer) => {
    for (const ev of decoder.push(chunk)) {
      events.push(ev);
      if (ev.type === 'sync') ctl.write(encodeFrame(opts.abort ? Frame.ABORT : Frame.CONTINUE));
    }
  });
  const ctlEnd = new Promise<void>((r) => ctl.on('close', () => r()));
  const exited = new Promise<number | null>((r) => helper.on('exit', (code) => r(code)));
  ctl.write(frames);
  if (opts.end) ctl.end();
  const timer = new Promise<never>((_, reject) =>
    setTimeout(() => {
      helper.kill('SIGKILL');
      reject(new Error('raw helper run timed out'));
    }, timeoutMs).unref(),
  );
  return Promise.race([Promise.all([ctlEnd, exited]).then(([, code]) => ({ events, code, stderr })), timer]);
}

/** Builds a plan payload by hand: header plus raw ops (code, args bytes, optional reserved value). */
export function rawPlan(ops: Array<{ code: number; args: Buffer; reserved?: number }>, version = 1, count?: number): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(version, 0);
  head.writeUInt32LE(count ?? ops.length, 4);
  const parts: Buffer[] = [head];
  for (const op of ops) {
    const h = Buffer.alloc(8);
    h.writeUInt16LE(op.code, 0);
    h.writeUInt16LE(op.reserved ?? 0, 2);
    h.writeUInt32LE(op.args.length, 4);
    parts.push(h, op.args);
  }
  return Buffer.concat(parts);
}

/** Parses /proc/<pid>/status text into key → value. */
export function parseStatus(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return m;
}
