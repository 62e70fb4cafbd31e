/**
 * TypeScript shapes of the CRIU RPC messages in rpc.proto, with protobufjs's camelCase field names. Enums
 * are their names (protobufjs encodes names and decodes to names with `enums: String`).
 */

/** criu_cg_mode */
export type CriuCgMode = 'IGNORE' | 'CG_NONE' | 'PROPS' | 'SOFT' | 'FULL' | 'STRICT' | 'DEFAULT';
/** criu_network_lock_method */
export type CriuNetworkLock = 'IPTABLES' | 'NFTABLES' | 'SKIP';
/** criu_pre_dump_mode */
export type CriuPreDumpMode = 'SPLICE' | 'VM_READ';
/** criu_req_type */
export type CriuReqType =
  | 'EMPTY'
  | 'DUMP'
  | 'RESTORE'
  | 'CHECK'
  | 'PRE_DUMP'
  | 'PAGE_SERVER'
  | 'NOTIFY'
  | 'CPUINFO_DUMP'
  | 'CPUINFO_CHECK'
  | 'FEATURE_CHECK'
  | 'VERSION'
  | 'WAIT_PID'
  | 'PAGE_SERVER_CHLD'
  | 'SINGLE_PRE_DUMP';

/** criu_page_server_info */
export interface CriuPageServerInfo {
  address?: string;
  port?: number;
  pid?: number;
  fd?: number;
}

/** ext_mount_map: external mount key → value */
export interface ExtMountMap {
  key: string;
  val: string;
}

/** join_namespace */
export interface JoinNamespace {
  ns: string;
  nsFile: string;
  extraOpt?: string;
}

/** inherit_fd: the external object `key` is replaced by CRIU's fd number `fd` on restore */
export interface InheritFd {
  key: string;
  fd: number;
}

/** cgroup_root: where a controller's (or every controller's) tree goes on restore */
export interface CgroupRoot {
  ctrl?: string;
  path: string;
}

/** unix_sk */
export interface UnixSk {
  inode: number;
}

/** criu_opts: the options of one request (see rpc.proto for each field) */
export interface CriuOpts {
  imagesDirFd: number;
  pid?: number;
  leaveRunning?: boolean;
  extUnixSk?: boolean;
  tcpEstablished?: boolean;
  evasiveDevices?: boolean;
  shellJob?: boolean;
  fileLocks?: boolean;
  logLevel?: number;
  logFile?: string;
  ps?: CriuPageServerInfo;
  notifyScripts?: boolean;
  root?: string;
  parentImg?: string;
  trackMem?: boolean;
  autoDedup?: boolean;
  workDirFd?: number;
  linkRemap?: boolean;
  cpuCap?: number;
  forceIrmap?: boolean;
  execCmd?: string[];
  extMnt?: ExtMountMap[];
  manageCgroups?: boolean;
  cgRoot?: CgroupRoot[];
  rstSibling?: boolean;
  inheritFd?: InheritFd[];
  autoExtMnt?: boolean;
  extSharing?: boolean;
  extMasters?: boolean;
  skipMnt?: string[];
  enableFs?: string[];
  unixSkIno?: UnixSk[];
  manageCgroupsMode?: CriuCgMode;
  ghostLimit?: number;
  irmapScanPaths?: string[];
  external?: string[];
  emptyNs?: number;
  joinNs?: JoinNamespace[];
  cgroupProps?: string;
  cgroupPropsFile?: string;
  cgroupDumpController?: string[];
  freezeCgroup?: string;
  timeout?: number;
  tcpSkipInFlight?: boolean;
  weakSysctls?: boolean;
  lazyPages?: boolean;
  statusFd?: number;
  orphanPtsMaster?: boolean;
  configFile?: string;
  tcpClose?: boolean;
  lsmProfile?: string;
  tlsCacert?: string;
  tlsCacrl?: string;
  tlsCert?: string;
  tlsKey?: string;
  tls?: boolean;
  tlsNoCnVerify?: boolean;
  cgroupYard?: string;
  preDumpMode?: CriuPreDumpMode;
  pidfdStoreSk?: number;
  lsmMountContext?: string;
  networkLock?: CriuNetworkLock;
  mntnsCompatMode?: boolean;
  skipFileRwxCheck?: boolean;
  unprivileged?: boolean;
  imagesDir?: string;
  leaveStopped?: boolean;
  displayStats?: boolean;
  logToStderr?: boolean;
}

/** criu_features: asked-for features set to true in a request; results in the answer */
export interface CriuFeatures {
  memTrack?: boolean;
  lazyPages?: boolean;
  pidfdStore?: boolean;
}

/** criu_req */
export interface CriuReq {
  type: CriuReqType;
  opts?: CriuOpts;
  notifySuccess?: boolean;
  keepOpen?: boolean;
  features?: CriuFeatures;
  pid?: number;
}

/** criu_version */
export interface CriuVersionMsg {
  majorNumber: number;
  minorNumber: number;
  gitid?: string;
  sublevel?: number;
  extra?: number;
  name?: string;
}

/** criu_resp */
export interface CriuResp {
  type: CriuReqType;
  success: boolean;
  dump?: { restored?: boolean };
  restore?: { pid: number };
  notify?: { script?: string; pid?: number };
  ps?: CriuPageServerInfo;
  crErrno?: number;
  features?: CriuFeatures;
  crErrmsg?: string;
  version?: CriuVersionMsg;
  status?: number;
}
