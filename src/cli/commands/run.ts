import type { Command } from '../command';
import { bool } from '../args';
import { CREATE_FLAGS, createOptions } from '../create-flags';
import { runContainer } from '../../runtime/run';

const command: Command = {
  name: 'run',
  summary: 'create and run a container',
  usage: '<container-id>',
  description: 'Without --detach, stasis waits for the container, forwards signals to it and exits with its status.',
  flags: {
    ...CREATE_FLAGS,
    detach: { type: 'boolean', short: 'd', help: 'detach from the container process' },
    keep: { type: 'boolean', help: 'do not delete the container after it exits' },
  },
  args: { min: 1, max: 1 },
  run(ctx, flags, [id]) {
    const detach = bool(flags, 'detach');
    return runContainer(ctx, createOptions(id, flags, 'run', !detach), bool(flags, 'keep'));
  },
};
export default command;
