import type { Command } from '../command';
import { bool, str } from '../args';
import { parseDuration, streamEvents } from '../../runtime/events';

const command: Command = {
  name: 'events',
  summary: 'display container events such as OOM notifications and resource statistics',
  usage: '<container-id>',
  flags: {
    interval: { type: 'string', help: 'set the stats collection interval (default 5s)', value: 'DURATION' },
    stats: { type: 'boolean', help: 'display the container stats only once' },
  },
  args: { min: 1, max: 1 },
  async run(ctx, flags, [id]) {
    const interval = parseDuration(str(flags, 'interval') ?? '5s');
    await streamEvents(ctx, id, interval, bool(flags, 'stats'), (ev) => process.stdout.write(JSON.stringify(ev) + '\n'));
    return 0;
  },
};
export default command;
