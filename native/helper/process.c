/* Process attributes of the container process: limits, personality, umask, privileges (user, groups,
 * capabilities), working directory and session. Capabilities use the raw syscalls so the helper needs
 * no libcap. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/openat2.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "helper.h"

int
op_setrlimit (struct ctx *c, struct args *a, struct herr *err)
{
  uint32_t resource;
  uint64_t soft, hard;
  (void) c;
  if (args_u32 (a, &resource, err) < 0 || args_u64 (a, &soft, err) < 0 || args_u64 (a, &hard, err) < 0)
    return -1;
  struct rlimit64 lim = { .rlim_cur = soft, .rlim_max = hard };
  if (prlimit64 (0, (enum __rlimit_resource) resource, &lim, NULL) < 0)
    return herr_set (err, errno, "setrlimit %u to %llu/%llu: %s", resource, (unsigned long long) soft,
                     (unsigned long long) hard, strerror (errno));
  return 0;
}

int
op_personality (struct ctx *c, struct args *a, struct herr *err)
{
  uint32_t persona;
  (void) c;
  if (args_u32 (a, &persona, err) < 0)
    return -1;
  if (personality (persona) < 0)
    return herr_set (err, errno, "personality 0x%x: %s", persona, strerror (errno));
  return 0;
}

int
op_umask (struct ctx *c, struct args *a, struct herr *err)
{
  uint32_t mask;
  (void) c;
  if (args_u32 (a, &mask, err) < 0)
    return -1;
  if (mask > 0777)
    return herr_set (err, EINVAL, "umask %o has bits outside 0777", mask);
  umask ((mode_t) mask);
  return 0;
}

int
op_no_new_privs (struct ctx *c, struct args *a, struct herr *err)
{
  (void) c;
  (void) a;
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return herr_set (err, errno, "set no_new_privs: %s", strerror (errno));
  return 0;
}

int
op_keepcaps (struct ctx *c, struct args *a, struct herr *err)
{
  uint32_t on;
  (void) c;
  if (args_u32 (a, &on, err) < 0)
    return -1;
  if (prctl (PR_SET_KEEPCAPS, on ? 1 : 0, 0, 0, 0) < 0)
    return herr_set (err, errno, "set keepcaps to %u: %s", on ? 1 : 0, strerror (errno));
  return 0;
}

/* Strict decimal id: digits only, below (gid_t) -1, which the kernel reserves as "no change". */
static int
parse_id (const char *s, gid_t *out)
{
  if (*s == 0)
    return -1;
  unsigned long long v = 0;
  for (const char *p = s; *p; p++)
    {
      if (*p < '0' || *p > '9')
        return -1;
      v = v * 10 + (unsigned long long) (*p - '0');
      if (v >= 0xffffffffULL)
        return -1;
    }
  *out = (gid_t) v;
  return 0;
}

int
op_setuser (struct ctx *c, struct args *a, struct herr *err)
{
  uint32_t uid, gid, set_groups;
  struct strlist groups;
  (void) c;
  if (args_u32 (a, &uid, err) < 0 || args_u32 (a, &gid, err) < 0 || args_strlist (a, &groups, err) < 0)
    return -1;
  if (args_u32 (a, &set_groups, err) < 0)
    return -1;
  gid_t *list = calloc (groups.count ? groups.count : 1, sizeof *list);
  if (list == NULL)
    return herr_set (err, ENOMEM, "additional gids: out of memory");
  for (uint32_t i = 0; i < groups.count; i++)
    if (parse_id (groups.items[i], &list[i]) < 0)
      {
        herr_set (err, EINVAL, "additional gid %s is not a decimal id", groups.items[i]);
        free (list);
        return -1;
      }
  /* setgroups is refused in a user namespace with setgroups=deny: TS only asks when it is allowed. */
  if (set_groups && setgroups (groups.count, list) < 0)
    {
      int e = errno;
      free (list);
      return herr_set (err, e, "setgroups (%u gids): %s", groups.count, strerror (e));
    }
  free (list);
  strlist_free (&groups);
  if (setresgid (gid, gid, gid) < 0)
    return herr_set (err, errno, "setresgid %u: %s", gid, strerror (errno));
  if (setresuid (uid, uid, uid) < 0)
    return herr_set (err, errno, "setresuid %u: %s", uid, strerror (errno));
  return 0;
}

static int
capget3 (struct __user_cap_data_struct data[2])
{
  struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  return (int) syscall (SYS_capget, &hdr, data);
}

static int
capset3 (uint64_t eff, uint64_t perm, uint64_t inh)
{
  struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct data[2] = {
    { .effective = (uint32_t) eff, .permitted = (uint32_t) perm, .inheritable = (uint32_t) inh },
    { .effective = (uint32_t) (eff >> 32), .permitted = (uint32_t) (perm >> 32),
      .inheritable = (uint32_t) (inh >> 32) },
  };
  return (int) syscall (SYS_capset, &hdr, data);
}

