import * as path from 'node:path';
import type { Command } from '../command';
import { bool, int, str } from '../args';
import { RuntimeError } from '../../runtime/errors';
import { packageRoot } from '../../helper/paths';
import { DEFAULT_SOCKET, runService } from '../../warm/service';

const command: Command = {
  name: 'service',
  summary: 'keep warm workers so that stasis calls skip Node\'s start-up',
  usage: '',
  description: `Runs in the foreground until SIGTERM or SIGINT, keeping --workers Node processes started and waiting on
--socket. bin/stasis hands each call to one of them (docs/warm.md): the call runs exactly as a cold start
would, as a child of the caller, without waiting for Node to start. Without a service, or for checkpoint,
restore and calls that pass fds (--preserve-fds, LISTEN_FDS), stasis starts Node itself. STASIS_WARM=0 in
a caller's environment makes that call cold. Root only.`,
  flags: {
    socket: { type: 'string', help: `socket to listen on (default: $STASIS_WARM_SOCKET, else ${DEFAULT_SOCKET})`, value: 'PATH' },
    workers: { type: 'string', help: 'workers kept waiting (default 2)', value: 'N' },
    'idle-exit': { type: 'string', help: 'end after this many seconds without a call (default 0: never)', value: 'SECONDS' },
    verbose: { type: 'boolean', help: 'one line on stderr for every call a worker takes' },
  },
  args: { min: 0, max: 0 },
  async run(_ctx, flags) {
    if (process.getuid?.() !== 0) throw new RuntimeError('unsupported', 'stasis service runs as root only');
    const workers = int(flags, 'workers', 'service', 2);
    const idleExit = int(flags, 'idle-exit', 'service', 0);
    if (workers < 1 || workers > 64) throw new RuntimeError('usage', `--workers ${workers}: use 1 to 64`);
    if (idleExit < 0) throw new RuntimeError('usage', `--idle-exit ${idleExit}: use 0 or more seconds`);
    return runService({
      socket: path.resolve(str(flags, 'socket') || process.env.STASIS_WARM_SOCKET || DEFAULT_SOCKET),
      workers,
      idleExit,
      verbose: bool(flags, 'verbose'),
      launcher: path.join(packageRoot(), 'dist', 'launcher.cjs'),
      log: (line) => process.stderr.write(`stasis service: ${line}\n`),
    });
  },
};
export default command;
