/**
 * Argument parsing with runc's (Go `flag`) semantics on top of Node's util.parseArgs: flags come before
 * positional arguments and parsing stops at the first positional (so `exec ID sh -c x` keeps `-c` for sh);
 * long flags may be written `--name`, `-name` (containerd passes `-no-subreaper`), `--name=value` or
 * `--name value`.
 */
import { parseArgs } from 'node:util';
import { RuntimeError } from '../runtime/errors';

/** One flag of a command. `multiple` collects repeated flags (e.g. `--env`). */
export interface FlagSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Shown in --help. */
  help: string;
  /** Placeholder for the value in --help. */
  value?: string;
  /** Parsed but not shown (compatibility flags). */
  hidden?: boolean;
}

export type FlagTable = Record<string, FlagSpec>;

/** Parsed flags: strings, booleans, or string arrays for `multiple`. */
export type Flags = Record<string, string | boolean | string[] | undefined>;

/** Splits argv into flags and positionals following Go flag rules, then validates the flags. */
export function parseFlags(argv: readonly string[], table: FlagTable, where: string): { flags: Flags; rest: string[] } {
  const byShort = new Map<string, string>();
  for (const [name, spec] of Object.entries(table)) if (spec.short) byShort.set(spec.short, name);
  const flagTokens: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const tok = argv[i];
    if (tok === '--') {
      i++;
      break;
    }
    if (!tok.startsWith('-') || tok === '-') break;
    const body = tok.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const longName = table[name] ? name : byShort.get(name);
    if (!longName) throw new RuntimeError('usage', `${where}: flag provided but not defined: -${name}`);
    const spec = table[longName];
    if (spec.type === 'boolean') {
      if (eq >= 0) {
        const v = body.slice(eq + 1);
        if (v !== 'true' && v !== 'false') throw new RuntimeError('usage', `${where}: invalid boolean value "${v}" for -${name}`);
        if (v === 'true') flagTokens.push(`--${longName}`);
      } else {
        flagTokens.push(`--${longName}`);
      }
      continue;
    }
    if (eq >= 0) {
      flagTokens.push(`--${longName}=${body.slice(eq + 1)}`);
    } else {
      if (i + 1 >= argv.length) throw new RuntimeError('usage', `${where}: flag needs an argument: -${name}`);
      flagTokens.push(`--${longName}=${argv[++i]}`);
    }
  }
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
  for (const [name, spec] of Object.entries(table)) options[name] = spec.multiple ? { type: spec.type, multiple: true } : { type: spec.type };
  const { values } = parseArgs({ args: flagTokens, options, strict: true, allowPositionals: false });
  return { flags: values as Flags, rest: argv.slice(i) };
}

/** Renders the flag table for --help. */
export function formatFlags(table: FlagTable): string {
  const rows = Object.entries(table)
    .filter(([, s]) => !s.hidden)
    .map(([name, s]) => {
      const names = (s.short ? `-${s.short}, ` : '') + `--${name}` + (s.type === 'string' ? ` ${s.value ?? 'value'}` : '');
      return [names, s.help] as const;
    });
  const width = Math.max(0, ...rows.map(([n]) => n.length)) + 3;
  return rows.map(([n, h]) => `   ${n.padEnd(width)}${h}`).join('\n');
}

/** Reads a string flag. */
export function str(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}

/** Reads a boolean flag. */
export function bool(flags: Flags, name: string): boolean {
  return flags[name] === true;
}

/** Reads a repeatable string flag. */
export function list(flags: Flags, name: string): string[] {
  const v = flags[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

/** Reads a non-negative integer flag. */
export function int(flags: Flags, name: string, where: string, fallback = 0): number {
  const v = str(flags, name);
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v)) throw new RuntimeError('usage', `${where}: invalid value "${v}" for --${name}: expected a non-negative integer`);
  return Number(v);
}
