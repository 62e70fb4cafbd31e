/*
 * bin/stasis: the executable engines run. It decides nothing about containers. It either hands the call to
 * a warm worker of `stasis service` (a Node process that has already started and loaded stasis) or execs
 * the Node launcher (dist/launcher.cjs), the "cold" path, which does the same work after Node starts up.
 *
 * The warm path, in order (docs/warm.md, src/warm/protocol.ts):
 *   1. connect to the service's SOCK_SEQPACKET socket ($STASIS_WARM_SOCKET, else /run/stasis-warm/sock);
 *   2. send REQUEST: umask, argv, environment, and fds 0, 1, 2 and the working directory (SCM_RIGHTS);
 *   3. the worker answers "ok <pid>" or "cold <reason>" (the worker decides: wrong namespaces, a command that
 *      must run cold...). On "cold", nothing has happened yet: exec the launcher. On "ok", answer "go";
 *   4. serve the worker until it sends "exit <code>": run each SPAWN it asks for as a child of this process,
 *      so the helper, and so the container, descend from the caller (conmon and containerd's shim reap
 *      them as subreapers), report each child's exit on the notes channel the worker gave, and forward the
 *      signals a runtime is sent (Ctrl-C, SIGTERM, SIGWINCH...) to the worker, as Node would receive them.
 *      A worker about to kill itself with a signal says "die <signal>" first: we end the same way.
 * The worker's reply to step 2 is awaited for at most a few seconds; any failure before step 4 goes cold.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../common/fdpass.h"

#define DEFAULT_SOCKET "/run/stasis-warm/sock" /* src/warm/service.ts DEFAULT_SOCKET: the two must agree */
#define MAX_MSG (256 * 1024)
#define REPLY_TIMEOUT_MS 5000

static pid_t worker;
static volatile sig_atomic_t last_signal, child_exited;
static int notes = -1; /* where child exits are reported (the worker's notes channel) */
static const int FORWARDED[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};
#define N_FORWARDED (int)(sizeof FORWARDED / sizeof FORWARDED[0])

/* The Node launcher beside this executable (bin/stasis -> dist/launcher.cjs), executed with our argv. */
static void __attribute__((noreturn)) exec_cold(char **argv) {
  char self[PATH_MAX] = "bin/stasis";
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 32);
  if (n > 0) {
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash) *slash = '\0';
    slash = strrchr(self, '/');
    if (slash) {
      strcpy(slash, "/dist/launcher.cjs");
      execv(self, argv);
    }
  }
  fprintf(stderr, "stasis: cannot start the Node launcher %s: %s\n", self, strerror(errno));
  exit(127);
}

static void on_forwarded(int sig) {
  last_signal = sig;
  if (worker > 0) kill(worker, sig);
}

static void on_child(int sig) {
  (void)sig;
  child_exited = 1;
}

/* Appends a NUL-terminated string; returns the new length, or -1 when it does not fit. */
static long put(char *buf, long at, const char *s) {
  size_t len = strlen(s) + 1;
  if (at < 0 || (size_t)at + len > MAX_MSG) return -1;
  memcpy(buf + at, s, len);
  return at + (long)len;
}

static long put_num(char *buf, long at, long v) {
  char num[24];
  snprintf(num, sizeof num, "%ld", v);
  return put(buf, at, num);
}

/* One message with its fds (close-on-exec), NUL-terminated. Returns its length, 0 at end-of-file, -1 on error. */
static ssize_t recv_fds(int sock, char *buf, size_t size, int *fds, int *nfds) {
  ssize_t r = fdpass_recv(sock, buf, size - 1, fds, nfds);
  if (r >= 0) buf[r] = '\0';
  return r;
}

/* The i-th NUL-separated field of a message (fields[] filled up to max), returns how many there are. */
static int split(char *buf, size_t len, char **fields, int max) {
  int n = 0;
  for (size_t at = 0; at < len && n < max; at += strlen(buf + at) + 1) fields[n++] = buf + at;
  return n;
}

static int connect_service(void) {
  const char *path = getenv("STASIS_WARM_SOCKET");
  if (path == NULL || *path == '\0') path = DEFAULT_SOCKET;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) return -1;
  strcpy(addr.sun_path, path);
  int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  struct ucred cred;
  socklen_t clen = sizeof cred;
  /* Only a service of our own user may run our calls. */
  if (connect(s, (struct sockaddr *)&addr, sizeof addr) < 0 || getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
      cred.uid != geteuid()) {
    close(s);
    return -1;
  }
  return s;
}

