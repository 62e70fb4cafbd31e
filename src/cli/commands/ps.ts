import type { Command } from '../command';
import { str } from '../args';
import { containerPids, psTable } from '../../runtime/ps';
import { RuntimeError } from '../../runtime/errors';

const command: Command = {
  name: 'ps',
  summary: 'ps displays the processes running inside a container',
  usage: '<container-id> [ps options]',
  flags: { format: { type: 'string', short: 'f', help: 'table or json', value: 'FORMAT' } },
  args: { min: 1 },
  async run(ctx, flags, [id, ...psArgs]) {
    const format = str(flags, 'format') ?? 'table';
    if (format !== 'table' && format !== 'json') throw new RuntimeError('usage', `invalid format "${format}": use table or json`);
    const pids = await containerPids(ctx, id);
    if (format === 'json') {
      if (psArgs.length) throw new RuntimeError('usage', 'ps options cannot be used with --format json');
      process.stdout.write(JSON.stringify(pids) + '\n');
    } else {
      process.stdout.write(psTable(pids, psArgs));
    }
    return 0;
  },
};
export default command;
