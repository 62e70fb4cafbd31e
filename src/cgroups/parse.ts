/** Parsers for the cgroup file formats (pure). Formats per Documentation/admin-guide/cgroup-v2.rst "Interface Files". */
import { BlkioEntry } from './types';

/** A single-number file; "max" → `maxValue`; missing/empty → 0. */
export function parseSingle(text: string | undefined, maxValue = 0): number {
  if (text === undefined) return 0;
  const t = text.trim();
  if (t === '') return 0;
  if (t === 'max') return maxValue;
  const n = Number(t);
  return Number.isFinite(n) ? n : 0;
}

/** Flat keyed: "key value" per line (memory.stat, cpu.stat, memory.events, memory.oom_control). */
export function parseFlatKeyed(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** Space separated numbers (cpuacct.usage_percpu). */
export function parseNumberList(text: string | undefined): number[] {
  return (text ?? '').trim().split(/\s+/).filter((s) => s !== '').map(Number);
}

/** Nested keyed: "maj:min key=value key=value" (io.stat). */
export function parseNestedKeyed(text: string | undefined): { major: number; minor: number; values: Record<string, number> }[] {
  const out: { major: number; minor: number; values: Record<string, number> }[] = [];
  for (const line of (text ?? '').split('\n')) {
    const fields = line.trim().split(/\s+/);
    const dev = /^(\d+):(\d+)$/.exec(fields[0] ?? '');
    if (!dev) continue;
    const values: Record<string, number> = {};
    for (const kv of fields.slice(1)) {
      const [k, v] = kv.split('=');
      if (k && v !== undefined && /^\d+$/.test(v)) values[k] = Number(v);
    }
    out.push({ major: Number(dev[1]), minor: Number(dev[2]), values });
  }
  return out;
}

/** v1 blkio recursive stats: "maj:min Op value" lines, plus a "Total N" line that is dropped. */
export function parseBlkioV1(text: string | undefined): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const f = line.trim().split(/\s+/);
    const dev = /^(\d+):(\d+)$/.exec(f[0] ?? '');
    if (!dev) continue;
    // Most files carry an op column; blkio.time/sectors have "maj:min value" only.
    const [op, value] = f.length >= 3 ? [f[1], f[2]] : ['', f[1]];
    out.push({ major: Number(dev[1]), minor: Number(dev[2]), op, value: Number(value) });
  }
  return out;
}

/** A cpu/node list like "0-3,8,10-11" → [0,1,2,3,8,10,11]. */
export function parseCpuList(text: string | undefined): number[] {
  const out: number[] = [];
  for (const part of (text ?? '').trim().split(',')) {
    if (part === '') continue;
    const [a, b] = part.split('-').map(Number);
    for (let i = a; i <= (b ?? a); i++) out.push(i);
  }
  return out;
}
