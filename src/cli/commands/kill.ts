import type { Command } from '../command';
import { bool } from '../args';
import { killContainer, parseSignal } from '../../runtime/kill';

const command: Command = {
  name: 'kill',
  summary: "kill sends the specified signal (default: SIGTERM) to the container's init process",
  usage: '<container-id> [signal]',
  flags: { all: { type: 'boolean', short: 'a', help: 'send the signal to all processes in the container' } },
  args: { min: 1, max: 2 },
  async run(ctx, flags, [id, sig]) {
    await killContainer(ctx, id, parseSignal(sig ?? 'SIGTERM'), bool(flags, 'all'));
    return 0;
  },
};
export default command;
