/*
 * Small helpers for the flag-effect tests (flag-effects.test.ts). Every container mode writes a counter to
 * /tmp/count every 50 ms, so the test can see that the restored program runs on.
 *
 *   flagprog listen PORT         a TCP socket listening on 127.0.0.1:PORT that never accepts: connections
 *                                made to it stay queued ("in flight")
 *   flagprog connect PORT        (outside the container, in its network namespace) connects to
 *                                127.0.0.1:PORT and exits: the connection stays in the listener's queue
 *   flagprog dgram PATH          a unix datagram socket connected to PATH (retried until it works) that sends
 *                                the counter as one datagram per tick
 *   flagprog stream PATH         the same with a unix stream socket
 *   flagprog recv-dgram PATH OUT (outside the container) binds a datagram socket at PATH and appends every
 *                                datagram to OUT, one per line
 *   flagprog recv-stream PATH    (outside the container) listens on a stream socket at PATH, accepts one
 *                                connection and holds it
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void count_forever (int sock)
{
  for (unsigned long i = 1;; i++)
    {
      FILE *f = fopen ("/tmp/count", "w");
      if (f)
        {
          fprintf (f, "%lu\n", i);
          fclose (f);
        }
      if (sock >= 0)
        {
          char buf[32];
          int n = snprintf (buf, sizeof buf, "%lu", i);
          /* A send that fails (peer gone during a test's teardown) is not this program's business. */
          if (send (sock, buf, (size_t) n, MSG_NOSIGNAL) < 0) { }
        }
      usleep (50000);
    }
}

static struct sockaddr_un unix_addr (const char *path)
{
  struct sockaddr_un a;
  memset (&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  strncpy (a.sun_path, path, sizeof a.sun_path - 1);
  return a;
}

static int connect_unix (int type, const char *path)
{
  struct sockaddr_un a = unix_addr (path);
  for (;;)
    {
      int s = socket (AF_UNIX, type, 0);
      if (s < 0)
        return -1;
      if (connect (s, (struct sockaddr *) &a, sizeof a) == 0)
        return s;
      close (s);
      usleep (20000);
    }
}

/* 127.0.0.1:PORT */
static struct sockaddr_in loopback (const char *port)
{
  struct sockaddr_in a;
  memset (&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons ((unsigned short) atoi (port));
  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  return a;
}

int main (int argc, char **argv)
{
  if (argc >= 3 && strcmp (argv[1], "listen") == 0)
    {
      int s = socket (AF_INET, SOCK_STREAM, 0);
      struct sockaddr_in a = loopback (argv[2]);
      if (s < 0 || bind (s, (struct sockaddr *) &a, sizeof a) < 0 || listen (s, 8) < 0)
        return perror ("listen"), 1;
      count_forever (-1);
    }
  if (argc >= 3 && strcmp (argv[1], "connect") == 0)
    {
      int s = socket (AF_INET, SOCK_STREAM, 0);
      struct sockaddr_in a = loopback (argv[2]);
      if (s < 0 || connect (s, (struct sockaddr *) &a, sizeof a) < 0)
        return perror ("connect"), 1;
      return 0;
    }
  if (argc >= 3 && (strcmp (argv[1], "dgram") == 0 || strcmp (argv[1], "stream") == 0))
    {
      int s = connect_unix (argv[1][0] == 'd' ? SOCK_DGRAM : SOCK_STREAM, argv[2]);
      if (s < 0)
        return perror ("socket"), 1;
      count_forever (s);
    }
  if (argc >= 4 && strcmp (argv[1], "recv-dgram") == 0)
    {
      struct sockaddr_un a = unix_addr (argv[2]);
      int s = socket (AF_UNIX, SOCK_DGRAM, 0);
      unlink (argv[2]);
      if (s < 0 || bind (s, (struct sockaddr *) &a, sizeof a) < 0)
        return perror ("bind"), 1;
      FILE *out = fopen (argv[3], "a");
      if (!out)
        return perror ("open output"), 1;
      char buf[64];
      for (;;)
        {
          ssize_t n = recv (s, buf, sizeof buf - 1, 0);
          if (n < 0)
            continue;
          buf[n] = 0;
          fprintf (out, "%s\n", buf);
          fflush (out);
        }
    }
  if (argc >= 3 && strcmp (argv[1], "recv-stream") == 0)
    {
      struct sockaddr_un a = unix_addr (argv[2]);
      int s = socket (AF_UNIX, SOCK_STREAM, 0);
      unlink (argv[2]);
      if (s < 0 || bind (s, (struct sockaddr *) &a, sizeof a) < 0 || listen (s, 1) < 0)
        return perror ("bind"), 1;
      int c = accept (s, NULL, NULL);
      if (c < 0)
        return perror ("accept"), 1;
      char buf[256];
      while (read (c, buf, sizeof buf) > 0) { }
      return 0;
    }
  fprintf (stderr, "usage: flagprog listen PORT | connect PORT | dgram PATH | stream PATH | recv-dgram PATH OUT | recv-stream PATH\n");
  return 2;
}
