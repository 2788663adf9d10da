// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * echo-server: a loopback TCP echo server and its clients in one process,
 * one fiber per connection on each side (100,000 connections by default:
 * 200,000 fibers), over epoll, on libestack's fiber runtime.
 *
 * Every socket is non-blocking and registered once, edge-triggered; a
 * fiber whose read, write or connect would block parks, and the poller
 * fiber wakes it when epoll says the socket is ready. The poller blocks in
 * epoll_wait() only when no other fiber is runnable. Clients connect from
 * several 127.0.0.x source addresses (about 20,000 connections each, to
 * stay inside the ephemeral port range of one source), at most a thousand
 * connecting at a time (the listen backlog), then wait until all are
 * connected, so that every connection and both of its fibers are alive
 * at once, then echo messages of varied sizes and check every byte.
 *
 * Needs 2 file descriptors per connection: RLIMIT_NOFILE is raised to the
 * hard limit, and the hard limit to what is needed when the process may
 * (CAP_SYS_RESOURCE; fs.nr_open bounds it). Stops by itself; exits 1 on
 * any mismatch, error or when -t seconds pass, 0 otherwise, after one
 * summary line.
 *
 * Stacks start at the pool's smallest, grow at the safe point before the
 * echo buffers, and are relocated with the conservative scan: a fiber
 * parks (a point where its stack may shrink) with the address of its
 * buffer in registers.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <estack.h>
#include <estack/fiber.h>

#define MAX_MSG		1024
#define MAX_CONNECTING	1000
#define PER_SOURCE	20000

struct conn {
	int fd;
	struct estack_fiber *fiber;
	bool waiting;		/* parked until the socket is ready */
	unsigned int id;
};

static int epfd, lfd;
static struct sockaddr_in server_addr;
static unsigned int nr_conns = 100000, nr_rounds = 3, timeout_s = 120;
static unsigned int nr_sources;
static unsigned int connecting, connected, clients_done, servers_done;
/* descriptors of connections, both ends, and how many may be open */
static unsigned long long fds_open, fds_max;
static unsigned long long bytes_echoed, mismatches, errors;
static struct estack_fiber **connect_waiters, **barrier;
/*
 * Client i is conns[i], the server side of the k-th accepted connection
 * conns[nr_conns + k]. Not on the fibers' stacks: epoll keeps the address,
 * and relocation cannot rewrite what the kernel holds.
 */
static struct conn *conns, listener;
static unsigned int nr_connect_waiters, nr_barrier;
static struct timespec t0;

static double elapsed(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
}

static void fail(const char *what, int err)
{
	fprintf(stderr, "echo-server: %s: %s\n", what, strerror(err));
	errors++;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

/* Park until epoll reports the socket ready. */
static void wait_ready(struct conn *c)
{
	c->waiting = true;
	estack_fiber_park();
}

static int watch(struct conn *c)
{
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
		.data.ptr = c,
	};

	c->fiber = estack_fiber_self();
	return epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) ? -errno : 0;
}

static ssize_t co_read(struct conn *c, void *buf, size_t len)
{
	for (;;) {
		ssize_t n = read(c->fd, buf, len);

		if (n >= 0)
			return n;
		if (errno != EAGAIN)
			return -errno;
		wait_ready(c);
	}
}

static int co_write(struct conn *c, const void *buf, size_t len)
{
	while (len) {
		ssize_t n = write(c->fd, buf, len);

		if (n < 0 && errno != EAGAIN)
			return -errno;
		if (n < 0) {
			wait_ready(c);
			continue;
		}
		buf = (const char *)buf + n;
		len -= n;
	}
	return 0;
}

/*
 * A client may start when fewer than MAX_CONNECTING are in the handshake
 * (the listen backlog) and its two descriptors fit under RLIMIT_NOFILE.
 */
static void gate_enter(void)
{
	while (connecting >= MAX_CONNECTING || fds_open + 2 > fds_max) {
		connect_waiters[nr_connect_waiters++] = estack_fiber_self();
		estack_fiber_park();
	}
	connecting++;
	fds_open += 2;	/* the client's socket and the server's */
}

static void gate_wake(void)
{
	if (nr_connect_waiters)
		estack_fiber_wake(connect_waiters[--nr_connect_waiters]);
}

