/* Root switching and path hiding: PIVOT_ROOT, MOVE_ROOT, MASK_PATH, READONLY_PATH (docs/protocol.md). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "helper.h"
#include "rootfs_internal.h"

/* After the root changed, the rootfs fd must name the new "/" so that BASE_ROOTFS keeps meaning
 * "inside the container" for the ops that follow (MASK_PATH, READONLY_PATH, MKNOD…). */
static int
refresh_rootfs_fd (struct ctx *c, struct herr *err)
{
  int fd = open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return herr_set (err, errno, "open new root: %s", strerror (errno));
  if (c->rootfs_fd >= 0)
    close (c->rootfs_fd);
  c->rootfs_fd = fd;
  free (c->rootfs_path);
  c->rootfs_path = strdup ("/");
  return 0;
}

int
op_pivot_root (struct ctx *c, struct args *a, struct herr *err)
{
  (void) a;
  if (c->rootfs_fd < 0)
    return herr_set (err, EBADF, "pivot_root: no rootfs is set (SET_ROOTFS must come first)");
  if (fchdir (c->rootfs_fd) < 0)
    return herr_set (err, errno, "chdir to rootfs %s: %s", c->rootfs_path, strerror (errno));
  /* pivot_root(".", ".") stacks the old root on top of the new one, at the same place; no directory
   * inside the rootfs is needed to hold it, so a read-only rootfs works too. */
  if (syscall (SYS_pivot_root, ".", ".") < 0)
    return herr_set (err, errno, "pivot_root %s: %s", c->rootfs_path, strerror (errno));
  /* The old root may still be shared with the host; detaching it while shared would propagate the
   * unmount of every host mount back to the host. Turning it into a slave first keeps the detach local. */
  if (mount (NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
    return herr_set (err, errno, "make old root a slave: %s", strerror (errno));
  if (umount2 (".", MNT_DETACH) < 0)
    return herr_set (err, errno, "detach old root: %s", strerror (errno));
  if (chdir ("/") < 0)
    return herr_set (err, errno, "chdir /: %s", strerror (errno));
  return refresh_rootfs_fd (c, err);
}

/* chroot into the rootfs, first moving it onto "/" when move_first (--no-pivot in a private mount namespace).
 * Without a mount namespace of its own (CHROOT) neither pivot_root nor MS_MOVE may be used: pivot_root would
 * swap the root of every host process and MS_MOVE would put the rootfs over the host's "/"; a chroot changes
 * this process only. */
static int
chroot_into_rootfs (struct ctx *c, int move_first, const char *op, struct herr *err)
{
  if (c->rootfs_fd < 0)
    return herr_set (err, EBADF, "%s: no rootfs is set (SET_ROOTFS must come first)", op);
  if (fchdir (c->rootfs_fd) < 0)
    return herr_set (err, errno, "chdir to rootfs %s: %s", c->rootfs_path, strerror (errno));
  if (move_first && mount (".", "/", NULL, MS_MOVE, NULL) < 0)
    return herr_set (err, errno, "move %s onto /: %s", c->rootfs_path, strerror (errno));
  if (chroot (".") < 0)
    return herr_set (err, errno, "chroot %s: %s", c->rootfs_path, strerror (errno));
  if (chdir ("/") < 0)
    return herr_set (err, errno, "chdir /: %s", strerror (errno));
  return refresh_rootfs_fd (c, err);
}

/* MOVE_ROOT: --no-pivot. */
int
op_move_root (struct ctx *c, struct args *a, struct herr *err)
{
  (void) a;
  return chroot_into_rootfs (c, 1, "move root", err);
}

/* CHROOT: a container sharing the host's mount namespace. */
int
op_chroot (struct ctx *c, struct args *a, struct herr *err)
{
  (void) a;
  return chroot_into_rootfs (c, 0, "chroot", err);
}

/* UMOUNT: the runtime lists the mounts to take down (deepest first); one that is already gone is fine. */
int
op_umount (struct ctx *c, struct args *a, struct herr *err)
{
  (void) c;
  char *path = NULL;
  uint32_t flags;
  if (args_str (a, &path, err) < 0 || args_u32 (a, &flags, err) < 0)
    return -1;
  if (umount2 (path, (int) (flags | UMOUNT_NOFOLLOW)) < 0 && errno != EINVAL && errno != ENOENT)
    return herr_set (err, errno, "umount %s: %s", path, strerror (errno));
  return 0;
}

/* Opens path inside the current root (the rootfs fd, "/" after PIVOT_ROOT). Returns 1 when the path does
 * not exist (the op is then skipped), 0 with *fd set, or -1 on error. */
static int
open_or_missing (struct ctx *c, const char *path, int *fd, struct herr *err)
{
  *fd = path_open (c, BASE_ROOTFS, path, 0, err);
  if (*fd >= 0)
    return 0;
  if (err->errnum == ENOENT || err->errnum == ENOTDIR)
    {
      log_debug (c, "%s does not exist, skipped", path);
      return 1;
    }
  return -1;
}

static int
is_dev_null (const struct stat *st)
{
  return S_ISCHR (st->st_mode) && major (st->st_rdev) == 1 && minor (st->st_rdev) == 3;
}

/* A masked path must end up covered, or the container could read what the plan meant to hide. Both
 * ways of getting it wrong are checked: the /dev/null used as bind source must really be the null device
 * (a container image can ship /dev/null as a symlink to, say, a /proc file, which would then be bound
 * writable over the masked path), and after mounting, a fresh lookup of the path must land on the mask. */
static int
mask_file (struct ctx *c, const char *path, int target_fd, struct herr *err)
{
  struct stat st;
  int null_fd = path_open (c, BASE_ROOTFS, "/dev/null", O_NOFOLLOW, err);
  char source[32];
  int ret = 0;
  if (null_fd < 0)
    return -1;
  if (fstat (null_fd, &st) < 0 || !is_dev_null (&st))
    {
      close (null_fd);
      return herr_set (err, EPERM, "mask %s: /dev/null is not the null device", path);
    }
  fd_path (source, sizeof source, null_fd);
  if (mount_on_fd (source, target_fd, NULL, MS_BIND, NULL) < 0)
    ret = herr_set (err, errno, "mask %s: bind /dev/null: %s", path, strerror (errno));
  close (null_fd);
  return ret;
}

static int
mask_dir (const char *path, int target_fd, struct herr *err)
{
  /* Read-only and tiny: the mask hides what the directory holds and cannot be used to store anything. */
  if (mount_on_fd ("tmpfs", target_fd, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,nr_inodes=1")
      < 0)
    return herr_set (err, errno, "mask %s: mount tmpfs: %s", path, strerror (errno));
  return 0;
}

static int
check_masked (struct ctx *c, const char *path, int is_dir, struct herr *err)
{
  struct stat st;
  struct statfs sf;
  int fd = path_open (c, BASE_ROOTFS, path, 0, err), ok;
  if (fd < 0)
    return -1;
  if (is_dir)
    ok = fstatfs (fd, &sf) == 0 && sf.f_type == TMPFS_MAGIC;
  else
    ok = fstat (fd, &st) == 0 && is_dev_null (&st);
  close (fd);
  if (!ok)
    return herr_set (err, EPERM, "mask %s: the path is not covered after mounting", path);
  return 0;
}

int
op_mask_path (struct ctx *c, struct args *a, struct herr *err)
{
  char *path;
  struct stat st;
  int fd, r, ret = -1, is_dir = 0;
  if (args_str (a, &path, err) < 0)
    return -1;
  r = open_or_missing (c, path, &fd, err);
  if (r != 0)
    {
      free (path);
      return r > 0 ? 0 : -1;
    }
  if (fstat (fd, &st) < 0)
    {
      herr_set (err, errno, "mask %s: stat: %s", path, strerror (errno));
      goto out;
    }
  is_dir = S_ISDIR (st.st_mode);
  if ((is_dir ? mask_dir (path, fd, err) : mask_file (c, path, fd, err)) < 0)
    goto out;
  ret = check_masked (c, path, is_dir, err);
out:
  close (fd);
  free (path);
  return ret;
}

int
op_readonly_path (struct ctx *c, struct args *a, struct herr *err)
{
  char *path, source[32];
  int fd, top = -1, r, ret = -1;
  struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };

  if (args_str (a, &path, err) < 0)
    return -1;
  r = open_or_missing (c, path, &fd, err);
  if (r != 0)
    {
      free (path);
      return r > 0 ? 0 : -1;
    }
  /* Bind the path onto itself so that it becomes a mount of its own whose flags can change. */
  fd_path (source, sizeof source, fd);
  if (mount_on_fd (source, fd, NULL, MS_BIND | MS_REC, NULL) < 0)
    {
      herr_set (err, errno, "bind %s onto itself: %s", path, strerror (errno));
      goto out;
    }
  /* fd still names what was under the new mount; only a fresh lookup reaches the bind. */
  top = path_open (c, BASE_ROOTFS, path, 0, err);
  if (top < 0)
    goto out;
  /* mount_setattr(AT_RECURSIVE) makes every submount read-only too (a remount only changes the top
   * one) and sets only MOUNT_ATTR_RDONLY, so flags the kernel locked are left as they are. Older kernels
   * lack it: fall back to a bind remount, which keeps locked flags through remount_keep_locked. */
  if (mount_setattr (top, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) == 0)
    ret = 0;
  else if (errno == ENOSYS)
    ret = remount_keep_locked (c, top, path, MS_BIND | MS_RDONLY | MS_REC, err);
  else
    herr_set (err, errno, "make %s read-only: %s", path, strerror (errno));
out:
  if (top >= 0)
    close (top);
  close (fd);
  free (path);
  return ret;
}
