/* tmpcopyup (MOUNT with MOUNT_OPT_COPY_UP, docs/protocol.md): copy the tree of the directory a new mount
 * covers into that mount.
 *
 * The old directory is reached only through an fd opened before the mount (the path now leads to the new
 * mount), and every step below works relative to directory fds with *at() calls and O_NOFOLLOW: a name is
 * always one component, a symlink is read with readlinkat() and recreated, never followed, so nothing in
 * the image can make the copy read or write outside the two trees. Entries on another mount (something
 * already mounted inside the directory) are skipped: the copy is of what the rootfs holds.
 *
 * Copied: directories, regular files (content), symlinks, fifos and device nodes, each with owner, mode
 * and atime/mtime. Not copied: sockets, extended attributes, hard-link sharing (each link becomes a file). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helper.h"

/* Each level holds two directory fds; this keeps a hostile deep tree far from RLIMIT_NOFILE. */
#define MAX_DEPTH 128

struct copy_walk
{
  struct ctx *c;
  uint64_t mnt_id;   /* mount of the old directory: entries on another mount are not copied */
  struct herr *err;
};

/* The mount an entry is on. st_dev cannot tell: overlayfs may give files of a lower layer their own
 * device number, while a mount's id is exact. */
static int
mount_id_of (int dir, const char *name, uint64_t *out)
{
  struct statx stx;
  if (statx (dir, name, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH, STATX_MNT_ID, &stx) < 0)
    return -1;
  if (!(stx.stx_mask & STATX_MNT_ID))
    {
      errno = ENOSYS;
      return -1;
    }
  *out = stx.stx_mnt_id;
  return 0;
}

/* Owner first (chown clears set-id bits), then mode, then times (anything else would bump them). An id
 * the current user namespace cannot map (EINVAL) leaves the new entry owned by us: only the kernel knows
 * the mapping, and the rest of the copy is still useful. */
static int
copy_attrs (struct copy_walk *w, int dir, const char *name, const struct stat *st)
{
  const struct timespec times[2] = { st->st_atim, st->st_mtim };
  int nofollow = AT_SYMLINK_NOFOLLOW;
  if (fchownat (dir, name, st->st_uid, st->st_gid, nofollow) < 0)
    {
      if (errno != EINVAL)
        return herr_set (w->err, errno, "copy-up: chown %s: %s", name, strerror (errno));
      log_debug (w->c, "copy-up: %s keeps our owner: %u:%u is not mapped here", name, st->st_uid, st->st_gid);
    }
  /* The kernel has no lchmod; symlink modes mean nothing anyway. */
  if (!S_ISLNK (st->st_mode) && fchmodat (dir, name, st->st_mode & 07777, 0) < 0)
    return herr_set (w->err, errno, "copy-up: chmod %s: %s", name, strerror (errno));
  if (utimensat (dir, name, times, nofollow) < 0)
    return herr_set (w->err, errno, "copy-up: set times of %s: %s", name, strerror (errno));
  return 0;
}