static void close_conn(struct conn *c)
{
	close(c->fd);
	c->fd = -1;
	fds_open--;
	gate_wake();
}

/* ---- the server side: one fiber per accepted connection ---- */

static __attribute__((noipa)) void echo_loop(struct conn *c)
{
	char buf[4096];
	ssize_t n;
	int err;

	while ((n = co_read(c, buf, sizeof(buf))) > 0) {
		err = co_write(c, buf, n);
		if (err) {
			fail("server write", -err);
			return;
		}
	}
	/* the clients close with a reset: no TIME_WAIT to run out of ports */
	if (n < 0 && n != -ECONNRESET)
		fail("server read", (int)-n);
}

static void *server_fiber(void *arg)
{
	struct conn *c = arg;
	int err = watch(c);

	if (err) {
		fail("epoll_ctl", -err);
	} else {
		/* the safe point before the frame with the 4 KiB buffer */
		err = estack_fiber_check(sizeof(char[4096]));
		if (err)
			fail("estack_fiber_check", -err);
		else
			echo_loop(c);
	}
	close_conn(c);
	servers_done++;
	return NULL;
}

static void *acceptor(void *arg)
{
	struct conn *c = &listener;
	struct estack_fiber *f;
	unsigned int accepted = 0;
	int fd, err;

	c->fd = lfd;
	err = watch(c);
	if (err) {
		fail("epoll_ctl", -err);
		return NULL;
	}
	while (accepted < nr_conns) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && errno == EAGAIN) {
			wait_ready(c);
			continue;
		}
		if (fd < 0) {
			fail("accept4", errno);
			return NULL;
		}
		conns[nr_conns + accepted].fd = fd;
		err = estack_fiber_create(&f, 0, 0, server_fiber,
					  &conns[nr_conns + accepted]);
		if (!err)
			err = estack_fiber_detach(f);
		if (err) {
			fail("estack_fiber_create", -err);
			close(fd);
			return NULL;
		}
		accepted++;
	}
	return NULL;
}

/* ---- the client side: one fiber per connection ---- */

static int client_connect(struct conn *c)
{
	struct sockaddr_in src = {
		.sin_family = AF_INET,
		/* 127.0.0.1, .2, ...: one source per PER_SOURCE clients */
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK + c->id % nr_sources),
	};
	int one = 1, soerr = 0, err;
	socklen_t len = sizeof(soerr);
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	/* the port is chosen at connect, per 4-tuple, not at bind */
	if (setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		       sizeof(one)) ||
	    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) ||
	    bind(c->fd, (struct sockaddr *)&src, sizeof(src)))
		return -errno;
	err = watch(c);
	if (err)
		return err;
	if (!connect(c->fd, (struct sockaddr *)&server_addr,
		     sizeof(server_addr)))
		return 0;
	if (errno != EINPROGRESS)
		return -errno;
	wait_ready(c);
	while (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 &&
	       soerr == 0) {
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);

		if (!getpeername(c->fd, (struct sockaddr *)&peer, &plen))
			return 0;
		wait_ready(c);	/* woken before the handshake finished */
	}
	return soerr ? -soerr : -errno;
}

static __attribute__((noipa)) int echo_once(struct conn *c,
					       unsigned int round)
{
	unsigned char out[MAX_MSG], in[MAX_MSG];
	uint64_t h = mix((uint64_t)c->id << 8 | round);
	size_t len = 1 + h % MAX_MSG, got = 0, i;
	ssize_t n;
	int err;

	for (i = 0; i < len; i++)
		out[i] = (unsigned char)(h >> (i % 7 * 8)) + i;
	err = co_write(c, out, len);
	if (err)
		return err;
	while (got < len) {
		n = co_read(c, in + got, len - got);
		if (n < 0)
			return (int)n;
		if (!n)
			return -ECONNRESET;
		got += n;
	}
	if (memcmp(in, out, len))
		mismatches++;
	bytes_echoed += len;
	return 0;
}

