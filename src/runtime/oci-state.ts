/** The OCI state document (runtime.md "State"), as printed by `state` and fed to hooks. */
import type { ContainerRecord } from '../state/record';
import type { Status } from './lifecycle';

export const OCI_VERSION = '1.2.1';

/** OCI state of a container. `pid` is omitted once stopped, as the spec allows. */
export interface OciState {
  ociVersion: string;
  id: string;
  status: Status;
  pid?: number;
  bundle: string;
  rootfs?: string;
  created?: string;
  owner?: string;
  annotations?: Record<string, string>;
}

/** Builds the state document; `pid` overrides the record's (during create the record has none yet). */
export function ociState(r: ContainerRecord, status: Status, pid?: number): OciState {
  const p = pid ?? r.pid;
  return {
    ociVersion: OCI_VERSION,
    id: r.id,
    pid: status === 'stopped' ? 0 : p,
    status,
    bundle: r.bundle,
    rootfs: r.rootfs,
    created: r.created,
    owner: r.owner,
    ...(r.annotations && Object.keys(r.annotations).length ? { annotations: r.annotations } : {}),
  };
}
