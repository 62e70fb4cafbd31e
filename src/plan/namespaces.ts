/**
 * Namespace kinds: clone flags, /proc/<pid>/ns names, and the order in which they are joined.
 */
import { str, u32, type Step } from '../helper/protocol';
import type { Namespace, NamespaceType } from '../spec/types';

/** Facts about one namespace kind. */
export interface NamespaceKind {
  /** CLONE_NEW* flag (also the nstype argument of setns) */
  flag: number;
  /** entry name under /proc/<pid>/ns/ */
  proc: string;
}

/** Every namespace kind of the spec, with its kernel facts. */
export const NAMESPACES: Readonly<Record<NamespaceType, NamespaceKind>> = Object.freeze({
  user: { flag: 0x10000000, proc: 'user' },
  ipc: { flag: 0x08000000, proc: 'ipc' },
  uts: { flag: 0x04000000, proc: 'uts' },
  network: { flag: 0x40000000, proc: 'net' },
  pid: { flag: 0x20000000, proc: 'pid' },
  cgroup: { flag: 0x02000000, proc: 'cgroup' },
  time: { flag: 0x00000080, proc: 'time' },
  mount: { flag: 0x00020000, proc: 'mnt' },
});

/** The namespace type names, in join order. */
export const NAMESPACE_TYPES = Object.keys(NAMESPACES) as NamespaceType[];

/** True when `t` is a namespace type of the spec. */
export function isNamespaceType(t: string): t is NamespaceType {
  return Object.prototype.hasOwnProperty.call(NAMESPACES, t);
}

/**
 * Join order: user first, because joining it grants the capabilities needed to join the others when they
 * belong to it; mount last, because once in another mount namespace the remaining paths (including
 * /proc/<pid>/ns/*) would be looked up in the container's filesystem instead of the host's.
 */
export function joinOrder<T extends { type: NamespaceType }>(list: readonly T[]): T[] {
  const rank = (t: NamespaceType) => NAMESPACE_TYPES.indexOf(t);
  return [...list].sort((a, b) => rank(a.type) - rank(b.type));
}

/** Union of the clone flags of the namespaces to create (entries without a path), minus `exclude`. */
export function newNamespaceFlags(list: readonly Namespace[], exclude: readonly NamespaceType[] = []): bigint {
  let flags = 0n;
  for (const ns of list) {
    if (ns.path === undefined && !exclude.includes(ns.type)) flags |= BigInt(NAMESPACES[ns.type].flag);
  }
  return flags;
}

/** True when the list creates a namespace of this type. */
export function createsNamespace(list: readonly Namespace[] | undefined, type: NamespaceType): boolean {
  return (list ?? []).some((ns) => ns.type === type && ns.path === undefined);
}

/** True when the list has a namespace of this type, created or joined. */
export function hasNamespace(list: readonly Namespace[] | undefined, type: NamespaceType): boolean {
  return (list ?? []).some((ns) => ns.type === type);
}

/** A SETNS step joining the namespace at `path`. */
export function setnsStep(type: NamespaceType, path: string): Step {
  return {
    op: 'SETNS',
    args: [str(path), u32(NAMESPACES[type].flag)],
    what: `join ${type} namespace ${path}`,
  };
}
