/* Path resolution for ops that take a base (docs/protocol.md, "Paths with a base argument").
 *
 * Why this file exists (CVE-2021-30465): a container image, or a volume shared with another container, can
 * hold symlinks. A runtime that builds "<rootfs>/<target>" as a string and hands it to mkdir() or mount()
 * lets the kernel follow those symlinks, so a link planted at the right moment makes the runtime create or
 * mount something on the host, outside the rootfs. The defence used here:
 *   - every lookup under BASE_ROOTFS goes through openat2(rootfs_fd, path, RESOLVE_IN_ROOT |
 *     RESOLVE_NO_MAGICLINKS): the kernel treats rootfs_fd as "/" for the walk, so absolute links and ".."
 *     are clamped inside it, and /proc magic links (which jump anywhere) are refused;
 *   - creation never passes a multi-component path to the kernel: each missing component is made with
 *     mkdirat()/openat(O_CREAT|O_EXCL) relative to the fd of its already-resolved parent, and a single name
 *     cannot be redirected (mkdirat and O_EXCL do not follow a final symlink, they fail with EEXIST);
 *   - a component that turns out to be a dangling symlink is not followed by the kernel but read with
 *     readlinkat() and spliced into the remaining path, which is then resolved again from the root, so the
 *     link's target is created inside the rootfs, never on the host;
 *   - mounts use the resolved O_PATH fd as "/proc/self/fd/N", so the kernel mounts on the exact object that
 *     was checked, not on a path that could be swapped between the check and the mount. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helper.h"
#include "rootfs_internal.h"

/* The kernel's own limit on symlinks in one lookup; we apply it to the links we splice by hand. */
#define MAX_SPLICED_LINKS 40

void
fd_path (char *buf, size_t len, int fd)
{
  snprintf (buf, len, "/proc/self/fd/%d", fd);
}

static int
sys_openat2 (int dirfd, const char *path, uint64_t flags, uint64_t resolve)
{
  struct open_how how = { .flags = flags, .mode = 0, .resolve = resolve };
  int fd;
  int tries = 0;
  /* RESOLVE_IN_ROOT returns EAGAIN when a concurrent rename could have made ".." unsafe; retrying is
   * what the kernel asks for. Bounded so a hostile renamer cannot keep us here forever. */
  do
    fd = (int) syscall (SYS_openat2, dirfd, path, &how, sizeof how);
  while (fd < 0 && (errno == EAGAIN || errno == EINTR) && ++tries < 128);
  return fd;
}

/* Opens path with full open flags (not only O_PATH) inside base. Returns an fd or -1 with errno set. */
static int
open_in_base (struct ctx *c, uint32_t base, const char *path, int flags)
{
  if (base == BASE_ROOTFS)
    {
      if (c->rootfs_fd < 0)
        {
          errno = EBADF;
          return -1;
        }
      return sys_openat2 (c->rootfs_fd, path, (uint64_t) flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    }
  return open (path, flags);
}

static int
check_base (struct ctx *c, uint32_t base, struct herr *err)
{
  if (base != BASE_HOST && base != BASE_ROOTFS)
    return herr_set (err, EINVAL, "unknown path base %u", base);
  if (base == BASE_ROOTFS && c->rootfs_fd < 0)
    return herr_set (err, EBADF, "no rootfs is set (SET_ROOTFS must come first)");
  return 0;
}

int
path_open (struct ctx *c, uint32_t base, const char *path, int extra_flags, struct herr *err)
{
  int fd;
  if (check_base (c, base, err) < 0)
    return -1;
  fd = open_in_base (c, base, path, O_PATH | O_CLOEXEC | extra_flags);
  if (fd < 0)
    return herr_set (err, errno, "open %s: %s", path, strerror (errno));
  return fd;
}

/* Splits path into its non-empty, non-"." components, in place. Returns the count. */
static size_t
split_components (char *path, char **out, size_t max)
{
  size_t n = 0;
  char *save = NULL;
  for (char *tok = strtok_r (path, "/", &save); tok; tok = strtok_r (NULL, "/", &save))
    {
      if (strcmp (tok, ".") == 0)
        continue;
      if (n == max)
        return SIZE_MAX;
      out[n++] = tok;
    }
  return n;
}

/* Builds "/" + comps[from..to) joined by "/" into buf. Returns -1 when it does not fit. */
static int
join_components (char *buf, size_t len, char **comps, size_t from, size_t to)
{
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = from; i < to; i++)
    {
      int w = snprintf (buf + used, len - used, "/%s", comps[i]);
      if (w < 0 || (size_t) w >= len - used)
        return -1;
      used += (size_t) w;
    }
  if (used == 0)
    snprintf (buf, len, "/");
  return 0;
}

