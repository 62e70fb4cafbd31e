/**
 * Reads a bundle: config.json (parsed and validated) and the root filesystem it names. Every error names the
 * file or directory at fault.
 */
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { SpecError } from './errors';
import { locateJsonError } from './json-error';
import type { Spec } from './types';
import { validateSpec, type ValidateOptions } from './validate';

/** A loaded bundle. */
export interface BundleSpec {
  spec: Spec;
  /** absolute path of the root filesystem directory */
  rootfs: string;
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

/** Parses JSON text; on failure throws a SpecError with the line and column of the problem. */
export function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    // JSON.parse gives up on very deep nesting with a RangeError; the locator, which recurses, would then
    // overflow the stack as well, so it is not asked.
    if (err instanceof RangeError) throw new SpecError(source, '', 'invalid JSON: nested too deeply');
    let loc: ReturnType<typeof locateJsonError>;
    try {
      loc = locateJsonError(text);
    } catch {
      loc = undefined; // the locator's own recursion limit: fall back to JSON.parse's message
    }
    if (loc) throw new SpecError(source, '', `invalid JSON at line ${loc.line} column ${loc.column}: ${loc.reason}`);
    throw new SpecError(source, '', `invalid JSON: ${(err as Error).message}`);
  }
}

/** Reads and validates `<bundle>/config.json` and checks that the rootfs is a directory. */
export function loadBundleSpec(bundle: string, opts: ValidateOptions = {}): BundleSpec {
  const dir = resolve(bundle);
  const file = join(dir, 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') throw new SpecError(file, '', 'no such file (is the bundle path right?)');
    if (code === 'EISDIR') throw new SpecError(file, '', 'is a directory, not a file');
    throw new SpecError(file, '', `cannot read: ${(err as Error).message}`);
  }
  const spec = validateSpec(parseJson(text, file), file, opts);
  const rootPath = spec.root!.path;
  const rootfs = isAbsolute(rootPath) ? rootPath : join(dir, rootPath);
  let isDir: boolean;
  try {
    isDir = statSync(rootfs).isDirectory();
  } catch (err) {
    const code = errnoCode(err);
    const why = code === 'ENOENT' ? 'does not exist' : `cannot be accessed (${code ?? (err as Error).message})`;
    throw new SpecError(file, 'root.path', `rootfs ${rootfs} ${why}`);
  }
  if (!isDir) throw new SpecError(file, 'root.path', `rootfs ${rootfs} is not a directory`);
  return { spec, rootfs };
}
