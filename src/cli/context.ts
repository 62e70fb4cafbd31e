/** Global options shared by every command (runc's global flags). */
import type { Logger } from './log';

export interface Context {
  /** State root (`--root`). */
  root: string;
  log: Logger;
  /** `--criu` path, when given. */
  criu?: string;
  rootless: boolean;
  systemdCgroup: boolean;
}
