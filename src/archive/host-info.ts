/**
 * What a checkpoint needs from the host that restores it, and what this host offers: architecture, kernel,
 * CRIU version and CPU features.
 *
 * CPU features come from /proc/cpuinfo, not from CRIU's cpuinfo.img: that image holds raw CPUID words
 * (mapping them to names needs the kernel's bit table), CRIU writes it only on request, and when it is there
 * CRIU checks it itself at restore. What stasis records is the subset of flags that name instruction-set
 * extensions a program can detect and use (SSE/AVX/AVX-512/AMX, AES, SHA, BMI, xsave variants… on x86;
 * every hwcap on arm64): a process that probed AVX-512 at start and is restored on a CPU without it dies
 * with SIGILL later, so stasis refuses that restore up front.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { childProcess } from '../util/builtins';

/** The facts about a host that decide whether a checkpoint can be restored on it. */
export interface HostInfo {
  /** `uname -m` (x86_64, aarch64…). */
  arch: string;
  /** `uname -r`. */
  kernel: string;
  /** CRIU's version ("4.2.1"), or null when CRIU is not found. */
  criuVersion: string | null;
  /** CPU features a program may rely on (see `isaFeatures`), sorted. */
  cpuFeatures: string[];
}

/** Where scripts/install-criu.sh puts CRIU (same default as the runtime's). */
const DEFAULT_CRIU = '/usr/local/lib/stasis/criu/criu';

/** The flags of the first processor in /proc/cpuinfo text (x86 "flags", arm64 "Features"), sorted. */
export function parseCpuFlags(cpuinfo: string): string[] {
  const m = /^(?:flags|Features)\s*:(.*)$/m.exec(cpuinfo);
  if (!m) return [];
  return [...new Set(m[1].trim().split(/\s+/).filter(Boolean))].sort();
}

/** x86 flags that are instruction-set extensions visible to user space; prefixes end with '*'. */
const X86_ISA = [
  'fpu', 'mmx', 'mmxext', 'sse', 'sse2', 'pni', 'ssse3', 'sse4_1', 'sse4_2', 'sse4a', 'cx8', 'cx16', 'cmov',
  'popcnt', 'abm', 'lahf_lm', 'movbe', 'bmi1', 'bmi2', 'adx', 'aes', 'pclmulqdq', 'vpclmulqdq', 'vaes', 'gfni',
  'sha_ni', 'avx', 'avx2', 'f16c', 'fma', 'fma4', 'xop', 'tbm', 'avx512*', 'avx_vnni*', 'avx_ifma', 'avx_ne_convert',
  'amx*', 'rdrand', 'rdseed', 'xsave', 'xsaveopt', 'xsavec', 'xsaves', 'clflushopt', 'clwb', 'clzero', 'erms',
  'fsrm', 'movdiri', 'movdir64b', 'serialize', 'rdpid', 'pku', 'ospke', 'rtm', 'hle', 'cldemote', 'waitpkg',
  'user_shstk', 'sha512', 'sm3', 'sm4', '3dnow*', 'prefetchw',
];
/** arm64 hwcaps that say nothing about instructions. */
const ARM_NOT_ISA = new Set(['evtstrm', 'cpuid']);

/** The features of `flags` a restored program may depend on, for `arch`. */
export function isaFeatures(arch: string, flags: readonly string[]): string[] {
  if (arch === 'x86_64' || arch === 'i686' || arch === 'i386') {
    return flags.filter((f) => X86_ISA.some((p) => (p.endsWith('*') ? f.startsWith(p.slice(0, -1)) : f === p)));
  }
  if (arch === 'aarch64' || arch.startsWith('arm')) return flags.filter((f) => !ARM_NOT_ISA.has(f));
  return [...flags];
}

/** "Version: 4.2.1" from `criu --version`, or null when the binary does not run. */
export function criuVersionOf(bin: string): string | null {
  const r = childProcess().spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 10000 });
  if (r.status !== 0) return null;
  return versionLine(r.stdout);
}

/**
 * criuVersionOf, remembered in `cacheFile` for this very binary (device, inode, size, mtime): every export
 * and import records or checks the version, and asking CRIU costs a process start (~13 ms here). A path
 * that is not absolute (found through PATH) is not cached.
 */
export function criuVersionCached(bin: string, cacheFile: string): string | null {
  if (!path.isAbsolute(bin)) return criuVersionOf(bin);
  let key: string;
  try {
    const st = fs.statSync(bin);
    key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return null;
  }
  try {
    const c = JSON.parse(fs.readFileSync(cacheFile, 'utf8')) as { key?: unknown; version?: unknown };
    if (c.key === key && typeof c.version === 'string') return c.version;
  } catch {
    /* no cache yet, or unreadable: ask */
  }
  const version = criuVersionOf(bin);
  if (version !== null) {
    try {
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify({ key, version }), { mode: 0o600 });
      fs.renameSync(tmp, cacheFile);
    } catch {
      /* a cache that cannot be written is asked again next time */
    }
  }
  return version;
}

function versionLine(out: string): string | null {
  return /^Version:\s*(\S+)/m.exec(out)?.[1] ?? null;
}

/** The CRIU binary stasis uses: $STASIS_CRIU, the private install, else `criu` from PATH. */
export function defaultCriuBinary(env: NodeJS.ProcessEnv = process.env): string {
  if (env.STASIS_CRIU) return env.STASIS_CRIU;
  return fs.existsSync(DEFAULT_CRIU) ? DEFAULT_CRIU : 'criu';
}

/**
 * This host's facts. `criu` names the CRIU binary to ask for its version (default: `defaultCriuBinary`);
 * false: not asked (criuVersion null), for a caller that has it already.
 */
export function readHostInfo(opts: { criu?: string | false } = {}): HostInfo {
  const arch = os.machine();
  let cpuinfo = '';
  try {
    cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    cpuinfo = '';
  }
  return {
    arch,
    kernel: os.release(),
    criuVersion: opts.criu === false ? null : criuVersionOf(opts.criu ?? defaultCriuBinary()),
    cpuFeatures: isaFeatures(arch, parseCpuFlags(cpuinfo)),
  };
}

/** Compares dotted versions numerically: <0, 0, >0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+~-]/).map((x) => parseInt(x, 10) || 0);
  const pb = b.split(/[.+~-]/).map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
