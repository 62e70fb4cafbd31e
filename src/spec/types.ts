/**
 * TypeScript shapes of the OCI runtime configuration (config.json, runtime-spec 1.2) and of the OCI state.
 * `validateSpec` checks a parsed document against these shapes; after that the rest of stasis can trust them.
 * Fields the spec defines but stasis ignores (apparmor, selinux, intelRdt, scheduler, …) are typed loosely so
 * that documents carrying them still validate.
 */

/** The spec version stasis writes into generated configs and reports as its maximum. */
export const OCI_VERSION = '1.2.1';

/** A namespace kind as named in `linux.namespaces[].type`. */
export type NamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup' | 'time';

/** Root filesystem of the container. */
export interface Root {
  path: string;
  readonly?: boolean;
}

/** One entry of `mounts`. */
export interface Mount {
  destination: string;
  source?: string;
  type?: string;
  options?: string[];
  uidMappings?: IDMapping[];
  gidMappings?: IDMapping[];
}

/** A hook command (`hooks.*[]`). */
export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  /** seconds; absent means no timeout */
  timeout?: number;
}

/** The six lifecycle hook lists. */
export interface Hooks {
  prestart?: Hook[];
  createRuntime?: Hook[];
  createContainer?: Hook[];
  startContainer?: Hook[];
  poststart?: Hook[];
  poststop?: Hook[];
}

/** The user the process runs as. */
export interface User {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
  username?: string;
}

/** Capability name lists, e.g. `["CAP_KILL"]`. */
export interface Capabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

/** One `process.rlimits[]` entry. Values above 2^53 arrive rounded by JSON.parse; see plan/rlimits. */
export interface Rlimit {
  type: string;
  soft: number;
  hard: number;
}

/** Terminal size. */
export interface ConsoleSize {
  height: number;
  width: number;
}

/** The container process (also the document of `exec --process`). */
export interface Process {
  terminal?: boolean;
  consoleSize?: ConsoleSize;
  user?: User;
  args: string[];
  commandLine?: string;
  env?: string[];
  cwd: string;
  capabilities?: Capabilities;
  rlimits?: Rlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  selinuxLabel?: string;
  ioPriority?: { class: string; priority?: number };
  scheduler?: Record<string, unknown>;
  execCPUAffinity?: { initial?: string; final?: string };
}

/** One `linux.namespaces[]` entry; `path` joins an existing namespace instead of creating one. */
export interface Namespace {
  type: NamespaceType;
  path?: string;
}

/** One uid/gid mapping range. */
export interface IDMapping {
  containerID: number;
  hostID: number;
  size: number;
}

/** One `linux.devices[]` entry. */
export interface Device {
  type: 'c' | 'b' | 'u' | 'p';
  path: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

/*
 * `linux.resources` and its parts are declared once, by the cgroup library that applies them (the library stays
 * free of any dependency on the spec package); the spec names them here. Validated only for shape; the cgroups
 * code checks and applies the values.
 */
import type { LinuxDeviceCgroup, LinuxResources, LinuxThrottleDevice, LinuxWeightDevice } from '../cgroups/types';
export type DeviceRule = LinuxDeviceCgroup;
export type WeightDevice = LinuxWeightDevice;
export type ThrottleDevice = LinuxThrottleDevice;
export type Resources = LinuxResources;

/** One argument comparison of a seccomp rule. */
export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

/** One seccomp rule. */
export interface SeccompSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: SeccompArg[];
}

/** `linux.seccomp`. */
export interface Seccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: SeccompSyscall[];
}

/** `linux.personality`. */
export interface Personality {
  domain: 'LINUX' | 'LINUX32';
  flags?: string[];
}

/** One clock offset of a time namespace. */
export interface TimeOffset {
  secs?: number;
  nanosecs?: number;
}

/** The `linux` section. */
export interface Linux {
  namespaces?: Namespace[];
  uidMappings?: IDMapping[];
  gidMappings?: IDMapping[];
  timeOffsets?: { monotonic?: TimeOffset; boottime?: TimeOffset };
  devices?: Device[];
  cgroupsPath?: string;
  resources?: Resources;
  sysctl?: Record<string, string>;
  seccomp?: Seccomp;
  rootfsPropagation?: string;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
  personality?: Personality;
  /** accepted and ignored: stasis has no Intel RDT support */
  intelRdt?: Record<string, unknown>;
}

/** A validated config.json. */
export interface Spec {
  ociVersion: string;
  root?: Root;
  mounts?: Mount[];
  process?: Process;
  hostname?: string;
  domainname?: string;
  hooks?: Hooks;
  annotations?: Record<string, string>;
  linux?: Linux;
}

/** Status values of the OCI state (`paused` is the runc extension every engine understands). */
export type ContainerStatus = 'creating' | 'created' | 'running' | 'stopped' | 'paused';

/** The OCI state document (`stasis state`, and the stdin of every hook). */
export interface State {
  ociVersion: string;
  id: string;
  status: ContainerStatus;
  /** host pid of the container process; absent once stopped */
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
}