/* REQUEST: "request", umask, argc, argv..., envc, env...; fds 0, 1, 2 and cwd. 0 when sent. */
static int send_request(int s, int argc, char **argv) {
  extern char **environ;
  static char buf[MAX_MSG];
  mode_t mask = umask(0);
  umask(mask);
  long at = put(buf, 0, "request");
  at = put_num(buf, at, (long)mask);
  at = put_num(buf, at, argc - 1);
  for (int i = 1; i < argc; i++) at = put(buf, at, argv[i]);
  long envc = 0;
  for (char **e = environ; *e; e++) envc++;
  at = put_num(buf, at, envc);
  for (char **e = environ; *e; e++) at = put(buf, at, *e);
  if (at < 0) return -1;
  int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (cwd < 0) return -1;
  int fds[4] = {0, 1, 2, cwd};
  ssize_t r = fdpass_send(s, buf, (size_t)at, fds, 4);
  close(cwd);
  return r == at ? 0 : -1;
}

/* Waits for "ok <pid>" (returns the pid) or anything else (returns 0: go cold). */
static pid_t await_ok(int s) {
  struct pollfd p = {.fd = s, .events = POLLIN};
  int r;
  do r = poll(&p, 1, REPLY_TIMEOUT_MS);
  while (r < 0 && errno == EINTR);
  if (r <= 0) return 0;
  char buf[4096];
  int fds[FDPASS_MAX], nfds;
  ssize_t n = recv_fds(s, buf, sizeof buf, fds, &nfds);
  for (int i = 0; i < nfds; i++) close(fds[i]);
  char *f[3];
  if (n <= 0 || split(buf, (size_t)n, f, 3) < 2 || strcmp(f[0], "ok") != 0) return 0;
  return (pid_t)atol(f[1]);
}

/* Reports every exited child on the notes channel: "pid code signal\n" (code -1 when killed). */
static void report_children(void) {
  int st;
  pid_t pid;
  while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
    char line[64];
    int len = WIFSIGNALED(st) ? snprintf(line, sizeof line, "%d -1 %d\n", pid, WTERMSIG(st))
                              : snprintf(line, sizeof line, "%d %d 0\n", pid, WEXITSTATUS(st));
    if (notes >= 0 && write(notes, line, (size_t)len) < 0) { /* the worker is gone; nothing to tell */
    }
  }
}

