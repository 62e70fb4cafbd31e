/**
 * Network counters of a container for `events`: runc reports every interface of the container's network
 * namespace. /proc/<pid>/net/dev is that namespace's view, read from the host through the container's init.
 */
import * as fs from 'node:fs';

/** One interface, with runc's `network_interfaces` keys. */
export interface InterfaceStats {
  name: string;
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

/** Parses /proc/net/dev text (two header lines, then `name: 16 counters`). */
export function parseNetDev(text: string): InterfaceStats[] {
  const out: InterfaceStats[] = [];
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (f.length < 16 || f.some((n) => !Number.isFinite(n))) continue;
    out.push({
      name: line.slice(0, colon).trim(),
      rx_bytes: f[0],
      rx_packets: f[1],
      rx_errors: f[2],
      rx_dropped: f[3],
      tx_bytes: f[8],
      tx_packets: f[9],
      tx_errors: f[10],
      tx_dropped: f[11],
    });
  }
  return out;
}

/** The interfaces of the network namespace `pid` lives in, or [] when the process is gone. */
export function interfaceStats(pid: number): InterfaceStats[] {
  try {
    return parseNetDev(fs.readFileSync(`/proc/${pid}/net/dev`, 'utf8'));
  } catch {
    return [];
  }
}
