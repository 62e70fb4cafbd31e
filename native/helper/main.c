/* stasis-helper: re-exec from a sealed copy, read the plan from ctl, check its whole structure, then run
 * the ops in order. The first failing op ends the helper with one `error` event naming the step. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "helper.h"

/* Arg signature letters: u = u32, U = u64, s = str, l = strlist, '#' = the SECCOMP layout. Checking the
 * whole plan against these before the first op runs means a malformed plan is refused before it has
 * any effect, instead of failing half-way through a container setup. */
struct op_def
{
  const char *name;
  int (*run) (struct ctx *c, struct args *a, struct herr *err);
  const char *sig;
};

static const struct op_def op_table[OP_MAX] = {
  [OP_SETNS] = { "SETNS", op_setns, "su" },
  [OP_UNSHARE] = { "UNSHARE", op_unshare, "U" },
  [OP_WRITE_FILE] = { "WRITE_FILE", op_write_file, "uss" },
  [OP_CONNECT_CONSOLE] = { "CONNECT_CONSOLE", op_connect_console, "s" },
  [OP_OPEN_FIFO] = { "OPEN_FIFO", op_open_fifo, "s" },
  [OP_CLONE] = { "CLONE", op_clone, "Uu" },
  [OP_SYNC] = { "SYNC", op_sync, "s" },
  [OP_SETID] = { "SETID", op_setid, "uu" },
  [OP_SET_ROOTFS] = { "SET_ROOTFS", op_set_rootfs, "s" },
  [OP_MOUNT] = { "MOUNT", op_mount, "sussUsuu" },
  [OP_REMOUNT] = { "REMOUNT", op_remount, "usU" },
  [OP_PROPAGATION] = { "PROPAGATION", op_propagation, "usU" },
  [OP_MKNOD] = { "MKNOD", op_mknod, "suuuuu" },
  [OP_SYMLINK] = { "SYMLINK", op_symlink, "ss" },
  [OP_PIVOT_ROOT] = { "PIVOT_ROOT", op_pivot_root, "" },
  [OP_MOVE_ROOT] = { "MOVE_ROOT", op_move_root, "" },
  [OP_MASK_PATH] = { "MASK_PATH", op_mask_path, "s" },
  [OP_READONLY_PATH] = { "READONLY_PATH", op_readonly_path, "s" },
  [OP_SETHOSTNAME] = { "SETHOSTNAME", op_sethostname, "s" },
  [OP_SETDOMAINNAME] = { "SETDOMAINNAME", op_setdomainname, "s" },
  [OP_RUN_HOOK] = { "RUN_HOOK", op_run_hook, "sllu" },
  [OP_CONSOLE] = { "CONSOLE", op_console, "uu" },
  [OP_READY] = { "READY", op_ready, "" },
  [OP_WAIT_START] = { "WAIT_START", op_wait_start, "" },
  [OP_SETRLIMIT] = { "SETRLIMIT", op_setrlimit, "uUU" },
  [OP_PERSONALITY] = { "PERSONALITY", op_personality, "u" },
  [OP_UMASK] = { "UMASK", op_umask, "u" },
  [OP_NO_NEW_PRIVS] = { "NO_NEW_PRIVS", op_no_new_privs, "" },
  [OP_KEEPCAPS] = { "KEEPCAPS", op_keepcaps, "u" },
  [OP_SETUSER] = { "SETUSER", op_setuser, "uulu" },
  [OP_CAPS] = { "CAPS", op_caps, "UUUUU" },
  [OP_SECCOMP] = { "SECCOMP", op_seccomp, "#" },
  [OP_CHDIR] = { "CHDIR", op_chdir, "s" },
  [OP_LOOKUP_EXEC] = { "LOOKUP_EXEC", op_lookup_exec, "ss" },
  [OP_FDMAP] = { "FDMAP", op_fdmap, "l" },
  [OP_CLOSE_FDS] = { "CLOSE_FDS", op_close_fds, "u" },
  [OP_EXEC] = { "EXEC", op_exec, "ll" },
  [OP_SETSID] = { "SETSID", op_setsid, "" },
  [OP_BIND_DEVICE] = { "BIND_DEVICE", op_bind_device, "ss" },
  [OP_MKDIR] = { "MKDIR", op_mkdir, "usu" },
  [OP_JOIN_KEYRING] = { "JOIN_KEYRING", op_join_keyring, "s" },
  [OP_LOOPBACK_UP] = { "LOOPBACK_UP", op_loopback_up, "" },
  [OP_USE_CONSOLE_FD] = { "USE_CONSOLE_FD", op_use_console_fd, "u" },
  [OP_CHROOT] = { "CHROOT", op_chroot, "" },
  [OP_UMOUNT] = { "UMOUNT", op_umount, "su" },
};

/* One op of the plan, located inside the PLAN payload. */
struct plan_op
{
  uint16_t code;
  const uint8_t *args;
  uint32_t args_len;
};

static struct ctx ctx = {
  .ctl_fd = -1, .log_fd = -1, .rootfs_fd = -1, .console_sock = -1, .fifo_fd = -1, .step = -1,
};

