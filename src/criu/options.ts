/**
 * Pure mapping from runc-style `checkpoint` / `restore` flags to a CRIU request. No I/O: the directories
 * are returned as paths; run.ts opens them and fills images_dir_fd / work_dir_fd (CRIU reads those through
 * /proc/<caller>/fd/N, so they are the caller's fd numbers, not CRIU's). Container-specific fields (pid,
 * root, external mounts, cgroup roots, inherited fds, namespaces) are the caller's to add.
 *
 * Every validation error is one line starting with the flag name.
 */
import * as path from 'node:path';
import type { CriuCgMode, CriuFeatures, CriuNetworkLock, CriuOpts, CriuReqType } from './types';

/** images_dir_fd until run.ts has opened the directory (CRIU's own "unset" value). */
export const UNSET_FD = -1;
/** CLONE_NEWNET, the only namespace CRIU can restore empty. */
export const CLONE_NEWNET = 0x40000000;
/** The log level runc uses: 4 = debug, enough to explain failures. */
export const DEFAULT_LOG_LEVEL = 4;

/** Flags shared by checkpoint and restore. */
export interface CommonFlags {
  /** --image-path; relative paths resolve against `cwd`. */
  imagePath: string;
  /** --work-path; default: the image path. */
  workPath?: string;
  tcpEstablished?: boolean;
  extUnixSk?: boolean;
  shellJob?: boolean;
  fileLocks?: boolean;
  lazyPages?: boolean;
  /** --manage-cgroups-mode soft|full|strict|ignore */
  manageCgroupsMode?: string;
  /** --empty-ns: namespace names; only "network" is supported by CRIU. */
  emptyNs?: readonly string[];
  autoDedup?: boolean;
  /** --network-lock iptables|nftables|skip */
  networkLock?: string;
}

/** `checkpoint` flags. */
export interface CheckpointFlags extends CommonFlags {
  /** --parent-path: a previous (pre-dump) image directory, relative to the image path or absolute. */
  parentPath?: string;
  leaveRunning?: boolean;
  tcpSkipInFlight?: boolean;
  linkRemap?: boolean;
  /** --status-fd: stasis writes "\0" to it when CRIU reports "status-ready" (lazy migration ready). */
  statusFd?: number;
  /** --page-server ADDR:PORT ("[v6]:port" for IPv6). */
  pageServer?: string;
  preDump?: boolean;
}

/** `restore` flags. */
export interface RestoreFlags extends CommonFlags {
  /** --tcp-close: close established connections instead of restoring them. */
  tcpClose?: boolean;
  /** --lsm-profile TYPE:NAME (TYPE apparmor or selinux). */
  lsmProfile?: string;
  /** --lsm-mount-context: SELinux context for mounts. */
  lsmMountContext?: string;
}

/** A request ready to send once the directories are opened at their fd numbers. */
export interface CriuPlan {
  type: Extract<CriuReqType, 'DUMP' | 'PRE_DUMP' | 'RESTORE'>;
  opts: CriuOpts;
  /** Absolute image directory (opened by run.ts into images_dir_fd). */
  imagesDir: string;
  /** Absolute work directory (opened into work_dir_fd); CRIU's log and stats files land here. */
  workDir: string;
  /** Absolute path of CRIU's log (workDir + logFile). */
  logPath: string;
  /** Features to verify with featureCheck() before sending. */
  features: CriuFeatures;
  /** fd (in stasis) to write "\0" to on the "status-ready" notification. */
  statusFd?: number;
}

/** A flag value stasis refuses; the message is one line naming the flag. */
export class CriuOptionError extends Error {
  constructor(readonly flag: string, detail: string) {
    super(`${flag}: ${detail}`);
    this.name = 'CriuOptionError';
  }
}

const CG_MODES: Record<string, CriuCgMode> = { soft: 'SOFT', full: 'FULL', strict: 'STRICT', ignore: 'IGNORE' };
const NETWORK_LOCKS: Record<string, CriuNetworkLock> = { iptables: 'IPTABLES', nftables: 'NFTABLES', skip: 'SKIP' };
const EMPTY_NS: Record<string, number> = { network: CLONE_NEWNET, net: CLONE_NEWNET };
const LSM_TYPES = ['apparmor', 'selinux'];

function pick<T>(table: Record<string, T>, flag: string, value: string): T {
  const hit = Object.prototype.hasOwnProperty.call(table, value) ? table[value] : undefined;
  if (hit === undefined) {
    const names = Object.keys(table);
    throw new CriuOptionError(flag, `invalid value "${value}" (want ${names.slice(0, -1).join(', ')} or ${names.at(-1)})`);
  }
  return hit;
}

/** Parses --page-server "host:port" or "[v6addr]:port" (host may be empty: all addresses). */
export function parsePageServer(value: string): { address: string; port: number } {
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d+)$/.exec(value);
  if (!m) throw new CriuOptionError('page-server', `"${value}" is not ADDR:PORT`);
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new CriuOptionError('page-server', `port ${m[3]} is out of range 1-65535`);
  }
  return { address: m[1] ?? m[2], port };
}

