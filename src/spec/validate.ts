/**
 * Hand-written validation of config.json and of `exec --process` documents. Runs on every `create`, so it
 * is a plain walk over the parsed object (no schema compilation). The first problem found is thrown as a
 * one-line SpecError naming the file and the field path. Unknown fields are ignored: the spec allows
 * extensions. On success the same object is returned, typed (JSON nulls in optional places removed).
 */
import { isCapability } from '../plan/caps';
import { isRlimit } from '../plan/rlimits';
import { Checker, opt, type Obj } from './check';
import { SpecError } from './errors';
import type { Process, Spec } from './types';
import { validateLinux } from './validate-linux';

export { SpecError } from './errors';

/** Options of validateSpec. */
export interface ValidateOptions {
  /** `process` must be present (true for create/run, the default; false e.g. for `delete` of an old bundle) */
  requireProcess?: boolean;
}

const HOOK_KINDS = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] as const;
const CAP_SETS = ['bounding', 'effective', 'inheritable', 'permitted', 'ambient'] as const;

function validateUser(c: Checker, v: unknown, field: string): void {
  const u = c.obj(v, field);
  c.u32(c.req(u, 'uid', field), `${field}.uid`);
  c.u32(c.req(u, 'gid', field), `${field}.gid`);
  const umask = opt(u, 'umask');
  if (umask !== undefined && c.u32(umask, `${field}.umask`) > 0o777) c.fail(`${field}.umask`, 'must be at most 0777');
  const gids = opt(u, 'additionalGids');
  if (gids !== undefined) c.arr(gids, `${field}.additionalGids`).forEach((g, i) => c.u32(g, `${field}.additionalGids[${i}]`));
  const name = opt(u, 'username');
  if (name !== undefined) c.str(name, `${field}.username`);
}

function validateCapabilities(c: Checker, v: unknown, field: string): void {
  const caps = c.obj(v, field);
  const sets: Partial<Record<(typeof CAP_SETS)[number], string[]>> = {};
  for (const set of CAP_SETS) {
    const list = opt(caps, set);
    if (list === undefined) continue;
    sets[set] = c.strs(list, `${field}.${set}`);
    sets[set]!.forEach((name, i) => {
      if (!isCapability(name)) c.fail(`${field}.${set}[${i}]`, `unknown capability ${JSON.stringify(name)}`);
    });
  }
  // The kernel refuses these combinations at capset / PR_CAP_AMBIENT time, which happens after `create` or
  // `exec` has returned, where the error can only reach the process's stderr. Refusing them here names the field.
  const permitted = new Set(sets.permitted ?? []);
  const inheritable = new Set(sets.inheritable ?? []);
  (sets.effective ?? []).forEach((name, i) => {
    if (!permitted.has(name)) c.fail(`${field}.effective[${i}]`, `${name} must also be in permitted`);
  });
  (sets.ambient ?? []).forEach((name, i) => {
    if (!permitted.has(name) || !inheritable.has(name)) c.fail(`${field}.ambient[${i}]`, `${name} must also be in permitted and inheritable`);
  });
}

function validateRlimits(c: Checker, v: unknown, field: string): void {
  const seen = new Set<string>();
  c.arr(v, field).forEach((item, i) => {
    const f = `${field}[${i}]`;
    const r = c.obj(item, f);
    const type = c.oneOf(c.req(r, 'type', f), `${f}.type`, isRlimit, 'rlimit type');
    if (seen.has(type)) c.fail(`${f}.type`, `duplicate rlimit ${type}`);
    seen.add(type);
    const soft = c.u64(c.req(r, 'soft', f), `${f}.soft`);
    const hard = c.u64(c.req(r, 'hard', f), `${f}.hard`);
    if (soft > hard) c.fail(`${f}.soft`, `must not exceed hard (${hard})`);
  });
}

function validateEnv(c: Checker, v: unknown, field: string): void {
  c.strs(v, field).forEach((e, i) => {
    const eq = e.indexOf('=');
    if (eq <= 0) c.fail(`${field}[${i}]`, `must have the form KEY=value, got ${JSON.stringify(e)}`);
  });
}

/** Checks a process object found at `base` ('' for a standalone process document). */
function validateProcessObject(c: Checker, v: unknown, base: string): Process {
  const p = c.obj(v, base || '(document)');
  const f = (k: string) => c.join(base, k);
  let x = opt(p, 'terminal');
  if (x !== undefined) c.bool(x, f('terminal'));
  x = opt(p, 'consoleSize');
  if (x !== undefined) {
    const cs = c.obj(x, f('consoleSize'));
    c.u32(c.req(cs, 'height', f('consoleSize')), f('consoleSize.height'));
    c.u32(c.req(cs, 'width', f('consoleSize')), f('consoleSize.width'));
  }
  x = opt(p, 'user');
  if (x !== undefined) validateUser(c, x, f('user'));
  const args = c.strs(c.req(p, 'args', base), f('args'));
  if (args.length === 0) c.fail(f('args'), 'must contain at least one entry');
  if (args[0] === '') c.fail(f('args[0]'), 'must not be empty');
  x = opt(p, 'commandLine');
  if (x !== undefined) c.str(x, f('commandLine'));
  x = opt(p, 'env');
  if (x !== undefined) validateEnv(c, x, f('env'));
  c.absPath(c.req(p, 'cwd', base), f('cwd'));
  x = opt(p, 'capabilities');
  if (x !== undefined) validateCapabilities(c, x, f('capabilities'));
  x = opt(p, 'rlimits');
  if (x !== undefined) validateRlimits(c, x, f('rlimits'));
  x = opt(p, 'noNewPrivileges');
  if (x !== undefined) c.bool(x, f('noNewPrivileges'));
  for (const k of ['apparmorProfile', 'selinuxLabel']) {
    x = opt(p, k);
    if (x !== undefined) c.str(x, f(k));
  }
  x = opt(p, 'oomScoreAdj');
  if (x !== undefined) c.int(x, f('oomScoreAdj'), -1000, 1000);
  for (const k of ['ioPriority', 'scheduler', 'execCPUAffinity']) {
    x = opt(p, k);
    if (x !== undefined) c.obj(x, f(k)); // accepted, not applied
  }
  return p as unknown as Process;
}

