// SPDX-License-Identifier: GPL-2.0
/*
 * estack fault-injection selftests of ALLOC_BATCH and FREE_BATCH (debug
 * kernel): every allocation and user copy of a batch fails once, in turn,
 * and a fatal signal stops a batch between each two items. A stopped
 * batch's done counts exactly the items completed, and nothing leaks
 * (kmemleak and the module's page counters check after the run).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "estack_harness.h"
#include "fault_inject.h"
#include "batch_util.h"

FIXTURE(bat) {
	int fd;
	long long in_use;
	struct estack_api api;
};

FIXTURE_SETUP(bat)
{
	es_test_open_with(_metadata, &self->fd, &self->api,
			  ESTACK_FEATURE_BATCH, "ALLOC_BATCH/FREE_BATCH");
	if (fi_setup() || access(FF_DIR, F_OK))
		ES_SKIP("no fault injection (needs the debug kernel)");
	self->in_use = es_stat("stacks_in_use");
	ASSERT_LE(0, self->in_use);
}

FIXTURE_TEARDOWN(bat)
{
	es_test_close(_metadata, self->fd, self->in_use);
}

/*
 * Fault injection (the debug kernel): every allocation and user copy of a
 * batch of ALLOCs fails once, in turn. Each failed call leaves done = the
 * stacks it made, all valid and zeroed, and nothing else; kmemleak and the
 * page counters check that nothing leaked.
 */
TEST_F(bat, alloc_fault_sweep)
{
	enum { N = 4, MAX_SITES = 2000 };
	long long mapped_cache = es_param("mapped_cache");
	long long cache_budget = es_param("cache_budget");
	struct estack_alloc a[N];
	unsigned int n, i, failed = 0;
	int nth, err;
	bool fired;
	__u32 done;

	nth = fi_open();
	ASSERT_LE(0, nth);
	ASSERT_LE(0, mapped_cache);
	ASSERT_LE(0, cache_budget);
	/* Every item the slow way, so that each run has the same sites. */
	ASSERT_EQ(0, es_set_param("mapped_cache", 0));
	ASSERT_EQ(0, es_set_param("cache_budget", 0));
	for (n = 1; n < MAX_SITES; n++) {
		alloc_items(a, N, 8192);
		ASSERT_EQ(0, fi_arm(nth, n));
		err = batch(self->fd, ESTACK_IOC_ALLOC_BATCH, a, N, &done);
		fired = fi_disarm(nth);
		if (err) {
			failed++;
			EXPECT_TRUE(fired) TH_LOG("n=%u: %s without a fault", n,
						  strerror(err));
			EXPECT_TRUE(err == ENOMEM || err == EFAULT ||
				    err == EINTR)
				TH_LOG("n=%u: unexpected %s", n, strerror(err));
			/* 0 if the first write of done failed */
			if (done == NOT_WRITTEN)
				done = 0;
			EXPECT_GT(N, done) TH_LOG("n=%u", n);
		} else {
			EXPECT_EQ(N, done);
		}
		EXPECT_EQ(self->in_use + done, es_stat("stacks_in_use"))
			TH_LOG("n=%u done=%u", n, done);
		for (i = 0; i < done && i < N; i++) {
			EXPECT_TRUE(live(self->fd, &a[i])) TH_LOG("n=%u", n);
			EXPECT_TRUE(es_zero(a[i].lo, a[i].hi));
			ASSERT_EQ(0, es_free(self->fd, a[i].id));
		}
		if (!err && !fired)
			break;
	}
	EXPECT_EQ(0, es_set_param("mapped_cache", mapped_cache));
	EXPECT_EQ(0, es_set_param("cache_budget", cache_budget));
	close(nth);
	ASSERT_LT(n, MAX_SITES);
	EXPECT_LE(N, failed);
	es_unmap_arenas();
	EXPECT_EQ(es_stat("pages_held") * 4096,
		  es_stat("bytes_in_use") + es_stat("bytes_cached"));
}

