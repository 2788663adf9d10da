// SPDX-License-Identifier: GPL-2.0
/*
 * estack at scale (stock kernel, a VM with the memory for it): one million
 * 4 KiB stacks in one process, where user-space allocators with a guard
 * mapping per stack stop near vm.max_map_count / 2. The VMA count stays
 * flat, every stack works, and exit gives everything back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "estack_harness.h"

#define NR_STACKS	1000000

static int million(long long in_use)
{
	static __u64 lo[NR_STACKS];
	static __u32 id[NR_STACKS];
	struct estack_alloc a;
	int fd, vmas, i;

	fd = es_open();
	if (fd < 0)
		return 10;
	if (es_alloc(fd, 4096, &a))
		return 11;
	lo[0] = a.lo;
	id[0] = a.id;
	es_poke(a.hi - 8, 0);
	vmas = es_count_vmas();
	for (i = 1; i < NR_STACKS; i++) {
		if (es_alloc(fd, 4096, &a))
			return 12;
		if (a.hi - a.lo != 4096)
			return 16;
		lo[i] = a.lo;
		id[i] = a.id;
		/* Every stack is mapped and writable from the start. */
		es_poke(a.hi - 8, (unsigned char)i);
	}
	if (es_count_vmas() != vmas)
		return 13;
	if (es_stat("stacks_in_use") != in_use + NR_STACKS)
		return 14;
	/*
	 * Every byte written is still there: no two stacks share a page.
	 * Slots are carved upwards, so the ranges come in order, each with
	 * its guard page between it and the one before, in the same arena.
	 */
	for (i = 0; i < NR_STACKS; i++) {
		if (es_peek(lo[i] + 4096 - 8) != (unsigned char)i)
			return 17;
		if (i && lo[i] > lo[i - 1] && lo[i] < lo[i - 1] + 2 * 4096)
			return 18;
	}
	/* Free a tenth the polite way; exit takes the rest. */
	for (i = 0; i < NR_STACKS / 10; i++)
		if (es_free(fd, id[i]))
			return 15;
	return 0;
}

FIXTURE(scale) {
};

FIXTURE_SETUP(scale)
{
}

FIXTURE_TEARDOWN(scale)
{
}

/* Minutes under TCG: a million ioctls and page insertions. */
TEST_F_TIMEOUT(scale, one_million_stacks, 1200)
{
	long long in_use, fd_bytes, user_bytes;
	int status;
	pid_t pid;

	es_test_present(_metadata);
	in_use = es_stat("stacks_in_use");
	fd_bytes = es_param("max_bytes_per_fd");
	user_bytes = es_param("max_bytes_per_user");
	ASSERT_LT(0, fd_bytes);
	ASSERT_LT(0, user_bytes);
	/* 4 GiB of stacks: past the defaults (a quarter of RAM) on purpose. */
	ASSERT_EQ(0, es_set_param("max_bytes_per_fd", 5ULL << 30));
	ASSERT_EQ(0, es_set_param("max_bytes_per_user", 5ULL << 30));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(million(in_use));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, es_set_param("max_bytes_per_fd", fd_bytes));
	EXPECT_EQ(0, es_set_param("max_bytes_per_user", user_bytes));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(in_use, es_stat("stacks_in_use"));
	/* What is still held is only the reserve of free stacks. */
	EXPECT_EQ(es_stat("pages_held") * 4096, es_stat("bytes_cached"));
	EXPECT_GE(es_param("pool_reserve") + (1 << 20) * 16,
		  es_stat("bytes_cached"));
}

TEST_HARNESS_MAIN
