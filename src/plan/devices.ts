/**
 * /dev inside the container: the default device nodes every Linux program expects, `linux.devices`, the
 * standard /dev symlinks, and the directories of the usual /dev mounts.
 */
import { Base, str, u32, type Step } from '../helper/protocol';
import type { Device, Mount } from '../spec/types';
import { cleanPath, isBindMount } from './mounts';

const S_IFIFO = 0o010000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;

/** The devices the runtime provides even when the spec lists none (config-linux.md, "Default Devices"). */
export const DEFAULT_DEVICES: readonly Device[] = Object.freeze([
  { type: 'c', path: '/dev/null', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/zero', major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/full', major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/random', major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/urandom', major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/tty', major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
] satisfies Device[]);

/** Standard links: target → link path. /dev/ptmx points into the container's own devpts instance. */
export const DEV_SYMLINKS: readonly [string, string][] = [
  ['/proc/self/fd', '/dev/fd'],
  ['/proc/self/fd/0', '/dev/stdin'],
  ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'],
  ['pts/ptmx', '/dev/ptmx'],
];

/**
 * True when stasis should populate /dev: always, unless /dev is a bind mount from the host (then the
 * host's nodes are there already and creating files would write into the host's directory).
 */
export function needsDevSetup(mounts: readonly Mount[] | undefined): boolean {
  return !(mounts ?? []).some((m) => cleanPath(m.destination) === '/dev' && isBindMount(m));
}

function typeBits(t: Device['type']): number {
  if (t === 'b') return S_IFBLK;
  if (t === 'p') return S_IFIFO;
  return S_IFCHR; // 'c' and 'u' (unbuffered) are both character devices
}

/**
 * The default devices merged with `linux.devices` (a spec entry replaces a default with the same path),
 * defaults first.
 */
export function mergedDevices(specDevices: readonly Device[] | undefined): Device[] {
  const specPaths = new Set((specDevices ?? []).map((d) => cleanPath(d.path)));
  return [...DEFAULT_DEVICES.filter((d) => !specPaths.has(d.path)), ...(specDevices ?? [])];
}

/**
 * One step per device. In a user namespace the kernel refuses mknod for character and block devices, so
 * the host's node is bind-mounted instead (fifos can still be created).
 */
export function deviceSteps(devices: readonly Device[], userns: boolean): Step[] {
  return devices.map((d) => {
    const path = cleanPath(d.path);
    if (userns && d.type !== 'p') {
      return { op: 'BIND_DEVICE', args: [str(path), str(path)], what: `bind host device ${path}` };
    }
    const mode = typeBits(d.type) | ((d.fileMode ?? 0o666) & 0o7777);
    // A fifo has no device numbers: whatever the config says, the kernel records 0:0.
    const [major, minor] = d.type === 'p' ? [0, 0] : [d.major ?? 0, d.minor ?? 0];
    return {
      op: 'MKNOD',
      args: [str(path), u32(mode), u32(major), u32(minor), u32(d.uid ?? 0), u32(d.gid ?? 0)],
      what: `create device ${path}`,
    };
  });
}

/** The standard /dev symlinks, skipping a link whose path a device already occupies. */
export function devSymlinkSteps(devices: readonly Device[]): Step[] {
  const taken = new Set(devices.map((d) => cleanPath(d.path)));
  return DEV_SYMLINKS.filter(([, link]) => !taken.has(link)).map(([target, link]) => ({
    op: 'SYMLINK',
    args: [str(target), str(link)],
    what: `link ${link} to ${target}`,
  }));
}

/** MKDIR steps for /dev/pts and /dev/shm when no mount provides them, so that the usual paths exist. */
export function devDirSteps(mounts: readonly Mount[] | undefined): Step[] {
  const dests = new Set((mounts ?? []).map((m) => cleanPath(m.destination)));
  const dirs: [string, number][] = [['/dev/pts', 0o755], ['/dev/shm', 0o1777]];
  return dirs.filter(([d]) => !dests.has(d)).map(([d, mode]) => ({
    op: 'MKDIR',
    args: [u32(Base.ROOTFS), str(d), u32(mode)],
    what: `create directory ${d}`,
  }));
}

/** All /dev population steps for a spec, in order: directories, devices, symlinks. */
export function devSetupSteps(mounts: readonly Mount[] | undefined, specDevices: readonly Device[] | undefined,
  userns: boolean): Step[] {
  const devices = mergedDevices(specDevices);
  // With /dev bound from the host every node would land in the host's /dev: leave it alone.
  if (!needsDevSetup(mounts)) return [];
  return [...devDirSteps(mounts), ...deviceSteps(devices, userns), ...devSymlinkSteps(devices)];
}
