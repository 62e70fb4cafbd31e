/**
 * stasis entry point: global flags, command dispatch, and the single exit point that turns any error into
 * one line on stderr (and a log line with --log). Command modules are loaded lazily to keep start-up lean.
 */
import { formatFlags, parseFlags, str, bool, type FlagTable } from './args';
import type { Command } from './command';
import type { Context } from './context';
import { Logger, type LogFormat } from './log';
import { RuntimeError } from '../runtime/errors';
import { mark } from '../runtime/trace';
import { exitProcess, trackStdio } from './exit';

export { exitProcess };

import { STASIS_VERSION as VERSION } from '../version';
const SPEC_VERSION = '1.2.1';

/**
 * Loads a command that is bundled on its own (dist/stasis-<name>.js): checkpoint and restore carry protobufjs
 * and the CRIU descriptors, which every other command would otherwise pay to parse at start-up. The
 * require path is built at run time so the bundler leaves it alone; from tsc output it is the module itself.
 */
function loadSplit(name: 'checkpoint' | 'restore'): Command {
  const split = require('node:path').join(__dirname, `stasis-${name}.js`);
  if (!require('node:fs').existsSync(split)) return require(['.', 'commands', name].join('/')).default;
  // bin/stasis (scripts/launcher.cjs) offers its code-cache loader; without it the bundle loads the plain way.
  const withCache = (globalThis as { stasisRequireWithCodeCache?: (file: string) => unknown }).stasisRequireWithCodeCache;
  const cached = withCache?.(split) as { default: Command } | undefined;
  return (cached ?? require(split)).default;
}

/** Command table: summaries here so `--help` loads no command module; modules load lazily on use. */
const COMMANDS: Record<string, { summary: string; load: () => Command }> = {
  checkpoint: { summary: 'checkpoint a running container', load: () => loadSplit('checkpoint') },
  create: { summary: 'create a container', load: () => require('./commands/create').default },
  delete: { summary: 'delete any resources held by the container', load: () => require('./commands/delete').default },
  events: { summary: 'display container events such as OOM notifications and resource statistics', load: () => require('./commands/events').default },
  exec: { summary: 'execute new process inside the container', load: () => require('./commands/exec').default },
  features: { summary: 'show the enabled features', load: () => require('./commands/features').default },
  kill: { summary: 'kill sends the specified signal (default: SIGTERM) to the container\'s init process', load: () => require('./commands/kill').default },
  list: { summary: 'lists containers started by stasis with the given root', load: () => require('./commands/list').default },
  pause: { summary: 'pause suspends all processes inside the container', load: () => require('./commands/pause').default },
  ps: { summary: 'ps displays the processes running inside a container', load: () => require('./commands/ps').default },
  restore: { summary: 'restore a container from a previous checkpoint', load: () => loadSplit('restore') },
  resume: { summary: 'resumes all processes that have been previously paused', load: () => require('./commands/resume').default },
  run: { summary: 'create and run a container', load: () => require('./commands/run').default },
  service: { summary: 'keep warm workers so that stasis calls skip Node\'s start-up', load: () => require('./commands/service').default },
  spec: { summary: 'create a new specification file', load: () => require('./commands/spec').default },
  start: { summary: 'executes the user defined process in a created container', load: () => require('./commands/start').default },
  state: { summary: 'output the state of a container', load: () => require('./commands/state').default },
  update: { summary: 'update container resource constraints', load: () => require('./commands/update').default },
};

export const GLOBAL_FLAGS: FlagTable = {
  root: { type: 'string', help: 'root directory for storage of container state', value: 'DIR' },
  log: { type: 'string', help: 'write the runtime log to this file (default: stderr)', value: 'FILE' },
  'log-format': { type: 'string', help: 'log format: text or json', value: 'FORMAT' },
  debug: { type: 'boolean', help: 'enable debug logging' },
  'systemd-cgroup': { type: 'boolean', help: 'use systemd cgroups (not supported yet)' },
  criu: { type: 'string', help: 'path to the criu binary used for checkpoint and restore', value: 'PATH' },
  rootless: { type: 'string', help: 'rootless mode: true, false or auto', value: 'MODE' },
  version: { type: 'boolean', short: 'v', help: 'print the version' },
  help: { type: 'boolean', short: 'h', help: 'show help' },
};

function usage(): string {
  const names = Object.keys(COMMANDS);
  const lines = names.map((n) => `   ${n.padEnd(12)}${COMMANDS[n].summary}`);
  return `stasis - an OCI container runtime with checkpoint/restore

usage: stasis [global options] command [command options] [arguments...]

commands:
${lines.join('\n')}

global options:
${formatFlags(GLOBAL_FLAGS)}
`;
}

function commandHelp(cmd: Command): string {
  return `usage: stasis ${cmd.name} [command options] ${cmd.usage}\n\n${cmd.summary}\n${
    cmd.description ? `\n${cmd.description}\n` : ''
  }\noptions:\n${formatFlags(cmd.flags)}\n`;
}

