/* The last ops before the container process starts: find the executable, place preserved fds, make
 * sure nothing else leaks through exec, and exec. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "helper.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* Engines (docker, podman, containerd) match these texts, which follow Go's lower-case errno strings. */
static const char *
errno_text (int e, char *buf, size_t len)
{
  snprintf (buf, len, "%s", strerror (e));
  buf[0] = (char) tolower ((unsigned char) buf[0]);
  return buf;
}

/* 0 when path is a regular file we may execute, else the errno execve would give (EACCES for a
 * directory or a special file). */
static int
check_executable (const char *path)
{
  struct stat st;
  if (stat (path, &st) < 0)
    return errno;
  if (!S_ISREG (st.st_mode))
    return EACCES;
  if (faccessat (AT_FDCWD, path, X_OK, AT_EACCESS) < 0)
    return errno;
  return 0;
}

/* execvp's search: every element of PATH in order, an empty element meaning the current directory. */
static char *
search_path (const char *file, const char *path_value)
{
  const char *p = path_value;
  if (*p == 0)
    return NULL;
  for (;;)
    {
      const char *colon = strchr (p, ':');
      size_t dlen = colon ? (size_t) (colon - p) : strlen (p);
      char candidate[PATH_MAX];
      int n = dlen == 0 ? snprintf (candidate, sizeof candidate, "./%s", file)
                        : snprintf (candidate, sizeof candidate, "%.*s/%s", (int) dlen, p, file);
      if (n > 0 && (size_t) n < sizeof candidate && check_executable (candidate) == 0)
        return strdup (candidate);
      if (colon == NULL)
        return NULL;
      p = colon + 1;
    }
}

int
op_lookup_exec (struct ctx *c, struct args *a, struct herr *err)
{
  char *file, *path_value;
  char text[128];
  if (args_str (a, &file, err) < 0 || args_str (a, &path_value, err) < 0)
    return -1;
  char *found = NULL;
  errno = 0;
  if (strchr (file, '/') != NULL)
    {
      int e = check_executable (file);
      if (e != 0)
        return herr_set (err, e, "exec: \"%s\": %s", file, errno_text (e, text, sizeof text));
      found = strdup (file);
    }
  else if (*file != 0)
    found = search_path (file, path_value);
  if (found == NULL && errno == ENOMEM)
    return herr_set (err, ENOMEM, "exec: \"%s\": out of memory", file);
  if (found == NULL)
    return herr_set (err, ENOENT, "exec: \"%s\": executable file not found in $PATH", file);
  free (c->exec_path);
  c->exec_path = found;
  log_debug (c, "executable %s resolved to %s", file, found);
  free (file);
  free (path_value);
  return 0;
}

/* Strict "from:to" with two non-negative decimal fds. */
static int
parse_pair (const char *s, int *from, int *to)
{
  char *end;
  errno = 0;
  if (!isdigit ((unsigned char) *s))
    return -1;
  long f = strtol (s, &end, 10);
  if (errno || *end != ':' || f > INT_MAX || !isdigit ((unsigned char) end[1]))
    return -1;
  long t = strtol (end + 1, &end, 10);
  if (errno || *end != 0 || t > INT_MAX)
    return -1;
  *from = (int) f;
  *to = (int) t;
  return 0;
}

/* Moves one of our own fds (ctl, log, …) to floor or above when a mapping is about to take its number. */
static int
relocate_if_taken (int *fd, const int *to, uint32_t n, int floor, struct herr *err)
{
  if (*fd < 0)
    return 0;
  for (uint32_t i = 0; i < n; i++)
    if (to[i] == *fd)
      {
        int moved = fcntl (*fd, F_DUPFD_CLOEXEC, floor);
        if (moved < 0)
          return herr_set (err, errno, "move internal fd %d out of the way: %s", *fd, strerror (errno));
        close (*fd);
        *fd = moved;
        return 0;
      }
  return 0;
}

/* Checks every pair, then copies every source above all numbers involved before the first dup2, so a
 * chain or a swap (5:6, 6:5) always reads the originals. tmp[] must be filled with -1 by the caller. */
