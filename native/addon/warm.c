/*
 * The syscalls of `stasis service` and its warm workers (src/warm/) that Node does not offer: a
 * SOCK_SEQPACKET listening socket (message boundaries, SCM_RIGHTS), accept that gives up when the service
 * goes away, the caller's credentials, and dup2 (a worker takes the caller's stdio as its own fds 0-2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "addon.h"

/* listenSeqpacket(path, backlog) -> fd: a close-on-exec SOCK_SEQPACKET socket bound at path (mode 0600) and listening. */
napi_value js_listen_seqpacket(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  get_args(env, info, 2, argv);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], addr.sun_path, sizeof addr.sun_path, &len) != napi_ok || len == 0 ||
      len >= sizeof addr.sun_path - 1)
    return throw_type(env, "path must be a socket path shorter than 107 bytes");
  int32_t backlog;
  if (!get_int(env, argv[1], "backlog", &backlog)) return NULL;
  int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (s < 0) return throw_errno(env, "socket", errno);
  /* Bound under a 0077 umask: nobody else may connect, not even for the moment before a chmod. */
  mode_t old = umask(0077);
  int rc = bind(s, (struct sockaddr *)&addr, sizeof addr);
  int err = errno;
  umask(old);
  if (rc < 0 || listen(s, backlog) < 0) {
    if (rc == 0) err = errno;
    close(s);
    return throw_errno(env, rc < 0 ? "bind" : "listen", err);
  }
  return make_int(env, s);
}

/*
 * acceptWatch(listenFd, watchFd) -> fd | -1: blocks until a connection arrives (returned close-on-exec) or
 * until anything happens on watchFd (the service's end of a socket closing: the service is gone), then -1.
 */
napi_value js_accept_watch(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  get_args(env, info, 2, argv);
  int32_t lfd, wfd;
  if (!get_int(env, argv[0], "listenFd", &lfd) || !get_int(env, argv[1], "watchFd", &wfd)) return NULL;
  for (;;) {
    struct pollfd p[2] = {{.fd = lfd, .events = POLLIN}, {.fd = wfd, .events = POLLIN | POLLRDHUP}};
    int r = poll(p, 2, -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return throw_errno(env, "poll", errno);
    if (p[1].revents) return make_int(env, -1);
    if (!(p[0].revents & POLLIN)) return throw_errno(env, "poll", EBADF);
    int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (c >= 0) return make_int(env, c);
    /* Another worker took it, or the caller gave up before we got to it: wait for the next one. */
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) return throw_errno(env, "accept4", errno);
  }
}

/* peerCred(fd) -> {pid, uid, gid}: SO_PEERCRED of a connected unix socket (pid 0: not in our pid namespace). */
napi_value js_peer_cred(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  get_args(env, info, 1, argv);
  int32_t fd;
  if (!get_int(env, argv[0], "fd", &fd)) return NULL;
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return throw_errno(env, "getsockopt(SO_PEERCRED)", errno);
  napi_value out;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "pid", make_int(env, cred.pid));
  napi_set_named_property(env, out, "uid", make_int(env, (int32_t)cred.uid));
  napi_set_named_property(env, out, "gid", make_int(env, (int32_t)cred.gid));
  return out;
}

/* dup2(from, to): `to` becomes a copy of `from` (not close-on-exec). */
napi_value js_dup2(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  get_args(env, info, 2, argv);
  int32_t from, to;
  if (!get_int(env, argv[0], "from", &from) || !get_int(env, argv[1], "to", &to)) return NULL;
  int r;
  do r = dup2(from, to);
  while (r < 0 && errno == EINTR);
  if (r < 0) return throw_errno(env, "dup2", errno);
  return make_int(env, r);
}