/* The same for FREE_BATCH: the stacks before done are gone, the rest live. */
TEST_F(bat, free_fault_sweep)
{
	enum { N = 4, MAX_SITES = 2000 };
	struct estack_alloc a[N];
	struct estack_free f[N];
	unsigned int n, i, failed = 0;
	int nth, err;
	bool fired;
	__u32 done;

	nth = fi_open();
	ASSERT_LE(0, nth);
	for (n = 1; n < MAX_SITES; n++) {
		alloc_items(a, N, 8192);
		ASSERT_EQ(0, batch(self->fd, ESTACK_IOC_ALLOC_BATCH, a, N,
				   &done));
		free_items(f, a, N);
		ASSERT_EQ(0, fi_arm(nth, n));
		err = batch(self->fd, ESTACK_IOC_FREE_BATCH, f, N, &done);
		fired = fi_disarm(nth);
		if (done == NOT_WRITTEN)
			done = 0;
		if (err) {
			failed++;
			EXPECT_TRUE(fired) TH_LOG("n=%u: %s without a fault", n,
						  strerror(err));
			EXPECT_TRUE(err == ENOMEM || err == EFAULT)
				TH_LOG("n=%u: unexpected %s", n, strerror(err));
			EXPECT_GT(N, done);
		} else {
			EXPECT_EQ(N, done);
		}
		/* before done: freed; from done on: live, freed here */
		for (i = 0; i < N; i++)
			EXPECT_TRUE(i < done ? gone(self->fd, a[i].id) :
				    !es_free(self->fd, a[i].id))
				TH_LOG("n=%u item %u", n, i);
		if (!err && !fired)
			break;
	}
	close(nth);
	ASSERT_LT(n, MAX_SITES);
	EXPECT_LE(1, failed);
	EXPECT_EQ(self->in_use, es_stat("stacks_in_use"));
}

/*
 * A fatal signal between two items, through fail_function on
 * estack_should_stop(): its call n + 1 (space n + 1: fail_function lets
 * space - 1 calls through) stops the batch with EINTR and done = n + 1. A
 * batch of N small stacks calls it N - 1 times, between the items, and
 * nowhere else.
 */
TEST_F(bat, stop_between_items)
{
	const char *fn = "estack_should_stop";
	enum { N = 6 };
	struct estack_alloc a[N];
	struct estack_free f[N];
	unsigned int n, i;
	__u32 done;
	bool fired;
	int err;

	for (n = 0; n < N; n++) {
		alloc_items(a, N, 4096);
		ASSERT_EQ(0, ff_arm(fn, 1, n + 1, 1));
		err = batch(self->fd, ESTACK_IOC_ALLOC_BATCH, a, N, &done);
		fired = ff_disarm(fn);
		if (n == N - 1) {
			EXPECT_EQ(0, err);
			EXPECT_FALSE(fired);
			EXPECT_EQ(N, done);
		} else {
			EXPECT_EQ(EINTR, err) TH_LOG("n=%u", n);
			EXPECT_TRUE(fired);
			EXPECT_EQ(n + 1, done);
		}
		ASSERT_GE(N, done);
		EXPECT_EQ(self->in_use + done, es_stat("stacks_in_use"));
		for (i = 0; i < N; i++) {
			if (i < done) {
				EXPECT_TRUE(live(self->fd, &a[i]));
				ASSERT_EQ(0, es_free(self->fd, a[i].id));
			} else {
				EXPECT_TRUE(untouched(&a[i])) TH_LOG("n=%u", n);
			}
		}
	}
	for (n = 0; n < N; n++) {
		alloc_items(a, N, 4096);
		ASSERT_EQ(0, batch(self->fd, ESTACK_IOC_ALLOC_BATCH, a, N,
				   &done));
		free_items(f, a, N);
		ASSERT_EQ(0, ff_arm(fn, 1, n + 1, 1));
		err = batch(self->fd, ESTACK_IOC_FREE_BATCH, f, N, &done);
		fired = ff_disarm(fn);
		EXPECT_EQ(n == N - 1 ? 0 : EINTR, err) TH_LOG("n=%u", n);
		EXPECT_EQ(n == N - 1 ? N : n + 1, done);
		EXPECT_EQ(n != N - 1, fired);
		ASSERT_GE(N, done);
		for (i = 0; i < N; i++)
			EXPECT_TRUE(i < done ? gone(self->fd, a[i].id) :
				    !es_free(self->fd, a[i].id))
				TH_LOG("n=%u item %u", n, i);
		EXPECT_EQ(self->in_use, es_stat("stacks_in_use"));
	}
}

TEST_HARNESS_MAIN