static void *client_fiber(void *arg)
{
	struct conn *c = arg;
	unsigned int r, i;
	int err;

	gate_enter();
	err = client_connect(c);
	connecting--;
	gate_wake();
	if (err) {
		fail("connect", -err);
		fds_open -= c->fd < 0 ? 2 : 1;	/* no server side */
		goto out;
	}
	/* the safe point before the frame with the two buffers */
	err = estack_fiber_check(2 * MAX_MSG);
	for (r = 0; !err && r < nr_rounds; r++) {
		err = echo_once(c, r);
		/*
		 * After the first echo: wait until every client is here, when
		 * the descriptors allow them all at once.
		 */
		if (!err && r == 0 && 2ULL * nr_conns > fds_max)
			continue;
		if (!err && r == 0 && ++connected < nr_conns) {
			barrier[nr_barrier++] = estack_fiber_self();
			estack_fiber_park();
		} else if (!err && r == 0) {
			for (i = 0; i < nr_barrier; i++)
				estack_fiber_wake(barrier[i]);
		}
	}
	if (err)
		fail("echo", -err);
out:
	if (c->fd >= 0)
		close_conn(c);
	clients_done++;
	return NULL;
}

static void *spawner(void *arg)
{
	struct estack_fiber *f;
	unsigned int i;
	int err;

	for (i = 0; i < nr_conns; i++) {
		conns[i].fd = -1;
		conns[i].id = i;
		err = estack_fiber_create(&f, 0, 0, client_fiber, &conns[i]);
		if (!err)
			err = estack_fiber_detach(f);
		if (err) {
			fail("estack_fiber_create", -err);
			/* the barrier cannot fill: let the others go on */
			connected = nr_conns;
			clients_done += nr_conns - i;
			return NULL;
		}
		if (i % 256 == 255)
			estack_fiber_yield();
	}
	return NULL;
}

/* ---- the poller ---- */

static size_t peak_fibers;

static void summary(const char *how)
{
	struct estack_sched_stats st;

	estack_sched_stats(&st);
	printf("echo-server: %s: %u connections (%u sources, at most %llu open at once), ",
	       how, nr_conns, nr_sources, fds_max / 2);
	printf("%u rounds, %llu bytes echoed, %llu mismatches, %llu errors, ",
	       nr_rounds, bytes_echoed, mismatches, errors);
	printf("peak %zu fibers, peak stack %zu KiB, %llu grows, %llu shrinks, ",
	       peak_fibers, st.peak_stack_bytes >> 10,
	       (unsigned long long)st.grows, (unsigned long long)st.shrinks);
	printf("learned start size %zu KiB, %.2f s\n", st.start_size >> 10,
	       elapsed());
}

#define NR_EVENTS	256

static __attribute__((noipa)) void poll_loop(void)
{
	struct epoll_event ev[NR_EVENTS];
	struct estack_sched_stats st;
	int n, i, wait_ms;

	while (clients_done < nr_conns || servers_done < nr_conns) {
		if (elapsed() > timeout_s) {
			summary("TIMEOUT");
			fflush(stdout);
			_exit(1);
		}
		estack_sched_stats(&st);
		if (st.live > peak_fibers)
			peak_fibers = st.live;
		/* a fiber that got no stack never ran: its peer would wait */
		if (st.start_failures) {
			fprintf(stderr, "echo-server: a fiber got no stack\n");
			errors++;
			summary("FAILED");
			fflush(stdout);
			_exit(1);
		}
		wait_ms = st.runnable ? 0 : 100;
		n = epoll_wait(epfd, ev, NR_EVENTS, wait_ms);
		if (n < 0 && errno != EINTR) {
			fail("epoll_wait", errno);
			_exit(1);
		}
		for (i = 0; i < n; i++) {
			struct conn *c = ev[i].data.ptr;

			if (c->waiting) {
				c->waiting = false;
				estack_fiber_wake(c->fiber);
			}
		}
		estack_fiber_yield();
	}
}

static void *poller(void *arg)
{
	/* the safe point before the frame with the event array */
	int err = estack_fiber_check(sizeof(struct epoll_event[NR_EVENTS]));

	if (err) {
		fail("estack_fiber_check", -err);
		_exit(1);
	}
	poll_loop();
	return NULL;
}

/* ---- setup ---- */

/*
 * RLIMIT_NOFILE up to its hard limit, and the hard limit up to @need when
 * the process may (CAP_SYS_RESOURCE, fs.nr_open). Returns the limit.
 */
static rlim_t raise_nofile(rlim_t need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 0;
	if (rl.rlim_max < need) {
		struct rlimit want = { need, need };

		if (!setrlimit(RLIMIT_NOFILE, &want))
			return need;
	}
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	return rl.rlim_cur;
}

