/* SECCOMP: build a filter with libseccomp from the plan's rules and load it (docs/protocol.md,
 * "SECCOMP args"). Every choice (actions with errno folded in, architectures, flags, comparison ops)
 * comes from the plan; libseccomp only compiles it to BPF. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>

#include "helper.h"

/* The kernel accepts at most 6 syscall arguments. */
#define MAX_SYSCALL_ARGS 6

/* seccomp(2) filter flags the plan may ask for, with the libseccomp attribute that turns each on.
 * Flags missing here are refused rather than silently dropped. */
static const struct
{
  uint32_t flag;
  enum scmp_filter_attr attr;
} flag_attrs[] = {
  { SECCOMP_FILTER_FLAG_TSYNC, SCMP_FLTATR_CTL_TSYNC },
  { SECCOMP_FILTER_FLAG_LOG, SCMP_FLTATR_CTL_LOG },
  { SECCOMP_FILTER_FLAG_SPEC_ALLOW, SCMP_FLTATR_CTL_SSB },
};

static int
set_flags (scmp_filter_ctx ctx, uint32_t flags, struct herr *err)
{
  int rc;
  for (size_t i = 0; i < sizeof flag_attrs / sizeof flag_attrs[0]; i++)
    {
      if (!(flags & flag_attrs[i].flag))
        continue;
      flags &= ~flag_attrs[i].flag;
      rc = seccomp_attr_set (ctx, flag_attrs[i].attr, 1);
      if (rc < 0)
        return herr_set (err, -rc, "seccomp filter flag 0x%x: %s", flag_attrs[i].flag, strerror (-rc));
    }
  if (flags)
    return herr_set (err, EINVAL, "unsupported seccomp filter flags 0x%x", flags);
  return 0;
}

static int
add_architectures (scmp_filter_ctx ctx, const struct strlist *arches, struct herr *err)
{
  for (uint32_t i = 0; i < arches->count; i++)
    {
      uint32_t arch = seccomp_arch_resolve_name (arches->items[i]);
      int rc;
      if (arch == 0)
        return herr_set (err, EINVAL, "unknown seccomp architecture %s", arches->items[i]);
      rc = seccomp_arch_add (ctx, arch);
      if (rc < 0 && rc != -EEXIST)
        return herr_set (err, -rc, "add seccomp architecture %s: %s", arches->items[i], strerror (-rc));
    }
  return 0;
}

/* Reads one rule from the args and adds it. The args are always consumed, even for a rule that is
 * skipped, so that the next rule starts at the right place. */
static int
add_rule (struct ctx *c, scmp_filter_ctx ctx, uint32_t default_action, struct args *a, struct herr *err)
{
  struct scmp_arg_cmp cmp[MAX_SYSCALL_ARGS];
  char *name;
  uint32_t action, count;
  int nr, rc, ret = -1;

  if (args_str (a, &name, err) < 0 || args_u32 (a, &action, err) < 0 || args_u32 (a, &count, err) < 0)
    return -1;
  if (count > MAX_SYSCALL_ARGS)
    {
      herr_set (err, EINVAL, "seccomp rule for %s has %u argument conditions (at most %d)", name, count,
                MAX_SYSCALL_ARGS);
      goto out;
    }
  for (uint32_t i = 0; i < count; i++)
    {
      uint32_t index, op;
      uint64_t value, value_two;
      if (args_u32 (a, &index, err) < 0 || args_u32 (a, &op, err) < 0 || args_u64 (a, &value, err) < 0
          || args_u64 (a, &value_two, err) < 0)
        goto out;
      cmp[i] = (struct scmp_arg_cmp){ .arg = index, .op = (enum scmp_compare) op, .datum_a = value,
                                      .datum_b = value_two };
    }

  nr = seccomp_syscall_resolve_name (name);
  if (nr == __NR_SCMP_ERROR)
    {
      /* Profiles list syscalls of newer kernels and other architectures; skipping an unknown name keeps
       * one profile usable everywhere (runc and crun behave the same). */
      log_debug (c, "seccomp: unknown syscall %s, rule skipped", name);
      ret = 0;
      goto out;
    }
  if (action == default_action)
    {
      /* libseccomp refuses such a rule (EACCES); it would not change the filter anyway. */
      log_debug (c, "seccomp: rule for %s has the default action, skipped", name);
      ret = 0;
      goto out;
    }
  rc = seccomp_rule_add_array (ctx, action, nr, count, cmp);
  if (rc < 0)
    {
      herr_set (err, -rc, "seccomp rule for %s: %s", name, strerror (-rc));
      goto out;
    }
  ret = 0;
out:
  free (name);
  return ret;
}

int
op_seccomp (struct ctx *c, struct args *a, struct herr *err)
{
  struct strlist arches = { NULL, 0 };
  uint32_t default_action, flags, rule_count;
  scmp_filter_ctx ctx = NULL;
  int rc, ret = -1;

  if (args_u32 (a, &default_action, err) < 0 || args_strlist (a, &arches, err) < 0
      || args_u32 (a, &flags, err) < 0 || args_u32 (a, &rule_count, err) < 0)
    goto out;
  ctx = seccomp_init (default_action);
  if (ctx == NULL)
    {
      herr_set (err, EINVAL, "seccomp: invalid default action 0x%x", default_action);
      goto out;
    }
  /* libseccomp sets no_new_privs on load unless told otherwise; whether the process gets it is the
   * plan's decision (the NO_NEW_PRIVS op), so the library must not add it behind the plan's back.
   * Without it, loading needs CAP_SYS_ADMIN, which the plan arranges by ordering SECCOMP before CAPS. */
  rc = seccomp_attr_set (ctx, SCMP_FLTATR_CTL_NNP, 0);
  if (rc < 0)
    {
      herr_set (err, -rc, "seccomp: clear no_new_privs attribute: %s", strerror (-rc));
      goto out;
    }
  if (add_architectures (ctx, &arches, err) < 0 || set_flags (ctx, flags, err) < 0)
    goto out;
  for (uint32_t i = 0; i < rule_count; i++)
    if (add_rule (c, ctx, default_action, a, err) < 0)
      goto out;
  rc = seccomp_load (ctx);
  if (rc < 0)
    {
      herr_set (err, -rc, "seccomp_load: %s", strerror (-rc));
      goto out;
    }
  ret = 0;
out:
  if (ctx)
    seccomp_release (ctx);
  strlist_free (&arches);
  return ret;
}
