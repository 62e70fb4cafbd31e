/**
 * The OCI features document printed by `stasis features` (runtime-spec features.md): what this build of
 * stasis recognises, independent of what the host offers.
 */
import { CAPABILITY_NAMES } from '../plan/caps';
import { KNOWN_MOUNT_OPTIONS } from '../plan/mount-options';
import { NAMESPACE_TYPES } from '../plan/namespaces';
import {
  SECCOMP_ACTIONS, SECCOMP_ARCHS, SECCOMP_FLAGS, SECCOMP_OPERATORS, UNSUPPORTED_SECCOMP_ACTIONS,
  UNSUPPORTED_SECCOMP_FLAGS,
} from '../plan/seccomp';
import { OCI_VERSION } from './types';

/** The features document (only the members stasis fills). */
export interface Features {
  ociVersionMin: string;
  ociVersionMax: string;
  hooks: string[];
  mountOptions: string[];
  linux: {
    namespaces: string[];
    capabilities: string[];
    cgroup: { v1: boolean; v2: boolean; systemd: boolean; systemdUser: boolean; rdma: boolean };
    seccomp: {
      enabled: boolean;
      actions: string[];
      operators: string[];
      archs: string[];
      knownFlags: string[];
      supportedFlags: string[];
    };
    apparmor: { enabled: boolean };
    selinux: { enabled: boolean };
    intelRdt: { enabled: boolean };
    mountExtensions: { idmap: { enabled: boolean } };
  };
  annotations: Record<string, string>;
}

/** Builds the features document; `annotations` adds runtime-specific entries (e.g. version strings). */
export function features(annotations: Record<string, string> = {}): Features {
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION,
    hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
    mountOptions: [...KNOWN_MOUNT_OPTIONS],
    linux: {
      namespaces: [...NAMESPACE_TYPES].sort(),
      capabilities: [...CAPABILITY_NAMES],
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false, rdma: false },
      seccomp: {
        enabled: true,
        actions: Object.keys(SECCOMP_ACTIONS).filter((a) => !UNSUPPORTED_SECCOMP_ACTIONS.includes(a)).sort(),
        operators: Object.keys(SECCOMP_OPERATORS).sort(),
        archs: Object.keys(SECCOMP_ARCHS).sort(),
        knownFlags: [...Object.keys(SECCOMP_FLAGS), ...UNSUPPORTED_SECCOMP_FLAGS],
        supportedFlags: Object.keys(SECCOMP_FLAGS),
      },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: false } },
    },
    annotations: { ...annotations },
  };
}
