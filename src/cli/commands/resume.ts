import type { Command } from '../command';
import { resumeContainer } from '../../runtime/freeze';

const command: Command = {
  name: 'resume',
  summary: 'resumes all processes that have been previously paused',
  usage: '<container-id>',
  flags: {},
  args: { min: 1, max: 1 },
  async run(ctx, _flags, [id]) {
    await resumeContainer(ctx, id);
    return 0;
  },
};
export default command;
