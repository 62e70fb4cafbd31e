/* Passing fds over unix sockets (SCM_RIGHTS), for the addon and bin/stasis. */
#ifndef STASIS_FDPASS_H
#define STASIS_FDPASS_H
#include <sys/types.h>

/* Upper bound on fds carried by one message. */
#define FDPASS_MAX 64

/* Sends data and fds as one message on a socket (MSG_NOSIGNAL). Retries on EINTR. */
ssize_t fdpass_send(int sock, const void *data, size_t len, const int *fds, int nfds);
/*
 * Receives one message into buf and up to FDPASS_MAX fds (close-on-exec) into fds. Returns its length (0:
 * the peer closed), or -1 with errno; EMSGSIZE when it did not fit, its fds then closed. Retries on EINTR.
 */
ssize_t fdpass_recv(int sock, void *buf, size_t size, int *fds, int *nfds);
#endif
