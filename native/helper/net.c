/* LOOPBACK_UP: a new network namespace has only `lo`, and it is down; programs expect 127.0.0.1 to work. */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "helper.h"

int
op_loopback_up (struct ctx *c, struct args *a, struct herr *err)
{
  (void) c;
  (void) a;
  struct ifreq ifr;
  int ret = 0;
  int fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return herr_set (err, errno, "socket: %s", strerror (errno));
  memset (&ifr, 0, sizeof ifr);
  strncpy (ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl (fd, SIOCGIFFLAGS, &ifr) < 0)
    ret = herr_set (err, errno, "get flags of lo: %s", strerror (errno));
  else if (!(ifr.ifr_flags & IFF_UP))
    {
      ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
      if (ioctl (fd, SIOCSIFFLAGS, &ifr) < 0)
        ret = herr_set (err, errno, "set lo up: %s", strerror (errno));
    }
  close (fd);
  return ret;
}