/* In the child of a SPAWN: slots, dispositions, session, then exec. Never returns. */
static void __attribute__((noreturn)) spawn_child(int err_fd, int setsid_, int exec_fd, const char *path, char **args,
                                                  char **envp, const int *slot, const int *src, int n) {
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
  if (setsid_) setsid();
  int top = 2;
  for (int i = 0; i < n; i++) top = slot[i] > top ? slot[i] : top;
  int tmp[FDPASS_MAX];
  for (int i = 0; i < n; i++) tmp[i] = fcntl(src[i], F_DUPFD_CLOEXEC, top + 1);
  int exec_copy = exec_fd >= 0 ? fcntl(exec_fd, F_DUPFD_CLOEXEC, top + 1) : -1;
  err_fd = fcntl(err_fd, F_DUPFD_CLOEXEC, top + 1);
  /* Slots not given stay closed; everything above them is closed at exec. */
  for (int fd = 0; fd <= top; fd++) close(fd);
  for (int i = 0; i < n; i++) dup2(tmp[i], slot[i]);
  syscall(SYS_close_range, top + 1, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  if (exec_copy >= 0)
    syscall(SYS_execveat, exec_copy, "", args, envp, AT_EMPTY_PATH);
  else
    execve(path, args, envp);
  int e = errno;
  if (write(err_fd, &e, sizeof e) < 0) _exit(127);
  _exit(127);
}

/*
 * SPAWN: "spawn", setsid, has-exec-fd, slot list ("0,1,2,..."), path, argc, argv..., envc, env...; fds: the
 * notes channel, the exec fd when there is one, then one fd per slot. Replies "pid <pid>" or "errno <n>".
 */
static void spawn(int s, char *buf, size_t len, int *fds, int nfds) {
  static char *f[8192];
  int nf = split(buf, len, f, 8192);
  int err = EINVAL;
  pid_t pid = -1;
  if (nfds >= 1) {
    if (notes < 0) notes = fds[0];
    else close(fds[0]);
  }
  int setsid_ = nf > 1 && f[1][0] == '1', has_exec = nf > 2 && f[2][0] == '1';
  int slot[FDPASS_MAX], n = 0;
  for (char *p = nf > 3 ? f[3] : ""; *p && n < FDPASS_MAX; p = *p == ',' ? p + 1 : p) slot[n++] = (int)strtol(p, &p, 10);
  int argc = nf > 5 ? atoi(f[5]) : -1;
  int envc = argc >= 0 && 6 + argc < nf ? atoi(f[6 + argc]) : -1;
  int first_src = 1 + has_exec;
  if (nf >= 7 && argc >= 0 && envc >= 0 && 7 + argc + envc <= nf && nfds == first_src + n) {
    char **args = calloc((size_t)argc + 1, sizeof *args), **envp = calloc((size_t)envc + 1, sizeof *envp);
    int ep[2];
    if (args == NULL || envp == NULL) {
      err = ENOMEM;
    } else if (pipe2(ep, O_CLOEXEC) < 0) {
      err = errno;
    } else {
      for (int i = 0; i < argc; i++) args[i] = f[6 + i];
      for (int i = 0; i < envc; i++) envp[i] = f[7 + argc + i];
      sigset_t all, old;
      sigfillset(&all);
      sigprocmask(SIG_SETMASK, &all, &old);
      pid = fork();
      if (pid == 0) spawn_child(ep[1], setsid_, has_exec ? fds[1] : -1, f[4], args, envp, slot, fds + first_src, n);
      err = pid < 0 ? errno : 0;
      sigprocmask(SIG_SETMASK, &old, NULL);
      close(ep[1]);
      int child_err;
      if (pid > 0 && read(ep[0], &child_err, sizeof child_err) == sizeof child_err) err = child_err, pid = -1;
      close(ep[0]);
    }
    free(args);
    free(envp);
  }
  for (int i = 1; i < nfds; i++) close(fds[i]);
  char reply[64];
  long at = err == 0 ? put(reply, 0, "pid") : put(reply, 0, "errno");
  at = err == 0 ? put_num(reply, at, pid) : put_num(reply, at, err);
  fdpass_send(s, reply, (size_t)at, NULL, 0);
}

/* Ends this process with signal sig, as the call's process ended (or is about to). */
static void die(int sig, const sigset_t *blocked) {
  if (sig <= 0 || sig >= NSIG) return;
  signal(sig, SIG_DFL);
  sigprocmask(SIG_UNBLOCK, blocked, NULL);
  raise(sig);
}

/* Serves the worker until it reports its exit status; returns that status. */
static int serve(int s) {
  sigset_t block, wait_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGCHLD);
  for (int i = 0; i < N_FORWARDED; i++) sigaddset(&block, FORWARDED[i]);
  sigprocmask(SIG_BLOCK, &block, &wait_mask);
  sigdelset(&wait_mask, SIGCHLD);
  struct sigaction sa = {.sa_handler = on_forwarded, .sa_flags = SA_RESTART};
  sigfillset(&sa.sa_mask);
  for (int i = 0; i < N_FORWARDED; i++) sigaction(FORWARDED[i], &sa, NULL);
  sa.sa_handler = on_child;
  sigaction(SIGCHLD, &sa, NULL);
  signal(SIGPIPE, SIG_IGN); /* a worker that died must not take us with it: its end-of-file says so */
  static char buf[MAX_MSG];
  for (;;) {
    struct pollfd p = {.fd = s, .events = POLLIN};
    int r = ppoll(&p, 1, NULL, &wait_mask);
    if (child_exited) {
      child_exited = 0;
      report_children();
    }
    if (r <= 0) continue;
    int fds[FDPASS_MAX], nfds;
    ssize_t n = recv_fds(s, buf, sizeof buf, fds, &nfds);
    if (n < 0 && errno == EMSGSIZE) continue;
    if (n <= 0) break;
    if (strcmp(buf, "spawn") == 0) {
      spawn(s, buf, (size_t)n, fds, nfds);
      continue;
    }
    for (int i = 0; i < nfds; i++) close(fds[i]);
    char *f[2];
    if (split(buf, (size_t)n, f, 2) != 2) continue;
    if (strcmp(f[0], "exit") == 0) return atoi(f[1]) & 0xff;
    if (strcmp(f[0], "die") == 0) die(atoi(f[1]), &block); /* the worker kills itself with this signal */
  }
  /* The worker ended without a status. Killed by a signal we forwarded: end the same way, as Node would have. */
  if (last_signal != 0 && last_signal != SIGWINCH && last_signal != SIGCONT) die(last_signal, &block);
  fprintf(stderr, "stasis: the warm worker ended without reporting an exit status\n");
  return 1;
}

int main(int argc, char **argv) {
  /* A closed stdio slot becomes /dev/null, as Node does at start-up, so fds 0-2 can always be passed on. */
  for (int fd = 0; fd <= 2; fd++)
    if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0) exec_cold(argv);
  const char *warm = getenv("STASIS_WARM");
  if (warm != NULL && strcmp(warm, "0") == 0) exec_cold(argv);
  int s = connect_service();
  if (s < 0) exec_cold(argv);
  /* "go" commits both sides: a worker that answered after we gave up waiting gets end-of-file instead, and
   * ends without running the call that we are about to run cold. */
  if (send_request(s, argc, argv) < 0 || (worker = await_ok(s)) <= 0 || fdpass_send(s, "go", 3, NULL, 0) != 3) {
    close(s);
    exec_cold(argv);
  }
  return serve(s);
}
