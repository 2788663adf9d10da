// SPDX-License-Identifier: GPL-2.0
/*
 * estack selftests: memory an unprivileged user cannot hide or hoard.
 *
 * Four processes of an unprivileged uid grow stacks without bound, with the
 * module's default parameters, in a small guest (the rig gives it 2 GiB).
 * Every page the module holds for them must be mapped in their address
 * space, so that the OOM killer, which reads RSS, picks one of them; and
 * the default limits (a quarter of RAM per user) must stop them with
 * ENOSPC first. A bystander holding 64 MiB of ordinary memory must
 * survive, and afterwards the module holds nothing more than it did.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "estack_harness.h"

#define WORKERS		4
#define BYSTANDER_MB	64

/* Bytes the module holds for stacks in use (not its free caches). */
static long long in_use_bytes(void)
{
	return es_stat("bytes_in_use");
}

/*
 * Grow stacks until the kernel says no. Exit 0 when that was ENOSPC or
 * ENOMEM; 100 + errno for any other answer. Nothing is live in the
 * stacks (sp at the top): a move then copies nothing, the cheapest way
 * to make the module allocate.
 */
static void worker(int done, int go)
{
	struct estack_move m;
	struct estack_alloc a;
	char c;
	int fd, err;

	if (setgid(65534) || setuid(65534))
		_exit(90);
	fd = es_open();
	if (fd < 0)
		_exit(91);
	for (;;) {
		err = es_alloc(fd, 65536, &a);
		if (err)
			break;
		do {
			memset(&m, 0, sizeof(m));
			m.size = sizeof(m);
			m.id = a.id;
			m.sp = a.hi;
			err = es_ioctl(fd, ESTACK_IOC_GROW, &m);
			a.hi = m.hi;
		} while (!err);
		if (err != EFBIG)
			break;
	}
	if (err != ENOSPC && err != ENOMEM)
		_exit(100 + err);
	/* Hold everything until the parent has looked. */
	c = 0;
	write(done, &c, 1);
	read(go, &c, 1);
	_exit(0);
}

/* 64 MiB of touched anonymous memory, held until told to go. */
static void bystander(int ready, int go)
{
	size_t len = (size_t)BYSTANDER_MB << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char c = 0;

	if (p == MAP_FAILED)
		_exit(92);
	memset(p, 0x5a, len);
	write(ready, &c, 1);
	read(go, &c, 1);
	_exit(p[0] == 0x5a && p[len - 1] == 0x5a ? 0 : 93);
}

FIXTURE(oom) {
	long long in_use;
	long long bytes;
};

FIXTURE_SETUP(oom)
{
	es_test_present(_metadata);
	if (geteuid())
		ES_SKIP("needs root to start processes of another uid");
	self->in_use = es_stat("stacks_in_use");
	self->bytes = in_use_bytes();
	ASSERT_LE(0, self->in_use);
	ASSERT_LE(0, self->bytes);
}

FIXTURE_TEARDOWN(oom)
{
}

