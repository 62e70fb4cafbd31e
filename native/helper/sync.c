/* Synchronisation with TS and the outside world: sync points, the ready report, the start gate (exec
 * fifo) and OCI hooks. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "helper.h"

int
op_sync (struct ctx *c, struct args *a, struct herr *err)
{
  char *name;
  if (args_str (a, &name, err) < 0)
    return -1;
  char ev[1024] = "{\"type\":\"sync\",\"name\":";
  json_quote (ev, sizeof ev - 2, name);
  strcat (ev, "}");
  if (ctl_send_event (c, ev) < 0)
    {
      herr_set (err, errno, "send sync %s: %s", name, strerror (errno));
      free (name);
      return -1;
    }
  uint8_t kind;
  uint8_t *payload;
  size_t len;
  if (ctl_read_frame (c, &kind, &payload, &len, err) < 0)
    {
      free (name);
      return -1;
    }
  if (kind == FRAME_ABORT)
    {
      log_debug (c, "sync %s: aborted", name);
      exit (1);
    }
  if (kind != FRAME_CONTINUE)
    {
      herr_set (err, EPROTO, "sync %s: expected CONTINUE or ABORT, got frame kind %u", name, kind);
      free (payload);
      free (name);
      return -1;
    }
  free (c->sync_payload);
  c->sync_payload = payload;
  c->sync_payload_len = len;
  log_debug (c, "sync %s: continue with %zu payload bytes", name, len);
  free (name);
  return 0;
}

int
op_ready (struct ctx *c, struct args *a, struct herr *err)
{
  (void) a;
  if (ctl_send_event (c, "{\"type\":\"ready\"}") < 0)
    return herr_set (err, errno, "send ready: %s", strerror (errno));
  close (c->ctl_fd);
  c->ctl_fd = -1;
  return 0;
}

int
op_open_fifo (struct ctx *c, struct args *a, struct herr *err)
{
  char *path;
  if (args_str (a, &path, err) < 0)
    return -1;
  /* O_PATH does not block (a plain open of a fifo would wait for a reader) and keeps the fifo reachable
   * after pivot_root hides its host path. */
  int fd = open (path, O_PATH | O_CLOEXEC);
  if (fd < 0)
    {
      herr_set (err, errno, "open fifo %s: %s", path, strerror (errno));
      free (path);
      return -1;
    }
  free (path);
  if (c->fifo_fd >= 0)
    close (c->fifo_fd);
  c->fifo_fd = fd;
  return 0;
}

