import type { Command } from '../command';
import { CREATE_FLAGS, createOptions } from '../create-flags';
import { createContainer } from '../../runtime/create';

const command: Command = {
  name: 'create',
  summary: 'create a container',
  usage: '<container-id>',
  description: 'The container is set up and waits in "created" until `stasis start` runs its process.',
  flags: CREATE_FLAGS,
  args: { min: 1, max: 1 },
  async run(ctx, flags, [id]) {
    await createContainer(ctx, createOptions(id, flags, 'create', false));
    return 0;
  },
};
export default command;
