import type { Command } from '../command';
import { bool } from '../args';
import { deleteContainer } from '../../runtime/delete';

const command: Command = {
  name: 'delete',
  summary: 'delete any resources held by the container',
  usage: '<container-id>',
  flags: { force: { type: 'boolean', short: 'f', help: 'forcibly delete the container if it is still running (uses SIGKILL)' } },
  args: { min: 1, max: 1 },
  async run(ctx, flags, [id]) {
    await deleteContainer(ctx, id, bool(flags, 'force'));
    return 0;
  },
};
export default command;