static int
fdmap_apply (struct ctx *c, struct strlist *pairs, int *from, int *to, int *tmp, struct herr *err)
{
  uint32_t n = pairs->count;
  int floor = 3;
  for (uint32_t i = 0; i < n; i++)
    {
      if (parse_pair (pairs->items[i], &from[i], &to[i]) < 0)
        return herr_set (err, EINVAL, "fdmap entry %s is not \"from:to\"", pairs->items[i]);
      if (fcntl (from[i], F_GETFD) < 0)
        return herr_set (err, EBADF, "fdmap entry %s: fd %d is not open", pairs->items[i], from[i]);
      if (from[i] >= floor)
        floor = from[i] + 1;
      if (to[i] >= floor)
        floor = to[i] + 1;
    }
  for (uint32_t i = 0; i < n; i++)
    {
      tmp[i] = fcntl (from[i], F_DUPFD_CLOEXEC, floor);
      if (tmp[i] < 0)
        return herr_set (err, errno, "fdmap: duplicate fd %d: %s", from[i], strerror (errno));
    }
  if (relocate_if_taken (&c->ctl_fd, to, n, floor, err) < 0 || relocate_if_taken (&c->log_fd, to, n, floor, err) < 0
      || relocate_if_taken (&c->console_sock, to, n, floor, err) < 0
      || relocate_if_taken (&c->fifo_fd, to, n, floor, err) < 0
      || relocate_if_taken (&c->rootfs_fd, to, n, floor, err) < 0)
    return -1;
  /* dup2 clears FD_CLOEXEC on the target: a mapped fd is meant to survive exec. */
  for (uint32_t i = 0; i < n; i++)
    if (dup2 (tmp[i], to[i]) < 0)
      return herr_set (err, errno, "fdmap: dup fd %d onto %d: %s", from[i], to[i], strerror (errno));
  return 0;
}

int
op_fdmap (struct ctx *c, struct args *a, struct herr *err)
{
  struct strlist pairs;
  if (args_strlist (a, &pairs, err) < 0)
    return -1;
  uint32_t n = pairs.count;
  /* One block for the three arrays: from[n], to[n], tmp[n]. */
  int *fds = calloc (3 * ((size_t) n + 1), sizeof *fds);
  if (fds == NULL)
    {
      strlist_free (&pairs);
      return herr_set (err, ENOMEM, "fdmap: out of memory");
    }
  int *from = fds, *to = fds + n, *tmp = fds + 2 * (size_t) n;
  for (uint32_t i = 0; i < n; i++)
    tmp[i] = -1;
  int ret = fdmap_apply (c, &pairs, from, to, tmp, err);
  for (uint32_t i = 0; i < n; i++)
    if (tmp[i] >= 0)
      close (tmp[i]);
  free (fds);
  strlist_free (&pairs);
  return ret;
}

/* Fallback for kernels without close_range: walk /proc/self/fd. */
static int
cloexec_by_listing (int first, struct herr *err)
{
  DIR *d = opendir ("/proc/self/fd");
  if (d == NULL)
    return herr_set (err, errno, "list /proc/self/fd: %s", strerror (errno));
  int self = dirfd (d);
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    {
      char *end;
      long fd = strtol (de->d_name, &end, 10);
      if (*end != 0 || de->d_name[0] == '.' || fd < first || fd == self)
        continue;
      int flags = fcntl ((int) fd, F_GETFD);
      if (flags >= 0)
        fcntl ((int) fd, F_SETFD, flags | FD_CLOEXEC);
    }
  closedir (d);
  return 0;
}

int
op_close_fds (struct ctx *c, struct args *a, struct herr *err)
{
  uint32_t kept_above;
  (void) c;
  if (args_u32 (a, &kept_above, err) < 0)
    return -1;
  uint64_t first = (uint64_t) kept_above + 1;
  if (first < 3)
    first = 3;
  if (first > INT_MAX)
    return 0;
  /* Marking instead of closing: ctl stays usable until READY (it is CLOEXEC anyway, so the container
   * never sees it), and fds the helper still needs keep working until exec. */
  if (syscall (SYS_close_range, (unsigned int) first, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
    return 0;
  if (errno != ENOSYS && errno != EINVAL)
    return herr_set (err, errno, "close_range from fd %llu: %s", (unsigned long long) first, strerror (errno));
  return cloexec_by_listing ((int) first, err);
}

int
op_exec (struct ctx *c, struct args *a, struct herr *err)
{
  struct strlist argv, env;
  char text[128];
  if (args_strlist (a, &argv, err) < 0 || args_strlist (a, &env, err) < 0)
    return -1;
  if (c->exec_path == NULL)
    return herr_set (err, EINVAL, "no executable resolved: LOOKUP_EXEC must come before EXEC");
  if (argv.count == 0)
    return herr_set (err, EINVAL, "exec: \"%s\": argv is empty", c->exec_path);
  log_debug (c, "exec %s", c->exec_path);
  execve (c->exec_path, argv.items, env.items);
  int e = errno;
  return herr_set (err, e, "exec: \"%s\": %s", c->exec_path, errno_text (e, text, sizeof text));
}
