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
          const state = ociState(record, await statusOf(store, record));
          // As runc: the owner is whoever owns the container's state directory (a rootless user's name).
          state.owner ||= ownerName(store.dir(id));
          states.push(state);
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

/** User name of a file's owner (its uid when /etc/passwd has no entry). */
function ownerName(file: string): string {
  const fs = require('node:fs') as typeof import('node:fs');
  let uid: number;
  try {
    uid = fs.statSync(file).uid;
  } catch {
    return '';
  }
  if (uid === 0) return 'root';
  try {
    const line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.split(':')[2] === String(uid));
    if (line) return line.split(':')[0];
  } catch {
    /* no passwd file: the number will do */
  }
  return `#${uid}`;
}

function table(states: OciState[]): string {
  const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER']];
  for (const s of states) rows.push([s.id, String(s.pid ?? 0), s.status, s.bundle, s.created ?? '', s.owner || 'root']);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] + 3))).join('') + '\n').join('');
}
export default command;
