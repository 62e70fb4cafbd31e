/* JOIN_KEYRING: give the container a session keyring of its own. Without it the container process shares
 * the session keyring of whoever started the runtime, and with it any keys (e.g. credentials) linked there. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/keyctl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "helper.h"

/* Possessor: everything; user, group, other: view only (the layout of key_perm_t, see keyctl(2)). */
#define KEY_POS_ALL 0x3f000000
#define KEY_USR_VIEW 0x00010000
#define KEY_GRP_VIEW 0x00000100
#define KEY_OTH_VIEW 0x00000001

int
op_join_keyring (struct ctx *c, struct args *a, struct herr *err)
{
  (void) c;
  char *name = NULL;
  if (args_str (a, &name, err) < 0)
    return -1;
  long key = syscall (SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name, 0, 0, 0);
  if (key < 0)
    {
      int e = errno;
      /* Kernels without keyrings (or with the syscall filtered) cannot leak a keyring either. */
      if (e == ENOSYS)
        return 0;
      return herr_set (err, e, "keyctl join session keyring %s: %s", name, strerror (e));
    }
  if (syscall (SYS_keyctl, KEYCTL_SETPERM, key, KEY_POS_ALL | KEY_USR_VIEW | KEY_GRP_VIEW | KEY_OTH_VIEW, 0, 0) < 0)
    return herr_set (err, errno, "keyctl setperm %s: %s", name, strerror (errno));
  return 0;
}