TEST_F_TIMEOUT(oom, unprivileged_growth_stops_at_limits, 1200)
{
	int ready[2], go[2], done[2], st[WORKERS], i, status;
	int at_limit = 0, killed = 0, left = WORKERS;
	pid_t by, w[WORKERS];
	struct pollfd pfd;
	char c;

	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(done));
	by = fork();
	ASSERT_LE(0, by);
	if (!by)
		bystander(ready[1], go[0]);
	ASSERT_EQ(1, read(ready[0], &c, 1));

	for (i = 0; i < WORKERS; i++) {
		w[i] = fork();
		ASSERT_LE(0, w[i]);
		if (!w[i])
			worker(done[1], go[0]);
		st[i] = -1;
	}
	/* Each worker ends at its limit (a byte on done) or dead. */
	while (at_limit + WORKERS - left < WORKERS) {
		pfd = (struct pollfd){ .fd = done[0], .events = POLLIN };
		if (poll(&pfd, 1, 1000) == 1 && read(done[0], &c, 1) == 1)
			at_limit++;
		for (i = 0; i < WORKERS; i++) {
			if (st[i] == -1 && waitpid(w[i], &status, WNOHANG) == w[i]) {
				st[i] = status;
				left--;
			}
		}
	}
	EXPECT_EQ(0, kill(by, 0)) TH_LOG("the bystander was killed");
	/* One byte each (the children hold the pipe open too). */
	for (i = 0; i <= WORKERS; i++)
		ASSERT_EQ(1, write(go[1], &c, 1));
	for (i = 0; i < WORKERS; i++) {
		if (st[i] == -1)
			ASSERT_EQ(w[i], waitpid(w[i], &st[i], 0));
		status = st[i];
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
			killed++;
			continue;
		}
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
			TH_LOG("worker %d: status %#x", i, status);
	}
	ASSERT_EQ(by, waitpid(by, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("bystander: status %#x", status);
	TH_LOG("%d workers stopped at the limits, %d OOM-killed", at_limit,
	       killed);
	/*
	 * The limits, a quarter of RAM for the user, stop every worker with
	 * ENOSPC well before memory runs out: none is left to the OOM killer.
	 */
	EXPECT_EQ(WORKERS, at_limit);
	EXPECT_EQ(0, killed);
	EXPECT_EQ(self->in_use, es_stat("stacks_in_use"));
	EXPECT_EQ(self->bytes, in_use_bytes());
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
}

/*
 * Threads of one user growing at once must not hold more than the user's
 * limit between them, not even for a moment: the charge covers the pages
 * of a GROW from before they are allocated until the move ends.
 */
#define GROWERS		16
#define GROW_LIMIT	(128ULL << 20)
#define GROW_TO		(64ULL << 20)

struct grower {
	int fd;
	pthread_barrier_t *start;
	int err;
};

static void *grow_fn(void *arg)
{
	struct grower *g = arg;
	struct estack_alloc a;
	struct estack_move m;

	g->err = es_alloc(g->fd, 4096, &a);
	pthread_barrier_wait(g->start);
	if (g->err)
		return NULL;
	memset(&m, 0, sizeof(m));
	m.size = sizeof(m);
	m.id = a.id;
	m.sp = a.hi;
	m.bytes = GROW_TO;
	g->err = es_ioctl(g->fd, ESTACK_IOC_GROW, &m);
	return NULL;
}

static void growers(int done)
{
	struct grower g[GROWERS];
	pthread_barrier_t start;
	pthread_t t[GROWERS];
	int fd, i, ok = 0;
	char c = 0;

	if (setgid(65534) || setuid(65534))
		_exit(90);
	fd = es_open();
	if (fd < 0)
		_exit(91);
	pthread_barrier_init(&start, NULL, GROWERS);
	for (i = 0; i < GROWERS; i++) {
		g[i] = (struct grower){ .fd = fd, .start = &start };
		if (pthread_create(&t[i], NULL, grow_fn, &g[i]))
			_exit(92);
	}
	for (i = 0; i < GROWERS; i++) {
		pthread_join(t[i], NULL);
		if (g[i].err && g[i].err != ENOSPC)
			_exit(100 + g[i].err);
		ok += !g[i].err;
	}
	write(done, &c, 1);
	/* At most two fit the limit (the 4 KiB stacks take a little). */
	_exit(ok <= GROW_LIMIT / GROW_TO ? 0 : 93);
}

TEST_F_TIMEOUT(oom, concurrent_grows_stay_within_limit, 900)
{
	long long user = es_param("max_bytes_per_user");
	long long peak = 0, now;
	struct pollfd pfd;
	int done[2], status, round;
	pid_t pid;
	char c;

	ASSERT_LE(0, user);
	ASSERT_EQ(0, es_set_param("max_bytes_per_user", GROW_LIMIT));
	ASSERT_EQ(0, pipe(done));
	/* A race: a few rounds, so that an unguarded window shows. */
	for (round = 0; round < 4; round++) {
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid)
			growers(done[1]);
		/* Sample what the module holds for stacks until they end. */
		do {
			now = in_use_bytes() - self->bytes;
			if (now > peak)
				peak = now;
			pfd = (struct pollfd){ .fd = done[0], .events = POLLIN };
		} while (poll(&pfd, 1, 0) == 0);
		ASSERT_EQ(1, read(done[0], &c, 1));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
			TH_LOG("growers: status %#x", status);
	}
	EXPECT_EQ(0, es_set_param("max_bytes_per_user", user));
	TH_LOG("peak %lld KiB held for a limit of %llu KiB", peak >> 10,
	       GROW_LIMIT >> 10);
	EXPECT_GE((long long)GROW_LIMIT + (1 << 20), peak);
	EXPECT_EQ(self->in_use, es_stat("stacks_in_use"));
	EXPECT_EQ(self->bytes, in_use_bytes());
	close(done[0]);
	close(done[1]);
}

TEST_HARNESS_MAIN
