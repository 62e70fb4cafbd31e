/**
 * What checkpoint and restore share about CRIU itself: finding the binary, refusing flags this host or
 * this CRIU cannot honour (one line naming what is missing), and turning CRIU errors into user errors.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLONE_NEWNET, CriuError, CriuOptionError, criuBinary, probeFeatures, version } from '../criu';
import type { CriuFeatures, CriuOpts } from '../criu/types';
import type { Context } from '../cli/context';
import { RuntimeError } from './errors';
import { startCriu, type CriuNetns, type CriuStart } from './criu-start';

/** CRIU below this cannot dump on kernels ≥ 6.13 (vvar split) or TCP on ≥ 6.16; 4.2 is what stasis tests. */
export const MIN_CRIU_VERSION = 40200;
/** CRIU's lazy-pages transfer asks for pipes of 4 MiB (checkpoint.md §7.3). */
export const LAZY_PIPE_BYTES = 4 * 1024 * 1024;

function executable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The CRIU binary to use: --criu, else $STASIS_CRIU / the installed one / `criu` in PATH. Throws when absent. */
export function resolveCriu(ctx: Pick<Context, 'criu'>, env: NodeJS.ProcessEnv = process.env): string {
  if (ctx.criu) {
    const abs = path.resolve(ctx.criu);
    if (!executable(abs)) throw new RuntimeError('unsupported', `criu not found: --criu ${ctx.criu} is not an executable file`);
    return abs;
  }
  const bin = criuBinary(env);
  if (bin.includes('/')) {
    if (!executable(bin)) throw new RuntimeError('unsupported', `criu not found: ${bin} is not an executable file`);
    return bin;
  }
  for (const dir of (env.PATH ?? '').split(':')) {
    if (dir && executable(path.join(dir, bin))) return path.join(dir, bin);
  }
  throw new RuntimeError('unsupported', 'criu not found: install it (scripts/install-criu.sh) or pass --criu PATH');
}

/** Checks CRIU's version over RPC; an old CRIU is refused with its version and the one needed. */
export async function requireCriuVersion(criuPath: string): Promise<void> {
  let v;
  try {
    v = await version({ criuPath });
  } catch (err) {
    throw new RuntimeError('unsupported', `criu at ${criuPath} does not answer: ${(err as Error).message}`);
  }
  if (v.number < MIN_CRIU_VERSION) {
    throw new RuntimeError('unsupported', `criu ${v.text} is too old: stasis needs criu 4.2 or newer on this kernel`);
  }
}

/** Host facts the flag checks need, injectable for unit tests. */
export interface LazyPagesHost {
  pipeMaxSize(): number;
  hasCapSysResource(): boolean;
}

/** The real host: /proc/sys/fs/pipe-max-size and the effective capability set of this process. */
export const realLazyPagesHost: LazyPagesHost = {
  pipeMaxSize: () => Number(fs.readFileSync('/proc/sys/fs/pipe-max-size', 'utf8').trim()),
  hasCapSysResource: () => {
    const m = /^CapEff:\s*([0-9a-f]+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    // CAP_SYS_RESOURCE is capability 24.
    return m ? (BigInt(`0x${m[1]}`) >> 24n) & 1n ? true : false : false;
  },
};

/**
 * Why lazy pages cannot work here (pure given the host), or undefined. stasis never raises the sysctl
 * itself: it is a host-wide setting, the administrator's to change.
 */
export function lazyPagesObstacle(host: LazyPagesHost): string | undefined {
  if (host.hasCapSysResource() || host.pipeMaxSize() >= LAZY_PIPE_BYTES) return undefined;
  return (
    `lazy-pages: fs.pipe-max-size is ${host.pipeMaxSize()} but criu's lazy page transfer needs ${LAZY_PIPE_BYTES} ` +
    `(sysctl fs.pipe-max-size=${LAZY_PIPE_BYTES})`
  );
}

/** Kernel features that flags need, checked with CRIU; throws one line per the first missing feature. */
export async function requireFeatures(criuPath: string, want: CriuFeatures, flag: string): Promise<void> {
  if (!Object.values(want).some(Boolean)) return;
  const have = await probeFeatures(want, { criuPath });
  if (want.memTrack && !have.memTrack) {
    throw new RuntimeError('unsupported', `${flag}: this kernel has no memory change tracking (soft-dirty, CONFIG_MEM_SOFT_DIRTY), which pre-dump images need`);
  }
  if (want.lazyPages && !have.lazyPages) {
    throw new RuntimeError('unsupported', 'lazy-pages: this kernel has no non-cooperative userfaultfd');
  }
}

/** A flag value CRIU cannot take becomes a usage error; a CRIU failure keeps its quoted log lines. */
export function criuUserError(err: unknown): unknown {
  if (err instanceof CriuOptionError) return new RuntimeError('usage', `--${err.message}`);
  if (err instanceof CriuError) return new RuntimeError('system', err.message);
  return err;
}

/**
 * CRIU options for a pristine network namespace (only lo, nothing in the container can change it; see
 * checkpoint-netns.ts), on both sides: its content is not dumped (empty_ns, lo is brought up again on
 * restore), and it is not locked. CRIU's network lock keeps packets from reaching sockets while they are
 * dumped or restored (iptables-restore runs: ~15 ms at dump, ~70 ms at restore with the unlock); a
 * namespace whose only interface is lo receives packets only from its own tasks, which are frozen (dump)
 * or not yet running (restore). A lock method the plan already names is kept.
 */
export function pristineNetnsOpts(planOpts: Pick<CriuOpts, 'emptyNs' | 'networkLock'>): Partial<CriuOpts> {
  return { emptyNs: (planOpts.emptyNs ?? 0) | CLONE_NEWNET, networkLock: planOpts.networkLock ?? 'SKIP' };
}

/**
 * True when a dump runs CRIU inside the container's pristine network namespace rather than leaving it out
 * with empty_ns (criu-start.ts: no netns image, no conntrack walks; restore gives CRIU a fresh namespace
 * with lo up). Not when CRIU serves pages over the network (--lazy-pages, --page-server): its page server
 * must listen in the host's namespace. Pure.
 */
export function criuJoinsPristineNetns(pristine: boolean, opts: { lazyPages?: boolean; pageServer?: string }, type: string): boolean {
  return pristine && type === 'DUMP' && !opts.lazyPages && opts.pageServer === undefined;
}

/**
 * How a dump starts CRIU (criu-start.ts): in a private mount namespace with the kernel-feature cache and,
 * when every cgroup hierarchy can be bound, a cgroup yard (cgroup_yard in the request); inside the
 * container's network namespace at `netnsPath` when given (criuJoinsPristineNetns).
 */
export function dumpCriuStart(ctx: Pick<Context, 'log'>, criuPath: string, rootfs: string, stateDir: string, netnsPath?: string): CriuStart {
  const netns: CriuNetns | undefined = netnsPath !== undefined ? { join: netnsPath } : undefined;
  return startCriu({
    criuPath,
    hostPaths: [rootfs],
    stateYard: path.join(stateDir, 'criu-yard'),
    dump: true,
    netns,
    onLog: ctx.log.debugEnabled ? (line) => ctx.log.debug(`helper: ${line}`) : undefined,
  });
}
