/**
 * The TS side of the helper protocol (docs/protocol.md). Mirrors native/include/protocol.h; a unit test
 * parses the header and checks that every number here matches.
 */

export const PROTOCOL_VERSION = 1;

export const Frame = { PLAN: 1, CONTINUE: 2, ABORT: 3, EVENT: 16 } as const;

export const ArgTag = { U32: 1, U64: 2, STR: 3, STRLIST: 4 } as const;

export const Base = { HOST: 0, ROOTFS: 1 } as const;
export type BaseValue = (typeof Base)[keyof typeof Base];

export const ParentMode = { EXIT: 0, WAIT: 1 } as const;

export const TargetKind = { EXISTING: 0, DIR: 1, FILE: 2 } as const;

/** Bits of MOUNT's last argument (`MOUNT_OPT_*` in protocol.h). */
export const MountOpt = { SOURCE_IS_PATH: 1, COPY_UP: 2, COPY_UP_ROOT: 4 } as const;

export const Op = {
  SETNS: 1,
  UNSHARE: 2,
  WRITE_FILE: 3,
  CONNECT_CONSOLE: 4,
  OPEN_FIFO: 5,
  CLONE: 6,
  SYNC: 7,
  SETID: 8,
  SET_ROOTFS: 9,
  MOUNT: 10,
  REMOUNT: 11,
  PROPAGATION: 12,
  MKNOD: 13,
  SYMLINK: 14,
  PIVOT_ROOT: 15,
  MOVE_ROOT: 16,
  MASK_PATH: 17,
  READONLY_PATH: 18,
  SETHOSTNAME: 19,
  SETDOMAINNAME: 20,
  RUN_HOOK: 21,
  CONSOLE: 22,
  READY: 23,
  WAIT_START: 24,
  SETRLIMIT: 25,
  PERSONALITY: 26,
  UMASK: 27,
  NO_NEW_PRIVS: 28,
  KEEPCAPS: 29,
  SETUSER: 30,
  CAPS: 31,
  SECCOMP: 32,
  CHDIR: 33,
  LOOKUP_EXEC: 34,
  FDMAP: 35,
  CLOSE_FDS: 36,
  EXEC: 37,
  SETSID: 38,
  BIND_DEVICE: 40,
  MKDIR: 41,
  JOIN_KEYRING: 42,
  LOOPBACK_UP: 43,
  USE_CONSOLE_FD: 44,
  CHROOT: 45,
  UMOUNT: 46,
} as const;
export type OpName = keyof typeof Op;

/** One argument value, tagged so the helper can check it. */
export type Arg =
  | { t: 'u32'; v: number }
  | { t: 'u64'; v: bigint }
  | { t: 'str'; v: string }
  | { t: 'strlist'; v: readonly string[] };

export const u32 = (v: number): Arg => ({ t: 'u32', v });
export const u64 = (v: bigint | number): Arg => ({ t: 'u64', v: BigInt(v) });
export const str = (v: string): Arg => ({ t: 'str', v });
export const strlist = (v: readonly string[]): Arg => ({ t: 'strlist', v });

/** One step of a plan; `what` is the human description used when the step fails. */
export interface Step {
  op: OpName;
  args: Arg[];
  what: string;
}

/** Encodes a plan into the PLAN frame payload (into one growing buffer: a plan has ~1000 args). */
export function encodePlan(steps: readonly Step[]): Buffer {
  const w = new PlanWriter();
  w.u32(PROTOCOL_VERSION);
  w.u32(steps.length);
  for (const step of steps) {
    w.u16(Op[step.op]);
    w.u16(0);
    const lenAt = w.reserve(4);
    const argsStart = w.length;
    for (const arg of step.args) w.arg(arg);
    w.buf.writeUInt32LE(w.length - argsStart, lenAt);
  }
  return w.buf.subarray(0, w.length);
}

/** Little-endian writer of plan bytes. */
class PlanWriter {
  buf = Buffer.allocUnsafe(16 * 1024);
  length = 0;

  private room(n: number): number {
    if (this.length + n > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
      this.buf.copy(bigger, 0, 0, this.length);
      this.buf = bigger;
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  reserve(n: number): number {
    return this.room(n);
  }

  // room() may replace this.buf: take the offset first, then write to the buffer that has it.
  u8(v: number): void {
    const at = this.room(1);
    this.buf.writeUInt8(v, at);
  }

  u16(v: number): void {
    const at = this.room(2);
    this.buf.writeUInt16LE(v, at);
  }

  u32(v: number): void {
    const at = this.room(4);
    this.buf.writeUInt32LE(v >>> 0, at);
  }

  string(s: string): void {
    if (s.includes('\0')) throw new Error(`string contains a NUL byte: ${JSON.stringify(s.slice(0, 40))}`);
    const n = Buffer.byteLength(s, 'utf8');
    this.u32(n);
    const at = this.room(n);
    this.buf.write(s, at, n, 'utf8');
  }

  arg(arg: Arg): void {
    switch (arg.t) {
      case 'u32':
        this.u8(ArgTag.U32);
        this.u32(arg.v);
        return;
      case 'u64': {
        this.u8(ArgTag.U64);
        const at = this.room(8);
        this.buf.writeBigUInt64LE(BigInt.asUintN(64, arg.v), at);
        return;
      }
      case 'str':
        this.u8(ArgTag.STR);
        this.string(arg.v);
        return;
      case 'strlist':
        this.u8(ArgTag.STRLIST);
        this.u32(arg.v.length);
        for (const v of arg.v) this.string(v);
        return;
    }
  }
}

/** Wraps a payload into a ctl frame. */
export function encodeFrame(kind: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32LE(payload.length + 1, 0);
  head.writeUInt8(kind, 4);
  return Buffer.concat([head, payload]);
}

/** Events the helper sends. */
export type HelperEvent =
  | { type: 'pid'; pid: number }
  | { type: 'sync'; name: string }
  | { type: 'ready' }
  | { type: 'exit'; status?: number; signal?: number }
  | { type: 'error'; step: number; op: string; errno: number; message: string };

/** Incremental frame decoder for the helper -> TS direction. */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);

  /** Feeds bytes; returns every complete EVENT frame decoded so far. */
  push(chunk: Buffer): HelperEvent[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: HelperEvent[] = [];
    while (this.buf.length >= 5) {
      const len = this.buf.readUInt32LE(0);
      if (this.buf.length < 4 + len) break;
      const kind = this.buf.readUInt8(4);
      const payload = this.buf.subarray(5, 4 + len);
      this.buf = this.buf.subarray(4 + len);
      if (kind !== Frame.EVENT) throw new Error(`helper sent an unexpected frame kind ${kind}`);
      out.push(JSON.parse(payload.toString('utf8')) as HelperEvent);
    }
    return out;
  }
}
