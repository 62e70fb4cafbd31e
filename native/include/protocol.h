/* The TS <-> helper protocol: frame kinds, op codes, arg tags and path bases.
 * This file is the single source of truth; src/helper/protocol.ts mirrors it and a unit test
 * (test/unit/helper/protocol-sync.test.ts) parses this header to check the two agree.
 * docs/protocol.md explains every op and the order of events. */
#ifndef STASIS_PROTOCOL_H
#define STASIS_PROTOCOL_H

#define STASIS_PROTOCOL_VERSION 1

/* Fixed fd layout the launcher gives the helper. */
#define STASIS_FD_CTL 3
#define STASIS_FD_LOG 4

/* Frame kinds on the ctl channel: u32 length (LE, counts kind + payload) | u8 kind | payload. */
enum stasis_frame_kind {
  FRAME_PLAN = 1,     /* TS -> helper: the plan */
  FRAME_CONTINUE = 2, /* TS -> helper: reply to a sync event; payload = sync payload (state JSON) */
  FRAME_ABORT = 3,    /* TS -> helper: reply to a sync event; stop */
  FRAME_EVENT = 16,   /* helper -> TS: one JSON object */
};

/* Arg tags inside an op's args. */
enum stasis_arg_tag {
  ARG_U32 = 1,
  ARG_U64 = 2,
  ARG_STR = 3,
  ARG_STRLIST = 4,
};

/* Path bases for ops that take one. */
enum stasis_base {
  BASE_HOST = 0,   /* absolute path in the current root */
  BASE_ROOTFS = 1, /* resolved inside the rootfs fd with RESOLVE_IN_ROOT */
};

/* CLONE parent modes. */
enum stasis_parent_mode {
  PARENT_EXIT = 0, /* report pid, exit 0 */
  PARENT_WAIT = 1, /* report pid, forward signals, wait, report exit, exit with the child's status */
};

/* MOUNT target kinds. */
enum stasis_target_kind {
  TARGET_EXISTING = 0,
  TARGET_DIR = 1,
  TARGET_FILE = 2,
};

/* MOUNT's last argument: a bit set. Bit 0 keeps the meaning the argument had when it was a boolean. */
enum stasis_mount_opt {
  MOUNT_OPT_SOURCE_IS_PATH = 1, /* open the source O_PATH first and mount it as /proc/self/fd/N */
  MOUNT_OPT_COPY_UP = 2,        /* tmpcopyup: fill the new mount with a copy of the directory it covers */
  MOUNT_OPT_COPY_UP_ROOT = 4,   /* with COPY_UP: the mount's root also takes that directory's owner/mode/times */
};

/* Op codes. Keep numbers stable: they are the wire format. */
enum stasis_op {
  OP_SETNS = 1,
  OP_UNSHARE = 2,
  OP_WRITE_FILE = 3,
  OP_CONNECT_CONSOLE = 4,
  OP_OPEN_FIFO = 5,
  OP_CLONE = 6,
  OP_SYNC = 7,
  OP_SETID = 8,
  OP_SET_ROOTFS = 9,
  OP_MOUNT = 10,
  OP_REMOUNT = 11,
  OP_PROPAGATION = 12,
  OP_MKNOD = 13,
  OP_SYMLINK = 14,
  OP_PIVOT_ROOT = 15,
  OP_MOVE_ROOT = 16,
  OP_MASK_PATH = 17,
  OP_READONLY_PATH = 18,
  OP_SETHOSTNAME = 19,
  OP_SETDOMAINNAME = 20,
  OP_RUN_HOOK = 21,
  OP_CONSOLE = 22,
  OP_READY = 23,
  OP_WAIT_START = 24,
  OP_SETRLIMIT = 25,
  OP_PERSONALITY = 26,
  OP_UMASK = 27,
  OP_NO_NEW_PRIVS = 28,
  OP_KEEPCAPS = 29,
  OP_SETUSER = 30,
  OP_CAPS = 31,
  OP_SECCOMP = 32,
  OP_CHDIR = 33,
  OP_LOOKUP_EXEC = 34,
  OP_FDMAP = 35,
  OP_CLOSE_FDS = 36,
  OP_EXEC = 37,
  OP_SETSID = 38,
  OP_BIND_DEVICE = 40,
  OP_MKDIR = 41,
  OP_JOIN_KEYRING = 42,
  OP_LOOPBACK_UP = 43,
  OP_USE_CONSOLE_FD = 44,
  OP_CHROOT = 45,
  OP_UMOUNT = 46,
  OP_MAX = 47,
};

#endif
