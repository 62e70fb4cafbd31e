/**
 * Restoring an engine's checkpoint archive (Podman's `container checkpoint --export`, unpacked without
 * verification by `restore --import FILE --no-verify`) into a stasis bundle.
 *
 * What Podman's archive assumes, and what stasis does about it:
 *   - spec.dump is the OCI config the container ran with. Its bind mounts of /etc/hosts, /etc/resolv.conf,
 *     /etc/hostname, /run/.containerenv and /dev/shm come from Podman's per-container directories, which are
 *     gone with the container; the runtime dumped them as external mounts keyed by their destination (runc
 *     and stasis alike). A bundle without config.json gets one derived from spec.dump, with those sources
 *     made fresh in `<bundle>/engine-mounts/` (podmanBundleSpec); a bundle with its own config.json must
 *     bind something at each of those destinations itself.
 *   - devshm-checkpoint.tar is /dev/shm's content (Podman's shm directory, a bind mount, is not dumped by
 *     CRIU): it is extracted into the bundle's /dev/shm source before CRIU runs, with the rootfs-diff rules
 *     (no path through a symlink).
 *   - rootfs-diff.tar and deleted.files are applied to the bundle's rootfs like a stasis checkpoint's; the
 *     bind mounts' mount points, which the engine's runtime made and its diff leaves out, are created.
 *   - Images dumped by runc carry no stasis note: one is written into the (private, unpacked) image
 *     directory saying the container was running (so it is thawed after CRIU restores it, as runc does) and
 *     whether its network namespace was joined by path (then runc left it out of the dump as `extRootNetNS`,
 *     stasis's key too, and the restore needs --netns or a path in the bundle's spec).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ArchiveError, LAYOUT } from '../archive';
import { applyRootfsDiff } from '../rootfs-diff';
import { SafeRoot, at } from '../rootfs-diff/safe-root';
import { memberPath, splitParent } from '../archive/member-path';
import { isBindMount } from '../plan/mounts';
import type { Mount, Spec } from '../spec/types';
import type { ExtMountMap } from '../criu/types';
import { CHECKPOINT_META_FILE, writeCheckpointMeta } from './checkpoint-meta';
import { joinedNetnsPath } from './checkpoint-netns';
import { RuntimeError, errnoText } from './errors';

/** Directory of the bundle that receives the engine's per-container files. */
export const ENGINE_MOUNTS_DIR = 'engine-mounts';

/** The engine-managed bind mounts, by destination: the file (or directory) stasis makes for each. */
export const ENGINE_MOUNTS: Readonly<Record<string, { name: string; dir: boolean }>> = {
  '/etc/hosts': { name: 'hosts', dir: false },
  '/etc/resolv.conf': { name: 'resolv.conf', dir: false },
  '/etc/hostname': { name: 'hostname', dir: false },
  '/run/.containerenv': { name: 'containerenv', dir: false },
  '/dev/shm': { name: 'shm', dir: true },
};

/** One file or directory podmanBundleSpec asks to be created (path relative to the bundle). */
export interface EngineFile {
  rel: string;
  dir: boolean;
  content?: string;
}

/** What a bundle made from spec.dump consists of. */
export interface EngineBundle {
  spec: Spec;
  files: EngineFile[];
  /** Sources of the other bind mounts (the user's volumes), which must exist on this host. */
  otherSources: { destination: string; source: string }[];
}

/**
 * The bundle config for an engine's spec.dump (pure): the root is the bundle's `rootfs`, the engine's bind
 * mounts point into engine-mounts/, the cgroup path and hooks are dropped (the restored container gets
 * stasis's cgroup for its new id; the engine's hooks are the engine's business). `resolvConf` is the
 * content given to /etc/resolv.conf (the host's).
 */
export function podmanBundleSpec(dump: Spec, resolvConf: string): EngineBundle {
  const files: EngineFile[] = [{ rel: ENGINE_MOUNTS_DIR, dir: true }];
  const otherSources: EngineBundle['otherSources'] = [];
  const hostname = dump.hostname ?? 'localhost';
  const content: Record<string, string> = {
    hosts: `127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.1.1\t${hostname}\n`,
    'resolv.conf': resolvConf,
    hostname: `${hostname}\n`,
    containerenv: '',
  };
  const mounts: Mount[] = (dump.mounts ?? []).map((m) => {
    if (!isBindMount(m)) return m;
    const engine = ENGINE_MOUNTS[m.destination];
    if (!engine) {
      if (m.source) otherSources.push({ destination: m.destination, source: m.source });
      return m;
    }
    const rel = `${ENGINE_MOUNTS_DIR}/${engine.name}`;
    files.push(engine.dir ? { rel, dir: true } : { rel, dir: false, content: content[engine.name] });
    return { ...m, source: rel };
  });
  const spec: Spec = { ...dump, root: { ...dump.root, path: 'rootfs' }, mounts };
  delete spec.hooks;
  if (spec.linux) {
    spec.linux = { ...spec.linux };
    delete spec.linux.cgroupsPath;
  }
  return { spec, files, otherSources };
}

