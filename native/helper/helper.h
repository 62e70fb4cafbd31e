/* Internal interface of stasis-helper: the interpreter context, the arg reader, the error convention and
 * one function per op. Error convention (crun's): functions return 0 on success or -1 after filling
 * `struct herr` with errno and a short message; the interpreter turns that into an error event that
 * names the step. Ops decide nothing: every choice arrives in the plan. */
#ifndef STASIS_HELPER_H
#define STASIS_HELPER_H

#include <stddef.h>
#include <stdint.h>
#include "../include/protocol.h"

/* Error filled by a failing op. */
struct herr {
  int errnum;          /* errno value (0 when not an OS error) */
  char message[512];   /* short lower-case text without the step description, e.g. "mount: Permission denied" */
};

/* Fills err and returns -1. errnum is also stored into errno. */
int herr_set (struct herr *err, int errnum, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

/* Sequential reader over one op's args; every getter checks the tag and the bounds. */
struct args {
  const uint8_t *p;
  const uint8_t *end;
};

/* A string list decoded from ARG_STRLIST: NULL-terminated vector of NUL-terminated copies. */
struct strlist {
  char **items; /* items[count] == NULL */
  uint32_t count;
};

int args_u32 (struct args *a, uint32_t *out, struct herr *err);
int args_u64 (struct args *a, uint64_t *out, struct herr *err);
/* Returns a malloc'd NUL-terminated copy (owned by the caller; ops may leak in the exec path). */
int args_str (struct args *a, char **out, struct herr *err);
int args_strlist (struct args *a, struct strlist *out, struct herr *err);
void strlist_free (struct strlist *l);

/* State carried between ops. */
struct ctx {
  int ctl_fd;          /* STASIS_FD_CTL, -1 after READY */
  int log_fd;          /* STASIS_FD_LOG, -1 when absent */
  int rootfs_fd;       /* O_PATH dir fd set by SET_ROOTFS / refreshed by PIVOT_ROOT and MOVE_ROOT, -1 before */
  char *rootfs_path;   /* host path given to SET_ROOTFS (needed by PIVOT_ROOT / MOVE_ROOT) */
  int console_sock;    /* connected console socket from CONNECT_CONSOLE, -1 when none */
  int fifo_fd;         /* O_PATH fd of exec.fifo from OPEN_FIFO, -1 when none */
  char *exec_path;     /* resolved by LOOKUP_EXEC */
  uint8_t *sync_payload;   /* payload of the last CONTINUE frame (OCI state JSON), may be NULL */
  size_t sync_payload_len;
  int step;            /* index of the op being run, for logs */
};

/* Channels (io.c). */
/* Sends one EVENT frame and waits (bounded) until the peer has read it, so an exit right after cannot
 * overtake the event. */
int ctl_send_event (struct ctx *c, const char *json);
int ctl_read_frame (struct ctx *c, uint8_t *kind, uint8_t **payload, size_t *len, struct herr *err);
void log_debug (struct ctx *c, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
/* Appends s to out as a JSON string literal (with quotes); out has room for outlen bytes. */
void json_quote (char *out, size_t outlen, const char *s);

/* Path helpers (path.c): resolve inside the rootfs without escaping it. */
/* Opens path under base with O_PATH|O_CLOEXEC (+extra flags); BASE_ROOTFS uses openat2 RESOLVE_IN_ROOT. */
int path_open (struct ctx *c, uint32_t base, const char *path, int extra_flags, struct herr *err);
/* Creates missing directories of path (all components when last_too) inside base, safely. */
int path_mkdir_all (struct ctx *c, uint32_t base, const char *path, uint32_t mode, int last_too, struct herr *err);
/* Creates an empty regular file at path (parents created) if nothing is there yet. */
int path_create_file (struct ctx *c, uint32_t base, const char *path, struct herr *err);
/* Formats "/proc/self/fd/N" into buf. */
void fd_path (char *buf, size_t len, int fd);

/* Ops. Each reads its own args from `a`. Grouped by file. */
/* ns.c */
int op_setns (struct ctx *c, struct args *a, struct herr *err);
int op_unshare (struct ctx *c, struct args *a, struct herr *err);
int op_clone (struct ctx *c, struct args *a, struct herr *err);   /* returns in the child only */
int op_setid (struct ctx *c, struct args *a, struct herr *err);
int op_sethostname (struct ctx *c, struct args *a, struct herr *err);
int op_setdomainname (struct ctx *c, struct args *a, struct herr *err);
/* sync.c */
int op_sync (struct ctx *c, struct args *a, struct herr *err);
int op_ready (struct ctx *c, struct args *a, struct herr *err);
int op_open_fifo (struct ctx *c, struct args *a, struct herr *err);
int op_wait_start (struct ctx *c, struct args *a, struct herr *err);
int op_run_hook (struct ctx *c, struct args *a, struct herr *err);
/* console.c */
int op_connect_console (struct ctx *c, struct args *a, struct herr *err);
int op_use_console_fd (struct ctx *c, struct args *a, struct herr *err);
int op_console (struct ctx *c, struct args *a, struct herr *err);
/* mount.c */
int op_set_rootfs (struct ctx *c, struct args *a, struct herr *err);
int op_mount (struct ctx *c, struct args *a, struct herr *err);
int op_remount (struct ctx *c, struct args *a, struct herr *err);
int op_propagation (struct ctx *c, struct args *a, struct herr *err);
int op_mkdir (struct ctx *c, struct args *a, struct herr *err);
int op_write_file (struct ctx *c, struct args *a, struct herr *err);
/* copyup.c: copies the tree of old_dir (an fd opened before a mount covered it) into new_dir, the root of
 * that mount, without following any symlink; with_root also gives new_dir old_dir's owner, mode and times;
 * `what` names the mount point in errors. */
int copyup_tree (struct ctx *c, int old_dir, int new_dir, int with_root, const char *what, struct herr *err);
/* rootfs.c */
int op_pivot_root (struct ctx *c, struct args *a, struct herr *err);
int op_move_root (struct ctx *c, struct args *a, struct herr *err);
int op_chroot (struct ctx *c, struct args *a, struct herr *err);
int op_umount (struct ctx *c, struct args *a, struct herr *err);
int op_mask_path (struct ctx *c, struct args *a, struct herr *err);
int op_readonly_path (struct ctx *c, struct args *a, struct herr *err);
/* devices.c */
int op_mknod (struct ctx *c, struct args *a, struct herr *err);
int op_symlink (struct ctx *c, struct args *a, struct herr *err);
int op_bind_device (struct ctx *c, struct args *a, struct herr *err);
/* process.c */
int op_setrlimit (struct ctx *c, struct args *a, struct herr *err);
int op_personality (struct ctx *c, struct args *a, struct herr *err);
int op_umask (struct ctx *c, struct args *a, struct herr *err);
int op_no_new_privs (struct ctx *c, struct args *a, struct herr *err);
int op_keepcaps (struct ctx *c, struct args *a, struct herr *err);
int op_setuser (struct ctx *c, struct args *a, struct herr *err);
int op_caps (struct ctx *c, struct args *a, struct herr *err);
int op_chdir (struct ctx *c, struct args *a, struct herr *err);
int op_setsid (struct ctx *c, struct args *a, struct herr *err);
/* seccomp.c */
int op_seccomp (struct ctx *c, struct args *a, struct herr *err);
/* exec.c */
int op_lookup_exec (struct ctx *c, struct args *a, struct herr *err);
int op_fdmap (struct ctx *c, struct args *a, struct herr *err);
int op_close_fds (struct ctx *c, struct args *a, struct herr *err);
int op_exec (struct ctx *c, struct args *a, struct herr *err);

/* keyring.c */
int op_join_keyring (struct ctx *c, struct args *a, struct herr *err);
/* net.c */
int op_loopback_up (struct ctx *c, struct args *a, struct herr *err);

/* seal.c: re-exec from a sealed memfd copy unless already running from one (CVE-2019-5736). */
int seal_self_if_needed (int argc, char **argv);

#endif
