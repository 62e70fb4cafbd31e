/* Helpers shared by path.c, mount.c, rootfs.c and devices.c; private to those files, not part of the op
 * interface in helper.h. */
#ifndef STASIS_ROOTFS_INTERNAL_H
#define STASIS_ROOTFS_INTERNAL_H

#include "helper.h"

/* mount(NULL, fd, NULL, MS_REMOUNT|flags); on EPERM retries once with the flags the kernel has locked on
 * that mount (see mount.c). `what` names the path in error messages. */
int remount_keep_locked (struct ctx *c, int fd, const char *what, unsigned long flags, struct herr *err);

/* mount(source, "/proc/self/fd/<target_fd>", ...) with NULL for empty strings. */
int mount_on_fd (const char *source, int target_fd, const char *fstype, unsigned long flags, const char *data);

/* Opens the parent directory of path (O_PATH, resolved like path_open; missing parents are created first
 * when create_parents) and copies the last name into name. The name is "" when path names the root. */
int path_open_parent (struct ctx *c, uint32_t base, const char *path, char *name, size_t namelen, int create_parents,
                      struct herr *err);

#endif
