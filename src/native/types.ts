/** The typed surface of the stasis_native addon (native/addon/addon.c). */

/** One message received on a socket: its bytes and the fds that came with it (close-on-exec). */
export interface ReceivedMessage {
  data: Buffer;
  fds: number[];
}

/**
 * Functions of stasis_native. All are blocking, and throw an Error whose `code` is the errno name
 * (e.g. "EAGAIN"), `errno` the positive errno number and `syscall` the failing call.
 */
export interface StasisNative {
  /** flock(2) on fd; op combines LOCK_SH/LOCK_EX/LOCK_UN with LOCK_NB. Retries on EINTR. */
  flock(fd: number, op: number): void;
  /** A connected AF_UNIX SOCK_SEQPACKET pair, both ends close-on-exec. */
  seqpacketPair(): [number, number];
  /** Sends data and fds (SCM_RIGHTS) as one message; returns the bytes sent. */
  sendMsg(fd: number, data: Buffer, fds?: readonly number[]): number;
  /**
   * Receives one message (blocking). Zero bytes and no fds means the peer closed. Throws EMSGSIZE when the
   * message is longer than maxBytes (fds that arrived with it are closed).
   */
  recvMsg(fd: number, maxBytes: number): ReceivedMessage;
  /** Connects to a unix stream socket, sends fd with `name` as payload (console-socket style), disconnects. */
  sendFdToUnixSocket(path: string, fd: number, name: string): void;
  /** pidfd_open(2): a pidfd for pid (close-on-exec). */
  pidfdOpen(pid: number): number;
  /** Clears FD_CLOEXEC so a spawned child inherits fd at the same number. */
  clearCloexec(fd: number): void;
  /**
   * waitpid(2) for a child Node did not spawn (e.g. a tree CRIU restored with rst_sibling). With noHang,
   * null while it still runs. code is the exit status, signal the terminating signal (the other is null).
   */
  waitPid(pid: number, noHang?: boolean): { pid: number; code: number | null; signal: number | null } | null;
  /**
   * posix_spawn(3) (vfork-style: Node is not forked). Child fd i is a copy of fds[i] (-1: closed); signal
   * mask empty and dispositions default in the child; setsid puts it in a new session. With execFd, the
   * child executes that open file (e.g. a sealedCopy) instead of path. Returns its pid.
   */
  spawn(path: string, argv: readonly string[], env: readonly string[], fds: readonly number[], setsid: boolean, execFd?: number): number;
  /** A connected AF_UNIX SOCK_STREAM pair, both ends close-on-exec. */
  streamPair(): [number, number];
  /** A close-on-exec memfd with a copy of the file at path, sealed (seal, shrink, grow, write). */
  sealedCopy(path: string): number;
  /** _exit(2) with code: no Node teardown. Only when no output is pending (see cli/exit.ts). */
  exitNow(code: number): never;
  /** TIOCSWINSZ: sets a terminal's size (rows, columns). */
  setWinsize(fd: number, rows: number, cols: number): void;
  /** mkfifo(3) with exactly `mode` (the umask is undone). */
  mkfifo(path: string, mode: number): void;
  /**
   * cgroup v2 device control: loads `insns` (struct bpf_insn[]) as a BPF_PROG_TYPE_CGROUP_DEVICE program,
   * attaches it to the cgroup directory with BPF_F_ALLOW_MULTI and detaches the programs attached there before.
   * Returns how many were detached. A refused program's error carries the verifier's output as `verifierLog`.
   */
  replaceCgroupDeviceProgram(cgroupDir: string, insns: Buffer): number;
  /** A close-on-exec SOCK_SEQPACKET socket bound at path (mode 0600) and listening (`stasis service`). */
  listenSeqpacket(path: string, backlog: number): number;
  /** Blocks for a connection on listenFd (returned close-on-exec); -1 as soon as anything happens on watchFd. */
  acceptWatch(listenFd: number, watchFd: number): number;
  /** SO_PEERCRED of a connected unix socket (pid 0 when the peer is outside our pid namespace). */
  peerCred(fd: number): { pid: number; uid: number; gid: number };
  /** dup2(2): `to` becomes a copy of `from`, not close-on-exec. */
  dup2(from: number, to: number): number;
  /** flock operation bits, as the C library defines them. */
  readonly LOCK_SH: number;
  readonly LOCK_EX: number;
  readonly LOCK_NB: number;
  readonly LOCK_UN: number;
}

/** Names every StasisNative function, so the loader can check a built addon provides them all. */
export const NATIVE_FUNCTIONS = [
  'flock',
  'seqpacketPair',
  'sendMsg',
  'recvMsg',
  'sendFdToUnixSocket',
  'pidfdOpen',
  'clearCloexec',
  'waitPid',
  'spawn',
  'streamPair',
  'sealedCopy',
  'exitNow',
  'mkfifo',
  'setWinsize',
  'listenSeqpacket',
  'acceptWatch',
  'peerCred',
  'dup2',
] as const;

/** Names every StasisNative numeric constant. */
export const NATIVE_CONSTANTS = ['LOCK_SH', 'LOCK_EX', 'LOCK_NB', 'LOCK_UN'] as const;