/** Runs the CLI and resolves to the exit status. Never throws. */
export async function main(argv: string[]): Promise<number> {
  trackStdio();
  mark('main');
  let log = new Logger(undefined, 'text', false);
  try {
    const { flags: g, rest } = parseFlags(argv, GLOBAL_FLAGS, 'stasis');
    const format = (str(g, 'log-format') ?? 'text') as LogFormat;
    if (format !== 'text' && format !== 'json') throw new RuntimeError('usage', `invalid log format "${format}": use text or json`);
    log = new Logger(str(g, 'log'), format, bool(g, 'debug'));
    if (bool(g, 'version')) {
      process.stdout.write(`stasis version ${VERSION}\nspec: ${SPEC_VERSION}\n`);
      return 0;
    }
    const [name, ...cmdArgv] = rest;
    if (!name || bool(g, 'help') || name === 'help') {
      process.stdout.write(usage());
      return name || bool(g, 'help') ? 0 : 1;
    }
    const entry = COMMANDS[name];
    if (!entry) throw new RuntimeError('usage', `no such command: ${name}`);
    const cmd = entry.load();
    mark('command loaded');
    const { flags, rest: args } = parseFlags(cmdArgv, { ...cmd.flags, help: { type: 'boolean', short: 'h', help: 'show help' } }, name);
    if (bool(flags, 'help')) {
      process.stdout.write(commandHelp(cmd));
      return 0;
    }
    if (args.length < cmd.args.min || (cmd.args.max !== undefined && args.length > cmd.args.max)) {
      throw new RuntimeError('usage', `${name}: expected ${describeArity(cmd)}, got ${args.length}: usage: stasis ${name} ${cmd.usage}`);
    }
    if (bool(g, 'systemd-cgroup')) {
      throw new RuntimeError('unsupported', 'systemd cgroup management (--systemd-cgroup) is not supported yet: use the cgroupfs driver');
    }
    const rootless = str(g, 'rootless') ?? 'auto';
    if (!['true', 'false', 'auto'].includes(rootless)) throw new RuntimeError('usage', `invalid --rootless value "${rootless}": use true, false or auto`);
    const ctx: Context = {
      root: str(g, 'root') ?? defaultRoot(rootless),
      log,
      criu: str(g, 'criu'),
      rootless: rootless === 'true' || (rootless === 'auto' && process.getuid?.() !== 0),
      systemdCgroup: false,
    };
    return await cmd.run(ctx, flags, args);
  } catch (err) {
    return report(err, log);
  }
}

function describeArity(cmd: Command): string {
  const { min, max } = cmd.args;
  if (max === min) return `${min} argument${min === 1 ? '' : 's'}`;
  if (max === undefined) return `at least ${min} argument${min === 1 ? '' : 's'}`;
  return `${min} to ${max} arguments`;
}

/**
 * The state root when --root is not given. root: /run/stasis. Another user (rootless auto or true), as runc:
 * $XDG_RUNTIME_DIR/stasis; without it, /run/user/<uid>/stasis when that directory is the user's; else
 * <tmpdir>/stasis-<uid>, made private (0700) here, and refused if it exists but is not the user's own.
 */
function defaultRoot(rootless: string): string {
  const uid = process.getuid?.() ?? 0;
  if (uid === 0 || rootless === 'false') return '/run/stasis';
  if (process.env.XDG_RUNTIME_DIR) return `${process.env.XDG_RUNTIME_DIR}/stasis`;
  const fs = require('node:fs') as typeof import('node:fs');
  const runUser = `/run/user/${uid}`;
  try {
    if (fs.statSync(runUser).uid === uid) return `${runUser}/stasis`;
  } catch {
    /* no per-user runtime directory (no login session): fall back to the temp dir */
  }
  const dir = `${require('node:os').tmpdir()}/stasis-${uid}`;
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new RuntimeError('system', `cannot create state root ${dir}: ${(err as Error).message}`);
  }
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    throw new RuntimeError('system', `state root ${dir} is not a private directory of uid ${uid}: set XDG_RUNTIME_DIR or use --root`);
  }
  return dir;
}

/** The single exit point for failures: one line on stderr, the same line in the log file. */
function report(err: unknown, log: Logger): number {
  let msg: string;
  let code = 1;
  if (err instanceof RuntimeError) {
    msg = err.message + (err.hint ? ` (${err.hint})` : '');
    code = err.exitCode;
  } else if (err instanceof Error && (err as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    msg = err.message;
  } else if (err instanceof Error) {
    msg = err.message;
    if (log.debugEnabled && err.stack) log.debug(err.stack);
  } else {
    msg = String(err);
  }
  msg = msg.replace(/\s*\n\s*/g, ' ');
  log.error(msg);
  process.stderr.write(`stasis: ${msg}\n`);
  return code;
}

/**
 * A warm worker's life (src/warm/worker.ts): load every command now, wait for one call, run it, end.
 * bin/stasis's launcher calls this instead of main() when `stasis service` started it.
 */
export function warmWorker(launcherFile: string): Promise<never> {
  const { serveOneCall } = require('../warm/worker') as typeof import('../warm/worker');
  return serveOneCall({
    main,
    exit: exitProcess,
    globalFlags: GLOBAL_FLAGS,
    preload: () => {
      for (const [name, entry] of Object.entries(COMMANDS)) if (name !== 'checkpoint' && name !== 'restore') entry.load();
      require('node:net');
      require('node:child_process');
    },
    bundleFile: __filename,
    launcherFile,
  });
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    () => {
      process.exitCode = 1;
    },
  );
}
