/*
 * stasis_native: the few syscalls Node has no API for, exposed to TypeScript through N-API.
 *
 * Everything here is a thin, blocking wrapper; policy (what to lock, which fds to pass) stays in TypeScript.
 * Blocking the event loop is acceptable: these calls are short (flock on a state file) or happen while the
 * runtime has nothing else to do (waiting for CRIU's next RPC message).
 *
 * Errors become JS Error objects with `code` = errno name ("EAGAIN"), `errno` = positive errno number and
 * `syscall` = the failing call.
 */
#define _GNU_SOURCE
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>
#include "addon.h"

#include <errno.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>


#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* Throws an Error for errno value `err` raised by `syscall_name`. Always returns NULL for convenience. */
napi_value throw_errno(napi_env env, const char *syscall_name, int err) {
  const char *name = strerrorname_np(err);
  char code_buf[16];
  if (name == NULL) {
    snprintf(code_buf, sizeof code_buf, "E%d", err);
    name = code_buf;
  }
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s (%s)", syscall_name, strerror(err), name);
  /* Message style of the project: lower-case first letter. */
  size_t off = strlen(syscall_name) + 2;
  if (off < sizeof msg && msg[off] >= 'A' && msg[off] <= 'Z') msg[off] = (char)(msg[off] - 'A' + 'a');

  napi_value code, message, error, errno_val, syscall_val;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, err, &errno_val);
  napi_create_string_utf8(env, syscall_name, NAPI_AUTO_LENGTH, &syscall_val);
  napi_set_named_property(env, error, "errno", errno_val);
  napi_set_named_property(env, error, "syscall", syscall_val);
  napi_throw(env, error);
  return NULL;
}

/* Throws a TypeError about a bad argument. */
napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

/* Reads a JS number as int32; on failure throws a TypeError naming `what` and returns 0. */
int get_int(napi_env env, napi_value v, const char *what, int32_t *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a number", what);
    throw_type(env, msg);
    return 0;
  }
  napi_get_value_int32(env, v, out);
  return 1;
}

/* Gets exactly `want` arguments (missing ones are undefined and fail their type check). */
void get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  for (size_t i = argc; i < want; i++) napi_get_undefined(env, &argv[i]);
}

napi_value make_int(napi_env env, int32_t v) {
  napi_value out;
  napi_create_int32(env, v, &out);
  return out;
}

/* flock(fd, op): op is a combination of LOCK_SH/LOCK_EX/LOCK_UN and LOCK_NB. Retries on EINTR. */
static napi_value js_flock(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd, op;
  get_args(env, info, 2, argv);
  if (!get_int(env, argv[0], "fd", &fd) || !get_int(env, argv[1], "op", &op)) return NULL;
  int rc;
  do rc = flock(fd, op);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) return throw_errno(env, "flock", errno);
  return NULL;
}

/* seqpacketPair() -> [fd, fd]: a connected SOCK_SEQPACKET pair, both ends close-on-exec. */
static napi_value js_seqpacket_pair(napi_env env, napi_callback_info info) {
  (void)info;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return throw_errno(env, "socketpair", errno);
  napi_value arr;
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, make_int(env, sv[0]));
  napi_set_element(env, arr, 1, make_int(env, sv[1]));
  return arr;
}

/*
 * Reads an optional array of fds into out[]; returns the count, or -1 after throwing.
 * undefined/null means no fds.
 */
int get_fd_array(napi_env env, napi_value v, int *out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_undefined || t == napi_null) return 0;
  bool is_array = false;
  napi_is_array(env, v, &is_array);
  if (!is_array) {
    throw_type(env, "fds must be an array of numbers");
    return -1;
  }
  uint32_t n;
  napi_get_array_length(env, v, &n);
  if (n > MAX_FDS) {
    throw_type(env, "fds has too many entries");
    return -1;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    napi_get_element(env, v, i, &e);
    if (!get_int(env, e, "fds[i]", &out[i])) return -1;
  }
  return (int)n;
}

/* sendMsg(fd, buffer, fds?) -> bytes sent. */
static napi_value js_send_msg(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd;
  get_args(env, info, 3, argv);
  if (!get_int(env, argv[0], "fd", &fd)) return NULL;
  bool is_buf = false;
  napi_is_buffer(env, argv[1], &is_buf);
  if (!is_buf) return throw_type(env, "data must be a Buffer");
  void *data;
  size_t len;
  napi_get_buffer_info(env, argv[1], &data, &len);
  int fds[MAX_FDS];
  int nfds = get_fd_array(env, argv[2], fds);
  if (nfds < 0) return NULL;
  ssize_t rc = fdpass_send(fd, data, len, fds, nfds);
  if (rc < 0) return throw_errno(env, "sendmsg", errno);
  return make_int(env, (int32_t)rc);
}

