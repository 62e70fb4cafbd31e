import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from '../command';
import { bool, str } from '../args';
import { defaultSpec } from '../../spec/defaults';
import { RuntimeError, errnoText } from '../../runtime/errors';

const command: Command = {
  name: 'spec',
  summary: 'create a new specification file',
  usage: '',
  description: 'Writes a default config.json into the bundle directory (it must not exist yet).',
  flags: {
    bundle: { type: 'string', short: 'b', help: 'path to the root of the bundle directory', value: 'DIR' },
    rootless: { type: 'boolean', help: 'generate a configuration for a rootless container' },
  },
  args: { min: 0, max: 0 },
  run(_ctx, flags) {
    const file = path.join(str(flags, 'bundle') ?? '.', 'config.json');
    if (fs.existsSync(file)) throw new RuntimeError('exists', `file ${file} exists: remove it first`);
    try {
      fs.writeFileSync(file, JSON.stringify(defaultSpec({ rootless: bool(flags, 'rootless') }), null, '\t') + '\n', { mode: 0o644 });
    } catch (err) {
      throw new RuntimeError('system', `cannot write ${file}: ${errnoText(err)}`);
    }
    return 0;
  },
};
export default command;
