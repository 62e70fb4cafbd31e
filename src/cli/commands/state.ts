import type { Command } from '../command';
import { LockMode } from '../../state/lock';
import { withContainer } from '../../runtime/container';
import { ociState } from '../../runtime/oci-state';

const command: Command = {
  name: 'state',
  summary: 'output the state of a container',
  usage: '<container-id>',
  flags: {},
  args: { min: 1, max: 1 },
  async run(ctx, _flags, [id]) {
    const state = await withContainer(ctx, id, (c) => ociState(c.record, c.status), LockMode.Shared);
    process.stdout.write(JSON.stringify(state, null, 2) + '\n');
    return 0;
  },
};
export default command;
