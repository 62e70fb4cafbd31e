/**
 * restore --lazy-pages: the restored tasks start with their memory registered with userfaultfd and a
 * `criu lazy-pages` daemon fills each page when it is first touched (and the rest in the background). The
 * daemon gets its pages from the dumping CRIU's page server (a `checkpoint --lazy-pages` still running) or,
 * for a normal dump, from the images.
 *
 * The daemon must share the restore's work directory: the restoring CRIU finds it through
 * `lazy-pages.socket` there. It is started with --daemon, so its first process exits once that socket
 * exists: when the spawn returns 0 the restore may begin. It outlives `restore -d` and exits by itself when
 * every page has been delivered; its pid is in the work directory in case a failed restore must stop it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { logErrorLines, parsePageServer } from '../criu';
import { RuntimeError } from './errors';
import { runCriuWithCache } from './criu-start';

/** Log and pid file names of the daemon, in the work directory. */
export const LAZY_DAEMON_LOG = 'lazy-pages.log';
export const LAZY_DAEMON_PIDFILE = 'lazy-pages.pid';

/**
 * Where the daemon asks for pages: the --page-server given to restore, else the address the checkpoint
 * served on ("any address" becomes loopback, the same host), else undefined: read them from the images.
 * Pure.
 */
export function lazyPageSource(restoreFlag: string | undefined, dumpedWith: string | undefined): { address: string; port: number } | undefined {
  if (restoreFlag !== undefined) return parsePageServer(restoreFlag);
  if (!dumpedWith) return undefined;
  const ps = parsePageServer(dumpedWith);
  if (ps.address === '' || ps.address === '0.0.0.0') return { ...ps, address: '127.0.0.1' };
  if (ps.address === '::') return { ...ps, address: '::1' };
  return ps;
}

/** The daemon's command line (after the criu binary). Pure. */
export function lazyDaemonArgs(imagesDir: string, workDir: string, source: { address: string; port: number } | undefined): string[] {
  const args = ['lazy-pages', '--images-dir', imagesDir, '--work-dir', workDir, '--daemon'];
  args.push('--pidfile', LAZY_DAEMON_PIDFILE, '-o', LAZY_DAEMON_LOG, '-v4');
  if (source) args.push('--page-server', '--address', source.address, '--port', String(source.port));
  return args;
}

/** A running daemon, as far as restore needs to know. */
export interface LazyDaemon {
  /** Stops it (a restore that failed has no use for it); quiet when it is gone already. */
  stop(): void;
}

/** Starts the daemon and resolves once its socket is ready; rejects with the log's Error lines. */
export async function startLazyDaemon(
  criuPath: string,
  imagesDir: string,
  workDir: string,
  source: { address: string; port: number } | undefined,
): Promise<LazyDaemon> {
  fs.mkdirSync(workDir, { recursive: true, mode: 0o700 });
  const logPath = path.join(workDir, LAZY_DAEMON_LOG);
  // A socket or pid file left by an earlier daemon would make the new one fail to bind, or us kill a stranger.
  for (const stale of ['lazy-pages.socket', LAZY_DAEMON_PIDFILE]) fs.rmSync(path.join(workDir, stale), { force: true });
  const args = lazyDaemonArgs(imagesDir, workDir, source);
  // With CRIU's kernel-feature cache (criu-start.ts) the daemon skips its 30-90 ms of kernel probing.
  let code: number | null | undefined = await runCriuWithCache(criuPath, args, [imagesDir, workDir], workDir).catch(() => undefined);
  code ??= await new Promise<number | null>((resolve) => {
    // Loaded on use: child_process (with net and stream) is ~3 ms of start-up that a plain restore never needs.
    const { spawn } = require('node:child_process') as typeof import('node:child_process');
    const child = spawn(criuPath, args, { stdio: 'ignore', cwd: workDir });
    child.once('error', () => resolve(null));
    child.once('exit', (c) => resolve(c));
  });
  if (code !== 0) {
    const errors = logErrorLines(logPath);
    const what = errors.length > 0 ? `: "${errors.slice(-4).join(' | ')}"` : '';
    throw new RuntimeError('system', `restore: the criu lazy-pages daemon did not start (exit ${code})${what} (log ${logPath})`);
  }
  const pidFile = path.join(workDir, LAZY_DAEMON_PIDFILE);
  return {
    stop() {
      try {
        const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
        if (pid > 0) process.kill(pid, 'SIGKILL');
      } catch {
        /* gone already */
      }
    },
  };
}