/** The source directory of the bundle's /dev/shm bind mount (absolute), or undefined when it has none. */
export function devShmSource(spec: Spec, bundle: string): string | undefined {
  let hit: Mount | undefined;
  for (const m of spec.mounts ?? []) if (m.destination.replace(/\/+$/, '') === '/dev/shm') hit = m;
  if (!hit || !isBindMount(hit) || !hit.source) return undefined;
  return path.resolve(bundle, hit.source);
}

/** Reads and parses a JSON file of the unpacked archive. */
function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new RuntimeError('invalid-spec', `restore: ${path.basename(file)} of the archive is not readable JSON: ${errnoText(err)}`);
  }
}

/**
 * External mounts for the named v1 hierarchies (`name=systemd`) of runc's images (pure): runc binds every
 * hierarchy's cgroup directory under the spec's cgroup mount and dumps each as external, keyed by its
 * mount point; stasis manages only the controllers, so the restore offers the directory this process
 * sits in for each named hierarchy (from /proc/self/cgroup). Unused ids are harmless to CRIU.
 */
export function namedHierarchyMounts(spec: Spec, procSelfCgroup: string, exists: (p: string) => boolean): ExtMountMap[] {
  const out: ExtMountMap[] = [];
  for (const m of spec.mounts ?? []) {
    if (m.type !== 'cgroup' || isBindMount(m)) continue;
    const dest = m.destination.replace(/\/+$/, '');
    for (const line of procSelfCgroup.split('\n')) {
      const hit = /^\d+:name=([^:/]+):(\/.*)$/.exec(line.trim());
      if (!hit) continue;
      const host = path.posix.join('/sys/fs/cgroup', hit[1], hit[2]);
      if (exists(host)) out.push({ key: `${dest}/${hit[1]}`, val: host });
    }
  }
  return out;
}

/** What prepareEngineBundle made, so a failed restore can remove it again. */
export interface PreparedEngineBundle {
  created: string[];
  /** The bundle's config (made or found). */
  spec: Spec;
}

/**
 * The bind mount destinations that lie in the rootfs itself (not below another mount of the spec, where
 * CRIU re-creates the filesystem from its images), with whether each needs a directory. Pure.
 */
export function rootfsMountpoints(spec: Spec, bundle: string, isDir: (source: string) => boolean): { rel: string; dir: boolean }[] {
  const mounts = spec.mounts ?? [];
  const under = (p: string, d: string) => p.startsWith(`${d}/`);
  const out: { rel: string; dir: boolean }[] = [];
  for (const m of mounts) {
    if (!isBindMount(m) || !m.source) continue;
    const dest = m.destination.replace(/\/+$/, '');
    if (mounts.some((o) => o !== m && !isBindMount(o) && under(dest, o.destination.replace(/\/+$/, '')))) continue;
    out.push({ rel: memberPath(dest.replace(/^\/+/, '')), dir: isDir(path.resolve(bundle, m.source)) });
  }
  return out.filter((e) => e.rel !== '');
}

/**
 * Creates the missing mount points of the bundle's bind mounts in `rootfs` (an empty file or directory, as
 * the source is). The engine's runtime made them at create time in the engine's copy of the rootfs, and
 * its diff leaves them out; CRIU needs them to exist. Never through a symlink (SafeRoot).
 */
export function createMountpoints(rootfs: string, spec: Spec, bundle: string): void {
  const isDir = (src: string) => fs.statSync(src, { throwIfNoEntry: false })?.isDirectory() === true;
  const root = new SafeRoot(rootfs);
  try {
    for (const mp of rootfsMountpoints(spec, bundle, isDir)) {
      const [parent, name] = splitParent(mp.rel);
      const p = at(root.dir(parent, true), name);
      if (fs.lstatSync(p, { throwIfNoEntry: false })) continue;
      if (mp.dir) fs.mkdirSync(p, { mode: 0o755 });
      else fs.closeSync(fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o644));
    }
  } finally {
    root.close();
  }
}