static const char usage[] =
	"Usage: echo-server [-n CONNECTIONS] [-r ROUNDS] [-t SECONDS]\n"
	"A loopback echo server and its clients, one fiber per connection\n"
	"on each side (default 100000 connections, 3 echoes each), all\n"
	"connected at once, over epoll. Needs 2 descriptors per connection\n"
	"(RLIMIT_NOFILE is raised). Exits non-zero on a mismatch, an\n"
	"error or after SECONDS (default 120).\n";

int main(int argc, char **argv)
{
	struct estack_sched_stats st;
	struct estack_fiber *f;
	struct estack_pool *pool;
	socklen_t alen = sizeof(server_addr);
	int opt, err, left;

	while ((opt = getopt(argc, argv, "n:r:t:h")) != -1) {
		switch (opt) {
		case 'n':
			nr_conns = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			nr_rounds = strtoul(optarg, NULL, 0);
			break;
		case 't':
			timeout_s = strtoul(optarg, NULL, 0);
			break;
		default:
			fputs(usage, opt == 'h' ? stdout : stderr);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (!nr_conns || !nr_rounds) {
		fputs(usage, stderr);
		return 2;
	}
	nr_sources = (nr_conns + PER_SOURCE - 1) / PER_SOURCE;
	if (nr_sources < 2)
		nr_sources = 2;
	/* 2 per connection, and a few for the rest */
	fds_max = raise_nofile(2ULL * nr_conns + 64);
	fds_max = fds_max > 64 ? fds_max - 64 : 0;
	if (fds_max < 2) {
		fprintf(stderr, "echo-server: RLIMIT_NOFILE is too low\n");
		return 1;
	}
	if (fds_max > 2ULL * nr_conns)
		fds_max = 2ULL * nr_conns;
	if (fds_max < 2ULL * nr_conns)
		fprintf(stderr,
			"echo-server: RLIMIT_NOFILE allows %llu descriptors, not %llu: at most %llu connections open at once (every fiber still alive at once); as root, or with a higher hard limit (ulimit -Hn), all are\n",
			fds_max, 2ULL * nr_conns, fds_max / 2);
	connect_waiters = calloc(nr_conns, sizeof(*connect_waiters));
	barrier = calloc(nr_conns, sizeof(*barrier));
	conns = calloc(2 * (size_t)nr_conns, sizeof(*conns));
	if (!connect_waiters || !barrier || !conns)
		return 1;

	err = estack_pool_open(&pool, ESTACK_POOL_FALLBACK);
	if (!err)
		err = estack_sched_init(pool, ESTACK_FIBER_CONSERVATIVE |
					ESTACK_SCHED_CATCH_OVERFLOW);
	if (err) {
		fprintf(stderr, "echo-server: libestack: %s\n", strerror(-err));
		return 1;
	}

	server_addr.sin_family = AF_INET;
	server_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (lfd < 0 || epfd < 0 ||
	    bind(lfd, (struct sockaddr *)&server_addr, sizeof(server_addr)) ||
	    listen(lfd, 4096) ||
	    getsockname(lfd, (struct sockaddr *)&server_addr, &alen)) {
		perror("echo-server: listen");
		return 1;
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (estack_fiber_create(&f, 0, 0, poller, NULL) ||
	    estack_fiber_detach(f) ||
	    estack_fiber_create(&f, 0, 0, acceptor, NULL) ||
	    estack_fiber_detach(f) ||
	    estack_fiber_create(&f, 0, 0, spawner, NULL) ||
	    estack_fiber_detach(f)) {
		fprintf(stderr, "echo-server: cannot create fibers\n");
		return 1;
	}
	left = estack_sched_run();
	if (left) {
		fprintf(stderr, "echo-server: %d fibers left parked\n", left);
		errors++;
	}
	/* the poller, acceptor or spawner got no stack: nothing ran */
	estack_sched_stats(&st);
	if (st.start_failures) {
		fprintf(stderr, "echo-server: %llu fibers got no stack\n",
			(unsigned long long)st.start_failures);
		errors++;
	}
	summary(mismatches || errors ? "FAILED" : "ok");
	close(lfd);
	close(epfd);
	free(connect_waiters);
	free(barrier);
	free(conns);
	estack_sched_fini();
	estack_pool_close(pool);
	return mismatches || errors ? 1 : 0;
}
