/* Mount ops: SET_ROOTFS, MOUNT (with tmpcopyup, see copyup.c), REMOUNT, PROPAGATION, MKDIR, WRITE_FILE
 * (docs/protocol.md).
 * Every target is resolved with path_open (path.c) and mounted through /proc/self/fd/N, so the kernel
 * acts on the object that was resolved inside the rootfs, not on a path string it would walk again. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "helper.h"
#include "rootfs_internal.h"

#define FD_PATH_MAX 32

static const char *
null_if_empty (const char *s)
{
  return s && s[0] ? s : NULL;
}

int
mount_on_fd (const char *source, int target_fd, const char *fstype, unsigned long flags, const char *data)
{
  char target[FD_PATH_MAX];
  fd_path (target, sizeof target, target_fd);
  return mount (null_if_empty (source), target, null_if_empty (fstype), flags, null_if_empty (data));
}

/* The mount flags the kernel may lock, as statvfs reports them on the mount that fd is on.
 * Locked atime settings must be repeated exactly, so "no atime flag" is turned into MS_STRICTATIME. */
static int
locked_flags_of (int fd, unsigned long *out)
{
  struct statvfs sv;
  unsigned long f = 0;
  if (fstatvfs (fd, &sv) < 0)
    return -1;
  if (sv.f_flag & ST_NOSUID)
    f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV)
    f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC)
    f |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME)
    f |= MS_NOATIME;
  else if (sv.f_flag & ST_RELATIME)
    f |= MS_RELATIME;
  else
    f |= MS_STRICTATIME;
  if (sv.f_flag & ST_NODIRATIME)
    f |= MS_NODIRATIME;
  *out = f;
  return 0;
}

/* Why the helper decides here, and only here: when a mount comes from a more privileged mount namespace
 * (a bind of a host path into a user namespace), the kernel locks its nosuid/nodev/noexec and atime flags,
 * and a remount that would clear any of them fails with EPERM. Which flags are locked is known only to the
 * kernel at run time, so TS cannot put them in the plan; the helper reads the current ones with statvfs
 * and repeats them. Nothing is weakened: the retry only keeps restrictions that are already in force. */
int
remount_keep_locked (struct ctx *c, int fd, const char *what, unsigned long flags, struct herr *err)
{
  const unsigned long atime_mask = MS_NOATIME | MS_RELATIME | MS_STRICTATIME | MS_NODIRATIME;
  unsigned long current, retry;
  int saved;

  if (mount_on_fd (NULL, fd, NULL, MS_REMOUNT | flags, NULL) == 0)
    return 0;
  saved = errno;
  if (saved != EPERM || locked_flags_of (fd, &current) < 0)
    return herr_set (err, saved, "remount %s: %s", what, strerror (saved));
  retry = (flags & ~atime_mask) | (current & (MS_NOSUID | MS_NODEV | MS_NOEXEC | atime_mask));
  if (retry == flags)
    return herr_set (err, saved, "remount %s: %s", what, strerror (saved));
  log_debug (c, "remount %s: flags 0x%lx refused, retrying with the mount's current flags: 0x%lx", what, flags, retry);
  if (mount_on_fd (NULL, fd, NULL, MS_REMOUNT | retry, NULL) < 0)
    return herr_set (err, saved, "remount %s: %s", what, strerror (saved));
  return 0;
}

