/* Device nodes and links in the rootfs: MKNOD, SYMLINK, BIND_DEVICE (docs/protocol.md).
 * Each creates one name relative to the fd of its parent, resolved inside the rootfs (path.c), so a
 * symlink in the image cannot make the node appear on the host. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "helper.h"
#include "rootfs_internal.h"

/* Sets the exact mode (mknod is subject to the umask) and owner on the node just made or found.
 * Done through an O_PATH|O_NOFOLLOW fd so that a name swapped for a symlink is detected, not followed. */
static int
fix_node (int parent_fd, const char *name, const char *path, mode_t mode, dev_t dev, uid_t uid, gid_t gid,
          struct herr *err)
{
  char proc[32];
  struct stat st;
  int fd = openat (parent_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC), ret = 0;
  if (fd < 0)
    return herr_set (err, errno, "mknod %s: open: %s", path, strerror (errno));
  if (fstat (fd, &st) < 0)
    ret = herr_set (err, errno, "mknod %s: stat: %s", path, strerror (errno));
  else if ((st.st_mode & S_IFMT) != (mode & S_IFMT) || st.st_rdev != dev)
    ret = herr_set (err, EEXIST, "mknod %s: a different file already exists there", path);
  else
    {
      fd_path (proc, sizeof proc, fd);
      if (chmod (proc, mode & 07777) < 0)
        ret = herr_set (err, errno, "chmod %s: %s", path, strerror (errno));
      else if (fchownat (fd, "", uid, gid, AT_EMPTY_PATH) < 0)
        ret = herr_set (err, errno, "chown %s: %s", path, strerror (errno));
    }
  close (fd);
  return ret;
}

int
op_mknod (struct ctx *c, struct args *a, struct herr *err)
{
  char *path, name[NAME_MAX + 2];
  uint32_t mode, maj, min, uid, gid;
  int pfd, ret;
  dev_t dev;

  if (args_str (a, &path, err) < 0 || args_u32 (a, &mode, err) < 0 || args_u32 (a, &maj, err) < 0
      || args_u32 (a, &min, err) < 0 || args_u32 (a, &uid, err) < 0 || args_u32 (a, &gid, err) < 0)
    return -1;
  dev = makedev (maj, min);
  pfd = path_open_parent (c, BASE_ROOTFS, path, name, sizeof name, 1, err);
  if (pfd < 0)
    {
      free (path);
      return -1;
    }
  if (mknodat (pfd, name, (mode_t) mode, dev) < 0 && errno != EEXIST)
    ret = herr_set (err, errno, "mknod %s: %s", path, strerror (errno));
  else
    ret = fix_node (pfd, name, path, (mode_t) mode, dev, (uid_t) uid, (gid_t) gid, err);
  close (pfd);
  free (path);
  return ret;
}

int
op_symlink (struct ctx *c, struct args *a, struct herr *err)
{
  char *target, *path, name[NAME_MAX + 2], existing[PATH_MAX];
  int pfd, ret = 0;
  ssize_t len;

  if (args_str (a, &target, err) < 0 || args_str (a, &path, err) < 0)
    return -1;
  pfd = path_open_parent (c, BASE_ROOTFS, path, name, sizeof name, 1, err);
  if (pfd < 0)
    {
      free (target);
      free (path);
      return -1;
    }
  if (symlinkat (target, pfd, name) < 0)
    {
      if (errno != EEXIST)
        ret = herr_set (err, errno, "symlink %s -> %s: %s", path, target, strerror (errno));
      else if ((len = readlinkat (pfd, name, existing, sizeof existing - 1)) < 0
               || ((void) (existing[len] = '\0'), strcmp (existing, target) != 0))
        ret = herr_set (err, EEXIST, "symlink %s -> %s: a different file already exists there", path, target);
    }
  close (pfd);
  free (target);
  free (path);
  return ret;
}

int
op_bind_device (struct ctx *c, struct args *a, struct herr *err)
{
  char *host, *path, source[32];
  int src = -1, dst = -1, ret = -1;
  struct stat st;

  if (args_str (a, &host, err) < 0 || args_str (a, &path, err) < 0)
    return -1;
  src = open (host, O_PATH | O_CLOEXEC);
  if (src < 0)
    {
      herr_set (err, errno, "open device %s: %s", host, strerror (errno));
      goto out;
    }
  if (fstat (src, &st) < 0 || !(S_ISCHR (st.st_mode) || S_ISBLK (st.st_mode)))
    {
      herr_set (err, ENODEV, "bind device %s: not a device node", host);
      goto out;
    }
  if (path_create_file (c, BASE_ROOTFS, path, err) < 0)
    goto out;
  dst = path_open (c, BASE_ROOTFS, path, 0, err);
  if (dst < 0)
    goto out;
  fd_path (source, sizeof source, src);
  if (mount_on_fd (source, dst, NULL, MS_BIND, NULL) < 0)
    {
      herr_set (err, errno, "bind %s on %s: %s", host, path, strerror (errno));
      goto out;
    }
  ret = 0;
out:
  if (src >= 0)
    close (src);
  if (dst >= 0)
    close (dst);
  free (host);
  free (path);
  return ret;
}
