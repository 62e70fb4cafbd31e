/* Namespace ops: join (SETNS), create (UNSHARE, CLONE), become an id inside them (SETID), and name the
 * UTS namespace. CLONE is the only op after which two processes run the rest of the plan's story: the
 * child continues with the next op, the parent only reports. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "helper.h"

/* clone() without a new stack behaves like fork() only when no sharing flag is set; anything beyond
 * namespaces (CLONE_VM, CLONE_THREAD…) would corrupt the shared stack, so the op refuses it. */
#define CLONE_NS_FLAGS                                                                                       \
  (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET)

static const int forwarded_signals[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };

int
op_setns (struct ctx *c, struct args *a, struct herr *err)
{
  char *path;
  uint32_t nstype;
  (void) c;
  if (args_str (a, &path, err) < 0 || args_u32 (a, &nstype, err) < 0)
    return -1;
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      herr_set (err, errno, "open namespace %s: %s", path, strerror (errno));
      free (path);
      return -1;
    }
  int ret = setns (fd, (int) nstype);
  int e = errno;
  close (fd);
  if (ret < 0)
    herr_set (err, e, "setns %s: %s", path, strerror (e));
  free (path);
  return ret < 0 ? -1 : 0;
}

int
op_unshare (struct ctx *c, struct args *a, struct herr *err)
{
  uint64_t flags;
  (void) c;
  if (args_u64 (a, &flags, err) < 0)
    return -1;
  if (flags > 0xffffffffu)
    return herr_set (err, EINVAL, "unshare flags 0x%llx do not fit in 32 bits", (unsigned long long) flags);
  if (unshare ((int) flags) < 0)
    return herr_set (err, errno, "unshare 0x%llx: %s", (unsigned long long) flags, strerror (errno));
  return 0;
}

/* PARENT_WAIT: stay around as the child's reaper and signal relay until the child ends, then mirror its
 * end in our own exit status (128+sig when killed, as shells do). */
static void __attribute__ ((noreturn))
wait_for_child (struct ctx *c, pid_t child, const sigset_t *waitset)
{
  for (;;)
    {
      siginfo_t si;
      int sig = sigwaitinfo (waitset, &si);
      if (sig < 0)
        {
          if (errno == EINTR)
            continue;
          log_debug (c, "sigwaitinfo: %s", strerror (errno));
          _exit (1);
        }
      if (sig != SIGCHLD)
        {
          log_debug (c, "forwarding signal %d to %d", sig, child);
          kill (child, sig);
          continue;
        }
      /* SIGCHLD coalesces: reap every ended descendant (we are their subreaper), look for ours. */
      for (;;)
        {
          int status;
          pid_t p = waitpid (-1, &status, WNOHANG);
          if (p <= 0)
            break;
          if (p != child)
            continue;
          char ev[96];
          int code;
          if (WIFSIGNALED (status))
            {
              snprintf (ev, sizeof ev, "{\"type\":\"exit\",\"signal\":%d}", WTERMSIG (status));
              code = 128 + WTERMSIG (status);
            }
          else
            {
              snprintf (ev, sizeof ev, "{\"type\":\"exit\",\"status\":%d}", WEXITSTATUS (status));
              code = WEXITSTATUS (status);
            }
          log_debug (c, "child %d ended: %s", child, ev);
          ctl_send_event (c, ev);
          _exit (code);
        }
    }
}

/* The child waits for this gate so that the `pid` event always precedes anything the child sends on
 * ctl (a `sync` handler is given the pid). */
static int
child_wait_gate (int gate_fd, struct herr *err)
{
  char byte;
  ssize_t n;
  do
    n = read (gate_fd, &byte, 1);
  while (n < 0 && errno == EINTR);
  close (gate_fd);
  if (n != 1)
    return herr_set (err, EPIPE, "the parent side of clone ended before reporting the pid");
  return 0;
}

