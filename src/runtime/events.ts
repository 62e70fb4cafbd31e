/**
 * events: runc-shaped JSON lines. `--stats` prints one stats event; otherwise a stats event every interval
 * and an `oom` event whenever the kernel's OOM kill counter of the cgroup rises, until the container stops.
 */
import type { Context } from '../cli/context';
import { LockMode } from '../state/lock';
import { loadContainer } from './container';
import { requireStatus } from './lifecycle';
import { openContainerCgroup } from './cgroup';
import { RuntimeError } from './errors';
import { interfaceStats } from './net-stats';

/** Parses a Go-style duration ("5s", "250ms", "1m") into milliseconds. */
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(s);
  if (!m) throw new RuntimeError('usage', `invalid interval "${s}": use a duration like 5s or 500ms`);
  const ms = Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms'];
  if (ms <= 0) throw new RuntimeError('usage', `invalid interval "${s}": must be positive`);
  return ms;
}

/** Streams events to `write` (one JSON object per call) until the container stops, or once with `statsOnce`. */
export async function streamEvents(ctx: Context, id: string, intervalMs: number, statsOnce: boolean, write: (ev: object) => void): Promise<void> {
  const first = await loadContainer(ctx, id, LockMode.Shared);
  const record = first.record;
  try {
    requireStatus('events', id, first.status);
  } finally {
    first.lock.release();
  }
  const cg = openContainerCgroup(record);
  if (statsOnce) {
    write({ type: 'stats', id, data: { ...(await cg.stats()), network_interfaces: interfaceStats(record.pid) } });
    return;
  }
  let ooms = await cg.oomKillCount();
  let nextStats = 0;
  const poll = Math.min(intervalMs, 200); // OOM kills are noticed within this much of happening
  const reportOoms = async () => {
    const count = await cg.oomKillCount().catch(() => ooms);
    if (count > ooms) write({ type: 'oom', id });
    ooms = count;
  };
  for (;;) {
    const now = await loadContainer(ctx, id, LockMode.Shared).catch(() => undefined);
    // An OOM kill of init stops the container: count once more so that kill is still reported.
    if (!now || now.status === 'stopped') {
      if (now) await reportOoms();
      now?.lock.release();
      return;
    }
    now.lock.release();
    await reportOoms();
    if (Date.now() >= nextStats) {
      write({ type: 'stats', id, data: { ...(await cg.stats()), network_interfaces: interfaceStats(record.pid) } });
      nextStats = Date.now() + intervalMs;
    }
    await new Promise((r) => setTimeout(r, poll));
  }
}
