/**
 * Hooks that run in the runtime namespace (prestart, createRuntime, poststart, poststop): the OCI state goes
 * on stdin, `timeout` kills a hook that hangs. createContainer and startContainer hooks run inside the
 * container and are executed by the helper (RUN_HOOK), with the same state JSON as payload.
 */
import type { Hook } from '../spec/types';
import { RuntimeError } from './errors';

/** Runs hooks in order; the first failure throws (prestart, createRuntime: a failure aborts create). */
export async function runHooks(phase: string, hooks: readonly Hook[] | undefined, state: object): Promise<void> {
  for (const hook of hooks ?? []) await runHook(phase, hook, JSON.stringify(state));
}

/**
 * Runs every hook even when some fail (poststart, poststop: the spec says a failure is a warning and the
 * remaining hooks and the lifecycle go on). Returns one message per failed hook.
 */
export async function runHooksWarn(phase: string, hooks: readonly Hook[] | undefined, state: object): Promise<string[]> {
  const failures: string[] = [];
  for (const hook of hooks ?? []) {
    try {
      await runHook(phase, hook, JSON.stringify(state));
    } catch (err) {
      failures.push((err as Error).message);
    }
  }
  return failures;
}

function runHook(phase: string, hook: Hook, stdin: string): Promise<void> {
  // Loaded on first use: node:child_process pulls in net and stream, a few ms of every start-up otherwise.
  const { spawn } = require('node:child_process') as typeof import('node:child_process');
  return new Promise((resolve, reject) => {
    const [argv0, ...args] = hook.args && hook.args.length ? hook.args : [hook.path];
    const child = spawn(hook.path, args, {
      argv0,
      env: envObject(hook.env),
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    if (hook.timeout !== undefined && hook.timeout > 0) {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new RuntimeError('hook-failed', `${phase} hook ${hook.path} timed out after ${hook.timeout}s`));
      }, hook.timeout * 1000);
    }
    child.stderr!.on('data', (c: Buffer) => {
      if (stderr.length < 4096) stderr += c.toString('utf8');
    });
    child.stdin!.on('error', () => {
      /* the hook may not read its stdin */
    });
    child.stdin!.end(stdin);
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(new RuntimeError('hook-failed', `${phase} hook ${hook.path}: ${err.message}`));
    });
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (code === 0) return resolve();
      const why = signal ? `killed by ${signal}` : `exit status ${code}`;
      const detail = stderr.trim().split('\n').pop();
      reject(new RuntimeError('hook-failed', `${phase} hook ${hook.path} failed: ${why}${detail ? `: ${detail}` : ''}`));
    });
  });
}

function envObject(env: readonly string[] | undefined): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const kv of env ?? []) {
    const eq = kv.indexOf('=');
    if (eq > 0) out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}
