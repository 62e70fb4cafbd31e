/**
 * Mount option strings → mount(2) flags, propagation changes and filesystem data, the way fstab and the
 * common runtimes read them. Options that need mount_setattr (recursive attributes, idmap) are refused with
 * a clear message rather than silently applied to the top mount only.
 */
import { PlanError } from './errors';

/** mount(2) flag values (linux/mount.h). */
export const MS = Object.freeze({
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  SYNCHRONOUS: 16,
  REMOUNT: 32,
  MANDLOCK: 64,
  DIRSYNC: 128,
  NOSYMFOLLOW: 256,
  NOATIME: 1024,
  NODIRATIME: 2048,
  BIND: 4096,
  MOVE: 8192,
  REC: 16384,
  SILENT: 32768,
  POSIXACL: 1 << 16,
  UNBINDABLE: 1 << 17,
  PRIVATE: 1 << 18,
  SLAVE: 1 << 19,
  SHARED: 1 << 20,
  RELATIME: 1 << 21,
  I_VERSION: 1 << 23,
  STRICTATIME: 1 << 24,
  LAZYTIME: 1 << 25,
});

/** Options that set (`clear` absent) or clear one flag. */
const FLAG_OPTIONS: Readonly<Record<string, { flag: number; clear?: true }>> = {
  ro: { flag: MS.RDONLY },
  rw: { flag: MS.RDONLY, clear: true },
  nosuid: { flag: MS.NOSUID },
  suid: { flag: MS.NOSUID, clear: true },
  nodev: { flag: MS.NODEV },
  dev: { flag: MS.NODEV, clear: true },
  noexec: { flag: MS.NOEXEC },
  exec: { flag: MS.NOEXEC, clear: true },
  sync: { flag: MS.SYNCHRONOUS },
  async: { flag: MS.SYNCHRONOUS, clear: true },
  dirsync: { flag: MS.DIRSYNC },
  mand: { flag: MS.MANDLOCK },
  nomand: { flag: MS.MANDLOCK, clear: true },
  noatime: { flag: MS.NOATIME },
  atime: { flag: MS.NOATIME, clear: true },
  nodiratime: { flag: MS.NODIRATIME },
  diratime: { flag: MS.NODIRATIME, clear: true },
  relatime: { flag: MS.RELATIME },
  norelatime: { flag: MS.RELATIME, clear: true },
  strictatime: { flag: MS.STRICTATIME },
  nostrictatime: { flag: MS.STRICTATIME, clear: true },
  nosymfollow: { flag: MS.NOSYMFOLLOW },
  symfollow: { flag: MS.NOSYMFOLLOW, clear: true },
  silent: { flag: MS.SILENT },
  loud: { flag: MS.SILENT, clear: true },
  acl: { flag: MS.POSIXACL },
  noacl: { flag: MS.POSIXACL, clear: true },
  iversion: { flag: MS.I_VERSION },
  noiversion: { flag: MS.I_VERSION, clear: true },
  lazytime: { flag: MS.LAZYTIME },
  nolazytime: { flag: MS.LAZYTIME, clear: true },
};

/** Propagation options → the flags of one PROPAGATION step. */
const PROPAGATION_OPTIONS: Readonly<Record<string, number>> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

/** Recursive attribute options: they need mount_setattr(AT_RECURSIVE), which stasis does not implement. */
const RECURSIVE_OPTIONS = new Set(
  ['ro', 'rw', 'nosuid', 'suid', 'nodev', 'dev', 'noexec', 'exec', 'atime', 'noatime', 'diratime', 'nodiratime',
    'relatime', 'norelatime', 'strictatime', 'nostrictatime', 'symfollow', 'nosymfollow'].map((o) => `r${o}`),
);

/** Options stasis knows but does not implement. */
const UNSUPPORTED_OPTIONS: Readonly<Record<string, string>> = {
  idmap: 'id-mapped mounts are not supported',
  ridmap: 'id-mapped mounts are not supported',
};

/** Every option name stasis recognises (for `features`). */
export const KNOWN_MOUNT_OPTIONS: readonly string[] = [
  ...Object.keys(FLAG_OPTIONS), ...Object.keys(PROPAGATION_OPTIONS), 'bind', 'rbind', 'remount', 'defaults',
  'tmpcopyup',
].sort();

/** The meaning of a mount's option list. */
export interface ParsedMountOptions {
  /** mount(2) flags other than MS_BIND/MS_REC/MS_REMOUNT */
  flags: number;
  /** propagation changes, in option order */
  propagation: number[];
  /** filesystem-specific options, comma-joined (e.g. "mode=755,size=65536k") */
  data: string;
  bind: boolean;
  /** rbind: bind the whole subtree */
  recursive: boolean;
  remount: boolean;
  /** `tmpcopyup` (crun's extension, used by Podman): index of the option, or -1 when absent */
  copyUpAt: number;
}

/** Parses one mount's options; `field` names the options array for errors (e.g. `mounts[2].options`). */
export function parseMountOptions(options: readonly string[] | undefined, field: string): ParsedMountOptions {
  const out: ParsedMountOptions = { flags: 0, propagation: [], data: '', bind: false, recursive: false, remount: false, copyUpAt: -1 };
  const data: string[] = [];
  (options ?? []).forEach((opt, i) => {
    const f = FLAG_OPTIONS[opt];
    if (f) {
      out.flags = f.clear ? out.flags & ~f.flag : out.flags | f.flag;
      return;
    }
    const p = PROPAGATION_OPTIONS[opt];
    if (p !== undefined) {
      out.propagation.push(p);
      return;
    }
    switch (opt) {
      case 'bind':
        out.bind = true;
        return;
      case 'rbind':
        out.bind = out.recursive = true;
        return;
      case 'remount':
        out.remount = true;
        return;
      case 'tmpcopyup':
        out.copyUpAt = i;
        return;
      case 'defaults':
        return;
    }
    if (RECURSIVE_OPTIONS.has(opt)) {
      throw new PlanError(`${field}[${i}]`, `recursive mount option "${opt}" is not supported (it needs mount_setattr)`);
    }
    if (UNSUPPORTED_OPTIONS[opt]) throw new PlanError(`${field}[${i}]`, UNSUPPORTED_OPTIONS[opt]);
    data.push(opt);
  });
  out.data = data.join(',');
  return out;
}

/** Flags of a propagation name as used by `linux.rootfsPropagation` (same words as the mount options). */
export function propagationFlags(name: string): number | undefined {
  return PROPAGATION_OPTIONS[name];
}

/** The option word for a propagation flag set (for step descriptions). */
export function propagationName(flags: number): string {
  for (const [name, v] of Object.entries(PROPAGATION_OPTIONS)) if (v === flags) return name;
  return `0x${flags.toString(16)}`;
}
