/**
 * Validation of the `linux` section of config.json (see validate.ts for the conventions).
 */
import { isNamespaceType } from '../plan/namespaces';
import { propagationFlags } from '../plan/mount-options';
import {
  SECCOMP_ACTIONS, SECCOMP_ARCHS, SECCOMP_FLAGS, SECCOMP_OPERATORS, UNSUPPORTED_SECCOMP_ACTIONS,
  UNSUPPORTED_SECCOMP_FLAGS,
} from '../plan/seccomp';
import { Checker, opt, type Obj } from './check';

const has = (table: object) => (s: string) => Object.prototype.hasOwnProperty.call(table, s);

/** sysctls that belong to the IPC namespace (everything else in kernel.* is global). */
const IPC_SYSCTLS = new Set([
  'kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax',
  'kernel.shmmni', 'kernel.shm_rmid_forced',
]);

/**
 * The namespace a sysctl belongs to, or undefined when it is global. Writing a global sysctl from a
 * container would change the host, so those are refused.
 */
export function sysctlNamespace(key: string): 'network' | 'ipc' | 'uts' | undefined {
  const k = key.replace(/\//g, '.');
  if (k.startsWith('net.')) return 'network';
  if (IPC_SYSCTLS.has(k) || k.startsWith('fs.mqueue.')) return 'ipc';
  if (k === 'kernel.hostname' || k === 'kernel.domainname') return 'uts';
  return undefined;
}

function validateNamespaces(c: Checker, v: unknown): Map<string, boolean> {
  const found = new Map<string, boolean>(); // type → created (no path)
  c.arr(v, 'linux.namespaces').forEach((item, i) => {
    const f = `linux.namespaces[${i}]`;
    const ns = c.obj(item, f);
    const type = c.oneOf(c.req(ns, 'type', f), `${f}.type`, isNamespaceType, 'namespace type');
    if (found.has(type)) c.fail(`${f}.type`, `duplicate namespace type ${JSON.stringify(type)}`);
    const path = opt(ns, 'path');
    if (path !== undefined) c.absPath(path, `${f}.path`);
    found.set(type, path === undefined);
  });
  return found;
}

/** Mapping ranges must not overlap on either side, or the kernel refuses the whole map. */
function validateMappings(c: Checker, v: unknown, field: string): void {
  const ranges: { cid: number; hid: number; size: number }[] = [];
  c.arr(v, field).forEach((item, i) => {
    const f = `${field}[${i}]`;
    const m = c.obj(item, f);
    const cid = c.u32(c.req(m, 'containerID', f), `${f}.containerID`);
    const hid = c.u32(c.req(m, 'hostID', f), `${f}.hostID`);
    const size = c.u32(c.req(m, 'size', f), `${f}.size`);
    if (size === 0) c.fail(`${f}.size`, 'must be at least 1');
    if (cid + size > 2 ** 32) c.fail(f, 'containerID + size exceeds the 32-bit id space');
    if (hid + size > 2 ** 32) c.fail(f, 'hostID + size exceeds the 32-bit id space');
    ranges.forEach((r, j) => {
      if (cid < r.cid + r.size && r.cid < cid + size) c.fail(f, `container ids overlap ${field}[${j}]`);
      if (hid < r.hid + r.size && r.hid < hid + size) c.fail(f, `host ids overlap ${field}[${j}]`);
    });
    ranges.push({ cid, hid, size });
  });
}

function validateDevices(c: Checker, v: unknown): void {
  c.arr(v, 'linux.devices').forEach((item, i) => {
    const f = `linux.devices[${i}]`;
    const d = c.obj(item, f);
    const type = c.oneOf(c.req(d, 'type', f), `${f}.type`, (t) => ['c', 'b', 'u', 'p'].includes(t), 'device type');
    c.absPath(c.req(d, 'path', f), `${f}.path`);
    for (const k of ['major', 'minor']) {
      const n = opt(d, k);
      if (n === undefined && type !== 'p') c.fail(`${f}.${k}`, `is required for type "${type}"`);
      if (n !== undefined) c.u32(n, `${f}.${k}`);
    }
    for (const k of ['fileMode', 'uid', 'gid']) {
      const n = opt(d, k);
      if (n !== undefined) c.u32(n, `${f}.${k}`);
    }
  });
}

/** Shape-only check of resources: the cgroups code validates the values it applies. */
function validateResources(c: Checker, v: unknown): void {
  const r = c.obj(v, 'linux.resources');
  for (const k of ['memory', 'cpu', 'pids', 'blockIO', 'network', 'rdma', 'unified']) {
    const x = opt(r, k);
    if (x !== undefined) c.obj(x, `linux.resources.${k}`);
  }
  const hp = opt(r, 'hugepageLimits');
  if (hp !== undefined) c.arr(hp, 'linux.resources.hugepageLimits').forEach((e, i) => c.obj(e, `linux.resources.hugepageLimits[${i}]`));
  const devices = opt(r, 'devices');
  if (devices === undefined) return;
  c.arr(devices, 'linux.resources.devices').forEach((item, i) => {
    const f = `linux.resources.devices[${i}]`;
    const d = c.obj(item, f);
    c.bool(c.req(d, 'allow', f), `${f}.allow`);
    for (const k of ['type', 'access']) {
      const x = opt(d, k);
      if (x !== undefined) c.str(x, `${f}.${k}`);
    }
    for (const k of ['major', 'minor']) {
      const x = opt(d, k);
      if (x !== undefined) c.int(x, `${f}.${k}`, -1);
    }
  });
}

function validateSysctl(c: Checker, v: unknown, ns: Map<string, boolean>): void {
  const s = c.obj(v, 'linux.sysctl');
  for (const [key, value] of Object.entries(s)) {
    const f = `linux.sysctl.${key}`;
    c.str(value, f);
    if (key === '' || key.split(/[./]/).some((part) => part === '' || part === '..')) c.fail(f, 'invalid sysctl name');
    const need = sysctlNamespace(key);
    if (!need) c.fail(f, 'is not namespaced: setting it would change the host');
    if (!ns.has(need)) c.fail(f, `needs a ${need} namespace in linux.namespaces`);
  }
}

function seccompActionName(c: Checker, v: unknown, field: string): string {
  const a = c.oneOf(v, field, has(SECCOMP_ACTIONS), 'seccomp action');
  if (UNSUPPORTED_SECCOMP_ACTIONS.includes(a)) c.fail(field, `${a} is not supported`);
  return a;
}

function checkErrnoRet(c: Checker, o: Obj, key: string, action: string, field: string): void {
  const e = opt(o, key);
  if (e === undefined) return;
  c.u32(e, `${field}.${key}`);
  if (action !== 'SCMP_ACT_ERRNO' && action !== 'SCMP_ACT_TRACE') {
    c.fail(`${field}.${key}`, `only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not ${action}`);
  }
}

function validateSeccomp(c: Checker, v: unknown): void {
  const F = 'linux.seccomp';
  const s = c.obj(v, F);
  const def = seccompActionName(c, c.req(s, 'defaultAction', F), `${F}.defaultAction`);
  checkErrnoRet(c, s, 'defaultErrnoRet', def, F);
  const archs = opt(s, 'architectures');
  if (archs !== undefined) {
    c.arr(archs, `${F}.architectures`).forEach((a, i) => c.oneOf(a, `${F}.architectures[${i}]`, has(SECCOMP_ARCHS), 'seccomp architecture'));
  }
  const flags = opt(s, 'flags');
  if (flags !== undefined) {
    c.strs(flags, `${F}.flags`).forEach((fl, i) => {
      if (UNSUPPORTED_SECCOMP_FLAGS.includes(fl)) c.fail(`${F}.flags[${i}]`, `${fl} is not supported`);
      c.oneOf(fl, `${F}.flags[${i}]`, has(SECCOMP_FLAGS), 'seccomp flag');
    });
  }
  if (opt(s, 'listenerPath') !== undefined) c.fail(`${F}.listenerPath`, 'seccomp user notification is not supported');
  const meta = opt(s, 'listenerMetadata');
  if (meta !== undefined) c.str(meta, `${F}.listenerMetadata`);
  const syscalls = opt(s, 'syscalls');
  if (syscalls === undefined) return;
  c.arr(syscalls, `${F}.syscalls`).forEach((item, i) => {
    const f = `${F}.syscalls[${i}]`;
    const sc = c.obj(item, f);
    const names = c.strs(c.req(sc, 'names', f), `${f}.names`);
    if (names.length === 0) c.fail(`${f}.names`, 'must contain at least one entry');
    const action = seccompActionName(c, c.req(sc, 'action', f), `${f}.action`);
    checkErrnoRet(c, sc, 'errnoRet', action, f);
    const args = opt(sc, 'args');
    if (args === undefined) return;
    c.arr(args, `${f}.args`).forEach((a, j) => {
      const af = `${f}.args[${j}]`;
      const arg = c.obj(a, af);
      c.int(c.req(arg, 'index', af), `${af}.index`, 0, 5);
      c.u64(c.req(arg, 'value', af), `${af}.value`);
      const two = opt(arg, 'valueTwo');
      if (two !== undefined) c.u64(two, `${af}.valueTwo`);
      c.oneOf(c.req(arg, 'op', af), `${af}.op`, has(SECCOMP_OPERATORS), 'seccomp operator');
    });
  });
}

function validateTimeOffsets(c: Checker, v: unknown): void {
  const t = c.obj(v, 'linux.timeOffsets');
  for (const clock of ['monotonic', 'boottime']) {
    const x = opt(t, clock);
    if (x === undefined) continue;
    const f = `linux.timeOffsets.${clock}`;
    const o = c.obj(x, f);
    const secs = opt(o, 'secs');
    if (secs !== undefined) c.i64(secs, `${f}.secs`);
    const ns = opt(o, 'nanosecs');
    if (ns !== undefined && c.u32(ns, `${f}.nanosecs`) >= 1e9) c.fail(`${f}.nanosecs`, 'must be below 1000000000');
  }
}

function pathList(c: Checker, o: Obj, key: string): void {
  const v = opt(o, key);
  if (v !== undefined) c.arr(v, `linux.${key}`).forEach((p, i) => c.absPath(p, `linux.${key}[${i}]`));
}

/** Validates `linux`; returns the namespace types the container has (created or joined). */
export function validateLinux(c: Checker, v: unknown): Set<string> {
  const l = c.obj(v, 'linux');
  let x = opt(l, 'namespaces');
  const ns = x !== undefined ? validateNamespaces(c, x) : new Map<string, boolean>();
  for (const key of ['uidMappings', 'gidMappings']) {
    x = opt(l, key);
    if (x !== undefined) validateMappings(c, x, `linux.${key}`);
    const count = x === undefined ? 0 : (x as unknown[]).length;
    if (count > 0 && !ns.has('user')) c.fail(`linux.${key}`, 'needs a user namespace in linux.namespaces');
    if (count === 0 && ns.get('user') === true) c.fail(`linux.${key}`, 'is required when creating a user namespace');
  }
  x = opt(l, 'timeOffsets');
  if (x !== undefined) {
    validateTimeOffsets(c, x);
    if (ns.get('time') !== true) c.fail('linux.timeOffsets', 'needs a new time namespace in linux.namespaces');
  }
  x = opt(l, 'devices');
  if (x !== undefined) validateDevices(c, x);
  x = opt(l, 'cgroupsPath');
  if (x !== undefined) c.str(x, 'linux.cgroupsPath');
  x = opt(l, 'resources');
  if (x !== undefined) validateResources(c, x);
  x = opt(l, 'sysctl');
  if (x !== undefined) validateSysctl(c, x, ns);
  x = opt(l, 'seccomp');
  if (x !== undefined) validateSeccomp(c, x);
  x = opt(l, 'rootfsPropagation');
  if (x !== undefined) c.oneOf(x, 'linux.rootfsPropagation', (p) => propagationFlags(p) !== undefined, 'propagation');
  pathList(c, l, 'maskedPaths');
  pathList(c, l, 'readonlyPaths');
  x = opt(l, 'mountLabel');
  if (x !== undefined) c.str(x, 'linux.mountLabel');
  x = opt(l, 'personality');
  if (x !== undefined) {
    const p = c.obj(x, 'linux.personality');
    c.oneOf(c.req(p, 'domain', 'linux.personality'), 'linux.personality.domain', (d) => d === 'LINUX' || d === 'LINUX32', 'personality domain');
    const flags = opt(p, 'flags');
    if (flags !== undefined) c.strs(flags, 'linux.personality.flags');
  }
  return new Set(ns.keys());
}
