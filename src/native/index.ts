/**
 * The one place that loads the stasis_native addon. It is loaded lazily, on the first call of native(),
 * so commands that never need it (e.g. `stasis --version`) work even when the addon is not built.
 *
 * Location: $STASIS_NATIVE if set, else build/Release/stasis_native.node found by walking up from this
 * file (the same lookup works from src/, dist/src/ and a bundle in dist/).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NATIVE_CONSTANTS, NATIVE_FUNCTIONS, type StasisNative } from './types';

export type { ReceivedMessage, StasisNative } from './types';

const ADDON_RELATIVE = path.join('build', 'Release', 'stasis_native.node');
let cached: StasisNative | undefined;

/** Finds the addon file: the env override, else build/Release/ in the nearest ancestor that has it. */
export function nativeAddonPath(env: NodeJS.ProcessEnv = process.env, from: string = __dirname): string {
  const override = env.STASIS_NATIVE;
  if (override) return path.resolve(override);
  let dir = from;
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, ADDON_RELATIVE);
    if (fs.existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(
    `stasis_native addon not found: no ${ADDON_RELATIVE} above ${from} (build it, or set STASIS_NATIVE)`,
  );
}

/** Checks that a loaded module has every function and constant of StasisNative. */
export function narrowNative(mod: unknown, file: string): StasisNative {
  if (typeof mod !== 'object' || mod === null) throw new Error(`${file}: addon did not export an object`);
  const rec = mod as Record<string, unknown>;
  const missing = [
    ...NATIVE_FUNCTIONS.filter((name) => typeof rec[name] !== 'function'),
    ...NATIVE_CONSTANTS.filter((name) => typeof rec[name] !== 'number'),
  ];
  if (missing.length > 0) throw new Error(`${file}: addon lacks ${missing.join(', ')} (rebuild it)`);
  return mod as StasisNative;
}

/** The addon, loaded on first use. */
export function native(): StasisNative {
  if (cached) return cached;
  const file = nativeAddonPath();
  const mod: unknown = require(file);
  cached = narrowNative(mod, file);
  return cached;
}

/** The addon if this process has already loaded it, else undefined (loading it just to use it is not worth it). */
export function loadedNative(): StasisNative | undefined {
  return cached;
}