/*
 * recvMsg(fd, maxBytes) -> {data: Buffer, fds: number[]}. Blocks until one message arrives; received fds
 * are close-on-exec. A message larger than maxBytes (or carrying more than MAX_FDS fds) is an error
 * (EMSGSIZE), and any fds that did arrive are closed so they do not leak.
 */
static napi_value js_recv_msg(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd, max;
  get_args(env, info, 2, argv);
  if (!get_int(env, argv[0], "fd", &fd) || !get_int(env, argv[1], "maxBytes", &max)) return NULL;
  if (max <= 0) return throw_type(env, "maxBytes must be positive");
  char *buf = malloc((size_t)max);
  if (buf == NULL) return throw_errno(env, "malloc", ENOMEM);
  int fds[MAX_FDS];
  int nfds = 0;
  ssize_t n = fdpass_recv(fd, buf, (size_t)max, fds, &nfds);
  if (n < 0) {
    int err = errno;
    free(buf);
    return throw_errno(env, "recvmsg", err);
  }

  napi_value out, data, fd_arr;
  napi_create_buffer_copy(env, (size_t)n, buf, NULL, &data);
  free(buf);
  napi_create_array_with_length(env, (size_t)nfds, &fd_arr);
  for (int i = 0; i < nfds; i++) napi_set_element(env, fd_arr, (uint32_t)i, make_int(env, fds[i]));
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "data", data);
  napi_set_named_property(env, out, "fds", fd_arr);
  return out;
}

/*
 * sendFdToUnixSocket(path, fd, name): connects to the unix stream socket at path and sends fd with `name`
 * as the payload (the --console-socket convention: the receiver learns the terminal's name), then closes
 * the connection.
 */
static napi_value js_send_fd_to_unix_socket(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd;
  get_args(env, info, 3, argv);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  size_t plen;
  if (napi_get_value_string_utf8(env, argv[0], addr.sun_path, sizeof addr.sun_path, &plen) != napi_ok)
    return throw_type(env, "path must be a string");
  if (plen >= sizeof addr.sun_path - 1) return throw_errno(env, "connect", ENAMETOOLONG);
  if (!get_int(env, argv[1], "fd", &fd)) return NULL;
  char name[4096];
  size_t nlen;
  if (napi_get_value_string_utf8(env, argv[2], name, sizeof name, &nlen) != napi_ok)
    return throw_type(env, "name must be a string");

  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return throw_errno(env, "socket", errno);
  int rc;
  do rc = connect(sock, (struct sockaddr *)&addr, sizeof addr);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    int err = errno;
    close(sock);
    return throw_errno(env, "connect", err);
  }
  if (fdpass_send(sock, name, nlen, &fd, 1) < 0) {
    int err = errno;
    close(sock);
    return throw_errno(env, "sendmsg", err);
  }
  close(sock);
  return NULL;
}

/* pidfdOpen(pid) -> fd: a pidfd (close-on-exec by definition) for a live process. */
static napi_value js_pidfd_open(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t pid;
  get_args(env, info, 1, argv);
  if (!get_int(env, argv[0], "pid", &pid)) return NULL;
  long fd = syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (fd < 0) return throw_errno(env, "pidfd_open", errno);
  return make_int(env, (int32_t)fd);
}

/* setWinsize(fd, rows, cols): TIOCSWINSZ on a pty master, so the container's terminal follows the user's. */
static napi_value js_set_winsize(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd, rows, cols;
  get_args(env, info, 3, argv);
  if (!get_int(env, argv[0], "fd", &fd) || !get_int(env, argv[1], "rows", &rows) || !get_int(env, argv[2], "cols", &cols))
    return NULL;
  struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
  if (ioctl(fd, TIOCSWINSZ, &ws) < 0) return throw_errno(env, "ioctl", errno);
  return NULL;
}

/* mkfifo(path, mode): Node has no mkfifo; the start gate (exec.fifo) is one. */
static napi_value js_mkfifo(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t mode;
  char path[4096];
  size_t plen;
  get_args(env, info, 2, argv);
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &plen) != napi_ok)
    return throw_type(env, "path must be a string");
  if (plen >= sizeof path - 1) return throw_errno(env, "mkfifo", ENAMETOOLONG);
  if (!get_int(env, argv[1], "mode", &mode)) return NULL;
  if (mkfifo(path, (mode_t)mode) < 0) return throw_errno(env, "mkfifo", errno);
  /* mkfifo honours the umask; the gate's mode is the caller's decision, so set it exactly. */
  if (chmod(path, (mode_t)mode) < 0) return throw_errno(env, "chmod", errno);
  return NULL;
}