/* The highest capability this kernel knows; probing the bounding set works when /proc is not there
 * (e.g. after pivot_root into a rootfs without proc). */
static int
last_cap (void)
{
  FILE *f = fopen ("/proc/sys/kernel/cap_last_cap", "re");
  int last = -1;
  if (f != NULL)
    {
      if (fscanf (f, "%d", &last) != 1)
        last = -1;
      fclose (f);
    }
  if (last >= 0 && last < 64)
    return last;
  for (last = 0; last < 63 && prctl (PR_CAPBSET_READ, last + 1, 0, 0, 0) >= 0; last++)
    ;
  return last;
}

int
op_caps (struct ctx *c, struct args *a, struct herr *err)
{
  uint64_t bounding, effective, permitted, inheritable, ambient;
  (void) c;
  if (args_u64 (a, &bounding, err) < 0 || args_u64 (a, &effective, err) < 0 || args_u64 (a, &permitted, err) < 0
      || args_u64 (a, &inheritable, err) < 0 || args_u64 (a, &ambient, err) < 0)
    return -1;
  int last = last_cap ();

  /* Dropping from the bounding set needs CAP_SETPCAP in the effective set, which a preceding SETUSER
   * (with keepcaps) has cleared: raise effective to what is still permitted for the drop. */
  struct __user_cap_data_struct cur[2];
  if (capget3 (cur) < 0)
    return herr_set (err, errno, "capget: %s", strerror (errno));
  uint64_t cur_perm = (uint64_t) cur[0].permitted | (uint64_t) cur[1].permitted << 32;
  uint64_t cur_inh = (uint64_t) cur[0].inheritable | (uint64_t) cur[1].inheritable << 32;
  if (capset3 (cur_perm, cur_perm, cur_inh) < 0)
    return herr_set (err, errno, "raise the effective capabilities: %s", strerror (errno));

  for (int cap = 0; cap <= last; cap++)
    {
      if (bounding & (1ULL << cap))
        continue;
      int in_set = prctl (PR_CAPBSET_READ, cap, 0, 0, 0);
      if (in_set > 0 && prctl (PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
        return herr_set (err, errno, "drop capability %d from the bounding set: %s", cap, strerror (errno));
    }
  if (capset3 (effective, permitted, inheritable) < 0)
    return herr_set (err, errno, "capset (effective 0x%llx, permitted 0x%llx, inheritable 0x%llx): %s",
                     (unsigned long long) effective, (unsigned long long) permitted,
                     (unsigned long long) inheritable, strerror (errno));
  /* The ambient set becomes exactly the mask. Clearing fails only on kernels without ambient caps,
   * which matters only when some are asked for. */
  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && ambient != 0)
    return herr_set (err, errno, "clear the ambient capabilities: %s", strerror (errno));
  for (int cap = 0; cap <= last; cap++)
    if ((ambient & (1ULL << cap)) && prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
      return herr_set (err, errno, "raise ambient capability %d: %s", cap, strerror (errno));
  return 0;
}

/* CVE-2024-21626: any directory fd the helper still holds at this point (one leaked by the caller, which
 * CLOSE_FDS only marks close-on-exec later) turns "/proc/self/fd/N" into a way out of the root, and a process
 * whose cwd is on the host can reach every host file with relative paths. The cwd is therefore resolved
 * inside the current root without following /proc magic links, and then checked: the kernel reports a cwd
 * outside the root as unreachable, which glibc's getcwd turns into ENOENT. */
int
op_chdir (struct ctx *c, struct args *a, struct herr *err)
{
  char *path, cwd[PATH_MAX];
  int root, dir, ret = -1;
  (void) c;
  if (args_str (a, &path, err) < 0)
    return -1;
  root = open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0)
    {
      herr_set (err, errno, "chdir %s: open /: %s", path, strerror (errno));
      goto out;
    }
  struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
  do
    dir = (int) syscall (SYS_openat2, root, path, &how, sizeof how);
  while (dir < 0 && (errno == EAGAIN || errno == EINTR));
  close (root);
  if (dir < 0)
    {
      herr_set (err, errno, "chdir %s: %s", path, errno == ELOOP ? "a /proc magic link or too many symlinks" : strerror (errno));
      goto out;
    }
  if (fchdir (dir) < 0)
    herr_set (err, errno, "chdir %s: %s", path, strerror (errno));
  else if (getcwd (cwd, sizeof cwd) == NULL && errno == ENOENT)
    herr_set (err, EPERM, "chdir %s: the directory is outside the container root", path);
  else
    ret = 0;
  close (dir);
out:
  free (path);
  return ret;
}

int
op_setsid (struct ctx *c, struct args *a, struct herr *err)
{
  (void) c;
  (void) a;
  if (setsid () < 0)
    return herr_set (err, errno, "setsid: %s", strerror (errno));
  return 0;
}
