// SPDX-License-Identifier: GPL-2.0
/*
 * estack selftests: ALLOC_BATCH and FREE_BATCH. The header's checks, full
 * batches, and every way a batch stops part way: an item the single
 * command refuses, a limit, an unknown id, an unreadable or unwritable
 * item, a fatal signal, an injected fault. A stopped batch's done counts
 * exactly the items completed: their stacks are valid (ALLOC) or gone
 * (FREE), the later items untouched, and nothing is lost.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "estack_harness.h"
#include "batch_util.h"

FIXTURE(bat) {
	int fd;
	long page;
	long long in_use;
	struct estack_api api;
};

FIXTURE_SETUP(bat)
{
	self->page = sysconf(_SC_PAGESIZE);
	es_test_open_with(_metadata, &self->fd, &self->api,
			  ESTACK_FEATURE_BATCH, "ALLOC_BATCH/FREE_BATCH");
	self->in_use = es_stat("stacks_in_use");
	ASSERT_LE(0, self->in_use);
}

FIXTURE_TEARDOWN(bat)
{
	/* Every stack a test made is freed again, by the test or here. */
	es_test_close(_metadata, self->fd, self->in_use);
}

TEST_F(bat, feature_and_dispatch)
{
	struct estack_api api;

	ASSERT_EQ(0, es_api(self->fd, &api));
	EXPECT_TRUE(api.features & ESTACK_FEATURE_BATCH);
	/* Dispatched: a NULL header is EFAULT, not ENOTTY. */
	EXPECT_EQ(EFAULT, es_ioctl(self->fd, ESTACK_IOC_ALLOC_BATCH, NULL));
	EXPECT_EQ(EFAULT, es_ioctl(self->fd, ESTACK_IOC_FREE_BATCH, NULL));
}

