/*
 * stasis-pagestream: moves CRIU's memory images straight into a checkpoint archive while CRIU dumps.
 *
 * stasis puts FIFOs where CRIU will write its pages-N.img files. This program reads them with splice(2)
 * into the archive file (fd 3) from a given offset on, one stream after another, leaving a 512-byte hole
 * before each for the tar header stasis writes once the size is known; a second thread hashes (sha256)
 * what was spliced, reading it back from the page cache. The pages are thus written to disk once, in
 * their final place, like a plain dump writes them: no second copy to build the archive.
 *
 * Mechanism only: what to stream, where, and what the archive looks like is decided by stasis
 * (src/archive/page-stream.ts). A stream that starts while another is running goes to "<fifo>.spill"
 * instead (CRIU writes one pages image at a time, so this is a fallback, not the plan).
 *
 *   stasis-pagestream OFFSET FIFO...       (archive open on fd 3; runs until stdin is closed)
 *
 * A "d" on stdin asks whether every stream a writer opened is in (CRIU sends the post-dump notification
 * once its images are written, and kills the container when it is answered): as soon as none is being
 * written, one line each, then "drained":
 *   spliced NAME HEADER_OFFSET SIZE           in the archive (its hash may still be under way)
 *   spilled NAME SIZE                         in NAME.spill
 *
 * stdout, one line per FIFO when stdin closes:
 *   member NAME HEADER_OFFSET SIZE SHA256    streamed into the archive (header goes at HEADER_OFFSET)
 *   spill NAME SIZE SHA256                   streamed into NAME.spill
 *   unused NAME                              never opened by a writer (now a directory, see below)
 * A failure prints "error STEP ERRNO MESSAGE" and exits 1. It first puts a directory in place of every FIFO
 * CRIU has not opened yet: CRIU's open then fails (EISDIR) instead of waiting forever for a reader, and the
 * stream being written fails with EPIPE once this program is gone, so the dump fails and stasis thaws the
 * container. "ready" is printed once every FIFO has its reader.
 *
 * Dying without a word (killed) must end the dump the same way, so a guard process forked at the start
 * holds a read end of every FIFO until this program says it is done. Should it go first, the guard puts the
 * directories in place of the FIFOs left, waits a moment for opens already under way, and lets go: a
 * writer then gets EPIPE, a later open EISDIR. (Letting go first would lose a race: an open whose path
 * lookup came before the swap but whose wait for a reader came after it would wait forever on the unlinked
 * FIFO.) The guard keeps stdout open, so stasis reads end-of-file only once both are gone.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ARCHIVE_FD 3
#define HEADER_SLOT 512
#define MAX_STREAMS 256
#define CHUNK (1 << 20)

enum state { WAITING, ACTIVE, SPILLING, DONE };

struct stream {
	const char *path;
	int fd;        /* the FIFO, read end */
	int out;       /* ARCHIVE_FD or the spill file */
	enum state state;
	int64_t header; /* where its tar header goes (archive streams) */
	int64_t start;  /* first data byte in `out` */
	int64_t size;   /* bytes spliced so far */
	int ended;      /* its writer closed it */
	EVP_MD_CTX *sha;
};

static struct stream streams[MAX_STREAMS];
static int nstreams;

/* What the hashing thread follows: one stream at a time, in order of completion. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t moved = PTHREAD_COND_INITIALIZER;
static int quitting;

static pthread_mutex_t failing = PTHREAD_MUTEX_INITIALIZER;

/*
 * Puts a directory where the FIFO `path` was: a writer's open then fails (EISDIR) instead of waiting for a
 * reader. Only a FIFO is replaced. Async-signal-safe (the guard uses it).
 */
static void refuse_writers(const char *path) {
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISFIFO(st.st_mode) && unlink(path) == 0) (void)mkdir(path, 0700);
}

static void fail(const char *step, int err, const char *what) {
	pthread_mutex_lock(&failing); /* the first failure reports; a second thread's waits here until exit */
	for (int i = 0; i < nstreams; i++) {
		if (streams[i].state == WAITING) refuse_writers(streams[i].path);
	}
	printf("error %s %d %s: %s\n", step, err, what, strerror(err));
	fflush(stdout);
	_exit(1);
}

