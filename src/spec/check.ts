/**
 * Small typed checkers used by the hand-written validator. Each takes the value and its field path and
 * either returns the value with its type narrowed or throws a SpecError. Plain functions over plain
 * objects: nothing is compiled at start-up, which keeps `create` fast.
 */
import { SpecError } from './errors';

/** A JSON object as parsed. */
export type Obj = Record<string, unknown>;

/** The validation context: which file the values come from. */
export class Checker {
  constructor(readonly source: string) {}

  /** Throws the SpecError for `field`. */
  fail(field: string, detail: string): never {
    throw new SpecError(this.source, field, detail);
  }

  /** Field path of a member: `join('a.b', 'c')` is `a.b.c`, `join('', 'c')` is `c`. */
  join(base: string, key: string): string {
    return base ? `${base}.${key}` : key;
  }

  /** A JSON object (not null, not an array). */
  obj(v: unknown, field: string): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(field, 'must be an object');
    return v as Obj;
  }

  /** An array. */
  arr(v: unknown, field: string): unknown[] {
    if (!Array.isArray(v)) this.fail(field, 'must be an array');
    return v;
  }

  /** A string. */
  str(v: unknown, field: string): string {
    if (typeof v !== 'string') this.fail(field, 'must be a string');
    // Every string ends up as a C string (path, argv, env, name): a NUL would cut it short, or fail deep in
    // the helper protocol with a message that no longer names the field.
    if (v.includes('\0')) this.fail(field, 'must not contain a NUL byte');
    return v;
  }

  /** A boolean. */
  bool(v: unknown, field: string): boolean {
    if (typeof v !== 'boolean') this.fail(field, 'must be a boolean');
    return v;
  }

  /** An integer within [min, max] (inclusive). */
  int(v: unknown, field: string, min = -Number.MAX_VALUE, max = Number.MAX_VALUE): number {
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(field, 'must be an integer');
    if (v < min || v > max) this.fail(field, `must be between ${min} and ${max}`);
    return v;
  }

  /** An unsigned 32-bit integer (uids, gids, sizes). */
  u32(v: unknown, field: string): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
      this.fail(field, 'must be an unsigned 32-bit integer');
    }
    return v;
  }

  /**
   * An unsigned 64-bit integer. JSON numbers beyond 2^53 are already rounded by JSON.parse, so the check is
   * "non-negative integer no larger than 2^64" (2^64 is how 18446744073709551615 arrives).
   */
  u64(v: unknown, field: string): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 2 ** 64) {
      this.fail(field, 'must be an unsigned 64-bit integer');
    }
    return v;
  }

  /** A signed 64-bit integer (as far as a double can tell). */
  i64(v: unknown, field: string): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || Math.abs(v) > 2 ** 63) this.fail(field, 'must be a 64-bit integer');
    return v;
  }

  /** An array of strings. */
  strs(v: unknown, field: string): string[] {
    const a = this.arr(v, field);
    for (let i = 0; i < a.length; i++) this.str(a[i], `${field}[${i}]`);
    return a as string[];
  }

  /** An absolute path string. */
  absPath(v: unknown, field: string): string {
    const s = this.str(v, field);
    if (!s.startsWith('/')) this.fail(field, 'must be an absolute path');
    return s;
  }

  /** A required member: fails with "is required" when absent (undefined). */
  req(o: Obj, key: string, base: string): unknown {
    const v = o[key];
    if (v === undefined || v === null) this.fail(this.join(base, key), 'is required');
    return v;
  }

  /** One of a set of names. */
  oneOf(v: unknown, field: string, allowed: (s: string) => boolean, what: string): string {
    const s = this.str(v, field);
    if (!allowed(s)) this.fail(field, `unknown ${what} ${JSON.stringify(s)}`);
    return s;
  }
}

/**
 * The value of an optional member, or undefined when absent. A JSON `null` counts as absent (Go encoders
 * write nil slices and maps as null) and is deleted, so that later code only ever sees undefined.
 */
export function opt(o: Obj, key: string): unknown {
  const v = o[key];
  if (v === null) {
    delete o[key];
    return undefined;
  }
  return v;
}
