import type { Command } from '../command';
import { startContainer } from '../../runtime/start';

const command: Command = {
  name: 'start',
  summary: 'executes the user defined process in a created container',
  usage: '<container-id>',
  flags: {},
  args: { min: 1, max: 1 },
  async run(ctx, _flags, [id]) {
    await startContainer(ctx, id);
    return 0;
  },
};
export default command;
