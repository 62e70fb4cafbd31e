/**
 * A seeded, reproducible generator of broken and hostile config.json documents. Each case starts from the
 * default spec (terminal off, process `true`) and applies one to three mutations at random places: wrong
 * types, huge or negative numbers, unknown fields, bad or relative paths, `..`, /proc magic links, invalid
 * names (signals, capabilities, namespaces, rlimits), 1 MiB strings, deep nesting, removed fields. The same
 * seed always gives the same cases, so a failure is reproduced with `FUZZ_SEED=<seed>`.
 */
import { defaultSpec } from '../../src/spec/defaults';

/** mulberry32: tiny, fast, good enough to spread mutations; deterministic for a seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One generated case: the JSON text to write and what was done to it. */
export interface FuzzCase {
  index: number;
  text: string;
  mutations: string[];
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const MIB = 'A'.repeat(1 << 20);
const HOSTILE_STRINGS = [
  '', ' ', 'relative/path', '../../../../etc', '/../../../../tmp/outside', '/proc/self/fd/3', '/proc/1/root',
  '/dev/sda', 'a\u0000b', '\n', 'SIGKILLX', 'SIGRTMAX+1', 'CAP_ALL', 'cap_sys_admin', 'not-a-namespace',
  'RLIMIT_BOGUS', '-1', '0x10', '%s%s%n', '${PATH}', '\u202e', 'x'.repeat(5000), '/', '.', '..', 'rootfs/../..',
];
const HOSTILE_NUMBERS = [-1, -2147483649, 2 ** 32, 2 ** 53, 2 ** 64, 1e308, 0.5, -0, 4294967295, 9007199254740993];
const UNKNOWN_KEYS = ['__proto__', 'constructor', 'toString', 'x-unknown', 'hasOwnProperty', ''];

/** Every path (list of keys) to a value inside `doc`. */
function paths(doc: Json, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(doc)) doc.forEach((v, i) => paths(v, [...prefix, i], out));
  else if (doc && typeof doc === 'object') for (const k of Object.keys(doc)) paths(doc[k], [...prefix, k], out);
  return out;
}

/** Deep nesting is spliced in as text at the end (a marker string until then): building it as an object
 * would overflow the generator's own recursion and JSON.stringify long before the runtime sees it. */
const DEEP_MARKER = '\u0000deep:';

function deepNestText(depth: number): string {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    open += i % 2 ? '[' : '{"a":';
    close = (i % 2 ? ']' : '}') + close;
  }
  return `${open}1${close}`;
}

function pick<T>(r: () => number, list: readonly T[]): T {
  return list[Math.floor(r() * list.length)];
}

/** A replacement value of a random hostile kind. */
function hostileValue(r: () => number): { value: Json; what: string } {
  switch (Math.floor(r() * 9)) {
    case 0: return { value: pick(r, HOSTILE_NUMBERS), what: 'number' };
    case 1: return { value: pick(r, HOSTILE_STRINGS), what: 'string' };
    case 2: return { value: r() < 0.5, what: 'boolean' };
    case 3: return { value: null, what: 'null' };
    case 4: return { value: [pick(r, HOSTILE_STRINGS), pick(r, HOSTILE_NUMBERS)], what: 'array' };
    case 5: return { value: { [pick(r, UNKNOWN_KEYS)]: pick(r, HOSTILE_STRINGS) }, what: 'object' };
    case 6: return { value: MIB, what: '1MiB string' };
    case 7: return { value: `${DEEP_MARKER}${2000 + Math.floor(r() * 98000)}`, what: 'deep nesting' };
    default: return { value: [], what: 'empty array' };
  }
}