/* Hashes every stream's bytes in `out` behind the splicing, as they land in the page cache. */
static void *hasher(void *arg) {
	(void)arg;
	/*
	 * The hash is the one thing an export adds to a dump and the last to finish: it gets a core whenever it
	 * can run, while CRIU and the splicing (which take turns on the FIFO) share the other. Best effort.
	 */
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), -5);
	unsigned char *buf = malloc(CHUNK);
	if (!buf) fail("hash", ENOMEM, "buffer");
	int64_t done[MAX_STREAMS] = {0};
	for (;;) {
		int idle = 1;
		for (int i = 0; i < nstreams; i++) {
			struct stream *s = &streams[i];
			pthread_mutex_lock(&lock);
			int64_t avail = s->size;
			pthread_mutex_unlock(&lock);
			while (done[i] < avail) {
				size_t n = (size_t)(avail - done[i] < CHUNK ? avail - done[i] : CHUNK);
				ssize_t r = pread(s->out, buf, n, s->start + done[i]);
				if (r <= 0) fail("hash", r < 0 ? errno : EIO, s->path);
				if (!EVP_DigestUpdate(s->sha, buf, (size_t)r)) fail("hash", EIO, s->path);
				done[i] += r;
				idle = 0;
			}
		}
		pthread_mutex_lock(&lock);
		int caught_up = 1;
		for (int i = 0; i < nstreams; i++)
			if (done[i] < streams[i].size || (streams[i].state != DONE && streams[i].state != WAITING)) caught_up = 0;
		if (quitting && caught_up) {
			pthread_mutex_unlock(&lock);
			break;
		}
		if (idle) pthread_cond_wait(&moved, &lock);
		pthread_mutex_unlock(&lock);
	}
	free(buf);
	return NULL;
}

/* Splices what the FIFO holds now; returns 1 at end of stream (writer gone, nothing left). */
static int pump(struct stream *s) {
	for (;;) {
		loff_t off = s->start + s->size;
		ssize_t n = splice(s->fd, NULL, s->out, &off, CHUNK, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			pthread_mutex_lock(&lock);
			s->size += n;
			pthread_cond_signal(&moved);
			pthread_mutex_unlock(&lock);
			continue;
		}
		if (n == 0) return 1;
		if (errno == EAGAIN) return 0;
		if (errno == EINTR) continue;
		fail("splice", errno, s->path);
	}
}

/*
 * Answers "d" on stdin once no stream is being written: where each one lies, then "drained". Returns 0
 * (not yet) while one still is.
 */
static int drained(void) {
	for (int i = 0; i < nstreams; i++)
		if (streams[i].state == ACTIVE || streams[i].state == SPILLING) return 0;
	for (int i = 0; i < nstreams; i++) {
		struct stream *s = &streams[i];
		if (s->state != DONE) continue;
		const char *name = strrchr(s->path, '/') ? strrchr(s->path, '/') + 1 : s->path;
		if (s->out == ARCHIVE_FD) printf("spliced %s %lld %lld\n", name, (long long)s->header, (long long)s->size);
		else printf("spilled %s %lld\n", name, (long long)s->size);
	}
	printf("drained\n");
	fflush(stdout);
	return 1;
}

/*
 * The guard (a forked child: only async-signal-safe calls). Returns when told "done" on `told`; at
 * end-of-file there (this program died) swaps the FIFOs left for directories, then lets them go.
 */
static void guard(int told) {
	char c;
	ssize_t n;
	while ((n = read(told, &c, 1)) < 0 && errno == EINTR) {
	}
	if (n == 1) return;
	for (int i = 0; i < nstreams; i++) refuse_writers(streams[i].path);
	struct timespec moment = {0, 200 * 1000 * 1000};
	while (nanosleep(&moment, &moment) < 0 && errno == EINTR) {
	}
}

/* Forks the guard over the FIFOs opened so far; returns the fd that tells it "done" (one byte). */
static int start_guard(pid_t *pid) {
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) fail("guard", errno, "pipe");
	*pid = fork();
	if (*pid < 0) fail("guard", errno, "fork");
	if (*pid == 0) {
		/* Holds the FIFOs and stdout (see the top of this file); nothing else. */
		close(p[1]);
		close(0);
		close(ARCHIVE_FD);
		guard(p[0]);
		_exit(0);
	}
	close(p[0]);
	return p[1];
}

