/** Flags shared by `create`, `run` and (partly) `restore`. */
import type { FlagTable, Flags } from './args';
import { bool, int, str } from './args';
import type { CreateOptions } from '../runtime/create';

export const CREATE_FLAGS: FlagTable = {
  bundle: { type: 'string', short: 'b', help: 'path to the root of the bundle directory (default: current directory)', value: 'DIR' },
  'console-socket': { type: 'string', help: 'unix socket that receives the pty master of a terminal container', value: 'PATH' },
  'pid-file': { type: 'string', help: 'file to write the container init pid to', value: 'FILE' },
  'no-pivot': { type: 'boolean', help: 'do not use pivot_root to jail the process inside rootfs' },
  'no-new-keyring': { type: 'boolean', help: 'do not create a new session keyring for the container' },
  'preserve-fds': { type: 'string', help: 'pass N additional file descriptors to the container (stdio + 3 .. 3+N-1)', value: 'N' },
};

/** Reads the create flags into CreateOptions. */
export function createOptions(id: string, flags: Flags, where: string, foreground: boolean): CreateOptions {
  return {
    id,
    bundle: str(flags, 'bundle') ?? process.cwd(),
    consoleSocket: str(flags, 'console-socket'),
    pidFile: str(flags, 'pid-file'),
    noPivot: bool(flags, 'no-pivot'),
    noNewKeyring: bool(flags, 'no-new-keyring'),
    preserveFds: int(flags, 'preserve-fds', where),
    foreground,
  };
}