/* Test hook (docs/protocol.md "Fault injection"): STASIS_HELPER_FAULT=<step index> makes whichever
 * process is about to run that step SIGKILL itself, so the fault tests can stop setup at every step
 * (the parent before CLONE, the child after it).
 * It can only make the helper die, which anything able to set our environment could do anyway. */
static long
fault_step (void)
{
  const char *v = getenv ("STASIS_HELPER_FAULT");
  if (v == NULL || *v == '\0')
    return -1;
  char *end;
  long n = strtol (v, &end, 10);
  return *end == '\0' && n >= 0 ? n : -1;
}

static const struct op_def *
op_lookup (uint16_t code)
{
  return code < OP_MAX && op_table[code].run != NULL ? &op_table[code] : NULL;
}

/* Reports a failure and exits 1. Step -1 means the plan as a whole (or the startup before it). */
static void __attribute__ ((noreturn))
fail (int step, const char *op, const struct herr *err)
{
  char ev[4096];
  snprintf (ev, sizeof ev, "{\"type\":\"error\",\"step\":%d,\"op\":", step);
  json_quote (ev, sizeof ev - 600, op);
  snprintf (ev + strlen (ev), sizeof ev - strlen (ev), ",\"errno\":%d,\"message\":", err->errnum);
  json_quote (ev, sizeof ev - 2, err->message);
  strcat (ev, "}");
  if (ctl_send_event (&ctx, ev) < 0)
    {
      /* ctl is gone (after READY, or TS died): the log and stderr are the only places left. */
      log_debug (&ctx, "error: step %d (%s): %s", step, op, err->message);
      dprintf (STDERR_FILENO, "stasis-helper: step %d (%s): %s\n", step, op, err->message);
    }
  exit (1);
}

static int
fd_is_open (int fd)
{
  return fcntl (fd, F_GETFD) >= 0;
}

