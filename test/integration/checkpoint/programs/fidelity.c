/*
 * fidelity: a container workload whose state is easy to check after a checkpoint/restore.
 *
 *   fidelity ANON_MIB SHARED_MIB
 *
 * It builds, once, a bit of everything CRIU has to carry over:
 *   - ANON_MIB of private anonymous memory, every 8-byte word holding a value derived from its address;
 *   - SHARED_MIB of MAP_SHARED anonymous memory, filled by a child process (so it is really shared);
 *   - a child process (a process tree), two worker threads in the parent;
 *   - a pipe parent -> child and a unix socketpair child -> parent used for a ping/pong, plus one pipe and
 *     the socketpair holding unread bytes (data in flight);
 *   - an open file with its offset in the middle, and a deleted-but-open file;
 *   - an armed periodic timerfd and a 10 ms setitimer(ITIMER_REAL) whose SIGALRM handler counts;
 *   - a blocked SIGUSR1 pending for the process and a blocked SIGUSR2 pending for the main thread;
 *   - a file in /dev/shm mapped MAP_SHARED.
 * Then it writes /tmp/ready and counts in /tmp/count every 20 ms. Whenever /tmp/verify appears it removes
 * it, checks everything and writes /tmp/report: one "NAME ok" or "NAME FAIL: why" line per check, then
 * "end". The checks can run any number of times (the signals are re-armed, the in-flight data put back).
 *
 * Static (gcc -static -pthread) so it runs in a busybox rootfs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define ANON_SEED 0x5eed0001ULL
#define SHARED_SEED 0x5eed0002ULL
#define SHM_SIZE (1UL << 20)
#define PONG_SIZE 32
#define TIMERFD_PERIOD_S 600
static const char IN_PIPE[] = "bytes-left-in-a-pipe";
static const char IN_SOCKET[] = "bytes-left-in-a-socket";
static const char FILE_TEXT[] = "0123456789";
static const char GHOST_TEXT[] = "content of a deleted but open file";

static uint64_t *anon, *shared, *shm;
static size_t anon_bytes, shared_bytes;
static int to_child[2], from_child[2], inflight[2];
static int data_fd, ghost_fd, tfd;
static pid_t child;
static volatile sig_atomic_t alarms, usr1_seen, usr2_seen;
static volatile unsigned long worker_ticks[2];
static FILE *report;

static uint64_t word(uint64_t seed, size_t index) { return (seed * 0x9e3779b97f4a7c15ULL) ^ (index * 0xff51afd7ed558ccdULL); }

static void fill(uint64_t *mem, size_t bytes, uint64_t seed) {
  for (size_t i = 0; i < bytes / 8; i++) mem[i] = word(seed, i);
}

/* Compares page by page; returns the number of bad pages and the first one in *first. */
static size_t bad_pages(const uint64_t *mem, size_t bytes, uint64_t seed, long *first) {
  size_t bad = 0;
  *first = -1;
  for (size_t p = 0; p < bytes / PAGE; p++) {
    const uint64_t *w = mem + p * (PAGE / 8);
    for (size_t k = 0; k < PAGE / 8; k++) {
      if (w[k] != word(seed, p * (PAGE / 8) + k)) {
        if (bad++ == 0) *first = (long)p;
        break;
      }
    }
  }
  return bad;
}

static void result(const char *name, int ok, const char *fmt, ...) {
  fprintf(report, "%s %s", name, ok ? "ok" : "FAIL: ");
  if (!ok) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(report, fmt, ap);
    va_end(ap);
  }
  fputc('\n', report);
}

static void on_alarm(int sig) { (void)sig; alarms++; }
static void on_usr1(int sig) { (void)sig; usr1_seen = 1; }
static void on_usr2(int sig) { (void)sig; usr2_seen = 1; }

static void *worker(void *arg) {
  long n = (long)arg;
  for (;;) {
    worker_ticks[n]++;
    usleep(2000);
  }
  return NULL;
}