function validateMappingList(c: Checker, v: unknown, field: string): void {
  c.arr(v, field).forEach((item, i) => {
    const f = `${field}[${i}]`;
    const m = c.obj(item, f);
    c.u32(c.req(m, 'containerID', f), `${f}.containerID`);
    c.u32(c.req(m, 'hostID', f), `${f}.hostID`);
    c.u32(c.req(m, 'size', f), `${f}.size`);
  });
}

function validateMount(c: Checker, v: unknown, field: string): void {
  const m = c.obj(v, field);
  c.absPath(c.req(m, 'destination', field), `${field}.destination`);
  for (const k of ['source', 'type']) {
    const x = opt(m, k);
    if (x !== undefined) c.str(x, `${field}.${k}`);
  }
  const options = opt(m, 'options');
  if (options !== undefined) c.strs(options, `${field}.options`);
  for (const k of ['uidMappings', 'gidMappings']) {
    const x = opt(m, k);
    if (x !== undefined) validateMappingList(c, x, `${field}.${k}`);
  }
}

function validateHooks(c: Checker, v: unknown): void {
  const hooks = c.obj(v, 'hooks');
  for (const kind of HOOK_KINDS) {
    const list = opt(hooks, kind);
    if (list === undefined) continue;
    c.arr(list, `hooks.${kind}`).forEach((item, i) => {
      const f = `hooks.${kind}[${i}]`;
      const h = c.obj(item, f);
      c.absPath(c.req(h, 'path', f), `${f}.path`);
      let x = opt(h, 'args');
      if (x !== undefined) c.strs(x, `${f}.args`);
      x = opt(h, 'env');
      if (x !== undefined) c.strs(x, `${f}.env`);
      x = opt(h, 'timeout');
      if (x !== undefined) c.int(x, `${f}.timeout`, 1, 2147483); // milliseconds must fit the u32 of RUN_HOOK
    });
  }
}

function validateAnnotations(c: Checker, v: unknown): void {
  const a = c.obj(v, 'annotations');
  for (const [k, val] of Object.entries(a)) {
    if (k === '') c.fail('annotations', 'keys must not be empty');
    c.str(val, `annotations.${k}`);
  }
}

function validateVersion(c: Checker, v: unknown): void {
  const s = c.str(v, 'ociVersion');
  const m = /^(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/.exec(s);
  if (!m) c.fail('ociVersion', `invalid version ${JSON.stringify(s)} (want MAJOR.MINOR.PATCH)`);
  if (m[1] !== '1') c.fail('ociVersion', `unsupported version ${JSON.stringify(s)} (stasis supports 1.x)`);
}

/** Validates a parsed config.json; `source` names the file in messages. Throws SpecError. */
export function validateSpec(raw: unknown, source: string, opts: ValidateOptions = {}): Spec {
  const c = new Checker(source);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new SpecError(source, '', 'must be a JSON object');
  const o = raw as Obj;
  validateVersion(c, c.req(o, 'ociVersion', ''));
  const root = c.obj(c.req(o, 'root', ''), 'root');
  const rootPath = c.str(c.req(root, 'path', 'root'), 'root.path');
  if (rootPath === '') c.fail('root.path', 'must not be empty');
  let x = opt(root, 'readonly');
  if (x !== undefined) c.bool(x, 'root.readonly');
  x = opt(o, 'mounts');
  if (x !== undefined) c.arr(x, 'mounts').forEach((m, i) => validateMount(c, m, `mounts[${i}]`));
  x = opt(o, 'process');
  if (x !== undefined) validateProcessObject(c, x, 'process');
  else if (opts.requireProcess !== false) c.fail('process', 'is required');
  for (const k of ['hostname', 'domainname']) {
    x = opt(o, k);
    if (x !== undefined) c.str(x, k);
  }
  x = opt(o, 'hooks');
  if (x !== undefined) validateHooks(c, x);
  x = opt(o, 'annotations');
  if (x !== undefined) validateAnnotations(c, x);
  x = opt(o, 'linux');
  const namespaces = x !== undefined ? validateLinux(c, x) : new Set<string>();
  // Setting these without an own UTS namespace would rename the host.
  for (const k of ['hostname', 'domainname']) {
    if (o[k] && !namespaces.has('uts')) c.fail(k, 'needs a uts namespace in linux.namespaces');
  }
  return o as unknown as Spec;
}

/** Validates a parsed `exec --process` document (a bare process object). Throws SpecError. */
export function validateProcess(raw: unknown, source: string): Process {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new SpecError(source, '', 'must be a JSON object');
  return validateProcessObject(new Checker(source), raw, '');
}
