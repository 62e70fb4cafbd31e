/* CVE-2019-5736: a container process that can see the helper through /proc/<pid>/exe could open it for
 * writing and replace the host binary. The helper therefore runs only from a sealed, anonymous memfd
 * copy of itself: whatever the container opens through /proc is that copy, and the seals make it
 * immutable. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>
#include "helper.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

#define REQUIRED_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

extern char **environ;

/* The check looks at the running executable itself, not at an environment variable, so a process
 * inside the container cannot fake "already sealed". A regular file answers F_GET_SEALS with EINVAL. */
static int
running_from_sealed_copy (int self_fd)
{
  int seals = fcntl (self_fd, F_GET_SEALS);
  return seals >= 0 && (seals & REQUIRED_SEALS) == REQUIRED_SEALS;
}

static int
sealed_copy_of (int self_fd)
{
  struct stat st;
  if (fstat (self_fd, &st) < 0)
    return -1;
  /* Newer kernels warn when neither MFD_EXEC nor MFD_NOEXEC_SEAL is given; older ones refuse the flag. */
  int mfd = memfd_create ("stasis-helper", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (mfd < 0 && errno == EINVAL)
    mfd = memfd_create ("stasis-helper", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mfd < 0)
    return -1;
  off_t offset = 0;
  while (offset < st.st_size)
    {
      ssize_t n = sendfile (mfd, self_fd, &offset, (size_t) (st.st_size - offset));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int e = n < 0 ? errno : EIO;
          close (mfd);
          errno = e;
          return -1;
        }
    }
  if (fcntl (mfd, F_ADD_SEALS, REQUIRED_SEALS) < 0)
    {
      int e = errno;
      close (mfd);
      errno = e;
      return -1;
    }
  return mfd;
}

int
seal_self_if_needed (int argc, char **argv)
{
  (void) argc;
  int self_fd = open ("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (self_fd < 0)
    return -1;
  if (running_from_sealed_copy (self_fd))
    {
      close (self_fd);
      return 0;
    }
  int mfd = sealed_copy_of (self_fd);
  int e = errno;
  close (self_fd);
  if (mfd < 0)
    {
      errno = e;
      return -1;
    }
  /* MFD_CLOEXEC is fine for an ELF binary: the kernel has mapped it before closing the fd. */
  fexecve (mfd, argv, environ);
  e = errno;
  close (mfd);
  errno = e;
  return -1;
}
