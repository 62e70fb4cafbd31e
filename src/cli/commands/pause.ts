import type { Command } from '../command';
import { pauseContainer } from '../../runtime/freeze';

const command: Command = {
  name: 'pause',
  summary: 'pause suspends all processes inside the container',
  usage: '<container-id>',
  flags: {},
  args: { min: 1, max: 1 },
  async run(ctx, _flags, [id]) {
    await pauseContainer(ctx, id);
    return 0;
  },
};
export default command;
