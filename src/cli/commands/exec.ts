import type { Command } from '../command';
import { bool, int, list, str } from '../args';
import { execInContainer } from '../../runtime/exec';

const command: Command = {
  name: 'exec',
  summary: 'execute new process inside the container',
  usage: '<container-id> <command> [command options]  ||  -p process.json <container-id>',
  flags: {
    process: { type: 'string', short: 'p', help: 'path to a process.json', value: 'FILE' },
    tty: { type: 'boolean', short: 't', help: 'allocate a pseudo-TTY' },
    'console-socket': { type: 'string', help: 'unix socket that receives the pty master', value: 'PATH' },
    detach: { type: 'boolean', short: 'd', help: 'detach from the container process' },
    'pid-file': { type: 'string', help: 'file to write the process id to', value: 'FILE' },
    cwd: { type: 'string', help: 'current working directory in the container', value: 'DIR' },
    env: { type: 'string', short: 'e', multiple: true, help: 'set an environment variable (repeatable)', value: 'KEY=VALUE' },
    user: { type: 'string', short: 'u', help: 'UID[:GID] to run as', value: 'UID[:GID]' },
    'additional-gids': { type: 'string', short: 'g', multiple: true, help: 'additional gid (repeatable)', value: 'GID' },
    cap: { type: 'string', short: 'c', multiple: true, help: 'add a capability (repeatable)', value: 'CAP' },
    'no-new-privs': { type: 'boolean', help: 'set no_new_privileges for the process' },
    'preserve-fds': { type: 'string', help: 'pass N additional file descriptors to the process', value: 'N' },
    'process-label': { type: 'string', help: 'SELinux label (not supported on this host: ignored when empty)', value: 'LABEL', hidden: true },
    apparmor: { type: 'string', help: 'AppArmor profile (ignored when empty)', value: 'PROFILE', hidden: true },
    'ignore-paused': { type: 'boolean', help: 'allow exec in a paused container', hidden: true },
  },
  args: { min: 1 },
  run(ctx, flags, [id, ...args]) {
    return execInContainer(ctx, {
      id,
      processFile: str(flags, 'process'),
      args,
      tty: bool(flags, 'tty'),
      consoleSocket: str(flags, 'console-socket'),
      detach: bool(flags, 'detach'),
      pidFile: str(flags, 'pid-file'),
      cwd: str(flags, 'cwd'),
      env: list(flags, 'env'),
      user: str(flags, 'user'),
      additionalGids: list(flags, 'additional-gids'),
      caps: list(flags, 'cap'),
      noNewPrivs: bool(flags, 'no-new-privs'),
      preserveFds: int(flags, 'preserve-fds', 'exec'),
    });
  },
};
export default command;
