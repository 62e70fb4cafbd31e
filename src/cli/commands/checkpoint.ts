import type { Command } from '../command';
import { bool, int, list, str, type Flags } from '../args';
import { checkpointContainer } from '../../runtime/checkpoint';
import { RuntimeError } from '../../runtime/errors';
import type { Compression } from '../../archive';

/** --manage-cgroups-mode and --empty-ns are shared with restore. */
export const CRIU_COMMON_FLAGS = {
  'image-path': { type: 'string', help: 'path for saving criu image files (default: ./checkpoint)', value: 'DIR' },
  'work-path': { type: 'string', help: 'path for saving work files and logs (default: the image path)', value: 'DIR' },
  'tcp-established': { type: 'boolean', help: 'allow open tcp connections' },
  'ext-unix-sk': { type: 'boolean', help: 'allow external unix sockets' },
  'shell-job': { type: 'boolean', help: 'allow shell jobs' },
  'file-locks': { type: 'boolean', help: 'handle file locks, for safety' },
  'lazy-pages': { type: 'boolean', help: 'use userfaultfd to lazily restore memory pages' },
  'manage-cgroups-mode': { type: 'string', help: 'cgroups mode: soft (default), full, strict or ignore', value: 'MODE' },
  'empty-ns': { type: 'string', multiple: true, help: 'create a namespace but do not restore its properties (network)', value: 'NS' },
  'auto-dedup': { type: 'boolean', help: 'enable auto deduplication of memory images' },
  'print-stats': { type: 'boolean', help: 'print per-phase timings and save them as stats.json' },
} as const;

/** The empty-ns flag as a list: runc takes one value, repeated or comma separated. */
export function emptyNs(flags: Flags): string[] {
  return list(flags, 'empty-ns').flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

/** Flags both directions read the same way. */
export function commonCriuFlags(flags: Flags) {
  return {
    imagePath: str(flags, 'image-path') ?? 'checkpoint',
    workPath: str(flags, 'work-path'),
    tcpEstablished: bool(flags, 'tcp-established'),
    extUnixSk: bool(flags, 'ext-unix-sk'),
    shellJob: bool(flags, 'shell-job'),
    fileLocks: bool(flags, 'file-locks'),
    lazyPages: bool(flags, 'lazy-pages'),
    manageCgroupsMode: str(flags, 'manage-cgroups-mode'),
    emptyNs: emptyNs(flags),
    autoDedup: bool(flags, 'auto-dedup'),
  };
}

const command: Command = {
  name: 'checkpoint',
  summary: 'checkpoint a running container',
  usage: '<container-id>',
  description:
    'Dumps the container with CRIU into --image-path. Unless --leave-running is given the container is gone\n' +
    'afterwards (its cgroup and state are removed); if the dump fails it keeps running.',
  flags: {
    ...CRIU_COMMON_FLAGS,
    'parent-path': { type: 'string', help: 'path for previous criu image files in pre-dump', value: 'DIR' },
    'leave-running': { type: 'boolean', help: 'leave the process running after checkpointing' },
    'tcp-skip-in-flight': { type: 'boolean', help: 'skip in-flight tcp connections' },
    'link-remap': { type: 'boolean', help: 'allow one to link unlinked files back when possible' },
    'status-fd': { type: 'string', help: 'criu writes \\0 to this fd once lazy-pages is ready', value: 'FD' },
    'page-server': { type: 'string', help: 'ADDRESS:PORT of the page server', value: 'ADDR:PORT' },
    'pre-dump': { type: 'boolean', help: 'dump the container\'s memory information only, leave the container running after this' },
    export: { type: 'string', help: 'also write a portable archive of the checkpoint (Podman/CRI-O layout, rootfs changes, manifest)', value: 'FILE' },
    compress: { type: 'string', help: 'archive compression for --export: none, gzip or zstd (default: from the file name)', value: 'KIND' },
    'rootfs-base': { type: 'string', help: 'with --export and a plain-directory rootfs: the image it was made from, to record its changes', value: 'DIR' },
    'no-pre-freeze': { type: 'boolean', help: 'let criu freeze the cgroup (slower; for measurements)', hidden: true },
  },
  args: { min: 1, max: 1 },
  async run(ctx, flags, [id]) {
    const statusFd = str(flags, 'status-fd');
    if (statusFd !== undefined && !/^\d+$/.test(statusFd)) {
      throw new RuntimeError('usage', `checkpoint: invalid value "${statusFd}" for --status-fd: expected a file descriptor number`);
    }
    const exportFile = str(flags, 'export');
    if (exportFile === undefined) {
      for (const f of ['compress', 'rootfs-base']) {
        if (str(flags, f) !== undefined) throw new RuntimeError('usage', `checkpoint: --${f} only applies with --export FILE`);
      }
    }
    const opts = {
      id,
      ...commonCriuFlags(flags),
      parentPath: str(flags, 'parent-path'),
      leaveRunning: bool(flags, 'leave-running'),
      tcpSkipInFlight: bool(flags, 'tcp-skip-in-flight'),
      linkRemap: bool(flags, 'link-remap'),
      statusFd: statusFd === undefined ? undefined : int(flags, 'status-fd', 'checkpoint'),
      pageServer: str(flags, 'page-server'),
      preDump: bool(flags, 'pre-dump'),
      printStats: bool(flags, 'print-stats'),
      preFreeze: !bool(flags, 'no-pre-freeze'),
    };
    if (exportFile === undefined) await checkpointContainer(ctx, opts);
    else {
      // Loaded on use: the archive code (crypto, zlib, child_process) is ~5 ms of a plain checkpoint's start.
      const { exportContainer } = require('../../runtime/checkpoint-portable') as typeof import('../../runtime/checkpoint-portable');
      await exportContainer(ctx, opts, {
        file: exportFile,
        compress: str(flags, 'compress') as Compression | undefined,
        rootfsBase: str(flags, 'rootfs-base'),
        dir: str(flags, 'image-path'),
      });
    }
    return 0;
  },
};
export default command;
