/** The shape every CLI verb exports (one file per verb under commands/). */
import type { FlagTable, Flags } from './args';
import type { Context } from './context';

export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Argument synopsis, e.g. "<container-id>". */
  usage: string;
  /** Longer help text, optional. */
  description?: string;
  flags: FlagTable;
  /** Bounds on positional arguments (max undefined = any). */
  args: { min: number; max?: number };
  /** Runs the command; resolves to the process exit status. */
  run(ctx: Context, flags: Flags, args: string[]): Promise<number> | number;
}
