/**
 * A home for CRIU's kernel-feature cache when the host's /run cannot keep it.
 *
 * Every CRIU run starts by probing the kernel (kerndat: iptables runs, test namespaces, ptrace probes;
 * 30-90 ms here). CRIU keeps the result in `/run/criu.kdat`, but only when /run is a tmpfs: the file must
 * vanish at reboot, since nothing in it says which kernel it describes. It checks two magics on load (its
 * own format and its build), nothing else. On a host whose /run is a disk, every run probes again.
 *
 * stasis then gives CRIU, inside the private mount namespace it runs in, a /run that is a directory on a
 * tmpfs stasis owns (under /dev/shm, root-only): CRIU loads and saves its cache there as it would in a
 * tmpfs /run. Nothing is mounted on the host, and other CRIU users never see the file. The directory's
 * name is keyed by the boot and by the CRIU binary, so a new boot (and so a new kernel) or another CRIU
 * never reads a cache it did not write; tmpfs empties it at reboot anyway.
 *
 * Paths CRIU is given that lie under the host's /run would be hidden by that /run: the caller checks with
 * pathsUnderRun() and goes without the cache then.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** statfs f_type of tmpfs. */
export const TMPFS_MAGIC = 0x01021994;
/** Where the cache directories live (a tmpfs on every Linux host stasis runs on). */
export const KDAT_PARENT = '/dev/shm';
/** Name prefix of the cache directories. */
export const KDAT_DIR_PREFIX = '.stasis-criu-kdat-';
/** The file CRIU writes next to its cache before renaming it; left behind if CRIU died in between. */
const KDAT_TMP = 'criu.kdat.tmp';
/** A criu.kdat.tmp older than this was left by a CRIU that died: it would block every later save. */
const STALE_TMP_MS = 60_000;

/** What the decision needs from the host, injectable for unit tests. */
export interface KdatHost {
  /** statfs f_type of a path, or undefined when it cannot be read. */
  fsType(p: string): number | undefined;
  /** /proc/sys/kernel/random/boot_id. */
  bootId(): string;
  /** Identity of the CRIU binary (path after symlinks, size, mtime, inode), or undefined if absent. */
  binaryId(file: string): string | undefined;
}

/** The real host. */
export const realKdatHost: KdatHost = {
  fsType(p) {
    try {
      return Number(fs.statfsSync(p).type);
    } catch {
      return undefined;
    }
  },
  bootId: () => fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
  binaryId(file) {
    try {
      const real = fs.realpathSync(file);
      const st = fs.statSync(real);
      return `${real}:${st.size}:${st.mtimeMs}:${st.ino}`;
    } catch {
      return undefined;
    }
  },
};

/**
 * The cache directory for `criuPath` (pure given the host), or undefined when none is needed (/run is a
 * tmpfs: CRIU keeps its own cache there) or possible (no tmpfs at KDAT_PARENT, CRIU not found).
 */
export function kdatCacheDir(criuPath: string, host: KdatHost = realKdatHost): string | undefined {
  if (host.fsType('/run') === TMPFS_MAGIC) return undefined;
  if (host.fsType(KDAT_PARENT) !== TMPFS_MAGIC) return undefined;
  const id = host.binaryId(criuPath);
  if (!id) return undefined;
  const key = fnv1a64(`${host.bootId()}\n${id}`);
  return path.join(KDAT_PARENT, KDAT_DIR_PREFIX + key);
}

/**
 * FNV-1a, 64 bits, as 16 hex digits: a name, not a secret (the directory's owner and mode are what make it
 * safe), and node:crypto would cost ~7 ms to load and start.
 */
export function fnv1a64(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(text, 'utf8')) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return h.toString(16).padStart(16, '0');
}

/**
 * Makes sure `dir` is a directory only root can write (created 0700 if missing): anyone can create names
 * in /dev/shm, and a cache someone else controls must never reach CRIU. Removes a stale criu.kdat.tmp.
 * Returns false (go without the cache) when the directory is not safe to use.
 */
export function ensureKdatDir(dir: string): boolean {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return false;
  }
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch {
    return false;
  }
  const euid = process.geteuid?.() ?? 0;
  if (!st.isDirectory() || st.uid !== euid || (st.mode & 0o077) !== 0) return false;
  try {
    const tmp = fs.lstatSync(path.join(dir, KDAT_TMP));
    if (Date.now() - tmp.mtimeMs > STALE_TMP_MS) fs.rmSync(path.join(dir, KDAT_TMP), { force: true });
  } catch {
    /* no leftover */
  }
  return true;
}

/** The cache directory ready for use, or undefined: kdatCacheDir() + ensureKdatDir(). */
export function prepareKdatCache(criuPath: string, host: KdatHost = realKdatHost): string | undefined {
  const dir = kdatCacheDir(criuPath, host);
  return dir && ensureKdatDir(dir) ? dir : undefined;
}

/** True when `p` is /run or below it (the host's /run is hidden from CRIU while it uses the cache). */
export function underRun(p: string): boolean {
  const n = path.posix.normalize(p);
  return n === '/run' || n.startsWith('/run/');
}

/**
 * The given host paths (after symlinks, as CRIU would reach them) that lie under /run; a path that does
 * not exist is judged as written.
 */
export function pathsUnderRun(paths: readonly string[]): string[] {
  return paths.filter((p) => {
    let real = p;
    try {
      real = fs.realpathSync(p);
    } catch {
      /* judged by its name */
    }
    return underRun(real) || underRun(p);
  });
}
