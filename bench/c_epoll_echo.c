/*
 * A minimal epoll echo server: the least user-space work a server can do
 * for the benchmark's echo and capacity scenarios, as a ceiling for every
 * server on the host — not a library to compare with.
 *
 * It echoes each read's bytes as they came (a length-prefixed frame echoes
 * as itself), with no framing, no per-client queue beyond a partial write,
 * no limits and no stop. Each of N threads has its own SO_REUSEPORT
 * listener and epoll set (edge-triggered), so the kernel spreads the
 * connections and no thread hands any to another.
 *
 *   c_epoll_echo PORT [THREADS]      (127.0.0.1; THREADS defaults to 2)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* A partial write's rest, by file descriptor (the benchmark opens at most
 * ~10,000 connections; the open-file limit is 20,000). */
struct pending {
    char *buf;
    size_t len, off;
};
#define MAX_FD 65536
static struct pending pending[MAX_FD];
static int port;

static void drop_conn(int fd) {
    free(pending[fd].buf);
    pending[fd] = (struct pending){0};
    close(fd);
}

/* Writes what an earlier read left; whether all of it is gone. */
static int flush_pending(int fd) {
    struct pending *p = &pending[fd];
    while (p->off < p->len) {
        ssize_t w = send(fd, p->buf + p->off, p->len - p->off, MSG_NOSIGNAL);
        if (w <= 0)
            return 0;
        p->off += (size_t)w;
    }
    free(p->buf);
    *p = (struct pending){0};
    return 1;
}

static void serve(int fd, char *buf, size_t cap) {
    if (pending[fd].len && !flush_pending(fd))
        return; /* EPOLLOUT comes back when there is room */
    for (;;) {
        ssize_t r = recv(fd, buf, cap, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
            drop_conn(fd);
            return;
        }
        if (r < 0)
            return;
        ssize_t w = send(fd, buf, (size_t)r, MSG_NOSIGNAL);
        if (w < 0)
            w = 0;
        if (w < r) {
            struct pending *p = &pending[fd];
            p->len = (size_t)(r - w);
            p->off = 0;
            p->buf = malloc(p->len);
            if (!p->buf) {
                drop_conn(fd);
                return;
            }
            memcpy(p->buf, buf + w, p->len);
            return; /* no more reads until the echo is out */
        }
        if ((size_t)r < cap)
            return; /* drained; new data is a new edge */
    }
}

static void *run(void *arg) {
    (void)arg;
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(ls, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    setsockopt(ls, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* inherited */
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((unsigned short)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 4096)) {
        perror("c_epoll_echo: listen");
        exit(1);
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    static __thread char buf[65536];
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd != ls) {
                serve(fd, buf, sizeof buf);
                continue;
            }
            for (;;) {
                int c = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
                if (c < 0)
                    break;
                if (c >= MAX_FD) {
                    close(c);
                    continue;
                }
                struct epoll_event ce = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                         .data.fd = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
            }
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2 || (port = atoi(argv[1])) <= 0 || port > 65535) {
        fprintf(stderr, "usage: c_epoll_echo PORT [THREADS]\n");
        return 2;
    }
    int threads = argc > 2 ? atoi(argv[2]) : 2;
    if (threads < 1 || threads > 64) {
        fprintf(stderr, "c_epoll_echo: THREADS is 1..64\n");
        return 2;
    }
    pthread_t t[64];
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, run, NULL);
    pthread_join(t[0], NULL);
    return 0;
}