static uint32_t
le32 (const uint8_t *p)
{
  return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

/* str name, u32 action, u32 arg_count, then per arg: u32 index, u32 op, u64 value, u64 value_two. */
static int
check_seccomp_rule (struct args *a, struct herr *err)
{
  char *name = NULL;
  uint32_t action, argc, u;
  uint64_t v;
  if (args_str (a, &name, err) < 0)
    return -1;
  free (name);
  if (args_u32 (a, &action, err) < 0 || args_u32 (a, &argc, err) < 0)
    return -1;
  for (uint32_t i = 0; i < argc; i++)
    if (args_u32 (a, &u, err) < 0 || args_u32 (a, &u, err) < 0 || args_u64 (a, &v, err) < 0
        || args_u64 (a, &v, err) < 0)
      return -1;
  return 0;
}

/* u32 default_action, strlist architectures, u32 filter_flags, u32 rule_count, rules. */
static int
check_seccomp_args (struct args *a, struct herr *err)
{
  uint32_t u, rules;
  struct strlist arches;
  if (args_u32 (a, &u, err) < 0 || args_strlist (a, &arches, err) < 0)
    return -1;
  strlist_free (&arches);
  if (args_u32 (a, &u, err) < 0 || args_u32 (a, &rules, err) < 0)
    return -1;
  for (uint32_t i = 0; i < rules; i++)
    if (check_seccomp_rule (a, err) < 0)
      return -1;
  return 0;
}

static int
check_signature (const char *sig, struct args *a, struct herr *err)
{
  if (sig[0] == '#')
    return check_seccomp_args (a, err);
  for (; *sig; sig++)
    {
      uint32_t u;
      uint64_t v;
      char *s;
      struct strlist l;
      int ret;
      switch (*sig)
        {
        case 'u':
          ret = args_u32 (a, &u, err);
          break;
        case 'U':
          ret = args_u64 (a, &v, err);
          break;
        case 's':
          ret = args_str (a, &s, err);
          free (s);
          break;
        default:
          ret = args_strlist (a, &l, err);
          strlist_free (&l);
          break;
        }
      if (ret < 0)
        return -1;
    }
  if (a->p != a->end)
    return herr_set (err, EINVAL, "malformed args: %zu unexpected trailing bytes", (size_t) (a->end - a->p));
  return 0;
}

/* Splits the PLAN payload into ops and checks every one; fails (exits) on the first problem. */
static struct plan_op *
parse_plan (const uint8_t *p, size_t len, uint32_t *count_out)
{
  struct herr err = { 0 };
  if (len < 8)
    {
      herr_set (&err, EINVAL, "plan of %zu bytes is shorter than its 8-byte header", len);
      fail (-1, "PLAN", &err);
    }
  uint32_t version = le32 (p), count = le32 (p + 4);
  if (version != STASIS_PROTOCOL_VERSION)
    {
      herr_set (&err, EPROTO, "plan protocol version %u, this helper speaks version %u", version,
                STASIS_PROTOCOL_VERSION);
      fail (-1, "PLAN", &err);
    }
  const uint8_t *cur = p + 8, *end = p + len;
  if ((uint64_t) count * 8 > (uint64_t) (end - cur))
    {
      herr_set (&err, EINVAL, "plan claims %u ops but holds only %zu bytes", count, (size_t) (end - cur));
      fail (-1, "PLAN", &err);
    }
  struct plan_op *ops = calloc (count ? count : 1, sizeof *ops);
  if (ops == NULL)
    {
      herr_set (&err, ENOMEM, "plan of %u ops: out of memory", count);
      fail (-1, "PLAN", &err);
    }
  for (uint32_t i = 0; i < count; i++)
    {
      if (end - cur < 8)
        {
          herr_set (&err, EINVAL, "plan truncated in the header of op %u", i);
          fail ((int) i, "PLAN", &err);
        }
      uint16_t code = (uint16_t) (cur[0] | cur[1] << 8);
      uint16_t reserved = (uint16_t) (cur[2] | cur[3] << 8);
      uint32_t args_len = le32 (cur + 4);
      cur += 8;
      const struct op_def *def = op_lookup (code);
      if (def == NULL)
        {
          herr_set (&err, EINVAL, "unknown op code %u", code);
          fail ((int) i, "UNKNOWN", &err);
        }
      if (reserved != 0)
        {
          herr_set (&err, EINVAL, "reserved field of the op header is %u, must be 0", reserved);
          fail ((int) i, def->name, &err);
        }
      if (args_len > (size_t) (end - cur))
        {
          herr_set (&err, EINVAL, "args of %u bytes run past the end of the plan", args_len);
          fail ((int) i, def->name, &err);
        }
      struct args a = { cur, cur + args_len };
      if (check_signature (def->sig, &a, &err) < 0)
        fail ((int) i, def->name, &err);
      ops[i] = (struct plan_op) { code, cur, args_len };
      cur += args_len;
    }
  if (cur != end)
    {
      herr_set (&err, EINVAL, "%zu unexpected bytes after the last op", (size_t) (end - cur));
      fail (-1, "PLAN", &err);
    }
  *count_out = count;
  return ops;
}

int
main (int argc, char **argv)
{
  struct herr err = { 0 };
  /* Before anything else: nothing may run from the on-disk binary once a container could see us. */
  if (seal_self_if_needed (argc, argv) < 0)
    {
      int e = errno;
      ctx.ctl_fd = fd_is_open (STASIS_FD_CTL) ? STASIS_FD_CTL : -1;
      herr_set (&err, e, "re-exec from a sealed copy of the helper: %s", strerror (e));
      fail (-1, "SEAL", &err);
    }
  if (!fd_is_open (STASIS_FD_CTL))
    {
      dprintf (STDERR_FILENO, "stasis-helper: fd %d (ctl) is not open; this program is started by stasis\n",
               STASIS_FD_CTL);
      return 1;
    }
  ctx.ctl_fd = STASIS_FD_CTL;
  ctx.log_fd = fd_is_open (STASIS_FD_LOG) ? STASIS_FD_LOG : -1;
  /* Our own channels must never reach a hook or the container process (CVE-2024-21626 style leaks). */
  fcntl (ctx.ctl_fd, F_SETFD, FD_CLOEXEC);
  if (ctx.log_fd >= 0)
    fcntl (ctx.log_fd, F_SETFD, FD_CLOEXEC);

  uint8_t kind;
  uint8_t *payload;
  size_t len;
  if (ctl_read_frame (&ctx, &kind, &payload, &len, &err) < 0)
    fail (-1, "PLAN", &err);
  if (kind != FRAME_PLAN)
    {
      herr_set (&err, EPROTO, "first frame has kind %u, expected PLAN (%u)", kind, FRAME_PLAN);
      fail (-1, "PLAN", &err);
    }
  uint32_t count;
  struct plan_op *ops = parse_plan (payload, len, &count);
  log_debug (&ctx, "plan of %u ops accepted", count);
  long die_at = fault_step ();

  for (uint32_t i = 0; i < count; i++)
    {
      const struct op_def *def = op_lookup (ops[i].code);
      if (def == NULL) /* parse_plan has refused unknown codes; this keeps the loop safe on its own */
        abort ();
      struct args a = { ops[i].args, ops[i].args + ops[i].args_len };
      ctx.step = (int) i;
      log_debug (&ctx, "step %u: %s", i, def->name);
      if (die_at == (long) i)
        {
          kill (getpid (), SIGKILL);
          /* Still here: we are the init of a new pid namespace, which its own SIGKILL cannot reach.
           * _exit is just as abrupt for everyone else (no cleanup, fds closed by the kernel). */
          _exit (128 + SIGKILL);
        }
      if (def->run (&ctx, &a, &err) < 0)
        fail ((int) i, def->name, &err);
      /* The signature check passed, so leftovers mean the op and the table disagree: a helper bug. */
      if (a.p != a.end)
        {
          herr_set (&err, EINVAL, "op left %zu argument bytes unread", (size_t) (a.end - a.p));
          fail ((int) i, def->name, &err);
        }
    }
  log_debug (&ctx, "plan finished");
  return 0;
}