/* A dangling symlink was found at comps[i] (its text is `target`): returns a new malloc'd path made of the
 * link target (anchored at the parent's path when relative) followed by the components after it. */
static char *
splice_link (char **comps, size_t i, size_t n, const char *target)
{
  char parent[PATH_MAX], rest[PATH_MAX], *out = NULL;
  if (join_components (parent, sizeof parent, comps, 0, i) < 0
      || join_components (rest, sizeof rest, comps, i + 1, n) < 0)
    return NULL;
  if (asprintf (&out, "%s/%s%s", target[0] == '/' ? "" : parent, target, i + 1 < n ? rest : "") < 0)
    return NULL;
  return out;
}

int
path_mkdir_all (struct ctx *c, uint32_t base, const char *path, uint32_t mode, int last_too, struct herr *err)
{
  char *work = NULL, *comps[PATH_MAX / 2], prefix[PATH_MAX];
  int links = 0, ret = -1, parent_fd = -1;

  if (check_base (c, base, err) < 0)
    return -1;
  work = strdup (path);
  if (work == NULL)
    return herr_set (err, ENOMEM, "mkdir %s: out of memory", path);

restart:
  {
    size_t n = split_components (work, comps, sizeof comps / sizeof comps[0]);
    size_t limit;
    if (n == SIZE_MAX)
      {
        herr_set (err, ENAMETOOLONG, "mkdir %s: too many path components", path);
        goto out;
      }
    limit = last_too ? n : (n ? n - 1 : 0);
    if (parent_fd >= 0)
      close (parent_fd);
    parent_fd = open_in_base (c, base, "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (parent_fd < 0)
      {
        herr_set (err, errno, "mkdir %s: open root: %s", path, strerror (errno));
        goto out;
      }

    for (size_t i = 0; i < limit; i++)
      {
        int fd;
        if (join_components (prefix, sizeof prefix, comps, 0, i + 1) < 0)
          {
            herr_set (err, ENAMETOOLONG, "mkdir %s: path too long", path);
            goto out;
          }
        /* Resolve the whole prefix from the root each time: ".." and symlinks are then handled by the
         * kernel, clamped inside the root, instead of by string manipulation here. */
        fd = open_in_base (c, base, prefix, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && strcmp (comps[i], "..") != 0)
          {
            /* Missing: create this one name inside the resolved parent. EEXIST means someone made it
             * meanwhile, or it is a symlink whose target is missing; the open below tells which. */
            if (mkdirat (parent_fd, comps[i], (mode_t) mode) < 0 && errno != EEXIST)
              {
                herr_set (err, errno, "mkdir %s: %s", prefix, strerror (errno));
                goto out;
              }
            fd = openat (parent_fd, comps[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0 && errno == ENOTDIR)
              {
                char target[PATH_MAX];
                ssize_t len = readlinkat (parent_fd, comps[i], target, sizeof target - 1);
                if (len >= 0)
                  {
                    char *next;
                    target[len] = '\0';
                    if (++links > MAX_SPLICED_LINKS)
                      {
                        herr_set (err, ELOOP, "mkdir %s: too many levels of symbolic links", path);
                        goto out;
                      }
                    next = splice_link (comps, i, n, target);
                    if (next == NULL)
                      {
                        herr_set (err, ENAMETOOLONG, "mkdir %s: path too long", path);
                        goto out;
                      }
                    free (work);
                    work = next;
                    goto restart;
                  }
                errno = ENOTDIR;
              }
          }
        if (fd < 0)
          {
            herr_set (err, errno, "mkdir %s: %s", prefix, strerror (errno));
            goto out;
          }
        close (parent_fd);
        parent_fd = fd;
      }
  }
  ret = 0;
out:
  if (parent_fd >= 0)
    close (parent_fd);
  free (work);
  return ret;
}

/* Splits a copy of path into its parent part and its last name (trailing slashes dropped). */
static void
split_parent (const char *path, char *parent, size_t plen, char *name, size_t nlen)
{
  char tmp[PATH_MAX];
  char *slash;
  size_t len;
  snprintf (tmp, sizeof tmp, "%s", path);
  len = strlen (tmp);
  while (len > 1 && tmp[len - 1] == '/')
    tmp[--len] = '\0';
  slash = strrchr (tmp, '/');
  if (slash == NULL)
    {
      snprintf (parent, plen, ".");
      snprintf (name, nlen, "%s", tmp);
      return;
    }
  snprintf (name, nlen, "%s", slash + 1);
  if (slash == tmp)
    snprintf (parent, plen, "/");
  else
    {
      *slash = '\0';
      snprintf (parent, plen, "%s", tmp);
    }
}

int
path_open_parent (struct ctx *c, uint32_t base, const char *path, char *name, size_t namelen, int create_parents,
                  struct herr *err)
{
  char parent[PATH_MAX];
  if (check_base (c, base, err) < 0)
    return -1;
  if (create_parents && path_mkdir_all (c, base, path, 0755, 0, err) < 0)
    return -1;
  split_parent (path, parent, sizeof parent, name, namelen);
  return path_open (c, base, parent, O_DIRECTORY, err);
}

static int
create_file_at (struct ctx *c, uint32_t base, const char *path, int depth, struct herr *err)
{
  char parent[PATH_MAX], name[NAME_MAX + 2], target[PATH_MAX];
  int pfd, fd;
  ssize_t len;

  pfd = path_open_parent (c, base, path, name, sizeof name, 1, err);
  if (pfd < 0)
    return -1;
  if (name[0] == '\0' || strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
    {
      close (pfd);
      return 0; /* names a directory, which exists: nothing to create */
    }
  split_parent (path, parent, sizeof parent, name, sizeof name); /* the parent's text, to splice a link */
  fd = openat (pfd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd >= 0)
    {
      close (fd);
      close (pfd);
      return 0;
    }
  if (errno != EEXIST)
    {
      herr_set (err, errno, "create %s: %s", path, strerror (errno));
      close (pfd);
      return -1;
    }
  /* Something is there. If it resolves (under the same base, so a link is followed inside the root
   * only), it is accepted as the target. A dangling symlink needs its target created: re-resolve the link
   * text from the root, never by letting the kernel follow it from here. */
  fd = open_in_base (c, base, path, O_PATH | O_CLOEXEC);
  if (fd >= 0)
    {
      close (fd);
      close (pfd);
      return 0;
    }
  len = readlinkat (pfd, name, target, sizeof target - 1);
  close (pfd);
  if (len < 0)
    return herr_set (err, EEXIST, "create %s: exists but cannot be opened", path);
  target[len] = '\0';
  if (depth >= MAX_SPLICED_LINKS)
    return herr_set (err, ELOOP, "create %s: too many levels of symbolic links", path);
  {
    char next[PATH_MAX];
    int w = target[0] == '/' ? snprintf (next, sizeof next, "%s", target)
                             : snprintf (next, sizeof next, "%s/%s", strcmp (parent, "/") ? parent : "", target);
    if (w < 0 || (size_t) w >= sizeof next)
      return herr_set (err, ENAMETOOLONG, "create %s: path too long", path);
    return create_file_at (c, base, next, depth + 1, err);
  }
}

int
path_create_file (struct ctx *c, uint32_t base, const char *path, struct herr *err)
{
  if (check_base (c, base, err) < 0)
    return -1;
  return create_file_at (c, base, path, 0, err);
}