int
op_set_rootfs (struct ctx *c, struct args *a, struct herr *err)
{
  char *path;
  int fd;
  if (args_str (a, &path, err) < 0)
    return -1;
  fd = open (path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    {
      herr_set (err, errno, "open rootfs %s: %s", path, strerror (errno));
      free (path);
      return -1;
    }
  if (c->rootfs_fd >= 0)
    close (c->rootfs_fd);
  c->rootfs_fd = fd;
  free (c->rootfs_path);
  c->rootfs_path = path;
  return 0;
}

static int
prepare_target (struct ctx *c, uint32_t base, const char *target, uint32_t kind, struct herr *err)
{
  switch (kind)
    {
    case TARGET_EXISTING:
      return 0;
    case TARGET_DIR:
      return path_mkdir_all (c, base, target, 0755, 1, err);
    case TARGET_FILE:
      return path_create_file (c, base, target, err);
    default:
      return herr_set (err, EINVAL, "unknown mount target kind %u", kind);
    }
}

/* tmpcopyup, second half: the path now leads to the new mount (a fresh lookup), while old_fd, opened
 * before the mount, still reaches the directory underneath. copyup.c does the copying. */
static int
copy_up_into_new_mount (struct ctx *c, uint32_t base, const char *target, int old_fd, uint32_t opts,
                        struct herr *err)
{
  int new_fd = path_open (c, base, target, O_DIRECTORY, err);
  int ret;
  if (new_fd < 0)
    return -1;
  ret = copyup_tree (c, old_fd, new_fd, (opts & MOUNT_OPT_COPY_UP_ROOT) != 0, target, err);
  close (new_fd);
  return ret;
}

int
op_mount (struct ctx *c, struct args *a, struct herr *err)
{
  char *source, *target, *fstype, *data;
  char source_buf[FD_PATH_MAX];
  const char *src;
  uint32_t base, kind, opts;
  uint64_t flags;
  int src_fd = -1, tgt_fd = -1, ret = -1;

  if (args_str (a, &source, err) < 0 || args_u32 (a, &base, err) < 0 || args_str (a, &target, err) < 0
      || args_str (a, &fstype, err) < 0 || args_u64 (a, &flags, err) < 0 || args_str (a, &data, err) < 0
      || args_u32 (a, &kind, err) < 0 || args_u32 (a, &opts, err) < 0)
    return -1;

  if (opts & ~(uint32_t) (MOUNT_OPT_SOURCE_IS_PATH | MOUNT_OPT_COPY_UP | MOUNT_OPT_COPY_UP_ROOT))
    {
      herr_set (err, EINVAL, "unknown mount option bits 0x%x", opts);
      goto out;
    }
  if ((opts & MOUNT_OPT_COPY_UP_ROOT) && !(opts & MOUNT_OPT_COPY_UP))
    {
      herr_set (err, EINVAL, "mount option COPY_UP_ROOT needs COPY_UP");
      goto out;
    }
  if (prepare_target (c, base, target, kind, err) < 0)
    goto out;
  src = source;
  if (opts & MOUNT_OPT_SOURCE_IS_PATH)
    {
      /* The source of a bind is a host path (or, after PIVOT_ROOT, a path in the new root). Opening it
       * first pins the object so the mount below cannot be redirected by a rename in between. */
      src_fd = open (source, O_PATH | O_CLOEXEC);
      if (src_fd < 0)
        {
          herr_set (err, errno, "open mount source %s: %s", source, strerror (errno));
          goto out;
        }
      fd_path (source_buf, sizeof source_buf, src_fd);
      src = source_buf;
    }
  tgt_fd = path_open (c, base, target, 0, err);
  if (tgt_fd < 0)
    goto out;
  if (mount_on_fd (src, tgt_fd, fstype, (unsigned long) flags, data) < 0)
    {
      herr_set (err, errno, "mount %s on %s: %s", source[0] ? source : fstype, target, strerror (errno));
      goto out;
    }
  if ((opts & MOUNT_OPT_COPY_UP) && copy_up_into_new_mount (c, base, target, tgt_fd, opts, err) < 0)
    goto out;
  ret = 0;
out:
  if (src_fd >= 0)
    close (src_fd);
  if (tgt_fd >= 0)
    close (tgt_fd);
  free (source);
  free (target);
  free (fstype);
  free (data);
  return ret;
}

int
op_remount (struct ctx *c, struct args *a, struct herr *err)
{
  char *target;
  uint32_t base;
  uint64_t flags;
  int fd, ret;
  if (args_u32 (a, &base, err) < 0 || args_str (a, &target, err) < 0 || args_u64 (a, &flags, err) < 0)
    return -1;
  /* Resolved afresh: after a MOUNT the new mount sits on top of the path, and only a new lookup reaches
   * it (the fd used by MOUNT still points at what was underneath). */
  fd = path_open (c, base, target, 0, err);
  if (fd < 0)
    {
      free (target);
      return -1;
    }
  ret = remount_keep_locked (c, fd, target, (unsigned long) flags, err);
  close (fd);
  free (target);
  return ret;
}

int
op_propagation (struct ctx *c, struct args *a, struct herr *err)
{
  char *target;
  uint32_t base;
  uint64_t flags;
  int fd, ret = 0;
  if (args_u32 (a, &base, err) < 0 || args_str (a, &target, err) < 0 || args_u64 (a, &flags, err) < 0)
    return -1;
  fd = path_open (c, base, target, 0, err);
  if (fd < 0)
    {
      free (target);
      return -1;
    }
  if (mount_on_fd (NULL, fd, NULL, (unsigned long) flags, NULL) < 0)
    ret = herr_set (err, errno, "set propagation of %s: %s", target, strerror (errno));
  close (fd);
  free (target);
  return ret;
}

int
op_mkdir (struct ctx *c, struct args *a, struct herr *err)
{
  char *path;
  uint32_t base, mode;
  int ret;
  if (args_u32 (a, &base, err) < 0 || args_str (a, &path, err) < 0 || args_u32 (a, &mode, err) < 0)
    return -1;
  ret = path_mkdir_all (c, base, path, mode, 1, err);
  free (path);
  return ret;
}

/* Opens path for writing without creating or truncating it. Under BASE_ROOTFS the path is resolved
 * O_PATH inside the root first and then reopened through /proc/self/fd, because openat2 with O_PATH is
 * the only safe resolution and an O_PATH fd cannot be written to. */
static int
open_for_write (struct ctx *c, uint32_t base, const char *path, struct herr *err)
{
  char buf[FD_PATH_MAX];
  int pfd, fd;
  if (base == BASE_HOST)
    {
      fd = open (path, O_WRONLY | O_CLOEXEC);
      if (fd < 0)
        return herr_set (err, errno, "open %s: %s", path, strerror (errno));
      return fd;
    }
  pfd = path_open (c, base, path, 0, err);
  if (pfd < 0)
    return -1;
  fd_path (buf, sizeof buf, pfd);
  fd = open (buf, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    herr_set (err, errno, "open %s: %s", path, strerror (errno));
  close (pfd);
  return fd;
}

int
op_write_file (struct ctx *c, struct args *a, struct herr *err)
{
  char *path, *data;
  uint32_t base;
  size_t len, done = 0;
  int fd, ret = 0;
  if (args_u32 (a, &base, err) < 0 || args_str (a, &path, err) < 0 || args_str (a, &data, err) < 0)
    return -1;
  fd = open_for_write (c, base, path, err);
  if (fd < 0)
    {
      free (path);
      free (data);
      return -1;
    }
  len = strlen (data);
  while (done < len)
    {
      ssize_t w = write (fd, data + done, len - done);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        {
          int e = w < 0 ? errno : EIO;
          ret = herr_set (err, e, "write %s: %s", path, strerror (e));
          break;
        }
      done += (size_t) w;
    }
  close (fd);
  free (path);
  free (data);
  return ret;
}
