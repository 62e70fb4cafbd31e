/**
 * A network namespace the container joined by path (`linux.namespaces: [{type: network, path}]`) belongs
 * to someone else (an engine, a CNI plugin, a test): its interfaces, addresses and routes are not the
 * container's to save. CRIU is told it is external at dump (`net[<inode>]:<key>`), so nothing of it is
 * dumped, and at restore it gets the namespace named by the restore bundle's spec as that key
 * (inherit_fd). Connections (with --tcp-established) are still dumped and restored into it: that is how an
 * established TCP connection to a peer outside the container survives.
 *
 * A namespace stasis made itself is usually *pristine*: only `lo`, brought up by stasis at create, and no
 * process in the container may change it (no CAP_NET_ADMIN in the bounding set). Dumping it costs CRIU a
 * round of `ip`/`iptables-save`/`nft` at dump and their restore counterparts at restore (~20 ms and ~40-80 ms
 * here) to save nothing: stasis then asks CRIU for an empty namespace (empty_ns) and brings `lo` up in it
 * itself. Anything else (interfaces a hook moved in, net.* sysctls of the spec, CAP_NET_ADMIN) is dumped.
 */
import * as fs from 'node:fs';
import type { Spec } from '../spec/types';
import { RuntimeError, errnoText } from './errors';

/** The inherit_fd key of the external network namespace (runc's name, so runc images restore too). */
export const EXTERNAL_NETNS_KEY = 'extRootNetNS';

/** The network namespace path of a spec, or undefined when the container makes its own (or has none). Pure. */
export function joinedNetnsPath(spec: Spec): string | undefined {
  const ns = spec.linux?.namespaces?.find((n) => n.type === 'network');
  return ns?.path ? ns.path : undefined;
}

/** CRIU's `external` entry for a joined namespace of inode `ino`. Pure. */
export function externalNetnsEntry(ino: number): string {
  return `net[${ino}]:${EXTERNAL_NETNS_KEY}`;
}

/** The dump's `external` entry when the container's netns was joined by path, else undefined. */
export function dumpExternalNetns(spec: Spec, pid: number): string | undefined {
  if (!joinedNetnsPath(spec)) return undefined;
  try {
    return externalNetnsEntry(fs.statSync(`/proc/${pid}/ns/net`).ino);
  } catch (err) {
    throw new RuntimeError('bad-state', `cannot read /proc/${pid}/ns/net: ${errnoText(err)} (did the container exit?)`);
  }
}

/**
 * Opens the network namespace a restore puts an external-netns checkpoint into: `override` (--netns) or the
 * restore bundle's path. Throws naming the field when neither gives one.
 */
export function openRestoreNetns(spec: Spec, override?: string): number {
  const p = override ?? joinedNetnsPath(spec);
  if (!p) {
    throw new RuntimeError(
      'invalid-spec',
      'restore: the checkpoint joined an existing network namespace: linux.namespaces needs a network entry with a path',
    );
  }
  try {
    return fs.openSync(p, 'r');
  } catch (err) {
    const what = override !== undefined ? '--netns' : 'linux.namespaces network path';
    throw new RuntimeError('invalid-spec', `restore: ${what} ${p}: ${errnoText(err)}`);
  }
}

/** Interface names of a /proc/<pid>/net/dev listing (pure). */
export function netDevNames(text: string): string[] {
  return text
    .split('\n')
    .slice(2)
    .map((l) => l.split(':')[0].trim())
    .filter(Boolean);
}

/**
 * True when the container's own network namespace holds nothing a dump would save beyond what stasis
 * recreates (lo, up): stasis made it, only lo exists, the spec sets no net.* sysctl, and the container
 * cannot reconfigure it (CAP_NET_ADMIN is not in its bounding set). Pure given /proc/<pid>/net/dev.
 */
export function pristineNetns(spec: Spec, netDev: string): boolean {
  const ns = spec.linux?.namespaces?.find((n) => n.type === 'network');
  if (!ns || ns.path) return false;
  if (Object.keys(spec.linux?.sysctl ?? {}).some((k) => k.startsWith('net.'))) return false;
  if ((spec.process?.capabilities?.bounding ?? []).includes('CAP_NET_ADMIN')) return false;
  const names = netDevNames(netDev);
  return names.length === 1 && names[0] === 'lo';
}

/** pristineNetns() for a running container; false when its net/dev cannot be read. */
export function containerNetnsPristine(spec: Spec, pid: number): boolean {
  try {
    return pristineNetns(spec, fs.readFileSync(`/proc/${pid}/net/dev`, 'utf8'));
  } catch {
    return false;
  }
}