int
op_wait_start (struct ctx *c, struct args *a, struct herr *err)
{
  (void) a;
  if (c->fifo_fd < 0)
    return herr_set (err, EINVAL, "no start fifo: OPEN_FIFO must come first");
  struct stat st;
  if (fstat (c->fifo_fd, &st) < 0)
    return herr_set (err, errno, "stat start fifo: %s", strerror (errno));
  if (!S_ISFIFO (st.st_mode))
    return herr_set (err, EINVAL, "start fifo is not a fifo");
  char path[64];
  snprintf (path, sizeof path, "/proc/self/fd/%d", c->fifo_fd);
  int fd;
  /* Blocks until `start` opens the other end for reading. */
  do
    fd = open (path, O_WRONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return herr_set (err, errno, "open start fifo for writing: %s", strerror (errno));
  ssize_t n;
  do
    n = write (fd, "0", 1);
  while (n < 0 && errno == EINTR);
  int e = errno;
  close (c->fifo_fd);
  c->fifo_fd = -1;
  if (n != 1)
    {
      close (fd);
      return herr_set (err, n < 0 ? e : EIO, "write start fifo: %s", n < 0 ? strerror (e) : "short write");
    }
  /* The write end is deliberately left open: it is O_CLOEXEC, so the kernel closes it at the final execve
     (or when the process dies). `start` can read on until end-of-file and so return, and run the poststart
     hooks, only once startContainer hooks have run and the user process has been executed. */
  return 0;
}

/* ---- RUN_HOOK ---- */

#define HOOK_OUTPUT_MAX 1024

/* Output and bookkeeping of one running hook. */
struct hook_run
{
  pid_t pid;
  int pidfd;  /* readable when the hook has ended; -1 when pidfd_open is unavailable (then we tick) */
  int in_fd;  /* write end of the hook's stdin, -1 once everything is written */
  int out_fd; /* read end of the hook's stdout+stderr, -1 at EOF */
  const uint8_t *payload;
  size_t payload_left;
  char output[HOOK_OUTPUT_MAX + 1];
  size_t output_len;
};

static long long
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void __attribute__ ((noreturn))
hook_child (const char *path, struct strlist *args, struct strlist *env, int in_fd, int out_fd)
{
  /* Lift the pipe ends above 0-2 first, so the dup2 below cannot clobber one with the other. */
  int in = fcntl (in_fd, F_DUPFD, 3), out = fcntl (out_fd, F_DUPFD, 3);
  if (in < 0 || out < 0 || dup2 (in, 0) < 0 || dup2 (out, 1) < 0 || dup2 (out, 2) < 0)
    _exit (127);
  /* A hook gets stdio only: not the preserved fds meant for the container, nor anything of ours. */
  if (syscall (SYS_close_range, 3U, ~0U, 0U) < 0)
    for (int fd = 3; fd < 65536; fd++)
      close (fd);
  sigset_t none;
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  char *fallback[] = { (char *) path, NULL };
  execve (path, args->count > 0 ? args->items : fallback, env->items);
  dprintf (2, "exec %s: %s", path, strerror (errno));
  _exit (127);
}

/* One round of I/O: feed stdin, collect output (only the first HOOK_OUTPUT_MAX bytes are kept). */
static void
hook_pump (struct hook_run *h, int timeout_ms)
{
  struct pollfd pfd[3];
  int n = 0, in_i = -1, out_i = -1;
  if (h->pidfd >= 0)
    pfd[n++] = (struct pollfd) { .fd = h->pidfd, .events = POLLIN };
  if (h->in_fd >= 0)
    in_i = n, pfd[n++] = (struct pollfd) { .fd = h->in_fd, .events = POLLOUT };
  if (h->out_fd >= 0)
    out_i = n, pfd[n++] = (struct pollfd) { .fd = h->out_fd, .events = POLLIN };
  if (poll (pfd, (nfds_t) n, timeout_ms) <= 0)
    return;
  if (in_i >= 0 && pfd[in_i].revents)
    {
      ssize_t w = h->payload_left ? write (h->in_fd, h->payload, h->payload_left) : 0;
      if (w > 0)
        h->payload += w, h->payload_left -= (size_t) w;
      /* Done, or the hook closed its stdin (EPIPE): either way it gets EOF / nothing more. */
      if (h->payload_left == 0 || (w < 0 && errno != EAGAIN && errno != EINTR))
        close (h->in_fd), h->in_fd = -1;
    }
  if (out_i >= 0 && pfd[out_i].revents)
    {
      char buf[4096];
      ssize_t r = read (h->out_fd, buf, sizeof buf);
      if (r > 0 && h->output_len < HOOK_OUTPUT_MAX)
        {
          size_t take = (size_t) r < HOOK_OUTPUT_MAX - h->output_len ? (size_t) r : HOOK_OUTPUT_MAX - h->output_len;
          memcpy (h->output + h->output_len, buf, take);
          h->output_len += take;
        }
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
        close (h->out_fd), h->out_fd = -1;
    }
}

/* Runs the hook to its end (or the deadline). Returns 1 when it timed out, else 0 with *status set. */
static int
hook_wait (struct hook_run *h, uint32_t timeout_ms, int *status)
{
  long long deadline = timeout_ms ? now_ms () + timeout_ms : 0;
  for (;;)
    {
      if (waitpid (h->pid, status, WNOHANG) == h->pid)
        break;
      int tick = h->pidfd >= 0 ? -1 : 10;
      if (deadline)
        {
          long long left = deadline - now_ms ();
          if (left <= 0)
            {
              kill (h->pid, SIGKILL);
              waitpid (h->pid, status, 0);
              return 1;
            }
          if (tick < 0 || left < tick)
            tick = (int) left;
        }
      hook_pump (h, tick);
    }
  /* Collect what the hook wrote just before exiting; a background grandchild holding the pipe open
   * must not keep us here, hence the non-blocking reads with a zero timeout. */
  for (int i = 0; i < 64 && h->out_fd >= 0; i++)
    {
      size_t before = h->output_len;
      hook_pump (h, 0);
      if (h->output_len == before)
        break;
    }
  return 0;
}

static void
trim_output (struct hook_run *h)
{
  h->output[h->output_len] = 0;
  while (h->output_len > 0 && (h->output[h->output_len - 1] == '\n' || h->output[h->output_len - 1] == ' '))
    h->output[--h->output_len] = 0;
}

int
op_run_hook (struct ctx *c, struct args *a, struct herr *err)
{
  char *path;
  struct strlist args, env;
  uint32_t timeout_ms;
  if (args_str (a, &path, err) < 0)
    return -1;
  if (args_strlist (a, &args, err) < 0 || args_strlist (a, &env, err) < 0 || args_u32 (a, &timeout_ms, err) < 0)
    return -1;

  int in[2], out[2];
  if (pipe2 (in, O_CLOEXEC) < 0)
    return herr_set (err, errno, "pipe: %s", strerror (errno));
  if (pipe2 (out, O_CLOEXEC) < 0)
    {
      int e = errno;
      close (in[0]);
      close (in[1]);
      return herr_set (err, e, "pipe: %s", strerror (e));
    }
  pid_t pid = fork ();
  if (pid < 0)
    {
      int e = errno;
      close (in[0]), close (in[1]), close (out[0]), close (out[1]);
      return herr_set (err, e, "fork hook %s: %s", path, strerror (e));
    }
  if (pid == 0)
    hook_child (path, &args, &env, in[0], out[1]);

  close (in[0]);
  close (out[1]);
  struct hook_run h = { .pid = pid, .in_fd = in[1], .out_fd = out[0], .payload = c->sync_payload,
                        .payload_left = c->sync_payload ? c->sync_payload_len : 0 };
  h.pidfd = (int) syscall (SYS_pidfd_open, pid, 0);
  fcntl (h.in_fd, F_SETFL, O_NONBLOCK);
  fcntl (h.out_fd, F_SETFL, O_NONBLOCK);
  /* A hook that exits without reading its stdin must give us EPIPE, not a fatal SIGPIPE. Only the
   * parent ignores it: the hook was forked before, and the container must inherit the default. */
  struct sigaction ignore = { .sa_handler = SIG_IGN }, saved;
  sigaction (SIGPIPE, &ignore, &saved);

  int status = 0;
  int timed_out = hook_wait (&h, timeout_ms, &status);

  sigaction (SIGPIPE, &saved, NULL);
  if (h.in_fd >= 0)
    close (h.in_fd);
  if (h.out_fd >= 0)
    close (h.out_fd);
  if (h.pidfd >= 0)
    close (h.pidfd);
  trim_output (&h);
  const char *sep = h.output_len ? ": " : "";

  int ret = 0;
  if (timed_out)
    ret = herr_set (err, ETIMEDOUT, "hook %s timed out after %u ms%s%s", path, timeout_ms, sep, h.output);
  else if (WIFSIGNALED (status))
    ret = herr_set (err, 0, "hook %s was killed by signal %d%s%s", path, WTERMSIG (status), sep, h.output);
  else if (WEXITSTATUS (status) != 0)
    ret = herr_set (err, 0, "hook %s exited with status %d%s%s", path, WEXITSTATUS (status), sep, h.output);
  else
    log_debug (c, "hook %s succeeded%s%s", path, sep, h.output);
  free (path);
  strlist_free (&args);
  strlist_free (&env);
  return ret;
}
