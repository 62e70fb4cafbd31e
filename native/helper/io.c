/* Channels of the helper: framed messages on ctl (fd 3), JSON debug lines on the log fd (fd 4), and the
 * error convention every op uses (herr_set). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "helper.h"

/* A plan with a seccomp profile is a few hundred KiB at most; anything near this is a broken peer. */
#define MAX_FRAME_LEN (64u * 1024 * 1024)

int
herr_set (struct herr *err, int errnum, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (err->message, sizeof err->message, fmt, ap);
  va_end (ap);
  err->errnum = errnum;
  errno = errnum;
  return -1;
}

/* Node gives us socketpairs for ctl and log: send() with MSG_NOSIGNAL turns a vanished reader into EPIPE
 * instead of killing the helper with SIGPIPE. Plain pipes (ENOTSOCK) fall back to write(). */
static int
write_all (int fd, const void *buf, size_t len)
{
  const uint8_t *p = buf;
  while (len > 0)
    {
      ssize_t n = send (fd, p, len, MSG_NOSIGNAL);
      if (n < 0 && errno == ENOTSOCK)
        n = write (fd, p, len);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return -1;
        }
      p += n;
      len -= (size_t) n;
    }
  return 0;
}

static int
read_exact (int fd, void *buf, size_t len, size_t *got)
{
  uint8_t *p = buf;
  *got = 0;
  while (*got < len)
    {
      ssize_t n = read (fd, p + *got, len - *got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      if (n == 0)
        return 0;
      *got += (size_t) n;
    }
  return 0;
}

/* Waits (up to 2 s) until the peer has read everything we sent on a unix socket. Callers often exit
 * right after an event (error, exit, pid in PARENT_EXIT mode); Node may notice our exit before it reads
 * the socket and would then report "ended without a reason". SIOCOUTQ on a unix socket counts the bytes
 * the receiver has not consumed yet; on anything else it fails and we do not wait. */
static void
wait_until_read (int fd)
{
  struct timespec pause = { 0, 200 * 1000 };
  for (int waited_us = 0; waited_us < 2000 * 1000; waited_us += 200)
    {
      int pending = 0;
      if (ioctl (fd, SIOCOUTQ, &pending) < 0 || pending <= 0)
        return;
      nanosleep (&pause, NULL);
    }
}

int
ctl_send_event (struct ctx *c, const char *json)
{
  if (c->ctl_fd < 0)
    {
      errno = EBADF;
      return -1;
    }
  size_t len = strlen (json);
  /* One buffer, one write: a frame must never be split by another writer on the same channel. */
  uint8_t *frame = malloc (len + 5);
  if (frame == NULL)
    return -1;
  uint32_t flen = (uint32_t) len + 1;
  frame[0] = flen & 0xff;
  frame[1] = (flen >> 8) & 0xff;
  frame[2] = (flen >> 16) & 0xff;
  frame[3] = (flen >> 24) & 0xff;
  frame[4] = FRAME_EVENT;
  memcpy (frame + 5, json, len);
  int ret = write_all (c->ctl_fd, frame, len + 5);
  int saved = errno;
  if (ret == 0)
    wait_until_read (c->ctl_fd);
  free (frame);
  errno = saved;
  return ret;
}

int
ctl_read_frame (struct ctx *c, uint8_t *kind, uint8_t **payload, size_t *len, struct herr *err)
{
  uint8_t head[4];
  size_t got;
  *payload = NULL;
  *len = 0;
  if (c->ctl_fd < 0)
    return herr_set (err, EBADF, "ctl is already closed");
  /* The length is checked before anything else is read: a bogus one must not make us wait for bytes
   * that will never come, nor allocate gigabytes. */
  if (read_exact (c->ctl_fd, head, sizeof head, &got) < 0)
    return herr_set (err, errno, "read ctl: %s", strerror (errno));
  if (got == 0)
    return herr_set (err, EPIPE, "ctl closed before a frame arrived");
  if (got < sizeof head)
    return herr_set (err, EPROTO, "ctl closed inside a frame header");
  uint32_t flen = (uint32_t) head[0] | (uint32_t) head[1] << 8 | (uint32_t) head[2] << 16 | (uint32_t) head[3] << 24;
  if (flen == 0)
    return herr_set (err, EPROTO, "frame length 0 leaves no room for the kind byte");
  if (flen > MAX_FRAME_LEN)
    return herr_set (err, EPROTO, "frame length %u exceeds the limit of %u bytes", flen, MAX_FRAME_LEN);
  if (read_exact (c->ctl_fd, kind, 1, &got) < 0)
    return herr_set (err, errno, "read ctl: %s", strerror (errno));
  if (got == 0)
    return herr_set (err, EPROTO, "ctl closed inside a frame header");
  size_t plen = flen - 1;
  /* +1 so that an empty payload still yields a valid pointer. */
  uint8_t *buf = malloc (plen + 1);
  if (buf == NULL)
    return herr_set (err, ENOMEM, "frame of %zu bytes: out of memory", plen);
  if (read_exact (c->ctl_fd, buf, plen, &got) < 0)
    {
      int e = errno;
      free (buf);
      return herr_set (err, e, "read ctl: %s", strerror (e));
    }
  if (got < plen)
    {
      free (buf);
      return herr_set (err, EPROTO, "ctl closed after %zu of %zu payload bytes", got, plen);
    }
  buf[plen] = 0;
  *payload = buf;
  *len = plen;
  return 0;
}

void
json_quote (char *out, size_t outlen, const char *s)
{
  static const char hex[] = "0123456789abcdef";
  size_t n = strnlen (out, outlen);
  /* Room for the two quotes and the NUL is the minimum; otherwise leave out untouched. */
  if (n + 3 > outlen)
    return;
  out[n++] = '"';
  for (; *s; s++)
    {
      char piece[7];
      size_t k;
      unsigned char ch = (unsigned char) *s;
      if (ch == '"' || ch == '\\')
        {
          piece[0] = '\\';
          piece[1] = (char) ch;
          k = 2;
        }
      else if (ch == '\n' || ch == '\r' || ch == '\t')
        {
          piece[0] = '\\';
          piece[1] = ch == '\n' ? 'n' : ch == '\r' ? 'r' : 't';
          k = 2;
        }
      else if (ch < 0x20)
        {
          memcpy (piece, "\\u00", 4);
          piece[4] = hex[ch >> 4];
          piece[5] = hex[ch & 15];
          k = 6;
        }
      else
        {
          piece[0] = (char) ch;
          k = 1;
        }
      /* Keep space for the closing quote and the NUL: truncate rather than emit broken JSON. */
      if (n + k + 2 > outlen)
        break;
      memcpy (out + n, piece, k);
      n += k;
    }
  out[n++] = '"';
  out[n] = 0;
}

void
log_debug (struct ctx *c, const char *fmt, ...)
{
  if (c->log_fd < 0)
    return;
  char msg[1024];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  char line[sizeof msg * 6 + 64] = "{\"level\":\"debug\",\"msg\":";
  json_quote (line, sizeof line - 2, msg);
  strcat (line, "}\n");
  int saved = errno;
  /* Logging is best effort: a reader that went away must not fail the op being logged. */
  if (write_all (c->log_fd, line, strlen (line)) < 0)
    c->log_fd = -1;
  errno = saved;
}