/* clearCloexec(fd): lets fd survive exec, so a child (CRIU) can inherit it at the same number. */
static napi_value js_clear_cloexec(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  get_args(env, info, 1, argv);
  if (!get_int(env, argv[0], "fd", &fd)) return NULL;
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0) return throw_errno(env, "fcntl", errno);
  if ((flags & FD_CLOEXEC) && fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0) return throw_errno(env, "fcntl", errno);
  return NULL;
}

/*
 * waitPid(pid, noHang) -> {pid, code, signal} | null: reaps a child Node did not spawn itself, such as a
 * tree CRIU restored with rst_sibling (it becomes our child). null when noHang and the child still runs.
 */
static napi_value js_wait_pid(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t pid;
  bool no_hang = false;
  get_args(env, info, 2, argv);
  if (!get_int(env, argv[0], "pid", &pid)) return NULL;
  napi_get_value_bool(env, argv[1], &no_hang); /* undefined stays false */
  int status = 0;
  pid_t rc;
  do rc = waitpid(pid, &status, no_hang ? WNOHANG : 0);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) return throw_errno(env, "waitpid", errno);
  napi_value out, nul;
  napi_get_null(env, &nul);
  if (rc == 0) return nul;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "pid", make_int(env, rc));
  napi_set_named_property(env, out, "code", WIFEXITED(status) ? make_int(env, WEXITSTATUS(status)) : nul);
  napi_set_named_property(env, out, "signal", WIFSIGNALED(status) ? make_int(env, WTERMSIG(status)) : nul);
  return out;
}

/* ---- cgroup v2 device control: an eBPF program attached to the cgroup directory ---- */

#include <linux/bpf.h>

/* Attached programs we replace at most; a container's cgroup normally has exactly one (ours). */
#define MAX_OLD_PROGS 64

static long sys_bpf(int cmd, union bpf_attr *attr) {
  return syscall(SYS_bpf, cmd, attr, sizeof *attr);
}

/*
 * Like throw_errno, plus the verifier's last lines as `verifierLog`: without them a refused program says only
 * "permission denied".
 */
static napi_value throw_bpf_load(napi_env env, int err, const char *log) {
  throw_errno(env, "bpf(BPF_PROG_LOAD)", err);
  napi_value error, text;
  if (napi_get_and_clear_last_exception(env, &error) != napi_ok) return NULL;
  size_t len = strlen(log);
  const char *tail = len > 1024 ? log + len - 1024 : log;
  napi_create_string_utf8(env, tail, NAPI_AUTO_LENGTH, &text);
  napi_set_named_property(env, error, "verifierLog", text);
  napi_throw(env, error);
  return NULL;
}

/*
 * replaceCgroupDeviceProgram(cgroupDir, insns) -> number of programs detached.
 * Loads `insns` (struct bpf_insn[], built by TypeScript) as a BPF_PROG_TYPE_CGROUP_DEVICE program, attaches it
 * to the cgroup with BPF_F_ALLOW_MULTI, then detaches the programs that were attached there before. While both
 * are attached the kernel requires every program to allow an access, so the switch never widens access.
 */