int main(int argc, char **argv) {
	if (argc < 3 || argc - 2 > MAX_STREAMS) {
		fprintf(stderr, "usage: stasis-pagestream OFFSET FIFO... (archive on fd 3, at most %d FIFOs)\n", MAX_STREAMS);
		return 2;
	}
	int64_t end = strtoll(argv[1], NULL, 10);
	nstreams = argc - 2;
	for (int i = 0; i < nstreams; i++) {
		struct stream *s = &streams[i];
		s->path = argv[i + 2];
		/* Non-blocking: CRIU opens the FIFOs one by one, and poll reports POLLHUP only after a writer left. */
		s->fd = open(s->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (s->fd < 0) fail("open", errno, s->path);
		s->sha = EVP_MD_CTX_new();
		if (!s->sha || !EVP_DigestInit_ex(s->sha, EVP_sha256(), NULL)) fail("hash", ENOMEM, s->path);
	}
	pid_t guard_pid;
	int guard_fd = start_guard(&guard_pid); /* before the thread: the guard is a copy of one thread */
	pthread_t th;
	if (pthread_create(&th, NULL, hasher, NULL)) fail("thread", errno, "hasher");
	printf("ready\n");
	fflush(stdout);

	struct pollfd fds[MAX_STREAMS + 1];
	int active = -1, stdin_open = 1, asked = 0;
	for (;;) {
		int n = 0;
		for (int i = 0; i < nstreams; i++) {
			fds[i].fd = streams[i].state == DONE ? -1 : streams[i].fd;
			fds[i].events = POLLIN;
			fds[i].revents = 0;
			n++;
		}
		fds[n].fd = stdin_open ? 0 : -1;
		fds[n].events = POLLIN;
		fds[n].revents = 0;
		/* After stdin closed (CRIU is done), one last look: every writer has gone by then. */
		int r = poll(fds, (nfds_t)n + 1, stdin_open ? -1 : 0);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) fail("poll", errno, "fifos");
		for (int i = 0; i < nstreams; i++) {
			struct stream *s = &streams[i];
			if (!fds[i].revents || s->state == DONE) continue;
			if (s->state == WAITING) {
				if (active < 0) {
					s->state = ACTIVE;
					/*
					 * A bigger pipe, fewer wake-ups per GiB; only for the stream being written: pipe
					 * capacity counts against the user's pipe pages, which other processes of root share.
					 */
					(void)fcntl(s->fd, F_SETPIPE_SZ, CHUNK);
					s->out = ARCHIVE_FD;
					s->header = end;
					s->start = end + HEADER_SLOT;
					active = i;
				} else {
					char spill[4096];
					snprintf(spill, sizeof spill, "%s.spill", s->path);
					s->out = open(spill, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
					if (s->out < 0) fail("spill", errno, spill);
					s->state = SPILLING;
				}
			}
			if (pump(s)) {
				pthread_mutex_lock(&lock);
				s->state = DONE;
				s->ended = 1;
				pthread_cond_signal(&moved);
				pthread_mutex_unlock(&lock);
				if (i == active) {
					end = s->start + s->size;
					end += (HEADER_SLOT - end % HEADER_SLOT) % HEADER_SLOT;
					active = -1;
				}
			}
		}
		if (stdin_open && fds[n].revents) {
			char c[64];
			ssize_t k = read(0, c, sizeof c);
			if (k <= 0) {
				stdin_open = 0;
				continue;
			}
			if (memchr(c, 'd', (size_t)k)) asked = 1;
		}
		if (asked && drained()) asked = 0;
		if (!stdin_open) break;
	}
	pthread_mutex_lock(&lock);
	quitting = 1;
	pthread_cond_signal(&moved);
	pthread_mutex_unlock(&lock);
	pthread_join(th, NULL);

	for (int i = 0; i < nstreams; i++) {
		struct stream *s = &streams[i];
		const char *name = strrchr(s->path, '/') ? strrchr(s->path, '/') + 1 : s->path;
		if (s->state == WAITING) {
			/* Nobody may wait on it from now on: stdin also closes when stasis dies, with CRIU still running. */
			refuse_writers(s->path);
			printf("unused %s\n", name);
			continue;
		}
		if (s->state != DONE) fail("finish", EPIPE, s->path); /* a writer still holds it open */
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int len = 0;
		char hex[2 * EVP_MAX_MD_SIZE + 1];
		if (!EVP_DigestFinal_ex(s->sha, md, &len)) fail("hash", EIO, s->path);
		for (unsigned int k = 0; k < len; k++) sprintf(hex + 2 * k, "%02x", md[k]);
		if (s->out == ARCHIVE_FD) printf("member %s %lld %lld %s\n", name, (long long)s->header, (long long)s->size, hex);
		else printf("spill %s %lld %s\n", name, (long long)s->size, hex);
	}
	fflush(stdout);
	/* Done: the guard lets go without touching the FIFOs, and is reaped here, not left to init. */
	if (write(guard_fd, "k", 1) == 1)
		while (waitpid(guard_pid, NULL, 0) < 0 && errno == EINTR) {
		}
	return 0;
}
