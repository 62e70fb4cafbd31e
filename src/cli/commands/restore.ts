import type { Command } from '../command';
import { bool, int, str } from '../args';
import { restoreContainer } from '../../runtime/restore';
import { restoreClones } from '../../runtime/restore-clones';
import { RuntimeError } from '../../runtime/errors';
import { CRIU_COMMON_FLAGS, commonCriuFlags } from './checkpoint';

/** archive/manifest.ts's MANIFEST_FILE (test/unit checks they agree): named here to avoid loading the archive code. */
export const PORTABLE_MANIFEST_FILE = 'stasis-manifest.json';

const command: Command = {
  name: 'restore',
  summary: 'restore a container from a previous checkpoint',
  usage: '<container-id>',
  description:
    'Restores the checkpoint in --image-path as container <container-id> (a new id works), using the bundle\n' +
    'given with --bundle. Without --detach, stasis waits for the container and exits with its status.',
  flags: {
    ...CRIU_COMMON_FLAGS,
    bundle: { type: 'string', short: 'b', help: 'path to the root of the bundle directory (default: current directory)', value: 'DIR' },
    detach: { type: 'boolean', short: 'd', help: 'detach from the container\'s process' },
    'pid-file': { type: 'string', help: 'file to write the restored init pid to', value: 'FILE' },
    'console-socket': { type: 'string', help: 'unix socket that receives the new pty master of a terminal container', value: 'PATH' },
    'tcp-close': { type: 'boolean', help: 'close established tcp connections instead of restoring them' },
    'no-subreaper': { type: 'boolean', help: 'accepted like runc; stasis never makes itself a subreaper for a restored container (its init is a direct child)' },
    'no-pivot': { type: 'boolean', help: 'accepted like runc, no effect: criu always pivot_roots into the restored mount namespace' },
    'lsm-profile': { type: 'string', help: 'TYPE:NAME of the LSM profile to restore with (apparmor or selinux)', value: 'TYPE:NAME' },
    'page-server': { type: 'string', help: 'with --lazy-pages: ADDRESS:PORT of the checkpoint serving the pages', value: 'ADDR:PORT' },
    import: { type: 'string', help: 'restore from a checkpoint archive (checkpoint --export, or Podman\'s), verified first', value: 'FILE' },
    'no-verify': { type: 'boolean', help: 'with --import: accept an archive without a stasis manifest (Podman\'s), whose integrity cannot be checked' },
    netns: { type: 'string', help: 'network namespace to restore into, for a container that joined one by path', value: 'PATH' },
    'lsm-mount-context': { type: 'string', help: 'SELinux mount context for the restored mounts', value: 'CONTEXT' },
    clone: { type: 'string', help: 'restore N copies <container-id>-1 … -N, each on its own overlay of the bundle\'s rootfs (N > 1 needs -d)', value: 'N' },
  },
  args: { min: 1, max: 1 },
  run(ctx, flags, [id]) {
    const opts = {
      id,
      ...commonCriuFlags(flags),
      bundle: str(flags, 'bundle') ?? process.cwd(),
      detach: bool(flags, 'detach'),
      pidFile: str(flags, 'pid-file'),
      consoleSocket: str(flags, 'console-socket'),
      tcpClose: bool(flags, 'tcp-close'),
      noSubreaper: bool(flags, 'no-subreaper'),
      noPivot: bool(flags, 'no-pivot'),
      lsmProfile: str(flags, 'lsm-profile'),
      lsmMountContext: str(flags, 'lsm-mount-context'),
      printStats: bool(flags, 'print-stats'),
      pageServer: str(flags, 'page-server'),
      netns: str(flags, 'netns'),
      importFile: str(flags, 'import'),
      imagePathGiven: str(flags, 'image-path') !== undefined,
      noVerify: bool(flags, 'no-verify'),
    };
    // The archive is unpacked and verified once; every clone restores from that one copy.
    const clones = str(flags, 'clone') === undefined ? undefined : int(flags, 'clone', 'restore');
    if (clones !== undefined && opts.noVerify) throw new RuntimeError('usage', 'restore: --clone cannot be used with --no-verify: clone a verified stasis archive');
    if (clones !== undefined && clones > 1 && opts.autoDedup) {
      throw new RuntimeError('usage', 'restore: --clone cannot be used with --auto-dedup: criu frees the memory images as the first clone reads them');
    }
    const inner = clones === undefined ? restoreContainer : (c: typeof ctx, o: Parameters<typeof restoreContainer>[1]) => restoreClones(c, o, clones);
    // A plain image directory (no --import, no manifest) skips the archive code, whose modules (crypto, zlib,
    // child_process) are ~5 ms of start-up; restorePortable would pass it straight to `inner` anyway.
    if (opts.importFile === undefined && !require('node:fs').existsSync(require('node:path').resolve(opts.imagePath, PORTABLE_MANIFEST_FILE))) {
      const { importFile: _i, imagePathGiven: _g, noVerify: _n, ...rest } = opts;
      return inner(ctx, rest);
    }
    const { restorePortable } = require('../../runtime/restore-portable') as typeof import('../../runtime/restore-portable');
    return restorePortable(ctx, opts, inner);
  },
};
export default command;