static napi_value js_replace_cgroup_device_program(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char path[4096];
  size_t plen;
  void *insns;
  size_t insns_len;
  bool is_buffer = false;
  get_args(env, info, 2, argv);
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &plen) != napi_ok)
    return throw_type(env, "cgroupDir must be a string");
  if (plen >= sizeof path - 1) return throw_errno(env, "open", ENAMETOOLONG);
  if (napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer)
    return throw_type(env, "insns must be a Buffer");
  napi_get_buffer_info(env, argv[1], &insns, &insns_len);
  if (insns_len == 0 || insns_len % sizeof(struct bpf_insn) != 0)
    return throw_type(env, "insns must hold whole 8-byte instructions");

  int dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return throw_errno(env, "open", errno);

  /* The programs attached right now, as fds, taken before ours is attached so ours is never among them. */
  __u32 ids[MAX_OLD_PROGS];
  int old[MAX_OLD_PROGS];
  __u32 n_old = 0;
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.query.target_fd = (__u32)dir;
  attr.query.attach_type = BPF_CGROUP_DEVICE;
  attr.query.prog_ids = (__u64)(unsigned long)ids;
  attr.query.prog_cnt = MAX_OLD_PROGS;
  if (sys_bpf(BPF_PROG_QUERY, &attr) < 0) {
    int err = errno;
    close(dir);
    return throw_errno(env, "bpf(BPF_PROG_QUERY)", err);
  }
  for (__u32 i = 0; i < attr.query.prog_cnt && i < MAX_OLD_PROGS; i++) {
    union bpf_attr get;
    memset(&get, 0, sizeof get);
    get.prog_id = ids[i];
    long fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &get);
    if (fd >= 0) old[n_old++] = (int)fd; /* ENOENT: detached meanwhile */
  }

  static char log[65536];
  log[0] = '\0';
  union bpf_attr load;
  memset(&load, 0, sizeof load);
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = (__u64)(unsigned long)insns;
  load.insn_cnt = (__u32)(insns_len / sizeof(struct bpf_insn));
  load.license = (__u64)(unsigned long)"Apache-2.0";
  load.log_buf = (__u64)(unsigned long)log;
  load.log_size = sizeof log;
  load.log_level = 1;
  long prog = sys_bpf(BPF_PROG_LOAD, &load);
  if (prog < 0 && errno == ENOSPC) {
    /* Log buffer too small for a huge program: load again without a log rather than fail. */
    load.log_buf = 0, load.log_size = 0, load.log_level = 0;
    prog = sys_bpf(BPF_PROG_LOAD, &load);
  }
  int err = errno;
  napi_value result = NULL;
  if (prog < 0) {
    result = throw_bpf_load(env, err, log);
    goto out;
  }
  union bpf_attr att;
  memset(&att, 0, sizeof att);
  att.target_fd = (__u32)dir;
  att.attach_bpf_fd = (__u32)prog;
  att.attach_type = BPF_CGROUP_DEVICE;
  att.attach_flags = BPF_F_ALLOW_MULTI;
  if (sys_bpf(BPF_PROG_ATTACH, &att) < 0) {
    result = throw_errno(env, "bpf(BPF_PROG_ATTACH)", errno);
    goto out;
  }
  int32_t detached = 0;
  for (__u32 i = 0; i < n_old; i++) {
    union bpf_attr det;
    memset(&det, 0, sizeof det);
    det.target_fd = (__u32)dir;
    det.attach_bpf_fd = (__u32)old[i];
    det.attach_type = BPF_CGROUP_DEVICE;
    if (sys_bpf(BPF_PROG_DETACH, &det) == 0) detached++;
    else if (errno != ENOENT) {
      result = throw_errno(env, "bpf(BPF_PROG_DETACH)", errno);
      goto out;
    }
  }
  result = make_int(env, detached);
out:
  if (prog >= 0) close((int)prog);
  for (__u32 i = 0; i < n_old; i++) close(old[i]);
  close(dir);
  return result;
}

static void export_fn(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
  napi_set_named_property(env, exports, name, fn);
}

NAPI_MODULE_INIT() {
  export_fn(env, exports, "flock", js_flock);
  export_fn(env, exports, "seqpacketPair", js_seqpacket_pair);
  export_fn(env, exports, "sendMsg", js_send_msg);
  export_fn(env, exports, "recvMsg", js_recv_msg);
  export_fn(env, exports, "sendFdToUnixSocket", js_send_fd_to_unix_socket);
  export_fn(env, exports, "pidfdOpen", js_pidfd_open);
  export_fn(env, exports, "clearCloexec", js_clear_cloexec);
  export_fn(env, exports, "mkfifo", js_mkfifo);
  export_fn(env, exports, "setWinsize", js_set_winsize);
  export_fn(env, exports, "waitPid", js_wait_pid);
  export_fn(env, exports, "spawn", js_spawn);
  export_fn(env, exports, "streamPair", js_stream_pair);
  export_fn(env, exports, "sealedCopy", js_sealed_copy);
  export_fn(env, exports, "exitNow", js_exit_now);
  export_fn(env, exports, "replaceCgroupDeviceProgram", js_replace_cgroup_device_program);
  export_fn(env, exports, "listenSeqpacket", js_listen_seqpacket);
  export_fn(env, exports, "acceptWatch", js_accept_watch);
  export_fn(env, exports, "peerCred", js_peer_cred);
  export_fn(env, exports, "dup2", js_dup2);
  /* The flock operation bits, so TypeScript does not hard-code them. */
  napi_set_named_property(env, exports, "LOCK_SH", make_int(env, LOCK_SH));
  napi_set_named_property(env, exports, "LOCK_EX", make_int(env, LOCK_EX));
  napi_set_named_property(env, exports, "LOCK_NB", make_int(env, LOCK_NB));
  napi_set_named_property(env, exports, "LOCK_UN", make_int(env, LOCK_UN));
  return exports;
}
