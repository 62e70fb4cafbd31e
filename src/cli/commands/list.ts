import type { Command } from '../command';
import { bool, str } from '../args';
import { StateStore } from '../../state/store';
import { LockMode } from '../../state/lock';
import { statusOf } from '../../runtime/container';
import { ociState, type OciState } from '../../runtime/oci-state';
import { RuntimeError } from '../../runtime/errors';

const command: Command = {
  name: 'list',
  summary: 'lists containers started by stasis with the given root',
  usage: '',
  flags: {
    format: { type: 'string', short: 'f', help: 'table or json', value: 'FORMAT' },
    quiet: { type: 'boolean', short: 'q', help: 'display only container ids' },
  },
  args: { min: 0, max: 0 },
  async run(ctx, flags) {
    const format = str(flags, 'format') ?? 'table';
    if (format !== 'table' && format !== 'json') throw new RuntimeError('usage', `invalid format "${format}": use table or json`);
    const store = new StateStore(ctx.root);
    const states: OciState[] = [];
    for (const id of store.list()) {
      try {
        const { lock, record } = store.open(id, LockMode.Shared);
        try {
          states.push(ociState(record, await statusOf(store, record)));
        } finally {
          lock.release();
        }
      } catch {
        /* deleted while listing */
      }
    }
    if (bool(flags, 'quiet')) {
      process.stdout.write(states.map((s) => `${s.id}\n`).join(''));
    } else if (format === 'json') {
      process.stdout.write(JSON.stringify(states) + '\n');
    } else {
      process.stdout.write(table(states));
    }
    return 0;
  },
};

function table(states: OciState[]): string {
  const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER']];
  for (const s of states) rows.push([s.id, String(s.pid ?? 0), s.status, s.bundle, s.created ?? '', s.owner || 'root']);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] + 3))).join('') + '\n').join('');
}
export default command;
