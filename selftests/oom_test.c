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
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "estack_util.h"

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
	fd = open(DEV_PATH, O_RDWR | O_CLOEXEC);
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
	if (access(DEV_PATH, F_OK))
		SKIP(return, DEV_PATH " is absent: is estack.ko loaded?");
	if (geteuid())
		SKIP(return, "needs root to start processes of another uid");
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
	EXPECT_EQ(self->in_use, es_stat("stacks_in_use"));
	EXPECT_EQ(self->bytes, in_use_bytes());
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
}

TEST_HARNESS_MAIN