/* The header's errors, for both commands; none of them does anything. */
static void header_errors(struct __test_metadata *_metadata, int fd,
			  unsigned long cmd, long page)
{
	static const __u32 short_sizes[] = { 0, 4, 8, 23 };
	struct estack_alloc a[2];
	struct estack_batch b;
	struct {
		struct estack_batch b;
		__u64 tail[2];
	} big;
	char *map;
	unsigned int k;

	alloc_items(a, 2, 0);
	for (k = 0; k < ARRAY_SIZE(short_sizes); k++) {
		b = (struct estack_batch){ .size = short_sizes[k], .nr = 1,
			.done = NOT_WRITTEN, .items = (uintptr_t)a };
		EXPECT_EQ(EINVAL, es_ioctl(fd, cmd, &b))
			TH_LOG("size %u", short_sizes[k]);
		EXPECT_EQ(NOT_WRITTEN, b.done);
	}
	/* A longer header: a zero tail is fine, anything else E2BIG. */
	memset(&big, 0, sizeof(big));
	big.b = (struct estack_batch){ .size = sizeof(big), .nr = 1,
		.done = NOT_WRITTEN, .items = (uintptr_t)&a[1] };
	big.tail[1] = 1;
	EXPECT_EQ(E2BIG, es_ioctl(fd, cmd, &big));
	EXPECT_EQ(NOT_WRITTEN, big.b.done);
	big.tail[1] = 0;
	if (cmd == ESTACK_IOC_ALLOC_BATCH) {
		EXPECT_EQ(0, es_ioctl(fd, cmd, &big));
		EXPECT_EQ(1, big.b.done);
		EXPECT_EQ(0, es_free(fd, a[1].id));
		alloc_items(a, 2, 0);
	} else {
		/* read as a FREE item: id 0, unknown */
		EXPECT_EQ(ENOENT, es_ioctl(fd, cmd, &big));
		EXPECT_EQ(0, big.b.done);
	}
	/* Above a page, whatever the tail. */
	map = calloc(1, 2 * page);
	ASSERT_FALSE(!map);
	memcpy(map, &big.b, sizeof(big.b));
	((struct estack_batch *)map)->done = NOT_WRITTEN;
	((struct estack_batch *)map)->size = page + 8;
	EXPECT_EQ(E2BIG, es_ioctl(fd, cmd, map));
	((struct estack_batch *)map)->size = UINT32_MAX;
	EXPECT_EQ(E2BIG, es_ioctl(fd, cmd, map));
	EXPECT_EQ(NOT_WRITTEN, ((struct estack_batch *)map)->done);
	free(map);

	b = (struct estack_batch){ .size = sizeof(b), .nr = 1,
		.done = NOT_WRITTEN, .items = (uintptr_t)a };
	for (k = 0; k < 32; k++) {
		b.flags = 1U << k;
		EXPECT_EQ(EINVAL, es_ioctl(fd, cmd, &b)) TH_LOG("flag %u", k);
	}
	b.flags = 0;
	b.nr = 0;
	EXPECT_EQ(EINVAL, es_ioctl(fd, cmd, &b));
	b.nr = ESTACK_BATCH_MAX + 1;
	EXPECT_EQ(E2BIG, es_ioctl(fd, cmd, &b));
	b.nr = UINT32_MAX;
	EXPECT_EQ(E2BIG, es_ioctl(fd, cmd, &b));
	/* flags before nr */
	b.flags = 1;
	EXPECT_EQ(EINVAL, es_ioctl(fd, cmd, &b));
	EXPECT_EQ(NOT_WRITTEN, b.done);

	/* Items that cannot be read: the first item fails, done is 0. */
	EXPECT_EQ(EFAULT, batch(fd, cmd, NULL, 4, &b.done));
	EXPECT_EQ(0, b.done);
	map = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	EXPECT_EQ(EFAULT, batch(fd, cmd, map, 4, &b.done));
	EXPECT_EQ(0, b.done);
	/* Not a 32-bit pointer (-m32), not a user address (64-bit). */
	b = (struct estack_batch){ .size = sizeof(b), .nr = 1,
		.done = NOT_WRITTEN,
		.items = (sizeof(long) == 8 ? 1ULL << 63 : 1ULL << 32) +
			 (uintptr_t)a };
	EXPECT_EQ(EFAULT, es_ioctl(fd, cmd, &b));
	EXPECT_EQ(0, b.done);
	munmap(map, page);

	/* A header that cannot be written: EFAULT before the first item. */
	map = mmap(NULL, page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	b = (struct estack_batch){ .size = sizeof(b), .nr = 2,
		.done = NOT_WRITTEN, .items = (uintptr_t)a };
	memcpy(map, &b, sizeof(b));
	ASSERT_EQ(0, mprotect(map, page, PROT_READ));
	EXPECT_EQ(EFAULT, es_ioctl(fd, cmd, map));
	EXPECT_EQ(NOT_WRITTEN, ((struct estack_batch *)map)->done);
	munmap(map, page);
	EXPECT_TRUE(untouched(&a[0]));
	EXPECT_TRUE(untouched(&a[1]));
}

TEST_F(bat, alloc_header_errors)
{
	header_errors(_metadata, self->fd, ESTACK_IOC_ALLOC_BATCH, self->page);
	EXPECT_EQ(self->in_use, es_stat("stacks_in_use"));
}

TEST_F(bat, free_header_errors)
{
	struct estack_alloc a;

	ASSERT_EQ(0, es_alloc(self->fd, 0, &a));
	header_errors(_metadata, self->fd, ESTACK_IOC_FREE_BATCH, self->page);
	EXPECT_TRUE(live(self->fd, &a));
	EXPECT_EQ(0, es_free(self->fd, a.id));
}

static int cmp_u64(const void *x, const void *y)
{
	__u64 a = *(const __u64 *)x, b = *(const __u64 *)y;

	return a < b ? -1 : a > b;
}

/*
 * 256 stacks of four sizes in one call, each valid, zero-filled and apart
 * from the others, with its own id; then all of them freed in one call.
 */
TEST_F(bat, alloc_free_max)
{
	enum { N = ESTACK_BATCH_MAX };
	struct estack_alloc *a = calloc(N, sizeof(*a));
	struct estack_free *f = calloc(N, sizeof(*f));
	__u64 *lo = calloc(N, sizeof(*lo)), want_bytes = 0;
	long long allocs = es_stat("allocs"), frees = es_stat("frees");
	long long bytes = es_stat("bytes_in_use");
	__u32 done;
	unsigned int i, j;

	ASSERT_FALSE(!a || !f || !lo);
	alloc_items(a, N, 0);
	for (i = 0; i < N; i++) {
		a[i].bytes = 4096 << (i % 4);
		want_bytes += a[i].bytes;
	}
	ASSERT_EQ(0, batch(self->fd, ESTACK_IOC_ALLOC_BATCH, a, N, &done));
	EXPECT_EQ(N, done);
	EXPECT_EQ(self->in_use + N, es_stat("stacks_in_use"));
	EXPECT_EQ(allocs + N, es_stat("allocs"));
	EXPECT_EQ(bytes + (long long)want_bytes, es_stat("bytes_in_use"));
	for (i = 0; i < N; i++) {
		EXPECT_EQ(a[i].bytes, a[i].hi - a[i].lo) TH_LOG("item %u", i);
		EXPECT_TRUE(live(self->fd, &a[i])) TH_LOG("item %u", i);
		EXPECT_TRUE(es_zero(a[i].lo, a[i].hi)) TH_LOG("item %u", i);
		es_poke(a[i].hi - 1, 1);
		lo[i] = a[i].lo;
		for (j = 0; j < i; j++)
			ASSERT_NE(a[j].id, a[i].id) TH_LOG("items %u %u", j, i);
	}
	/* Apart: sorted by lo, each ends (with a guard) before the next. */
	qsort(lo, N, sizeof(*lo), cmp_u64);
	for (i = 1; i < N; i++)
		EXPECT_LT(lo[i - 1], lo[i]);
	for (i = 0; i < N; i++)
		for (j = 0; j < N; j++)
			if (lo[j] == a[i].lo && j + 1 < N)
				EXPECT_LE(a[i].hi + self->page, lo[j + 1]);

	free_items(f, a, N);
	ASSERT_EQ(0, batch(self->fd, ESTACK_IOC_FREE_BATCH, f, N, &done));
	EXPECT_EQ(N, done);
	for (i = 0; i < N; i++)
		EXPECT_TRUE(gone(self->fd, a[i].id)) TH_LOG("item %u", i);
	EXPECT_EQ(self->in_use, es_stat("stacks_in_use"));
	EXPECT_EQ(frees + N, es_stat("frees"));
	EXPECT_EQ(bytes, es_stat("bytes_in_use"));
	free(a);
	free(f);
	free(lo);
}

/* The counters move as for the same single commands, one by one. */
TEST_F(bat, counters_match_single_commands)
{
	enum { N = 10 };
	struct estack_alloc a[N];
	struct estack_free f[N];
	long long d_allocs, d_frees, d_bytes, base;
	__u32 done;
	int i;

	base = es_stat("allocs");
	for (i = 0; i < N; i++)
		ASSERT_EQ(0, es_alloc(self->fd, 8192, &a[i]));
	d_allocs = es_stat("allocs") - base;
	d_bytes = es_stat("bytes_in_use");
	base = es_stat("frees");
	for (i = 0; i < N; i++)
		ASSERT_EQ(0, es_free(self->fd, a[i].id));
	d_frees = es_stat("frees") - base;
	d_bytes -= es_stat("bytes_in_use");
	EXPECT_EQ(N, d_allocs);
	EXPECT_EQ(N, d_frees);

	base = es_stat("allocs");
	alloc_items(a, N, 8192);
	ASSERT_EQ(0, batch(self->fd, ESTACK_IOC_ALLOC_BATCH, a, N, &done));
	EXPECT_EQ(d_allocs, es_stat("allocs") - base);
	EXPECT_EQ(self->in_use + N, es_stat("stacks_in_use"));
	d_bytes -= es_stat("bytes_in_use");
	base = es_stat("frees");
	free_items(f, a, N);
	ASSERT_EQ(0, batch(self->fd, ESTACK_IOC_FREE_BATCH, f, N, &done));
	EXPECT_EQ(d_frees, es_stat("frees") - base);
	d_bytes += es_stat("bytes_in_use");
	EXPECT_EQ(0, d_bytes);
}

/*
 * An item the single ALLOC refuses, at position k: the batch stops there
 * with that errno and done = k; the stacks before are valid and freeable,
 * the items after untouched.
 */
TEST_F(bat, alloc_stops_at_bad_item)
{
	enum { N = 8, K = 5 };
	static const struct {
		const char *what;
		int err;
	} cases[] = {
		{ "flags", EINVAL }, { "pad", EINVAL }, { "short size", EINVAL },
		{ "past max_stack", EFBIG },
	};
	struct estack_alloc a[N];
	unsigned int c, i;
	__u32 done;

	for (c = 0; c < ARRAY_SIZE(cases); c++) {
		alloc_items(a, N, 4096);
		if (c == 0)
			a[K].flags = 1;
		else if (c == 1)
			a[K].pad = 1;
		else if (c == 2)
			a[K].size = ESTACK_ALLOC_SIZE_VER0 - 8;
		else
			a[K].bytes = self->api.max_stack + 1;
		EXPECT_EQ(cases[c].err, batch(self->fd, ESTACK_IOC_ALLOC_BATCH,
					      a, N, &done))
			TH_LOG("%s", cases[c].what);
		EXPECT_EQ(K, done) TH_LOG("%s", cases[c].what);
		EXPECT_EQ(self->in_use + K, es_stat("stacks_in_use"));
		for (i = 0; i < N; i++) {
			if (i < K) {
				EXPECT_TRUE(live(self->fd, &a[i]));
				EXPECT_TRUE(es_zero(a[i].lo, a[i].hi));
			} else {
				EXPECT_TRUE(untouched(&a[i]))
					TH_LOG("%s: item %u", cases[c].what, i);
			}
		}
		for (i = 0; i < K; i++)
			EXPECT_EQ(0, es_free(self->fd, a[i].id));
		EXPECT_EQ(self->in_use, es_stat("stacks_in_use"));
	}
}

/* A per-file byte limit reached mid-batch: ENOSPC, done = what fitted. */
TEST_F(bat, alloc_enospc_mid_batch)
{
	enum { N = 6, FIT = 3 };
	long long bytes = es_param("max_bytes_per_fd");
	long long cache = es_param("mapped_cache");
	struct estack_alloc a[N];
	unsigned int i;
	int err, fd;
	__u32 done;

	if (geteuid())
		ES_SKIP("needs root to lower the limits");
	ASSERT_LT(0, bytes);
	ASSERT_LE(0, cache);
	/* A file of its own: nothing live or cached counts against it. */
	fd = es_open();
	ASSERT_LE(0, fd);
	alloc_items(a, N, 4096);
	ASSERT_EQ(0, es_set_param("max_bytes_per_fd", FIT * 4096));
	err = batch(fd, ESTACK_IOC_ALLOC_BATCH, a, N, &done);
	EXPECT_EQ(0, es_set_param("max_bytes_per_fd", bytes));
	EXPECT_EQ(ENOSPC, err);
	EXPECT_EQ(FIT, done);
	EXPECT_EQ(self->in_use + FIT, es_stat("stacks_in_use"));
	for (i = 0; i < N; i++)
		EXPECT_TRUE(i < FIT ? live(fd, &a[i]) : untouched(&a[i]))
			TH_LOG("item %u", i);
	/* The limit back up: the rest of the batch goes through. */
	EXPECT_EQ(0, batch(fd, ESTACK_IOC_ALLOC_BATCH, &a[FIT], N - FIT,
			   &done));
	EXPECT_EQ(N - FIT, done);
	for (i = 0; i < N; i++)
		EXPECT_EQ(0, es_free(fd, a[i].id)) TH_LOG("item %u", i);
	close(fd);
}

/*
 * FREE_BATCH with an unknown id at k: ENOENT, done = k, the stacks before
 * it freed, the ones after it still live. A repeated id is unknown the
 * second time.
 */
TEST_F(bat, free_stops_at_unknown_id)
{
	enum { N = 8, K = 3 };
	struct estack_alloc a[N];
	struct estack_free f[N];
	unsigned int i;
	__u32 done;

	alloc_items(a, N, 8192);
	ASSERT_EQ(0, batch(self->fd, ESTACK_IOC_ALLOC_BATCH, a, N, &done));
	free_items(f, a, N);
	f[K].id = 0xfffffff0;
	EXPECT_EQ(ENOENT, batch(self->fd, ESTACK_IOC_FREE_BATCH, f, N, &done));
	EXPECT_EQ(K, done);
	for (i = 0; i < N; i++)
		EXPECT_TRUE(i < K ? gone(self->fd, a[i].id) : live(self->fd, &a[i]))
			TH_LOG("item %u", i);
	EXPECT_EQ(self->in_use + N - K, es_stat("stacks_in_use"));

	/* The rest, then item K's id again: unknown by then. */
	free_items(f, &a[K], N - K);
	f[N - K] = f[0];
	EXPECT_EQ(ENOENT, batch(self->fd, ESTACK_IOC_FREE_BATCH, f, N - K + 1,
				&done));
	EXPECT_EQ(N - K, done);
	EXPECT_EQ(self->in_use, es_stat("stacks_in_use"));
	/* Flags or pad at an item: EINVAL there, as FREE says. */
	alloc_items(a, 2, 0);
	ASSERT_EQ(0, batch(self->fd, ESTACK_IOC_ALLOC_BATCH, a, 2, &done));
	free_items(f, a, 2);
	f[1].pad = 1;
	EXPECT_EQ(EINVAL, batch(self->fd, ESTACK_IOC_FREE_BATCH, f, 2, &done));
	EXPECT_EQ(1, done);
	EXPECT_TRUE(gone(self->fd, a[0].id));
	EXPECT_TRUE(live(self->fd, &a[1]));
	EXPECT_EQ(0, es_free(self->fd, a[1].id));
}

/*
 * Items across the end of what can be read: the item that straddles it is
 * EFAULT with done = the items wholly before it.
 */
TEST_F(bat, items_straddle_unreadable_page)
{
	enum { K = 3 };
	struct estack_alloc *a, ok[K];
	struct estack_free *f;
	unsigned int i;
	__u32 done;
	char *map;

	map = mmap(NULL, 2 * self->page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	ASSERT_EQ(0, mprotect(map + self->page, self->page, PROT_NONE));

	/* Item K's first 16 bytes readable, the rest not. */
	a = (struct estack_alloc *)(map + self->page - K * sizeof(*a) - 16);
	alloc_items(a, K, 4096);
	*(__u32 *)&a[K] = sizeof(*a);
	EXPECT_EQ(EFAULT, batch(self->fd, ESTACK_IOC_ALLOC_BATCH, a, K + 2,
				&done));
	EXPECT_EQ(K, done);
	EXPECT_EQ(self->in_use + K, es_stat("stacks_in_use"));
	for (i = 0; i < K; i++)
		EXPECT_TRUE(live(self->fd, &a[i])) TH_LOG("item %u", i);
	memcpy(ok, a, sizeof(ok));

	/* The same for FREE, item K's size readable, its id not. */
	f = (struct estack_free *)(map + self->page - K * sizeof(*f) - 8);
	free_items(f, ok, K);
	*(__u32 *)&f[K] = sizeof(*f);
	EXPECT_EQ(EFAULT, batch(self->fd, ESTACK_IOC_FREE_BATCH, f, K + 1,
				&done));
	EXPECT_EQ(K, done);
	for (i = 0; i < K; i++)
		EXPECT_TRUE(gone(self->fd, ok[i].id)) TH_LOG("item %u", i);
	EXPECT_EQ(self->in_use, es_stat("stacks_in_use"));
	munmap(map, 2 * self->page);
}

/*
 * ALLOC items that can be read but not written: the item whose result
 * cannot be copied out is EFAULT before its stack is made (ALLOC faults
 * the struct in writable first, as GROW and SHRINK do); done = the items
 * before it, the item not written.
 */
TEST_F(bat, alloc_unwritable_item_efault)
{
	enum { K = 2 };
	struct estack_alloc *a;
	long long allocs;
	unsigned int i;
	__u32 done;
	char *map;

	map = mmap(NULL, 2 * self->page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	a = (struct estack_alloc *)(map + self->page - K * sizeof(*a));
	alloc_items(a, K + 2, 4096);
	ASSERT_EQ(0, mprotect(map + self->page, self->page, PROT_READ));
	allocs = es_stat("allocs");
	EXPECT_EQ(EFAULT, batch(self->fd, ESTACK_IOC_ALLOC_BATCH, a, K + 2,
				&done));
	EXPECT_EQ(K, done);
	EXPECT_EQ(self->in_use + K, es_stat("stacks_in_use"));
	/* Item K's stack was never made: K allocations. */
	EXPECT_EQ(allocs + K, es_stat("allocs"));
	EXPECT_TRUE(untouched(&a[K]));
	for (i = 0; i < K; i++) {
		EXPECT_TRUE(live(self->fd, &a[i]));
		EXPECT_EQ(0, es_free(self->fd, a[i].id));
	}
	munmap(map, 2 * self->page);
}

/*
 * An ALLOC item whose id can be written but not its lo and hi (it
 * straddles into a read-only page): EFAULT with nothing of it written,
 * no stack made; the single ALLOC the same.
 */
TEST_F(bat, alloc_item_straddles_readonly_page)
{
	enum { K = 2 };
	struct estack_alloc *a;
	long long allocs;
	unsigned int i;
	__u32 done;
	char *map;

	map = mmap(NULL, 2 * self->page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	/* Item K's size, flags, bytes, id and pad writable; lo, hi not. */
	a = (struct estack_alloc *)(map + self->page - K * sizeof(*a) - 24);
	alloc_items(a, K + 1, 4096);
	ASSERT_EQ(0, mprotect(map + self->page, self->page, PROT_READ));
	allocs = es_stat("allocs");
	EXPECT_EQ(EFAULT, batch(self->fd, ESTACK_IOC_ALLOC_BATCH, a, K + 1,
				&done));
	EXPECT_EQ(K, done);
	EXPECT_EQ(self->in_use + K, es_stat("stacks_in_use"));
	EXPECT_EQ(allocs + K, es_stat("allocs"));
	EXPECT_TRUE(untouched(&a[K]));
	for (i = 0; i < K; i++) {
		EXPECT_TRUE(live(self->fd, &a[i]));
		EXPECT_EQ(0, es_free(self->fd, a[i].id));
	}

	/* The single ALLOC on the same straddling struct. */
	EXPECT_EQ(EFAULT, es_ioctl(self->fd, ESTACK_IOC_ALLOC, &a[K]));
	EXPECT_EQ(allocs + K, es_stat("allocs"));
	EXPECT_TRUE(untouched(&a[K]));
	EXPECT_EQ(self->in_use, es_stat("stacks_in_use"));
	munmap(map, 2 * self->page);
}

/*
 * FREE_BATCH whose header lies in the stack its item k frees: that item is
 * EINVAL before anything of it is freed (done could not be written after
 * it), as GROW refuses a struct in the stack it moves; done = k, the
 * stacks before gone, stack k and the rest live.
 */
TEST_F(bat, free_header_in_freed_stack)
{
	enum { N = 4, K = 2 };
	struct estack_alloc a[N];
	struct estack_free f[N];
	struct estack_batch *b;
	unsigned int c, i;
	__u32 done;

	/* The header in the middle of stack K, then in its topmost bytes. */
	for (c = 0; c < 2; c++) {
		alloc_items(a, N, 65536);
		ASSERT_EQ(0, batch(self->fd, ESTACK_IOC_ALLOC_BATCH, a, N,
				   &done));
		free_items(f, a, N);
		b = (struct estack_batch *)(uintptr_t)
			(c ? a[K].hi - sizeof(*b) : (a[K].lo + a[K].hi) / 2);
		memset(b, 0, sizeof(*b));
		b->size = sizeof(*b);
		b->nr = N;
		b->done = NOT_WRITTEN;
		b->items = (uintptr_t)f;
		EXPECT_EQ(EINVAL, es_ioctl(self->fd, ESTACK_IOC_FREE_BATCH, b))
			TH_LOG("case %u", c);
		EXPECT_EQ(K, b->done) TH_LOG("case %u", c);
		for (i = 0; i < K; i++)
			EXPECT_TRUE(gone(self->fd, a[i].id))
				TH_LOG("case %u item %u", c, i);
		for (i = K; i < N; i++)
			EXPECT_TRUE(live(self->fd, &a[i]))
				TH_LOG("case %u item %u", c, i);
		EXPECT_EQ(0, batch(self->fd, ESTACK_IOC_FREE_BATCH, &f[K],
				   N - K, &done));
		EXPECT_EQ(N - K, done);
		EXPECT_EQ(self->in_use, es_stat("stacks_in_use"));
	}
}

/*
 * Items of different sizes in one array: each starts right after the size
 * bytes of the one before; a longer item's zero tail is accepted and left
 * alone, a non-zero one is E2BIG at that item.
 */
TEST_F(bat, mixed_item_sizes)
{
	/* ALLOC items of 40, 56, 40 and 64 bytes, back to back. */
	static const __u32 asz[] = { 40, 56, 40, 64 };
	static const __u32 fsz[] = { 16, 24, 16, 32 };
	__u64 words[32];	/* aligned for the items' __u64 fields */
	unsigned char *buf = (unsigned char *)words;
	struct estack_alloc got[4];
	size_t off;
	unsigned int i;
	__u32 done;

	memset(words, 0, sizeof(words));
	for (i = 0, off = 0; i < 4; off += asz[i++]) {
		struct estack_alloc *a = (void *)(buf + off);

		a->size = asz[i];
		a->bytes = 4096 << i;
	}
	ASSERT_EQ(0, batch(self->fd, ESTACK_IOC_ALLOC_BATCH, buf, 4, &done));
	EXPECT_EQ(4, done);
	for (i = 0, off = 0; i < 4; off += asz[i++]) {
		unsigned int t;

		memcpy(&got[i], buf + off, sizeof(got[i]));
		EXPECT_EQ(asz[i], got[i].size);
		EXPECT_EQ(4096 << i, got[i].hi - got[i].lo) TH_LOG("item %u", i);
		EXPECT_TRUE(live(self->fd, &got[i])) TH_LOG("item %u", i);
		for (t = sizeof(got[i]); t < asz[i]; t++)
			EXPECT_EQ(0, buf[off + t]) TH_LOG("item %u byte %u", i, t);
	}

	/* FREE items of 16, 24, 16 and 32 bytes; item 3's tail non-zero. */
	memset(words, 0, sizeof(words));
	for (i = 0, off = 0; i < 4; off += fsz[i++]) {
		struct estack_free *f = (void *)(buf + off);

		f->size = fsz[i];
		f->id = got[i].id;
	}
	buf[16 + 24 + 16 + 31] = 1;	/* item 3's last byte */
	EXPECT_EQ(E2BIG, batch(self->fd, ESTACK_IOC_FREE_BATCH, buf, 4, &done));
	EXPECT_EQ(3, done);
	for (i = 0; i < 3; i++)
		EXPECT_TRUE(gone(self->fd, got[i].id)) TH_LOG("item %u", i);
	EXPECT_TRUE(live(self->fd, &got[3]));
	buf[16 + 24 + 16 + 31] = 0;
	EXPECT_EQ(0, batch(self->fd, ESTACK_IOC_FREE_BATCH, buf + 56, 1,
			   &done));
	EXPECT_EQ(1, done);
	EXPECT_TRUE(gone(self->fd, got[3].id));
}

/* What a fiber running on one of the batch's stacks does, and its result. */
static struct {
	int fd;
	const struct estack_free *f;
	__u32 nr, done;
	int err;
	ucontext_t main, fiber;
} on_stack;

static void free_batch_on_stack(void)
{
	on_stack.err = batch(on_stack.fd, ESTACK_IOC_FREE_BATCH, on_stack.f,
			     on_stack.nr, &on_stack.done);
}

/*
 * FREE_BATCH run on the stack of its item k: EBUSY there, as FREE says,
 * done = k; from the main stack the rest goes.
 */
TEST_F(bat, free_running_stack_ebusy)
{
	enum { N = 4, K = 2 };
	struct estack_alloc a[N];
	struct estack_free f[N];
	__u32 done;

	alloc_items(a, N, 65536);
	ASSERT_EQ(0, batch(self->fd, ESTACK_IOC_ALLOC_BATCH, a, N, &done));
	free_items(f, a, N);
	on_stack.fd = self->fd;
	on_stack.f = f;
	on_stack.nr = N;
	ASSERT_EQ(0, es_run_on(&on_stack.main, &on_stack.fiber, a[K].lo,
			       a[K].hi, free_batch_on_stack));
	EXPECT_EQ(EBUSY, on_stack.err);
	EXPECT_EQ(K, on_stack.done);
	EXPECT_TRUE(gone(self->fd, a[0].id));
	EXPECT_TRUE(live(self->fd, &a[K]));
	EXPECT_EQ(0, batch(self->fd, ESTACK_IOC_FREE_BATCH, &f[K], N - K,
			   &done));
	EXPECT_EQ(N - K, done);
}

/* A forked child may not use the parent's file: EPERM, before EFAULT. */
TEST_F(bat, forked_child_eperm)
{
	struct estack_alloc a[2];
	struct estack_free f[2];
	int status;
	pid_t pid;
	__u32 done;

	alloc_items(a, 2, 0);
	ASSERT_EQ(0, batch(self->fd, ESTACK_IOC_ALLOC_BATCH, a, 2, &done));
	free_items(f, a, 2);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct estack_alloc c[1];

		alloc_items(c, 1, 0);
		if (batch(self->fd, ESTACK_IOC_ALLOC_BATCH, c, 1, NULL) != EPERM)
			_exit(1);
		if (es_ioctl(self->fd, ESTACK_IOC_ALLOC_BATCH, NULL) != EPERM)
			_exit(2);
		if (batch(self->fd, ESTACK_IOC_FREE_BATCH, f, 2, NULL) != EPERM)
			_exit(3);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* The parent's stacks are untouched. */
	EXPECT_TRUE(live(self->fd, &a[0]));
	EXPECT_TRUE(live(self->fd, &a[1]));
	EXPECT_EQ(0, batch(self->fd, ESTACK_IOC_FREE_BATCH, f, 2, &done));
	EXPECT_EQ(2, done);
}

TEST_HARNESS_MAIN
