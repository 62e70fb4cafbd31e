/*
 * Starting the helper without forking Node. child_process.spawn forks the whole Node process (copying the
 * page tables of a ~40 MB heap and taking copy-on-write faults afterwards) and loads node:child_process,
 * node:net and node:stream; posix_spawn uses clone(CLONE_VM|CLONE_VFORK), safe in a threaded process because
 * the child only execs. Which fds the child gets, its environment and its arguments are the caller's decision.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "addon.h"

/* Upper bound on argv/env entries; the helper gets one argument and a short environment. */
#define MAX_STRINGS 4096

static void free_strings(char **list) {
  if (list == NULL) return;
  for (char **p = list; *p != NULL; p++) free(*p);
  free(list);
}

/* A NULL-terminated copy of a JS array of strings, or NULL after throwing. */
static char **get_strings(napi_env env, napi_value v, const char *what) {
  bool is_array = false;
  napi_is_array(env, v, &is_array);
  uint32_t n = 0;
  if (is_array) napi_get_array_length(env, v, &n);
  if (!is_array || n > MAX_STRINGS) {
    throw_type(env, what);
    return NULL;
  }
  char **out = calloc((size_t)n + 1, sizeof *out);
  if (out == NULL) {
    throw_errno(env, "calloc", ENOMEM);
    return NULL;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    size_t len = 0;
    napi_get_element(env, v, i, &e);
    if (napi_get_value_string_utf8(env, e, NULL, 0, &len) != napi_ok) {
      free_strings(out);
      throw_type(env, what);
      return NULL;
    }
    out[i] = malloc(len + 1);
    if (out[i] == NULL) {
      free_strings(out);
      throw_errno(env, "malloc", ENOMEM);
      return NULL;
    }
    napi_get_value_string_utf8(env, e, out[i], len + 1, &len);
  }
  return out;
}

/* A non-empty path string that fits in `buf`. */
static bool get_path(napi_env env, napi_value v, char *buf, size_t size) {
  size_t len = 0;
  return napi_get_value_string_utf8(env, v, buf, size, &len) == napi_ok && len > 0 && len < size - 1;
}

/*
 * spawn(path, argv, env, fds, setsid, execFd?) -> pid. Child fd i is a copy of the caller's fds[i] (-1: left
 * closed); every other fd of ours is close-on-exec. Signal mask empty and every disposition default in the
 * child, as child_process does (Node ignores SIGPIPE, and an ignored signal would survive exec into the
 * container). With execFd >= 0 the child executes that open file (through /proc/self/fd, from a copy placed
 * above the child's fds so that no dup2 replaces it) instead of path.
 */
napi_value js_spawn(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  get_args(env, info, 6, argv);
  char path[4096];
  if (!get_path(env, argv[0], path, sizeof path)) return throw_type(env, "path must be a non-empty string");
  int fds[MAX_FDS];
  int n = get_fd_array(env, argv[3], fds);
  if (n < 0) return NULL;
  bool setsid = false;
  napi_get_value_bool(env, argv[4], &setsid);
  int32_t exec_fd = -1;
  napi_valuetype t;
  if (napi_typeof(env, argv[5], &t) == napi_ok && t == napi_number && !get_int(env, argv[5], "execFd", &exec_fd)) return NULL;
  char **args = get_strings(env, argv[1], "argv must be an array of strings");
  if (args == NULL) return NULL;
  char **envp = get_strings(env, argv[2], "env must be an array of strings");
  if (envp == NULL) {
    free_strings(args);
    return NULL;
  }

  /* Copy every source above every target first, so that dup2 onto fd i never overwrites a later source. */
  int tmp[MAX_FDS];
  int err = 0;
  for (int i = 0; i < n; i++) tmp[i] = -1;
  for (int i = 0; i < n && err == 0; i++)
    if (fds[i] >= 0 && (tmp[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, n)) < 0) err = errno;

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | (setsid ? POSIX_SPAWN_SETSID : 0));
  for (int i = 0; i < n && err == 0; i++)
    if (tmp[i] >= 0) err = posix_spawn_file_actions_adddup2(&fa, tmp[i], i);

  int exec_copy = -1;
  if (err == 0 && exec_fd >= 0) {
    if ((exec_copy = fcntl(exec_fd, F_DUPFD_CLOEXEC, n)) < 0)
      err = errno;
    else
      snprintf(path, sizeof path, "/proc/self/fd/%d", exec_copy);
  }

  pid_t pid = -1;
  if (err == 0) err = posix_spawn(&pid, path, &fa, &attr, args, envp);
  if (exec_copy >= 0) close(exec_copy);

  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  for (int i = 0; i < n; i++)
    if (tmp[i] >= 0) close(tmp[i]);
  free_strings(args);
  free_strings(envp);
  if (err != 0) return throw_errno(env, "posix_spawn", err);
  return make_int(env, pid);
}

/* streamPair() -> [fd, fd]: a connected SOCK_STREAM unix socket pair, both ends close-on-exec. */
napi_value js_stream_pair(napi_env env, napi_callback_info info) {
  (void)info;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return throw_errno(env, "socketpair", errno);
  napi_value arr;
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, make_int(env, sv[0]));
  napi_set_element(env, arr, 1, make_int(env, sv[1]));
  return arr;
}

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

/*
 * sealedCopy(path) -> fd: a memfd holding a copy of the file at path, sealed against any change (the seals
 * the helper checks for in native/helper/seal.c), close-on-exec. Spawning the helper from this copy
 * (/proc/self/fd/N) saves its own copy-and-re-exec: one execve and one dynamic link per container.
 */
napi_value js_sealed_copy(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  get_args(env, info, 1, argv);
  char path[4096];
  if (!get_path(env, argv[0], path, sizeof path)) return throw_type(env, "path must be a non-empty string");
  int src = open(path, O_RDONLY | O_CLOEXEC);
  if (src < 0) return throw_errno(env, "open", errno);
  struct stat st;
  if (fstat(src, &st) < 0) {
    int e = errno;
    close(src);
    return throw_errno(env, "fstat", e);
  }
  /* Newer kernels warn when neither MFD_EXEC nor MFD_NOEXEC_SEAL is given; older ones refuse the flag. */
  int mfd = memfd_create("stasis-helper", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (mfd < 0 && errno == EINVAL) mfd = memfd_create("stasis-helper", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mfd < 0) {
    int e = errno;
    close(src);
    return throw_errno(env, "memfd_create", e);
  }
  off_t off = 0;
  int err = 0;
  while (err == 0 && off < st.st_size) {
    ssize_t n = sendfile(mfd, src, &off, (size_t)(st.st_size - off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) err = n < 0 ? errno : EIO;
  }
  close(src);
  if (err == 0 && fcntl(mfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) err = errno;
  if (err != 0) {
    close(mfd);
    return throw_errno(env, off < st.st_size ? "sendfile" : "fcntl", err);
  }
  return make_int(env, mfd);
}

/*
 * exitNow(code): _exit(2), skipping Node's teardown (joining the V8 platform's and libuv's worker threads,
 * running atexit handlers): ~2 ms of every command. The caller makes sure nothing is left to flush.
 */
napi_value js_exit_now(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  get_args(env, info, 1, argv);
  int32_t code = 1;
  if (!get_int(env, argv[0], "code", &code)) return NULL;
  _exit(code & 0xff);
}
