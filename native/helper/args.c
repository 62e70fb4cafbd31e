/* Sequential, tag-checked reader over one op's args. The plan comes from another process, so every
 * read checks the tag and the remaining length before touching a byte: a malformed plan yields EINVAL
 * with a message, never an out-of-bounds read. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "helper.h"

static const char *
tag_name (uint8_t tag)
{
  switch (tag)
    {
    case ARG_U32:
      return "u32";
    case ARG_U64:
      return "u64";
    case ARG_STR:
      return "str";
    case ARG_STRLIST:
      return "strlist";
    default:
      return "unknown";
    }
}

static size_t
remaining (const struct args *a)
{
  return a->p < a->end ? (size_t) (a->end - a->p) : 0;
}

static int
expect_tag (struct args *a, uint8_t want, struct herr *err)
{
  if (remaining (a) == 0)
    return herr_set (err, EINVAL, "malformed args: missing %s argument", tag_name (want));
  if (*a->p != want)
    return herr_set (err, EINVAL, "malformed args: expected a %s argument, found tag %u (%s)", tag_name (want),
                     *a->p, tag_name (*a->p));
  a->p++;
  return 0;
}

static int
need (struct args *a, size_t n, const char *what, struct herr *err)
{
  if (remaining (a) < n)
    return herr_set (err, EINVAL, "malformed args: %s argument truncated (%zu bytes needed, %zu left)", what, n,
                     remaining (a));
  return 0;
}

static uint32_t
le32 (const uint8_t *p)
{
  return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

int
args_u32 (struct args *a, uint32_t *out, struct herr *err)
{
  if (expect_tag (a, ARG_U32, err) < 0 || need (a, 4, "u32", err) < 0)
    return -1;
  *out = le32 (a->p);
  a->p += 4;
  return 0;
}

int
args_u64 (struct args *a, uint64_t *out, struct herr *err)
{
  if (expect_tag (a, ARG_U64, err) < 0 || need (a, 8, "u64", err) < 0)
    return -1;
  *out = (uint64_t) le32 (a->p) | (uint64_t) le32 (a->p + 4) << 32;
  a->p += 8;
  return 0;
}

/* Reads `u32 len | bytes` (no tag) into a fresh NUL-terminated copy. An embedded NUL is refused: C would
 * silently cut the string there, so a path could mean something else than what TS validated. */
static int
read_raw_str (struct args *a, char **out, const char *what, struct herr *err)
{
  if (need (a, 4, what, err) < 0)
    return -1;
  uint32_t len = le32 (a->p);
  a->p += 4;
  if (need (a, len, what, err) < 0)
    return -1;
  if (memchr (a->p, 0, len) != NULL)
    return herr_set (err, EINVAL, "malformed args: %s argument contains a NUL byte", what);
  char *s = malloc ((size_t) len + 1);
  if (s == NULL)
    return herr_set (err, ENOMEM, "%s argument of %u bytes: out of memory", what, len);
  memcpy (s, a->p, len);
  s[len] = 0;
  a->p += len;
  *out = s;
  return 0;
}

int
args_str (struct args *a, char **out, struct herr *err)
{
  *out = NULL;
  if (expect_tag (a, ARG_STR, err) < 0)
    return -1;
  return read_raw_str (a, out, "str", err);
}

int
args_strlist (struct args *a, struct strlist *out, struct herr *err)
{
  out->items = NULL;
  out->count = 0;
  if (expect_tag (a, ARG_STRLIST, err) < 0 || need (a, 4, "strlist", err) < 0)
    return -1;
  uint32_t count = le32 (a->p);
  a->p += 4;
  /* Every element needs at least its 4-byte length: this bounds the allocation by the plan's size. */
  if ((uint64_t) count * 4 > remaining (a))
    return herr_set (err, EINVAL, "malformed args: strlist claims %u items but only %zu bytes follow", count,
                     remaining (a));
  char **items = calloc ((size_t) count + 1, sizeof *items);
  if (items == NULL)
    return herr_set (err, ENOMEM, "strlist of %u items: out of memory", count);
  for (uint32_t i = 0; i < count; i++)
    {
      if (read_raw_str (a, &items[i], "strlist item", err) < 0)
        {
          struct strlist partial = { items, i };
          strlist_free (&partial);
          return -1;
        }
    }
  out->items = items;
  out->count = count;
  return 0;
}

void
strlist_free (struct strlist *l)
{
  if (l->items == NULL)
    return;
  for (uint32_t i = 0; i < l->count; i++)
    free (l->items[i]);
  free (l->items);
  l->items = NULL;
  l->count = 0;
}