/* The child: fills the shared memory, then answers "ping N" on the pipe with "pong N" on the socket. */
static void child_main(void) {
  fill(shared, shared_bytes, SHARED_SEED);
  if (write(from_child[1], IN_SOCKET, sizeof IN_SOCKET) != (ssize_t)sizeof IN_SOCKET) _exit(2);
  char buf[64];
  for (;;) {
    ssize_t n = read(to_child[0], buf, sizeof buf - 1);
    if (n <= 0) _exit(0);
    buf[n] = 0;
    unsigned long v;
    if (sscanf(buf, "ping %lu", &v) == 1) {
      /* A fixed-size answer, then the in-flight bytes again for the parent's next round. */
      char answer[PONG_SIZE] = {0};
      snprintf(answer, sizeof answer, "pong %lu", v + 1);
      if (write(from_child[1], answer, sizeof answer) != (ssize_t)sizeof answer) _exit(3);
      if (write(from_child[1], IN_SOCKET, sizeof IN_SOCKET) != (ssize_t)sizeof IN_SOCKET) _exit(3);
    }
  }
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void *map(size_t bytes, int flags) {
  if (bytes == 0) return NULL;
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (p == MAP_FAILED) die("mmap");
  return p;
}

static void setup(void) {
  shared = map(shared_bytes, MAP_SHARED | MAP_ANONYMOUS);
  if (pipe(to_child) || socketpair(AF_UNIX, SOCK_STREAM, 0, from_child) || pipe(inflight)) die("pipe");
  child = fork();
  if (child < 0) die("fork");
  if (child == 0) child_main();
  char buf[sizeof IN_SOCKET];
  /* Wait for the child's fill (it writes the socket bytes after it); leave the bytes unread. */
  if (recv(from_child[0], buf, sizeof buf, MSG_PEEK | MSG_WAITALL) != (ssize_t)sizeof buf) die("recv");
  if (write(inflight[1], IN_PIPE, sizeof IN_PIPE) != (ssize_t)sizeof IN_PIPE) die("write");

  anon = map(anon_bytes, MAP_PRIVATE | MAP_ANONYMOUS);
  fill(anon, anon_bytes, ANON_SEED);

  data_fd = open("/tmp/data", O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (data_fd < 0 || write(data_fd, FILE_TEXT, 10) != 10 || lseek(data_fd, 4, SEEK_SET) != 4) die("/tmp/data");
  ghost_fd = open("/tmp/ghost", O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (ghost_fd < 0 || write(ghost_fd, GHOST_TEXT, sizeof GHOST_TEXT) != (ssize_t)sizeof GHOST_TEXT) die("/tmp/ghost");
  if (unlink("/tmp/ghost")) die("unlink");

  int sfd = open("/dev/shm/fidelity", O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (sfd < 0 || ftruncate(sfd, SHM_SIZE)) die("/dev/shm/fidelity");
  shm = mmap(NULL, SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
  if (shm == MAP_FAILED) die("mmap shm");
  close(sfd);
  fill(shm, SHM_SIZE, 7);

  /*
   * A long period: CRIU 4.2 restores a periodic timerfd that expired while the task was frozen (it_value
   * reads 0 then) as disarmed, so a fast timer would stop after the restore (docs/checkpoint.md).
   */
  tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  struct itimerspec its = {{TIMERFD_PERIOD_S, 0}, {TIMERFD_PERIOD_S, 0}};
  if (tfd < 0 || timerfd_settime(tfd, 0, &its, NULL)) die("timerfd");

  signal(SIGUSR1, on_usr1);
  signal(SIGUSR2, on_usr2);
  signal(SIGALRM, on_alarm);
  /* Threads start with SIGALRM, SIGUSR1 and SIGUSR2 blocked: those belong to the main thread. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGALRM);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  pthread_t t;
  for (long i = 0; i < 2; i++)
    if (pthread_create(&t, NULL, worker, (void *)i)) die("pthread_create");
  sigemptyset(&set);
  sigaddset(&set, SIGALRM);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
  struct itimerval itv = {{0, 10000}, {0, 10000}};
  if (setitimer(ITIMER_REAL, &itv, NULL)) die("setitimer");
}

/* Makes SIGUSR1 pending for the process and SIGUSR2 pending for the main thread (both blocked). */
static void arm_signals(void) {
  usr1_seen = usr2_seen = 0;
  kill(getpid(), SIGUSR1);
  pthread_kill(pthread_self(), SIGUSR2);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L}, rem;
  while (nanosleep(&ts, &rem) && errno == EINTR) ts = rem;
}

static int thread_count(void) {
  DIR *d = opendir("/proc/self/task");
  int n = 0;
  if (!d) return -1;
  for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

static void verify(void) {
  static unsigned long round;
  long first;
  size_t bad = bad_pages(anon, anon_bytes, ANON_SEED, &first);
  result("anon-memory", bad == 0, "%zu of %zu pages differ, first %ld", bad, anon_bytes / PAGE, first);
  bad = bad_pages(shared, shared_bytes, SHARED_SEED, &first);
  result("shared-memory", bad == 0, "%zu of %zu pages differ, first %ld", bad, shared_bytes / PAGE, first);
  bad = bad_pages(shm, SHM_SIZE, 7, &first);
  result("dev-shm-mapping", bad == 0, "%zu pages differ, first %ld", bad, first);

  /* Data in flight: still there, then put back for the next round. */
  char buf[128] = {0};
  ssize_t n = recv(from_child[0], buf, sizeof IN_SOCKET, MSG_WAITALL | MSG_DONTWAIT);
  result("socket-inflight", n == (ssize_t)sizeof IN_SOCKET && !strcmp(buf, IN_SOCKET), "got %zd bytes \"%s\"", n, buf);
  memset(buf, 0, sizeof buf);
  n = read(inflight[0], buf, sizeof IN_PIPE);
  result("pipe-inflight", n == (ssize_t)sizeof IN_PIPE && !strcmp(buf, IN_PIPE), "got %zd bytes \"%s\"", n, buf);
  if (write(inflight[1], IN_PIPE, sizeof IN_PIPE) < 0) perror("write");

  /* The process tree and both channels: ping over the pipe, pong over the socketpair. */
  round++;
  int len = snprintf(buf, sizeof buf, "ping %lu", round);
  int sent = write(to_child[1], buf, len) == len, ok;
  memset(buf, 0, sizeof buf);
  struct timeval tv = {2, 0};
  setsockopt(from_child[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  /* The 10 ms SIGALRM of the setitimer check interrupts a recv that has a timeout (SA_RESTART does not apply
   * to those, signal(7)): go on until the whole answer is in or 2 s have passed. A child slow to answer, as
   * after a --lazy-pages restore, used to read as no answer at all. */
  struct timespec asked, now;
  clock_gettime(CLOCK_MONOTONIC, &asked);
  n = 0;
  for (ssize_t got = 0; n < PONG_SIZE; n += got) {
    got = recv(from_child[0], buf + n, PONG_SIZE - n, MSG_WAITALL);
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (got < 0 && errno == EINTR && now.tv_sec - asked.tv_sec < 2) got = 0;
    else if (got <= 0) break;
  }
  unsigned long got = 0;
  ok = sent && n == PONG_SIZE && sscanf(buf, "pong %lu", &got) == 1 && got == round + 1;
  result("child-pipe-socketpair", ok, "sent %d, answer \"%s\"", sent, buf);
  pid_t parent_of_child = -1;
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/stat", child);
  FILE *f = fopen(path, "r");
  if (f && fgets(line, sizeof line, f) && strrchr(line, ')')) sscanf(strrchr(line, ')') + 2, "%*c %d", &parent_of_child);
  if (f) fclose(f);
  result("process-tree", parent_of_child == getpid(), "child %d has parent %d, not %d", child, parent_of_child, getpid());

  /* Files: the offset and the deleted file's content. */
  off_t off = lseek(data_fd, 0, SEEK_CUR);
  memset(buf, 0, sizeof buf);
  n = pread(data_fd, buf, 6, off);
  result("open-file", off == 4 && n == 6 && !memcmp(buf, "456789", 6), "offset %ld, read \"%s\"", (long)off, buf);
  struct stat st;
  memset(buf, 0, sizeof buf);
  n = pread(ghost_fd, buf, sizeof GHOST_TEXT, 0);
  ok = fstat(ghost_fd, &st) == 0 && st.st_nlink == 0 && n == (ssize_t)sizeof GHOST_TEXT && !strcmp(buf, GHOST_TEXT);
  result("deleted-open-file", ok, "nlink %lu, read \"%s\"", (unsigned long)st.st_nlink, buf);

  /* Threads still there and still running; timers still firing. */
  unsigned long t0 = worker_ticks[0], t1 = worker_ticks[1];
  sig_atomic_t a0 = alarms;
  sleep_ms(150);
  int threads = thread_count();
  result("threads", threads == 3 && worker_ticks[0] > t0 && worker_ticks[1] > t1, "%d threads, ticks %lu->%lu %lu->%lu", threads, t0,
         worker_ticks[0], t1, worker_ticks[1]);
  struct itimerspec cur;
  ok = timerfd_gettime(tfd, &cur) == 0 && cur.it_interval.tv_sec == TIMERFD_PERIOD_S && (cur.it_value.tv_sec || cur.it_value.tv_nsec) &&
       cur.it_value.tv_sec <= TIMERFD_PERIOD_S;
  result("timerfd", ok, "interval %lds, next in %ld.%09lds", (long)cur.it_interval.tv_sec, (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);
  result("setitimer", alarms - a0 >= 5, "%d SIGALRM in 150 ms", (int)(alarms - a0));

  /* Pending signals: still pending while blocked, delivered once unblocked; then armed again. */
  sigset_t pending, set;
  sigpending(&pending);
  int p1 = sigismember(&pending, SIGUSR1), p2 = sigismember(&pending, SIGUSR2);
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGUSR2);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  result("pending-signals", p1 && p2 && usr1_seen && usr2_seen, "pending usr1 %d usr2 %d, delivered usr1 %d usr2 %d", p1, p2,
         (int)usr1_seen, (int)usr2_seen);
  arm_signals();
}

static void write_atomic(const char *file, const char *text) {
  char tmp[64];
  snprintf(tmp, sizeof tmp, "%s.tmp", file);
  FILE *f = fopen(tmp, "w");
  if (!f) return;
  fputs(text, f);
  fclose(f);
  rename(tmp, file);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: fidelity ANON_MIB SHARED_MIB\n");
    return 2;
  }
  anon_bytes = strtoul(argv[1], NULL, 10) << 20;
  shared_bytes = strtoul(argv[2], NULL, 10) << 20;
  setup();
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  arm_signals();
  write_atomic("/tmp/ready", "ready\n");
  char text[32];
  for (unsigned long i = 1;; i++) {
    snprintf(text, sizeof text, "%lu\n", i);
    write_atomic("/tmp/count", text);
    if (access("/tmp/verify", F_OK) == 0) {
      unlink("/tmp/verify");
      report = fopen("/tmp/report.tmp", "w");
      if (report) {
        verify();
        fputs("end\n", report);
        fclose(report);
        rename("/tmp/report.tmp", "/tmp/report");
      }
    }
    sleep_ms(20);
  }
}