/** Field-aware mutations: plausible shapes with hostile contents, to get past the type checks. */
const TARGETED: ((s: Record<string, any>, r: () => number) => string)[] = [
  (s, r) => ((s.root.path = pick(r, HOSTILE_STRINGS)), 'root.path'),
  (s, r) => (s.mounts.push({ destination: pick(r, HOSTILE_STRINGS), type: 'tmpfs', source: 'tmpfs' }), 'mount destination'),
  (s, r) => (s.mounts.push({ destination: '/mnt', type: 'bind', source: pick(r, HOSTILE_STRINGS), options: ['rbind'] }), 'bind source'),
  (s, r) => (s.mounts.push({ destination: '/mnt', type: 'tmpfs', source: 'tmpfs', options: [pick(r, HOSTILE_STRINGS), 'size=-1'] }), 'mount options'),
  (s, r) => ((s.process.cwd = pick(r, HOSTILE_STRINGS)), 'process.cwd'),
  (s, r) => ((s.process.args = r() < 0.3 ? [] : [pick(r, HOSTILE_STRINGS)]), 'process.args'),
  (s, r) => ((s.process.user = { uid: pick(r, HOSTILE_NUMBERS), gid: pick(r, HOSTILE_NUMBERS) }), 'process.user'),
  (s, r) => ((s.process.rlimits = [{ type: pick(r, ['RLIMIT_NOFILE', 'RLIMIT_BOGUS']), soft: pick(r, HOSTILE_NUMBERS), hard: pick(r, HOSTILE_NUMBERS) }]), 'rlimits'),
  (s, r) => ((s.process.capabilities.bounding = [pick(r, HOSTILE_STRINGS)]), 'capability name'),
  (s, r) => (s.linux.namespaces.push({ type: pick(r, ['pid', 'bogus', 'user', 'net']), path: pick(r, HOSTILE_STRINGS) }), 'namespace'),
  (s, r) => ((s.linux.cgroupsPath = pick(r, HOSTILE_STRINGS)), 'cgroupsPath'),
  (s, r) => ((s.linux.resources = { memory: { limit: pick(r, HOSTILE_NUMBERS) }, cpu: { shares: pick(r, HOSTILE_NUMBERS) }, pids: { limit: pick(r, HOSTILE_NUMBERS) } }), 'resources'),
  (s, r) => ((s.linux.sysctl = { [pick(r, ['kernel.shmmax', 'net.ipv4.ip_forward', '../../x', 'vm.swappiness'])]: pick(r, HOSTILE_STRINGS) }), 'sysctl'),
  (s, r) => ((s.linux.seccomp = { defaultAction: pick(r, ['SCMP_ACT_ALLOW', 'SCMP_ACT_BOGUS']), syscalls: [{ names: [pick(r, HOSTILE_STRINGS)], action: 'SCMP_ACT_ERRNO', errnoRet: pick(r, HOSTILE_NUMBERS) }] }), 'seccomp'),
  (s, r) => ((s.linux.devices = [{ path: pick(r, HOSTILE_STRINGS), type: pick(r, ['c', 'b', 'x', 'p']), major: pick(r, HOSTILE_NUMBERS), minor: 1 }]), 'devices'),
  (s, r) => ((s.linux.maskedPaths = [pick(r, HOSTILE_STRINGS)]), 'maskedPaths'),
  (s, r) => ((s.linux.readonlyPaths = [pick(r, HOSTILE_STRINGS)]), 'readonlyPaths'),
  (s, r) => ((s.hostname = pick(r, HOSTILE_STRINGS)), 'hostname'),
  (s, r) => ((s.hooks = { prestart: [{ path: pick(r, HOSTILE_STRINGS), timeout: pick(r, HOSTILE_NUMBERS) }] }), 'hooks'),
  (s, r) => ((s.linux.uidMappings = [{ containerID: 0, hostID: pick(r, HOSTILE_NUMBERS), size: pick(r, HOSTILE_NUMBERS) }]), 'uidMappings'),
  (s, r) => ((s.process.env = [pick(r, HOSTILE_STRINGS), MIB]), 'env'),
  (s, r) => ((s.ociVersion = pick(r, ['0.1', '99.0.0', '', 'x'])), 'ociVersion'),
  (s, r) => ((s.process.oomScoreAdj = pick(r, HOSTILE_NUMBERS)), 'oomScoreAdj'),
  (s, r) => ((s.linux.rootfsPropagation = pick(r, ['shared', 'bogus', 'rslave', ''])), 'rootfsPropagation'),
];

/** Applies one random mutation to `doc` (in place when possible) and returns the new root and a label. */
function mutate(doc: Json, r: () => number): { doc: Json; what: string } {
  const roll = r();
  if (roll < 0.45) {
    try {
      const what = pick(r, TARGETED)(doc as Record<string, any>, r);
      return { doc, what: `targeted ${what}` };
    } catch {
      // an earlier mutation removed the parent object: fall through to a generic mutation
    }
  }
  const all = paths(doc);
  const at = pick(r, all);
  if (roll < 0.55 && at.length) {
    // delete a field or element
    let parent: any = doc;
    for (const k of at.slice(0, -1)) parent = parent[k];
    const last = at[at.length - 1];
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
    return { doc, what: `delete ${at.join('.')}` };
  }
  if (roll < 0.65) {
    let node: any = doc;
    for (const k of at) node = node[k];
    if (node && typeof node === 'object' && !Array.isArray(node)) {
      node[pick(r, UNKNOWN_KEYS)] = hostileValue(r).value;
      return { doc, what: `unknown field at ${at.join('.') || '<root>'}` };
    }
  }
  const { value, what } = hostileValue(r);
  if (!at.length) return { doc: value, what: `document is ${what}` };
  let parent: any = doc;
  for (const k of at.slice(0, -1)) parent = parent[k];
  parent[at[at.length - 1]] = value;
  return { doc, what: `${at.join('.')} = ${what}` };
}

/** The base document every case starts from. */
export function baseSpec(): Record<string, any> {
  const s = defaultSpec() as unknown as Record<string, any>;
  s.process.terminal = false;
  s.process.args = ['true'];
  return s;
}

/** Generates case `index` of the run seeded with `seed`. */
export function fuzzCase(seed: number, index: number): FuzzCase {
  const r = rng(seed * 1_000_003 + index);
  let doc: Json = baseSpec() as Json;
  const mutations: string[] = [];
  const n = 1 + Math.floor(r() * 3);
  for (let i = 0; i < n; i++) {
    const m = mutate(doc, r);
    doc = m.doc;
    mutations.push(m.what);
  }
  // A few cases are not even JSON, or are truncated JSON.
  let text = JSON.stringify(doc).replace(/"\\u0000deep:(\d+)"/g, (_, n: string) => deepNestText(Number(n)));
  const tail = r();
  if (tail < 0.03) text = text.slice(0, Math.floor(text.length * r()));
  else if (tail < 0.05) text = `${text}}garbage`;
  return { index, text, mutations };
}

/** A process.json for `exec --process`, mutated the same way. */
export function fuzzProcess(seed: number, index: number): FuzzCase {
  const c = fuzzCase(seed + 7, index);
  let parsed: any;
  try {
    parsed = JSON.parse(c.text);
  } catch {
    return c; // not JSON, or too deep for JSON.parse: used as is
  }
  const proc = parsed && typeof parsed === 'object' && 'process' in parsed ? parsed.process : parsed;
  try {
    return { index, text: JSON.stringify(proc ?? null), mutations: c.mutations };
  } catch {
    return c; // too deep to re-serialise: the whole document is a fine hostile process.json too
  }
}