/**
 * Gets `bundle` ready for an engine's unpacked checkpoint in `dir`: config.json from spec.dump when the
 * bundle has none (its rootfs must be there), /dev/shm's content extracted into the bundle's /dev/shm
 * source, and a stasis note written into the image directory when the engine's runtime left none.
 */
export async function prepareEngineBundle(dir: string, bundle: string, log: (msg: string) => void): Promise<PreparedEngineBundle> {
  const created: string[] = [];
  const configFile = path.join(bundle, 'config.json');
  const dump = readJson(path.join(dir, LAYOUT.spec)) as Spec;
  if (!dump || typeof dump !== 'object' || typeof dump.process !== 'object') {
    throw new RuntimeError('invalid-spec', 'restore: spec.dump of the archive is not an OCI config (no process)');
  }
  let spec: Spec;
  try {
    if (!fs.existsSync(configFile)) {
      if (!fs.statSync(path.join(bundle, 'rootfs'), { throwIfNoEntry: false })?.isDirectory()) {
        throw new RuntimeError('usage', `restore: ${bundle} has neither config.json nor a rootfs directory to make one for`);
      }
      let resolv = '';
      try {
        resolv = fs.readFileSync('/etc/resolv.conf', 'utf8');
      } catch {
        /* no resolver configured here: an empty file */
      }
      const made = podmanBundleSpec(dump, resolv);
      for (const o of made.otherSources) {
        if (!fs.existsSync(path.resolve(bundle, o.source))) {
          throw new RuntimeError('invalid-spec', `restore: spec.dump binds ${o.source} at ${o.destination}, which does not exist here: give the bundle a config.json`);
        }
      }
      for (const f of made.files) {
        const p = path.join(bundle, f.rel);
        if (f.dir) fs.mkdirSync(p, { mode: f.rel === ENGINE_MOUNTS_DIR ? 0o755 : 0o1777 });
        else fs.writeFileSync(p, f.content ?? '', { mode: 0o644, flag: 'wx' });
        created.push(p);
      }
      if (made.files.some((f) => f.rel === `${ENGINE_MOUNTS_DIR}/shm`)) fs.chmodSync(path.join(bundle, ENGINE_MOUNTS_DIR, 'shm'), 0o1777);
      fs.writeFileSync(configFile, `${JSON.stringify(made.spec, null, 2)}\n`, { mode: 0o644, flag: 'wx' });
      created.push(configFile);
      log(`restore: made ${configFile} from the archive's spec.dump (engine files in ${path.join(bundle, ENGINE_MOUNTS_DIR)})`);
      spec = made.spec;
    } else {
      spec = readJson(configFile) as Spec;
    }
    const shmTar = path.join(dir, LAYOUT.devShm);
    if (fs.existsSync(shmTar)) {
      const shm = devShmSource(spec, bundle);
      if (!shm) {
        throw new RuntimeError('invalid-spec', `restore: the archive has /dev/shm's content (${LAYOUT.devShm}) but ${configFile} binds no directory at /dev/shm`);
      }
      await applyRootfsDiff(shm, shmTar, []);
    }
    writeEngineNote(dir, dump);
    return { created, spec };
  } catch (err) {
    removeEngineBundle({ created });
    if (err instanceof RuntimeError || err instanceof ArchiveError) throw err;
    throw new RuntimeError('system', `restore: preparing bundle ${bundle} for the engine's checkpoint failed: ${errnoText(err)}`);
  }
}

/** Removes what prepareEngineBundle made (a failed restore). */
export function removeEngineBundle(p: { created: string[] }): void {
  for (const f of [...p.created].reverse()) fs.rmSync(f, { recursive: true, force: true });
}

/** A stasis note for images dumped by another runtime (runc), in the private unpacked copy. */
function writeEngineNote(dir: string, dump: Spec): void {
  const images = path.join(dir, LAYOUT.checkpointDir);
  if (fs.existsSync(path.join(images, CHECKPOINT_META_FILE))) return; // dumped by stasis under the engine
  writeCheckpointMeta(images, {
    version: 1,
    id: 'engine',
    at: new Date(fs.statSync(path.join(images, 'inventory.img')).mtimeMs).toISOString(),
    // Engines checkpoint running containers only; runc's CRIU froze them, so the restored tree is thawed.
    status: 'running',
    externalStdio: [],
    externalMounts: [],
    terminal: dump.process?.terminal === true,
    ...(joinedNetnsPath(dump) ? { externalNetns: true } : {}),
  });
}
