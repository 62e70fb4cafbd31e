import type { Command } from '../command';
import { features } from '../../spec/features';

const command: Command = {
  name: 'features',
  summary: 'show the enabled features',
  usage: '',
  description: 'Prints the OCI features document: what this build of stasis supports.',
  flags: {},
  args: { min: 0, max: 0 },
  run() {
    process.stdout.write(JSON.stringify(features(), null, '    ') + '\n');
    return 0;
  },
};
export default command;
