/** A CgroupFs over a temp dir that records writes and imitates the bits of kernel behaviour the drivers rely on. */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CgroupFs, realCgroupFs } from '../../../src/cgroups/fs';

/** Error shaped like Node's fs errors. */
export function errnoError(code: string, syscall: string, p: string): NodeJS.ErrnoException {
  const err = new Error(`${code}: ${syscall} ${p}`) as NodeJS.ErrnoException;
  err.code = code;
  return err;
}

/** Files the "kernel" puts in every new directory under a mountpoint. */
export type Template = Record<string, string>;

/** The recording fixture filesystem. */
export class FixtureFs implements CgroupFs {
  readonly root: string;
  /** Every successful write, path relative to root. */
  readonly writes: { path: string; value: string }[] = [];
  /** Templates per mountpoint (relative to root). */
  readonly templates = new Map<string, Template>();
  /** Inject an errno for writes to a relative path. */
  readonly failWrites = new Map<string, string>();
  /** Kernel emulation hook run after each write. */
  onWrite?: (rel: string, value: string) => void;
  /** Value returned instead of the file's content for a relative path. */
  readonly overrideReads = new Map<string, () => string>();

  constructor() {
    this.root = mkdtempSync(path.join(tmpdir(), 'stasis-cg-'));
  }

  /** Absolute path of a path relative to the fixture root. */
  abs(rel: string): string {
    return path.join(this.root, rel);
  }

  rel(abs: string): string {
    return path.relative(this.root, abs);
  }

  /** Create a directory with files (a "mounted hierarchy" or an existing cgroup). */
  addDir(rel: string, files: Template = {}): void {
    mkdirSync(this.abs(rel), { recursive: true });
    for (const [f, content] of Object.entries(files)) writeFileSync(path.join(this.abs(rel), f), content);
  }

  /** Remove the temp dir. */
  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }

  async readFile(p: string): Promise<string> {
    const o = this.overrideReads.get(this.rel(p));
    return o ? o() : realCgroupFs.readFile(p);
  }

  async writeFile(p: string, value: string): Promise<void> {
    const rel = this.rel(p);
    const code = this.failWrites.get(rel);
    if (code) throw errnoError(code, 'write', p);
    await realCgroupFs.writeFile(p, value);
    this.writes.push({ path: rel, value });
    this.onWrite?.(rel, value);
  }

  async mkdir(p: string): Promise<boolean> {
    const created = await realCgroupFs.mkdir(p);
    if (created) {
      const rel = this.rel(p);
      for (const [mount, tpl] of this.templates) {
        if (rel.startsWith(mount + '/')) for (const [f, c] of Object.entries(tpl)) writeFileSync(path.join(p, f), c);
      }
    }
    return created;
  }

  async rmdir(p: string): Promise<void> {
    let entries;
    try {
      entries = readdirSync(p, { withFileTypes: true });
    } catch {
      throw errnoError('ENOENT', 'rmdir', p);
    }
    // Like cgroupfs: control files do not block rmdir, child cgroups do.
    if (entries.some((e) => e.isDirectory())) throw errnoError('EBUSY', 'rmdir', p);
    rmSync(p, { recursive: true });
  }

  readdir(p: string) {
    return realCgroupFs.readdir(p);
  }

  exists(p: string) {
    return realCgroupFs.exists(p);
  }
}