function directory(flag: string, value: string | undefined, cwd: string): string {
  if (value === undefined || value === '') throw new CriuOptionError(flag, 'must not be empty');
  if (value.includes('\0')) throw new CriuOptionError(flag, 'contains a NUL byte');
  return path.resolve(cwd, value);
}

/** Options and checks both directions share. */
function common(flags: CommonFlags, cwd: string, logFile: string): Omit<CriuPlan, 'type'> {
  const imagesDir = directory('image-path', flags.imagePath, cwd);
  const workDir = flags.workPath === undefined ? imagesDir : directory('work-path', flags.workPath, cwd);
  const opts: CriuOpts = {
    imagesDirFd: UNSET_FD,
    logLevel: DEFAULT_LOG_LEVEL,
    logFile,
    notifyScripts: true,
  };
  if (flags.tcpEstablished) opts.tcpEstablished = true;
  if (flags.extUnixSk) opts.extUnixSk = true;
  if (flags.shellJob) opts.shellJob = true;
  if (flags.fileLocks) opts.fileLocks = true;
  if (flags.autoDedup) opts.autoDedup = true;
  if (flags.lazyPages) opts.lazyPages = true;
  if (flags.manageCgroupsMode !== undefined) {
    opts.manageCgroupsMode = pick(CG_MODES, 'manage-cgroups-mode', flags.manageCgroupsMode);
  }
  if (flags.networkLock !== undefined) opts.networkLock = pick(NETWORK_LOCKS, 'network-lock', flags.networkLock);
  if (flags.emptyNs && flags.emptyNs.length > 0) {
    opts.emptyNs = flags.emptyNs.reduce((mask, ns) => mask | pick(EMPTY_NS, 'empty-ns', ns), 0);
  }
  return {
    opts,
    imagesDir,
    workDir,
    logPath: path.join(workDir, logFile),
    features: flags.lazyPages ? { lazyPages: true } : {},
  };
}

/**
 * Maps checkpoint flags to a DUMP (or PRE_DUMP) request. The log is dump.log / pre-dump.log in the work dir.
 * `cwd` resolves relative paths (default: the process's cwd).
 */
export function checkpointPlan(flags: CheckpointFlags, cwd: string = process.cwd()): CriuPlan {
  const type = flags.preDump ? 'PRE_DUMP' : 'DUMP';
  const base = common(flags, cwd, flags.preDump ? 'pre-dump.log' : 'dump.log');
  const { opts } = base;
  const features: CriuFeatures = { ...base.features };

  if (flags.preDump && flags.lazyPages) throw new CriuOptionError('pre-dump', 'cannot be combined with lazy-pages');
  if (flags.leaveRunning) opts.leaveRunning = true;
  if (flags.tcpSkipInFlight) opts.tcpSkipInFlight = true;
  if (flags.linkRemap) opts.linkRemap = true;
  if (flags.pageServer !== undefined) opts.ps = parsePageServer(flags.pageServer);

  if (flags.parentPath !== undefined) {
    if (flags.parentPath === '') throw new CriuOptionError('parent-path', 'must not be empty');
    const parentAbs = path.resolve(base.imagesDir, flags.parentPath);
    const rel = path.relative(base.imagesDir, parentAbs);
    if (rel === '') throw new CriuOptionError('parent-path', 'must differ from image-path');
    // CRIU opens parent_img relative to the image directory.
    opts.parentImg = rel;
  }
  if (flags.preDump || opts.parentImg !== undefined) {
    opts.trackMem = true;
    features.memTrack = true;
  }

  let statusFd: number | undefined;
  if (flags.statusFd !== undefined) {
    if (!Number.isInteger(flags.statusFd) || flags.statusFd < 0) {
      throw new CriuOptionError('status-fd', `"${flags.statusFd}" is not a file descriptor number`);
    }
    statusFd = flags.statusFd;
  }
  return { ...base, type, opts, features, statusFd };
}

/** Maps restore flags to a RESTORE request (log restore.log; the tree is restored as our sibling). */
export function restorePlan(flags: RestoreFlags, cwd: string = process.cwd()): CriuPlan {
  const base = common(flags, cwd, 'restore.log');
  const { opts } = base;
  if (flags.tcpClose && flags.tcpEstablished) {
    throw new CriuOptionError('tcp-close', 'cannot be combined with tcp-established');
  }
  if (flags.tcpClose) opts.tcpClose = true;
  // The restored tree becomes a child of stasis's process, not of the short-lived CRIU.
  opts.rstSibling = true;
  if (flags.lsmProfile !== undefined) {
    const m = /^([a-z]+):(.+)$/.exec(flags.lsmProfile);
    if (!m || !LSM_TYPES.includes(m[1])) {
      throw new CriuOptionError('lsm-profile', `"${flags.lsmProfile}" is not TYPE:NAME with TYPE apparmor or selinux`);
    }
    opts.lsmProfile = flags.lsmProfile;
  }
  if (flags.lsmMountContext !== undefined) {
    if (flags.lsmMountContext === '') throw new CriuOptionError('lsm-mount-context', 'must not be empty');
    opts.lsmMountContext = flags.lsmMountContext;
  }
  return { ...base, type: 'RESTORE' };
}