int
op_clone (struct ctx *c, struct args *a, struct herr *err)
{
  uint64_t flags;
  uint32_t mode;
  if (args_u64 (a, &flags, err) < 0 || args_u32 (a, &mode, err) < 0)
    return -1;
  if (flags & ~(uint64_t) CLONE_NS_FLAGS)
    return herr_set (err, EINVAL, "clone flags 0x%llx contain bits other than namespace flags",
                     (unsigned long long) flags);
  if (mode != PARENT_EXIT && mode != PARENT_WAIT)
    return herr_set (err, EINVAL, "unknown clone parent mode %u", mode);

  int gate[2];
  if (pipe2 (gate, O_CLOEXEC) < 0)
    return herr_set (err, errno, "pipe: %s", strerror (errno));

  /* Block the relayed signals and SIGCHLD before the child exists, so none can be lost (or kill the
   * parent with its default action) between clone and sigwaitinfo. The child restores the old mask. */
  sigset_t waitset, oldmask;
  sigemptyset (&waitset);
  for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
    sigaddset (&waitset, forwarded_signals[i]);
  sigaddset (&waitset, SIGCHLD);
  if (mode == PARENT_WAIT)
    {
      /* Set before clone: descendants orphaned early must already come back to us. */
      if (prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
        {
          int e = errno;
          close (gate[0]);
          close (gate[1]);
          return herr_set (err, e, "become child subreaper: %s", strerror (e));
        }
      sigprocmask (SIG_BLOCK, &waitset, &oldmask);
    }

  long pid = syscall (SYS_clone, (unsigned long) flags | SIGCHLD, 0, 0, 0, 0);
  if (pid < 0)
    {
      int e = errno;
      if (mode == PARENT_WAIT)
        sigprocmask (SIG_SETMASK, &oldmask, NULL);
      close (gate[0]);
      close (gate[1]);
      return herr_set (err, e, "clone 0x%llx: %s", (unsigned long long) flags, strerror (e));
    }
  if (pid == 0)
    {
      if (mode == PARENT_WAIT)
        sigprocmask (SIG_SETMASK, &oldmask, NULL);
      close (gate[1]);
      return child_wait_gate (gate[0], err);
    }

  close (gate[0]);
  /* The parent does nothing more with these; holding them would keep the console connection or the
   * start fifo alive after the child has closed its copies. */
  if (c->console_sock >= 0)
    close (c->console_sock), c->console_sock = -1;
  if (c->fifo_fd >= 0)
    close (c->fifo_fd), c->fifo_fd = -1;

  char ev[64];
  snprintf (ev, sizeof ev, "{\"type\":\"pid\",\"pid\":%ld}", pid);
  if (ctl_send_event (c, ev) < 0)
    {
      int e = errno;
      kill ((pid_t) pid, SIGKILL);
      close (gate[1]);
      return herr_set (err, e, "report the child pid %ld: %s", pid, strerror (e));
    }
  log_debug (c, "cloned child %ld (flags 0x%llx)", pid, (unsigned long long) flags);
  if (write (gate[1], "1", 1) != 1)
    {
      int e = errno;
      kill ((pid_t) pid, SIGKILL);
      return herr_set (err, e, "release the child: %s", strerror (e));
    }
  close (gate[1]);
  if (mode == PARENT_EXIT)
    _exit (0);
  wait_for_child (c, (pid_t) pid, &waitset);
}

int
op_setid (struct ctx *c, struct args *a, struct herr *err)
{
  uint32_t uid, gid;
  (void) c;
  if (args_u32 (a, &uid, err) < 0 || args_u32 (a, &gid, err) < 0)
    return -1;
  /* gid first: once the uid is dropped we may no longer be allowed to change it. */
  if (setresgid (gid, gid, gid) < 0)
    return herr_set (err, errno, "setresgid %u: %s", gid, strerror (errno));
  if (setresuid (uid, uid, uid) < 0)
    return herr_set (err, errno, "setresuid %u: %s", uid, strerror (errno));
  return 0;
}

int
op_sethostname (struct ctx *c, struct args *a, struct herr *err)
{
  char *name;
  (void) c;
  if (args_str (a, &name, err) < 0)
    return -1;
  int ret = sethostname (name, strlen (name));
  if (ret < 0)
    herr_set (err, errno, "sethostname %s: %s", name, strerror (errno));
  free (name);
  return ret < 0 ? -1 : 0;
}

int
op_setdomainname (struct ctx *c, struct args *a, struct herr *err)
{
  char *name;
  (void) c;
  if (args_str (a, &name, err) < 0)
    return -1;
  int ret = setdomainname (name, strlen (name));
  if (ret < 0)
    herr_set (err, errno, "setdomainname %s: %s", name, strerror (errno));
  free (name);
  return ret < 0 ? -1 : 0;
}