static int
copy_bytes (struct copy_walk *w, int in, int out, const char *name)
{
  char buf[65536];
  for (;;)
    {
      ssize_t n = read (in, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return herr_set (w->err, errno, "copy-up: read %s: %s", name, strerror (errno));
      if (n == 0)
        return 0;
      for (ssize_t done = 0; done < n;)
        {
          ssize_t m = write (out, buf + done, (size_t) (n - done));
          if (m < 0 && errno == EINTR)
            continue;
          if (m < 0)
            return herr_set (w->err, errno, "copy-up: write %s: %s", name, strerror (errno));
          done += m;
        }
    }
}

static int
copy_file (struct copy_walk *w, int src, int dst, const char *name, const struct stat *st)
{
  struct stat now;
  int in, out, ret = -1;
  /* O_NONBLOCK: if the entry was swapped for a fifo since the stat, the open must not hang. */
  in = openat (src, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (in < 0)
    return herr_set (w->err, errno, "copy-up: open %s: %s", name, strerror (errno));
  if (fstat (in, &now) < 0 || !S_ISREG (now.st_mode) || now.st_ino != st->st_ino)
    {
      close (in);
      return herr_set (w->err, EAGAIN, "copy-up: %s changed while being copied", name);
    }
  out = openat (dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0)
    herr_set (w->err, errno, "copy-up: create %s: %s", name, strerror (errno));
  else
    {
      ret = copy_bytes (w, in, out, name);
      close (out);
    }
  close (in);
  return ret;
}

static int
copy_symlink (struct copy_walk *w, int src, int dst, const char *name, const struct stat *st)
{
  char target[PATH_MAX];
  ssize_t len = readlinkat (src, name, target, sizeof target - 1);
  (void) st;
  if (len < 0)
    return herr_set (w->err, errno, "copy-up: readlink %s: %s", name, strerror (errno));
  target[len] = '\0';
  if (symlinkat (target, dst, name) < 0)
    return herr_set (w->err, errno, "copy-up: symlink %s: %s", name, strerror (errno));
  return 0;
}

/* Returns 1 when the node was made, 0 when it is skipped (the kernel refuses device nodes in a user
 * namespace; a socket without its listener means nothing). */
static int
copy_node (struct copy_walk *w, int dst, const char *name, const struct stat *st)
{
  if (S_ISSOCK (st->st_mode))
    {
      log_debug (w->c, "copy-up: socket %s skipped", name);
      return 0;
    }
  if (mknodat (dst, name, st->st_mode & (S_IFMT | 0600), st->st_rdev) == 0)
    return 1;
  if (errno == EPERM && !S_ISFIFO (st->st_mode))
    {
      log_debug (w->c, "copy-up: device %s skipped: %s", name, strerror (errno));
      return 0;
    }
  return herr_set (w->err, errno, "copy-up: mknod %s: %s", name, strerror (errno));
}

static int copy_dir (struct copy_walk *w, int src, int dst, int depth);

static int
copy_subdir (struct copy_walk *w, int src, int dst, const char *name, int depth)
{
  int s, d, ret;
  if (depth >= MAX_DEPTH)
    return herr_set (w->err, ELOOP, "copy-up: %s is nested more than %d levels deep", name, MAX_DEPTH);
  if (mkdirat (dst, name, 0700) < 0)
    return herr_set (w->err, errno, "copy-up: mkdir %s: %s", name, strerror (errno));
  s = openat (src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (s < 0)
    return herr_set (w->err, errno, "copy-up: open %s: %s", name, strerror (errno));
  d = openat (dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (d < 0)
    {
      close (s);
      return herr_set (w->err, errno, "copy-up: open new %s: %s", name, strerror (errno));
    }
  ret = copy_dir (w, s, d, depth + 1);
  close (s);
  close (d);
  return ret;
}

static int
copy_entry (struct copy_walk *w, int src, int dst, const char *name, int depth)
{
  struct stat st;
  uint64_t mnt;
  int made = 1;
  if (fstatat (src, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || mount_id_of (src, name, &mnt) < 0)
    return herr_set (w->err, errno, "copy-up: stat %s: %s", name, strerror (errno));
  if (mnt != w->mnt_id)
    {
      log_debug (w->c, "copy-up: %s is on another filesystem, skipped", name);
      return 0;
    }
  if (S_ISDIR (st.st_mode))
    made = copy_subdir (w, src, dst, name, depth) < 0 ? -1 : 1;
  else if (S_ISREG (st.st_mode))
    made = copy_file (w, src, dst, name, &st) < 0 ? -1 : 1;
  else if (S_ISLNK (st.st_mode))
    made = copy_symlink (w, src, dst, name, &st) < 0 ? -1 : 1;
  else
    made = copy_node (w, dst, name, &st);
  if (made <= 0)
    return made;
  /* Last, so that a directory's mtime is not bumped again by the entries created inside it. */
  return copy_attrs (w, dst, name, &st);
}

static int
copy_dir (struct copy_walk *w, int src, int dst, int depth)
{
  struct dirent *de;
  DIR *dir;
  int fd = dup (src), ret = 0;
  if (fd < 0 || (dir = fdopendir (fd)) == NULL)
    {
      int e = errno;
      if (fd >= 0)
        close (fd);
      return herr_set (w->err, e, "copy-up: read directory: %s", strerror (e));
    }
  errno = 0;
  while (ret == 0 && (de = readdir (dir)) != NULL)
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      ret = copy_entry (w, src, dst, de->d_name, depth);
      errno = 0;
    }
  if (ret == 0 && errno != 0)
    ret = herr_set (w->err, errno, "copy-up: read directory: %s", strerror (errno));
  closedir (dir);
  return ret;
}

/* The new mount's root takes the covered directory's owner, mode and times (as for any copied directory). */
static int
copy_root_attrs (struct copy_walk *w, int src, int dst)
{
  struct stat st;
  struct timespec times[2];
  if (fstat (src, &st) < 0)
    return herr_set (w->err, errno, "copy-up: stat the covered directory: %s", strerror (errno));
  if (fchown (dst, st.st_uid, st.st_gid) < 0)
    {
      if (errno != EINVAL)
        return herr_set (w->err, errno, "copy-up: chown the mount's root: %s", strerror (errno));
      log_debug (w->c, "copy-up: the mount's root keeps our owner: %u:%u is not mapped here", st.st_uid, st.st_gid);
    }
  if (fchmod (dst, st.st_mode & 07777) < 0)
    return herr_set (w->err, errno, "copy-up: chmod the mount's root: %s", strerror (errno));
  times[0] = st.st_atim;
  times[1] = st.st_mtim;
  if (futimens (dst, times) < 0)
    return herr_set (w->err, errno, "copy-up: set times of the mount's root: %s", strerror (errno));
  return 0;
}

int
copyup_tree (struct ctx *c, int old_dir, int new_dir, int with_root, const char *what, struct herr *err)
{
  uint64_t old_mnt, new_mnt;
  struct copy_walk w = { .c = c, .err = err };
  int src, dst, ret;

  /* "." from an fd resolves to that very directory; it does not step onto what is mounted over it. */
  src = openat (old_dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (src < 0)
    return herr_set (err, errno, "copy-up of %s: open the covered directory: %s", what, strerror (errno));
  dst = openat (new_dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dst < 0)
    {
      close (src);
      return herr_set (err, errno, "copy-up of %s: open the new mount: %s", what, strerror (errno));
    }
  if (mount_id_of (src, "", &old_mnt) < 0 || mount_id_of (dst, "", &new_mnt) < 0)
    ret = herr_set (err, errno, "copy-up of %s: statx: %s", what, strerror (errno));
  else if (old_mnt == new_mnt)
    /* Copying a directory into itself would never end. */
    ret = herr_set (err, EINVAL, "copy-up of %s: the new mount does not cover the old directory", what);
  else
    {
      w.mnt_id = old_mnt;
      ret = copy_dir (&w, src, dst, 0);
      if (ret == 0 && with_root)
        ret = copy_root_attrs (&w, src, dst);
    }
  if (ret < 0)
    {
      /* Name the mount as well: the entry's own message has only its last path component. */
      char inner[sizeof err->message];
      snprintf (inner, sizeof inner, "%s", err->message);
      herr_set (err, err->errnum, "%s (copying into %s)", inner, what);
    }
  close (src);
  close (dst);
  return ret;
}
