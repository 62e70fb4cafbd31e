/**
 * A base image and bundles made from it, for the portable-checkpoint tests: the base is a busybox rootfs
 * with a few files to delete; a bundle's rootfs is either an overlay over the base (its changes are the
 * upper directory) or a plain copy of it (its changes are found against the base).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { World, makeBundle } from '../checkpoint/harness';

/** What the container does to its rootfs before it starts counting. */
export const CHANGE_SCRIPT = [
  'echo new > /new.txt',
  'chmod 640 /new.txt',
  'chown 1000:1001 /new.txt',
  'mkdir -p /made/deeper',
  'chmod 711 /made/deeper',
  'ln -s /new.txt /made/link',
  'ln /new.txt /made/hardlink',
  'mknod /made/fifo p',
  'rm /etc/motd',
  'rm -r /olddir',
  'echo changed > /keep.txt',
  'dd if=/dev/urandom of=/dev/shm/blob bs=1024 count=512 2>/dev/null',
  'md5sum /dev/shm/blob > /shm.md5',
  'i=0; while true; do i=$((i+1)); echo $i > /tmp/count; usleep 50000; done',
].join('; ');

/** One file tree entry, compared between the checkpointed and the restored rootfs. */
export interface Entry {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  /** sha256 of a file, target of a symlink, '' otherwise */
  content: string;
  /** for regular files: how many names it has */
  nlink: number;
}

/** Everything under `root` (no /proc, /sys, /dev: the kernel's), keyed by container path. */
export function snapshotTree(root: string, skip: readonly string[] = []): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      const r = `${rel}/${name}`;
      if (['/proc', '/sys', '/dev', ...skip].includes(r)) continue;
      const p = path.join(root, r);
      const st = fs.lstatSync(p);
      const type = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : st.isFIFO() ? 'fifo' : 'other';
      const content = type === 'file' ? createHash('sha256').update(fs.readFileSync(p)).digest('hex') : type === 'symlink' ? fs.readlinkSync(p) : '';
      out.set(r, { type, mode: st.mode, uid: st.uid, gid: st.gid, content, nlink: type === 'file' ? st.nlink : 0 });
      if (type === 'dir') walk(r);
    }
  };
  walk('');
  return out;
}

/** The differences between two snapshots, one line each (empty when equal). */
export function treeDiff(was: Map<string, Entry>, now: Map<string, Entry>): string[] {
  const lines: string[] = [];
  for (const [p, e] of was) {
    const n = now.get(p);
    if (!n) lines.push(`missing ${p}`);
    else if (JSON.stringify(n) !== JSON.stringify(e)) lines.push(`differs ${p}: was ${JSON.stringify(e)} now ${JSON.stringify(n)}`);
  }
  for (const p of now.keys()) if (!was.has(p)) lines.push(`extra ${p}`);
  return lines;
}

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

/** A World whose images come from one base rootfs. */
export class PortableWorld extends World {
  readonly base: string;
  private mounts: string[] = [];

  constructor(script = CHANGE_SCRIPT) {
    // chown and mknod need their capabilities (the default spec keeps only three).
    super(script, (spec) => {
      const caps = ['CAP_CHOWN', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_DAC_OVERRIDE', 'CAP_KILL', 'CAP_AUDIT_WRITE'];
      for (const set of ['bounding', 'effective', 'permitted']) spec.process.capabilities[set] = caps;
    });
    // World's own bundle is the base image: a busybox rootfs plus files for the container to delete.
    this.base = path.join(this.bundle, 'rootfs');
    fs.writeFileSync(path.join(this.base, 'etc', 'motd'), 'base motd\n');
    fs.mkdirSync(path.join(this.base, 'olddir', 'sub'), { recursive: true });
    fs.writeFileSync(path.join(this.base, 'olddir', 'sub', 'a'), 'a\n');
    fs.writeFileSync(path.join(this.base, 'keep.txt'), 'base\n');
  }

  /** A new bundle named `name` with the base's config.json and a rootfs that is an overlay or a copy of the base. */
  bundleFrom(name: string, kind: 'overlay' | 'copy'): string {
    const dir = this.images(name);
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(this.bundle, 'config.json'), path.join(dir, 'config.json'));
    const rootfs = path.join(dir, 'rootfs');
    if (kind === 'copy') {
      sh('cp', ['-a', this.base, rootfs]);
      return dir;
    }
    for (const d of ['rootfs', 'upper', 'work']) fs.mkdirSync(path.join(dir, d));
    sh('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${this.base},upperdir=${dir}/upper,workdir=${dir}/work`, rootfs]);
    this.mounts.push(rootfs);
    return dir;
  }

  /** Unmounts a bundle's overlay and removes the bundle (the original is gone: only the archive remains). */
  dropBundle(dir: string): void {
    const rootfs = path.join(dir, 'rootfs');
    if (this.mounts.includes(rootfs)) {
      sh('umount', [rootfs]);
      this.mounts = this.mounts.filter((m) => m !== rootfs);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }

  /** The counter of a bundle's container. */
  countIn(dir: string): number {
    try {
      return Number(fs.readFileSync(path.join(dir, 'rootfs', 'tmp', 'count'), 'utf8').trim()) || 0;
    } catch {
      return 0;
    }
  }

  override async cleanup(): Promise<void> {
    // Detach the overlays first: removing the directory must never go through a merged view.
    for (const m of this.mounts.reverse()) spawnSync('umount', ['-l', m]);
    await super.cleanup();
  }
}

/** checkpointctl: $STASIS_CHECKPOINTCTL, the private install of install-checkpointctl.sh, or PATH. */
export function checkpointctl(): string | undefined {
  const candidates = [process.env.STASIS_CHECKPOINTCTL, '/usr/local/lib/stasis/checkpointctl/checkpointctl', 'checkpointctl'];
  for (const c of candidates) if (c && spawnSync(c, ['--help'], { stdio: 'ignore' }).status === 0) return c;
  return undefined;
}

export { makeBundle };
