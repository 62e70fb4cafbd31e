/* --console-socket support: connect to the caller's unix socket, then create a pty inside the container,
 * hand the master to the caller with SCM_RIGHTS and make the slave the process's controlling terminal
 * and stdio. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>
#include "helper.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO ('T', 0x41)
#endif

/* sun_path holds 108 bytes; a longer path is reached through an O_PATH fd of its directory. */
static int
connect_unix (const char *path, struct herr *err)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  char via_dir[sizeof sa.sun_path];
  const char *name = path;
  int dirfd = -1;
  if (strlen (path) >= sizeof sa.sun_path)
    {
      const char *slash = strrchr (path, '/');
      if (slash == NULL)
        return herr_set (err, ENAMETOOLONG, "console socket path %s is too long", path);
      char *dir = slash == path ? strdup ("/") : strndup (path, (size_t) (slash - path));
      if (dir == NULL)
        return herr_set (err, ENOMEM, "console socket path: out of memory");
      dirfd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
      int e = errno;
      free (dir);
      if (dirfd < 0)
        return herr_set (err, e, "open the directory of console socket %s: %s", path, strerror (e));
      int n = snprintf (via_dir, sizeof via_dir, "/proc/self/fd/%d/%s", dirfd, slash + 1);
      if (n < 0 || (size_t) n >= sizeof via_dir)
        {
          close (dirfd);
          return herr_set (err, ENAMETOOLONG, "console socket name %s is too long", slash + 1);
        }
      name = via_dir;
    }
  memcpy (sa.sun_path, name, strlen (name) + 1);
  int sock = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    {
      int e = errno;
      if (dirfd >= 0)
        close (dirfd);
      return herr_set (err, e, "console socket: %s", strerror (e));
    }
  int ret = connect (sock, (struct sockaddr *) &sa, sizeof sa);
  int e = errno;
  if (dirfd >= 0)
    close (dirfd);
  if (ret < 0)
    {
      close (sock);
      return herr_set (err, e, "connect console socket %s: %s", path, strerror (e));
    }
  return sock;
}

int
op_connect_console (struct ctx *c, struct args *a, struct herr *err)
{
  char *path;
  if (args_str (a, &path, err) < 0)
    return -1;
  int sock = connect_unix (path, err);
  free (path);
  if (sock < 0)
    return -1;
  if (c->console_sock >= 0)
    close (c->console_sock);
  c->console_sock = sock;
  return 0;
}

/* USE_CONSOLE_FD: the console socket arrives as an inherited fd (one end of a socketpair stasis holds the
 * other end of); it must not reach the container, hence close-on-exec. */
int
op_use_console_fd (struct ctx *c, struct args *a, struct herr *err)
{
  uint32_t fd;
  if (args_u32 (a, &fd, err) < 0)
    return -1;
  if (fd < 3 || fd > INT32_MAX || fcntl ((int) fd, F_SETFD, FD_CLOEXEC) < 0)
    return herr_set (err, fd < 3 ? EINVAL : errno, "console socket fd %u: %s", fd, strerror (fd < 3 ? EINVAL : errno));
  if (c->console_sock >= 0 && c->console_sock != (int) fd)
    close (c->console_sock);
  c->console_sock = (int) fd;
  return 0;
}

/* Sends fd with the pty name as the data byte(s): a receiver that logs the message sees which pty. */
static int
send_fd (int sock, int fd, const char *name, struct herr *err)
{
  char cbuf[CMSG_SPACE (sizeof (int))];
  memset (cbuf, 0, sizeof cbuf);
  struct iovec iov = { .iov_base = (void *) name, .iov_len = strlen (name) };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
  struct cmsghdr *cm = CMSG_FIRSTHDR (&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (cm), &fd, sizeof (int));
  ssize_t n;
  do
    n = sendmsg (sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return herr_set (err, errno, "send the console master over the console socket: %s", strerror (errno));
  return 0;
}

static int
open_slave (int master, const char *name, struct herr *err)
{
  /* TIOCGPTPEER opens the peer of this very master, immune to a /dev/pts swapped under our feet. */
  int slave = ioctl (master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0 && (errno == EINVAL || errno == ENOTTY))
    slave = open (name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0)
    return herr_set (err, errno, "open console slave %s: %s", name, strerror (errno));
  return slave;
}

int
op_console (struct ctx *c, struct args *a, struct herr *err)
{
  uint32_t rows, cols;
  if (args_u32 (a, &rows, err) < 0 || args_u32 (a, &cols, err) < 0)
    return -1;
  if (rows > 0xffff || cols > 0xffff)
    return herr_set (err, EINVAL, "console size %ux%u does not fit a terminal window size", rows, cols);
  if (c->console_sock < 0)
    return herr_set (err, EINVAL, "no console socket: CONNECT_CONSOLE must come first");

  int master = open ("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0)
    return herr_set (err, errno, "open /dev/ptmx: %s", strerror (errno));
  int unlock = 0;
  unsigned int ptn;
  if (ioctl (master, TIOCSPTLCK, &unlock) < 0 || ioctl (master, TIOCGPTN, &ptn) < 0)
    {
      int e = errno;
      close (master);
      return herr_set (err, e, "unlock the console pty: %s", strerror (e));
    }
  char name[64];
  snprintf (name, sizeof name, "/dev/pts/%u", ptn);
  int slave = open_slave (master, name, err);
  if (slave < 0)
    {
      close (master);
      return -1;
    }
  if (rows != 0 || cols != 0)
    {
      struct winsize ws = { .ws_row = (unsigned short) rows, .ws_col = (unsigned short) cols };
      if (ioctl (slave, TIOCSWINSZ, &ws) < 0)
        {
          int e = errno;
          close (master), close (slave);
          return herr_set (err, e, "set the console size to %ux%u: %s", rows, cols, strerror (e));
        }
    }
  int ret = send_fd (c->console_sock, master, name, err);
  /* The caller owns the master now; our copy and the socket are of no further use. */
  close (master);
  close (c->console_sock);
  c->console_sock = -1;
  if (ret < 0)
    {
      close (slave);
      return -1;
    }
  /* Needs a session without a terminal: the plan puts SETSID before CONSOLE. */
  if (ioctl (slave, TIOCSCTTY, 0) < 0)
    {
      int e = errno;
      close (slave);
      return herr_set (err, e, "make %s the controlling terminal: %s", name, strerror (e));
    }
  for (int fd = 0; fd <= 2; fd++)
    if (fd != slave && dup2 (slave, fd) < 0)
      {
        int e = errno;
        close (slave);
        return herr_set (err, e, "dup the console onto fd %d: %s", fd, strerror (e));
      }
  if (slave > 2)
    close (slave);
  else
    fcntl (slave, F_SETFD, 0); /* it is stdio now: it must survive exec */
  return 0;
}
