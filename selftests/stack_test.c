// SPDX-License-Identifier: GPL-2.0
/*
 * estack selftests: ALLOC, FREE and INFO, the arena, and every VMA case a
 * process can create (munmap, mprotect, mremap, madvise, fork, exit,
 * close, fd passing, rmmod). Every test leaves the module's counters where
 * it found them: the fixture's teardown unmaps what is left and checks.
 */
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "estack_harness.h"

FIXTURE(stk) {
	int fd;
	long page;
	long long in_use;
	struct estack_api api;
};

FIXTURE_SETUP(stk)
{
	self->page = sysconf(_SC_PAGESIZE);
	es_test_open_with(_metadata, &self->fd, &self->api,
			  ESTACK_FEATURE_STACKS, "ALLOC/FREE/INFO");
	self->in_use = es_stat("stacks_in_use");
	ASSERT_LE(0, self->in_use);
}

FIXTURE_TEARDOWN(stk)
{
	/* Everything this test allocated is gone again. */
	es_test_close(_metadata, self->fd, self->in_use);
}

/* Run @fn in a child; its exit status, or 128 + the killing signal. */
static int in_child(void (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (!pid) {
		fn(arg);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) :
				      WEXITSTATUS(status);
}

static void touch_byte(void *addr)
{
	es_poke((unsigned long)addr, 1);
}

static void read_byte(void *addr)
{
	(void)es_peek((unsigned long)addr);
}

TEST_F(stk, alloc_one_page)
{
	struct estack_alloc a;
	struct estack_info i;

	ASSERT_EQ(0, es_alloc(self->fd, 0, &a));
	EXPECT_LT(0, a.id);
	EXPECT_EQ(self->page, a.hi - a.lo);
	EXPECT_EQ(0, a.lo % self->page);
	ASSERT_EQ(0, es_info(self->fd, a.id, &i));
	EXPECT_EQ(a.lo, i.lo);
	EXPECT_EQ(a.hi, i.hi);
	EXPECT_EQ(self->page, i.resident);
	EXPECT_EQ(self->in_use + 1, es_stat("stacks_in_use"));
	EXPECT_EQ(0, es_free(self->fd, a.id));
	EXPECT_EQ(self->in_use, es_stat("stacks_in_use"));
}

static long rss_pages(void)
{
	long size, resident = -1;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &size, &resident) != 2)
			resident = -1;
		fclose(f);
	}
	return resident;
}

/* Stack pages count in the process's RSS, where the OOM killer looks. */
TEST_F(stk, stacks_count_in_rss)
{
	struct estack_alloc a[64];
	long before, after;
	int i;

	/*
	 * 6.1 folds a task's RSS deltas into its mm lazily; the first ALLOC
	 * folds what this process gathered before, so measure after one.
	 */
	ASSERT_EQ(0, es_alloc(self->fd, 4096, &a[0]));
	ASSERT_EQ(0, es_free(self->fd, a[0].id));
	before = rss_pages();
	for (i = 0; i < 64; i++)
		ASSERT_EQ(0, es_alloc(self->fd, 65536, &a[i]));
	after = rss_pages();
	EXPECT_LE(before + 64 * 16, after);
	for (i = 0; i < 64; i++)
		ASSERT_EQ(0, es_free(self->fd, a[i].id));
	/* Freed stacks leave it (a little slack for the test's own pages). */
	EXPECT_GE(after - 64 * 16 + 64, rss_pages());
}

TEST_F(stk, alloc_rounds_to_power_of_two)
{
	static const struct { __u64 bytes, size; } c[] = {
		{ 1, 4096 }, { 4096, 4096 }, { 4097, 8192 },
		{ 12288, 16384 }, { 65536, 65536 }, { 65537, 131072 },
	};
	struct estack_alloc a;
	unsigned int k;

	for (k = 0; k < ARRAY_SIZE(c); k++) {
		ASSERT_EQ(0, es_alloc(self->fd, c[k].bytes, &a));
		EXPECT_EQ(c[k].size, a.hi - a.lo) TH_LOG("bytes %llu",
							 c[k].bytes);
		EXPECT_EQ(0, es_free(self->fd, a.id));
	}
}

TEST_F(stk, new_stack_reads_zero)
{
	struct estack_alloc a;
	int round;

	for (round = 0; round < 3; round++) {
		ASSERT_EQ(0, es_alloc(self->fd, 65536, &a));
		ASSERT_TRUE(es_zero(a.lo, a.hi));
		memset(U2P(a.lo), 0x5a, a.hi - a.lo);
		ASSERT_EQ(0, es_free(self->fd, a.id));
	}
}

static void dirty_and_exit(void *arg)
{
	struct estack_alloc a[64];
	int fd = open(DEV_PATH, O_RDWR), i;

	/* All live at once: freed, most of them leave the file's cache. */
	for (i = 0; i < 64; i++) {
		if (fd < 0 || es_alloc(fd, 8192, &a[i]))
			_exit(1);
		memset(U2P(a[i].lo), 0xc3, a[i].hi - a[i].lo);
	}
	for (i = 0; i < 64; i++)
		if (es_free(fd, a[i].id))
			_exit(2);
	_exit(0);
}

/*
 * Pages another process wrote and freed come back zeroed. The caches'
 * counters prove that they did come back: the test cannot pass on fresh
 * pages alone.
 */
TEST_F(stk, zero_after_other_process)
{
	long long hits, zeroed;
	struct estack_alloc a[64];
	int i;

	ASSERT_EQ(0, in_child(dirty_and_exit, NULL));
	hits = es_stat("cache_hits") + es_stat("pool_hits");
	zeroed = es_stat("pages_zeroed");
	ASSERT_LE(0, hits);
	ASSERT_LE(0, zeroed);
	for (i = 0; i < 64; i++) {
		ASSERT_EQ(0, es_alloc(self->fd, 8192, &a[i]));
		ASSERT_TRUE(es_zero(a[i].lo, a[i].lo + 8192)) TH_LOG("stack %d", i);
	}
	EXPECT_LE(hits + 32, es_stat("cache_hits") + es_stat("pool_hits"));
	EXPECT_LE(zeroed + 32 * 2, es_stat("pages_zeroed"));
	for (i = 0; i < 64; i++)
		EXPECT_EQ(0, es_free(self->fd, a[i].id));
}

TEST_F(stk, guard_page_sigsegv)
{
	struct estack_alloc a;

	ASSERT_EQ(0, es_alloc(self->fd, 8192, &a));
	EXPECT_EQ(SIGSEGV, es_probe(a.lo - 1, 1));
	EXPECT_EQ(SIGSEGV, es_probe(a.lo - 4096, 0));
	/* Both ends of the stack itself work. */
	EXPECT_EQ(0, es_probe(a.lo, 1));
	EXPECT_EQ(0, es_probe(a.hi - 1, 1));
	EXPECT_EQ(0, es_free(self->fd, a.id));
}

/*
 * Under the READ_IMPLIES_EXEC personality (setarch -X, or an old binary
 * that asks for an executable stack) mmap() adds PROT_EXEC to every
 * readable mapping, the module's arenas included: they stay not
 * executable, and ALLOC works.
 */
TEST_F(stk, read_implies_exec)
{
	struct estack_alloc a;
	struct es_range r;
	char line[512];
	int fd;

	ASSERT_NE(-1, personality(PER_LINUX | READ_IMPLIES_EXEC));
	/* A file of its own: its first ALLOC maps a new arena. */
	fd = es_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, es_alloc(fd, 8192, &a));
	ASSERT_EQ(0, es_arena_of(a.lo, &r));
	ASSERT_EQ(0, es_smaps_line(r.start, "VmFlags:", line, sizeof(line)));
	EXPECT_EQ(0, !!strstr(line, " ex ")) TH_LOG("%s", line);
	EXPECT_EQ(0, es_probe(a.hi - 1, 1));
	EXPECT_EQ(0, es_free(fd, a.id));
	close(fd);
}

/* Without the mapped cache, a freed stack's range faults at once. */
TEST_F(stk, freed_range_sigsegv)
{
	long long budget = es_param("mapped_cache");
	struct estack_alloc a, b;

	ASSERT_LE(0, budget);
	ASSERT_EQ(0, es_set_param("mapped_cache", 0));
	ASSERT_EQ(0, es_alloc(self->fd, 4096, &a));
	ASSERT_EQ(0, es_alloc(self->fd, 4096, &b));
	EXPECT_EQ(0, es_probe(a.lo, 0));
	ASSERT_EQ(0, es_free(self->fd, a.id));
	EXPECT_EQ(SIGSEGV, es_probe(a.lo, 0));
	EXPECT_EQ(SIGSEGV, es_probe(a.hi - 1, 1));
	EXPECT_EQ(0, es_probe(b.lo, 1));
	EXPECT_EQ(0, es_free(self->fd, b.id));
	EXPECT_EQ(0, es_set_param("mapped_cache", budget));
}

/*
 * The mapped cache: a freed small stack stays mapped and the next ALLOC of
 * its size gets it back, under a new id, reading zero again. Each case
 * dirties the stack a different way before FREE.
 */
enum dirty_how {
	DIRTY_STORE,		/* plain stores: the PTEs' dirty bits */
	DIRTY_PROC_MEM,		/* /proc/self/mem: GUP, PG_dirty only */
	DIRTY_DONTNEED,		/* stores, then MADV_DONTNEED: not mapped */
};

static void dirty_stack(struct __test_metadata *_metadata,
			const struct estack_alloc *a, enum dirty_how how)
{
	size_t len = a->hi - a->lo;
	char buf[8192];
	int fd;

	ASSERT_GE(sizeof(buf), len);
	memset(buf, 0xa5, len);
	switch (how) {
	case DIRTY_STORE:
		memcpy(U2P(a->lo), buf, len);
		break;
	case DIRTY_PROC_MEM:
		fd = open("/proc/self/mem", O_RDWR);
		ASSERT_LE(0, fd);
		ASSERT_EQ((ssize_t)len, pwrite(fd, buf, len, a->lo));
		close(fd);
		break;
	case DIRTY_DONTNEED:
		memcpy(U2P(a->lo), buf, len);
		ASSERT_EQ(0, madvise(U2P(a->lo), len, MADV_DONTNEED));
		break;
	}
}

static void mapped_cache_reuse(struct __test_metadata *_metadata, int fd,
			       enum dirty_how how)
{
	long long hits = es_stat("mapped_cache_hits");
	struct estack_alloc a, b;
	struct estack_info info;

	ASSERT_LT(0, es_param("mapped_cache"));
	ASSERT_EQ(0, es_alloc(fd, 8192, &a));
	dirty_stack(_metadata, &a, how);
	ASSERT_EQ(0, es_free(fd, a.id));
	EXPECT_EQ(ENOENT, es_info(fd, a.id, &info));
	ASSERT_EQ(0, es_alloc(fd, 8192, &b));
	EXPECT_EQ(a.lo, b.lo);
	EXPECT_EQ(a.hi, b.hi);
	EXPECT_NE(a.id, b.id);
	EXPECT_EQ(hits + 1, es_stat("mapped_cache_hits"));
	/* Mapped whole, as every new stack, before anything touches it. */
	ASSERT_EQ(0, es_info(fd, b.id, &info));
	EXPECT_EQ(b.hi - b.lo, info.resident);
	EXPECT_TRUE(es_zero(b.lo, b.hi));
	EXPECT_EQ(0, es_free(fd, b.id));
}

TEST_F(stk, mapped_cache_clears_stores)
{
	mapped_cache_reuse(_metadata, self->fd, DIRTY_STORE);
}

TEST_F(stk, mapped_cache_clears_proc_mem_writes)
{
	mapped_cache_reuse(_metadata, self->fd, DIRTY_PROC_MEM);
}

TEST_F(stk, mapped_cache_clears_after_dontneed)
{
	mapped_cache_reuse(_metadata, self->fd, DIRTY_DONTNEED);
}

/* GROW writes the new stack through the kernel: that must count too. */
TEST_F(stk, mapped_cache_clears_moved_stack)
{
	struct estack_move m = { .size = sizeof(m) };
	struct estack_alloc a, b;

	ASSERT_EQ(0, es_alloc(self->fd, 4096, &a));
	memset(U2P(a.lo), 0xa5, 4096);
	m.id = a.id;
	m.sp = a.lo;
	ASSERT_EQ(0, es_ioctl(self->fd, ESTACK_IOC_GROW, &m));
	ASSERT_EQ(8192, m.hi - m.lo);
	/* The copy is the only write to the new stack. */
	ASSERT_EQ(0, es_free(self->fd, a.id));
	ASSERT_EQ(0, es_alloc(self->fd, 8192, &b));
	EXPECT_EQ(m.lo, b.lo);
	EXPECT_TRUE(es_zero(b.lo, b.lo + 8192));
	EXPECT_EQ(0, es_free(self->fd, b.id));
}

/* A freed stack gets no page back: its faults are SIGSEGV. */
TEST_F(stk, mapped_cache_stack_faults_after_dontneed)
{
	struct estack_alloc a;

	ASSERT_EQ(0, es_alloc(self->fd, 8192, &a));
	ASSERT_EQ(0, es_free(self->fd, a.id));
	ASSERT_EQ(0, madvise(U2P(a.lo), 8192, MADV_DONTNEED));
	EXPECT_EQ(SIGSEGV, es_probe(a.lo, 0));
}

/* mapped_cache bounds what one file keeps, per class. */
TEST_F(stk, mapped_cache_budget)
{
	long long budget = es_param("mapped_cache");
	long long adds = es_stat("mapped_cache_adds");
	struct estack_alloc a, b, c;

	ASSERT_EQ(0, es_set_param("mapped_cache", 8192));
	ASSERT_EQ(0, es_alloc(self->fd, 8192, &a));
	ASSERT_EQ(0, es_alloc(self->fd, 8192, &b));
	ASSERT_EQ(0, es_alloc(self->fd, 4096, &c));
	ASSERT_EQ(0, es_free(self->fd, a.id));
	ASSERT_EQ(0, es_free(self->fd, b.id));
	ASSERT_EQ(0, es_free(self->fd, c.id));
	/* a and c are kept (two classes), b went back the slow way. */
	EXPECT_EQ(adds + 2, es_stat("mapped_cache_adds"));
	EXPECT_EQ(0, es_probe(a.lo, 0));
	EXPECT_EQ(SIGSEGV, es_probe(b.lo, 0));
	EXPECT_EQ(0, es_probe(c.lo, 0));
	EXPECT_EQ(0, es_set_param("mapped_cache", budget));
}

/*
 * MADV_DOFORK, then fork(): the child's copy of the arena maps none of the
 * parent's pages (->open keeps fork() from copying their page table
 * entries), so touching the stack there gives SIGSEGV, reading as well
 * as writing. Were they copied, the child would read the parent's stack,
 * and keep its pages after the parent's FREE, pinned outside the per-user
 * limit and the mapped cache's accounting. The parent's stack is intact,
 * and the next stack after FREE is zeroed.
 */
static void dofork_child_maps_nothing(struct __test_metadata *_metadata,
				      int fd)
{
	struct estack_alloc a, b;
	struct es_range r;

	ASSERT_EQ(0, es_alloc(fd, 8192, &a));
	memset(U2P(a.lo), 0xa5, 8192);
	ASSERT_EQ(0, es_arena_of(a.lo, &r));
	ASSERT_EQ(0, madvise(U2P(r.start), r.end - r.start, MADV_DOFORK));
	EXPECT_EQ(128 + SIGSEGV, in_child(read_byte, U2P(a.lo)));
	EXPECT_EQ(128 + SIGSEGV, in_child(read_byte, U2P(a.hi - 1)));
	EXPECT_EQ(128 + SIGSEGV, in_child(touch_byte, U2P(a.lo)));
	EXPECT_EQ(0xa5, es_peek(a.lo));
	EXPECT_EQ(0xa5, es_peek(a.hi - 1));
	ASSERT_EQ(0, es_free(fd, a.id));
	ASSERT_EQ(0, es_alloc(fd, 8192, &b));
	EXPECT_TRUE(es_zero(b.lo, b.lo + 8192));
	EXPECT_EQ(0, es_free(fd, b.id));
}

TEST_F(stk, dofork_child_maps_nothing)
{
	ASSERT_LT(0, es_param("mapped_cache"));
	dofork_child_maps_nothing(_metadata, self->fd);
}

TEST_F(stk, dofork_child_maps_nothing_no_cache)
{
	long long budget = es_param("mapped_cache");

	ASSERT_LE(0, budget);
	ASSERT_EQ(0, es_set_param("mapped_cache", 0));
	dofork_child_maps_nothing(_metadata, self->fd);
	EXPECT_EQ(0, es_set_param("mapped_cache", budget));
}

/*
 * A limit lowered below what a file holds in its mapped cache: ALLOC
 * empties the cache and makes the stack afresh, within the new limit,
 * instead of failing for the bytes of stacks nobody uses. Then the file
 * holds what the new limit allows, two stacks, and no more.
 */
TEST_F(stk, limits_lowered_below_mapped_cache)
{
	long long user = es_param("max_bytes_per_user");
	long long bytes = es_param("max_bytes_per_fd");
	long long cache = es_param("mapped_cache");
	static const char * const limit[] = { "max_bytes_per_user",
					       "max_bytes_per_fd" };
	struct estack_alloc a[8];
	int i, n, err[3];

	if (geteuid())
		ES_SKIP("needs root to lower the limits");
	ASSERT_LE(0, user);
	ASSERT_LE(0, bytes);
	ASSERT_LE(65536, cache);
	for (i = 0; i < 2; i++) {
		/* 64 KiB of 8 KiB stacks, written, then all in the cache. */
		for (n = 0; n < 8; n++) {
			ASSERT_EQ(0, es_alloc(self->fd, 8192, &a[n]));
			es_poke(a[n].lo, 1);
		}
		for (n = 0; n < 8; n++)
			ASSERT_EQ(0, es_free(self->fd, a[n].id));
		ASSERT_EQ(0, es_set_param(limit[i], 16384));
		for (n = 0; n < 3; n++)
			err[n] = es_alloc(self->fd, 8192, &a[n]);
		/* The limit goes back before anything is checked. */
		ASSERT_EQ(0, es_set_param(limit[i], i ? bytes : user));
		/* The rest of the cache is gone: one more fits, no third. */
		EXPECT_EQ(0, err[0]);
		EXPECT_EQ(0, err[1]);
		EXPECT_EQ(ENOSPC, err[2]);
		for (n = 0; n < 3; n++) {
			if (err[n])
				continue;
			EXPECT_EQ(0, es_peek(a[n].lo));
			EXPECT_EQ(0, es_free(self->fd, a[n].id));
		}
	}
}

/*
 * Every byte a file holds counts against the limits, the stacks it keeps
 * mapped for reuse included: 8 files of one user, each filling the user's
 * limit and freeing everything, hold no more than the limit together.
 */
TEST_F(stk, limits_count_mapped_cache)
{
	long long user = es_param("max_bytes_per_user");
	long long adds = es_stat("mapped_cache_adds");
	struct estack_alloc a[16], big;
	int fds[8], n, i, held = 0;

	ASSERT_LE(0, user);
	ASSERT_LT(0, es_param("mapped_cache"));
	ASSERT_EQ(0, es_set_param("max_bytes_per_user", 65536));
	for (i = 0; i < 8; i++) {
		fds[i] = es_open();
		ASSERT_LE(0, fds[i]);
		for (n = 0; n < 16; n++) {
			int err = es_alloc(fds[i], 4096, &a[n]);

			if (err) {
				EXPECT_EQ(ENOSPC, err);
				break;
			}
			es_poke(a[n].lo, 1);
		}
		held += n;
		while (n--)
			ASSERT_EQ(0, es_free(fds[i], a[n].id));
	}
	EXPECT_LT(adds, es_stat("mapped_cache_adds"));
	EXPECT_EQ(16, held);
	/* The full file empties its own cache for a stack of another size. */
	EXPECT_EQ(0, es_alloc(fds[0], 65536, &big));
	EXPECT_EQ(0, es_free(fds[0], big.id));
	ASSERT_EQ(0, es_set_param("max_bytes_per_user", user));
	for (i = 0; i < 8; i++)
		close(fds[i]);
}

/*
 * INFO racing munmap() of the arena: every answer is a correct INFO or
 * ENOENT, and no page table is walked after munmap() began to free them
 * (the debug kernel's KASAN would see it). An INFO that walked them while
 * munmap() zapped the pages answered with a resident count that was too
 * small.
 */
struct info_racer {
	int fd;
	__u32 *ids;
	__u64 *los;
	__u64 size;
	int nr;
	int stop;
	int bad;
	long answers;
};

static void *info_race_fn(void *arg)
{
	struct info_racer *r = arg;
	struct estack_info info;
	int i, err;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		for (i = 0; i < r->nr; i++) {
			err = es_info(r->fd, r->ids[i], &info);
			if (err == ENOENT)
				continue;
			/* Nothing was dropped: a true answer is all of it. */
			if (err || info.lo != r->los[i] ||
			    info.hi != r->los[i] + r->size ||
			    info.resident != r->size)
				r->bad++;
			r->answers++;
		}
	}
	return NULL;
}

/*
 * Rounds alternate between 64 small stacks and one large one: INFO's walk
 * of a large stack is long, and so are munmap()'s zap and the freeing of
 * the page tables behind it, which is when an INFO that took the mmap
 * lock after munmap() downgraded it would walk freed page tables.
 */
TEST_F_TIMEOUT(stk, info_races_munmap, 300)
{
	struct info_racer r = { .fd = self->fd };
	__u64 big = sizeof(long) == 8 ? 64 << 20 : 16 << 20;
	__u32 ids[64];
	__u64 los[64];
	struct estack_info info;
	struct estack_alloc a;
	struct es_range ar;
	pthread_t t[2];
	time_t end = time(NULL) + 10;
	int i, rounds = 0;

	r.ids = ids;
	r.los = los;
	while (time(NULL) < end) {
		r.nr = rounds % 2 ? 1 : 64;
		r.size = rounds % 2 ? big : 4096;
		for (i = 0; i < r.nr; i++) {
			ASSERT_EQ(0, es_alloc(self->fd, r.size, &a));
			ids[i] = a.id;
			los[i] = a.lo;
		}
		ASSERT_EQ(0, es_arena_of(los[0], &ar));
		__atomic_store_n(&r.stop, 0, __ATOMIC_RELAXED);
		for (i = 0; i < 2; i++)
			ASSERT_EQ(0, pthread_create(&t[i], NULL, info_race_fn,
						    &r));
		usleep(1000 * (rounds % 5));
		ASSERT_EQ(0, munmap(U2P(ar.start), ar.end - ar.start));
		usleep(1000);
		__atomic_store_n(&r.stop, 1, __ATOMIC_RELAXED);
		for (i = 0; i < 2; i++)
			ASSERT_EQ(0, pthread_join(t[i], NULL));
		for (i = 0; i < r.nr; i++)
			EXPECT_EQ(ENOENT, es_info(self->fd, ids[i], &info));
		rounds++;
	}
	EXPECT_EQ(0, r.bad);
	TH_LOG("%d rounds, %ld answers", rounds, r.answers);
}

/*
 * SIGKILL lands in the middle of large ALLOCs and GROWs (or between them):
 * whatever it interrupted, nothing is left behind once the process is
 * gone.
 */
static void large_ops_forever(void *arg)
{
	struct estack_move m;
	struct estack_alloc a;
	int fd = open(DEV_PATH, O_RDWR);

	if (fd < 0)
		_exit(1);
	for (;;) {
		if (es_alloc(fd, 32 << 20, &a))
			_exit(2);
		memset(&m, 0, sizeof(m));
		m.size = sizeof(m);
		m.id = a.id;
		m.sp = a.lo;	/* all of it live: a 32 MiB copy */
		if (es_ioctl(fd, ESTACK_IOC_GROW, &m))
			_exit(3);
		if (es_free(fd, a.id))
			_exit(4);
	}
}

TEST_F_TIMEOUT(stk, sigkill_mid_large_ops, 300)
{
	long long bytes = es_stat("bytes_in_use");
	int round, status;
	pid_t pid;

	for (round = 0; round < 8; round++) {
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid)
			large_ops_forever(NULL);
		usleep(50000 + 37000 * round);
		ASSERT_EQ(0, kill(pid, SIGKILL));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			TH_LOG("round %d: status %#x", round, status);
		EXPECT_EQ(self->in_use, es_stat("stacks_in_use"));
		EXPECT_EQ(bytes, es_stat("bytes_in_use"));
	}
}

/*
 * A command that cannot map an arena returns a contract errno: ENOMEM for
 * the address-space limit and for mlockall(MCL_FUTURE) without the right
 * to lock 64 GiB, never EAGAIN.
 */
static void alloc_unmappable(int how)
{
	/* Below one arena of either kind (64 GiB, or 64 MiB for 32-bit). */
	struct rlimit rl = { 60UL << 20, 60UL << 20 };
	struct estack_alloc a;
	int fd, err;

	if (setgid(65534) || setuid(65534))
		_exit(10);
	if (how == 0 && mlockall(MCL_FUTURE))
		_exit(11);
	if (how == 1 && setrlimit(RLIMIT_AS, &rl))
		_exit(12);
	fd = es_open();
	if (fd < 0)
		_exit(13);
	err = es_alloc(fd, 4096, &a);
	_exit(err == ENOMEM ? 0 : 20 + err);
}

TEST_F(stk, alloc_unmappable_arena_enomem)
{
	int how, status;
	pid_t pid;

	if (geteuid())
		ES_SKIP("needs root to switch to an unprivileged uid");
	for (how = 0; how < 2; how++) {
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid)
			alloc_unmappable(how);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFEXITED(status));
		EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("case %d", how);
	}
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/* A thousand ALLOC/FREE cycles, each served by the same freed stack. */
TEST_F(stk, ids_never_reused)
{
	static __u32 ids[1000];
	struct estack_alloc a;
	struct estack_info i;
	int n;

	for (n = 0; n < 1000; n++) {
		ASSERT_EQ(0, es_alloc(self->fd, 0, &a));
		ids[n] = a.id;
		ASSERT_EQ(0, es_free(self->fd, a.id));
		ASSERT_EQ(ENOENT, es_free(self->fd, a.id));
		ASSERT_EQ(ENOENT, es_info(self->fd, a.id, &i));
	}
	qsort(ids, 1000, sizeof(ids[0]), cmp_u32);
	for (n = 1; n < 1000; n++)
		ASSERT_NE(ids[n - 1], ids[n]);
}

TEST_F(stk, unknown_id_enoent)
{
	struct estack_info i;

	EXPECT_EQ(ENOENT, es_free(self->fd, 0));
	EXPECT_EQ(ENOENT, es_free(self->fd, 123456));
	EXPECT_EQ(ENOENT, es_info(self->fd, 0, &i));
	EXPECT_EQ(ENOENT, es_info(self->fd, UINT32_MAX, &i));
}

/*
 * The id after the last one handed out is held in the tree for the next
 * ALLOC (stack.c): it is no stack, and FREE and INFO of it say ENOENT
 * and leave it for that ALLOC.
 */
TEST_F(stk, next_id_enoent)
{
	struct estack_alloc a, b;
	struct estack_info i;

	ASSERT_EQ(0, es_alloc(self->fd, 0, &a));
	EXPECT_EQ(ENOENT, es_free(self->fd, a.id + 1));
	EXPECT_EQ(ENOENT, es_info(self->fd, a.id + 1, &i));
	ASSERT_EQ(0, es_alloc(self->fd, 0, &b));
	EXPECT_EQ(0, es_info(self->fd, b.id, &i));
	EXPECT_EQ(0, es_free(self->fd, b.id));
	EXPECT_EQ(0, es_free(self->fd, a.id));
	EXPECT_EQ(ENOENT, es_free(self->fd, b.id));
}

/* Ids are per file: another file's id is unknown here. */
TEST_F(stk, ids_per_file)
{
	struct estack_alloc a1, a2, b;
	struct estack_info i;
	int fd2 = es_open();

	ASSERT_LE(0, fd2);
	/* Ids count per file: b takes the same number as a1. */
	ASSERT_EQ(0, es_alloc(self->fd, 0, &a1));
	ASSERT_EQ(0, es_alloc(self->fd, 0, &a2));
	ASSERT_EQ(0, es_alloc(fd2, 0, &b));
	ASSERT_EQ(a1.id, b.id);
	/* An id of the first file means nothing in the second ... */
	EXPECT_EQ(ENOENT, es_info(fd2, a2.id, &i));
	EXPECT_EQ(ENOENT, es_free(fd2, a2.id));
	/* ... and the shared number names each file's own stack. */
	ASSERT_EQ(0, es_info(fd2, b.id, &i));
	EXPECT_EQ(b.lo, i.lo);
	EXPECT_NE(a1.lo, i.lo);
	EXPECT_EQ(0, es_free(fd2, b.id));
	EXPECT_EQ(0, es_info(self->fd, a1.id, &i));
	EXPECT_EQ(a1.lo, i.lo);
	EXPECT_EQ(0, es_free(self->fd, a1.id));
	EXPECT_EQ(0, es_free(self->fd, a2.id));
	close(fd2);
}

TEST_F(stk, flags_and_pad_einval)
{
	struct estack_alloc a = { .size = sizeof(a), .flags = 1 };
	struct estack_free f = { .size = sizeof(f) };
	struct estack_info i = { .size = sizeof(i) };
	struct estack_alloc ok;

	EXPECT_EQ(EINVAL, es_ioctl(self->fd, ESTACK_IOC_ALLOC, &a));
	a.flags = 0;
	a.pad = 1;
	EXPECT_EQ(EINVAL, es_ioctl(self->fd, ESTACK_IOC_ALLOC, &a));

	ASSERT_EQ(0, es_alloc(self->fd, 0, &ok));
	f.id = ok.id;
	f.flags = 0x80000000;
	EXPECT_EQ(EINVAL, es_ioctl(self->fd, ESTACK_IOC_FREE, &f));
	f.flags = 0;
	f.pad = 7;
	EXPECT_EQ(EINVAL, es_ioctl(self->fd, ESTACK_IOC_FREE, &f));
	i.id = ok.id;
	i.flags = 2;
	EXPECT_EQ(EINVAL, es_ioctl(self->fd, ESTACK_IOC_INFO, &i));
	i.flags = 0;
	i.pad = 1;
	EXPECT_EQ(EINVAL, es_ioctl(self->fd, ESTACK_IOC_INFO, &i));
	/* Nothing was freed by the refused calls. */
	EXPECT_EQ(0, es_info(self->fd, ok.id, &i));
	EXPECT_EQ(0, es_free(self->fd, ok.id));
}

TEST_F(stk, short_struct_einval)
{
	struct estack_alloc a = { .size = ESTACK_ALLOC_SIZE_VER0 - 8 };
	struct estack_free f = { .size = ESTACK_FREE_SIZE_VER0 - 4 };

	EXPECT_EQ(EINVAL, es_ioctl(self->fd, ESTACK_IOC_ALLOC, &a));
	EXPECT_EQ(EINVAL, es_ioctl(self->fd, ESTACK_IOC_FREE, &f));
	EXPECT_EQ(EFAULT, es_ioctl(self->fd, ESTACK_IOC_ALLOC, NULL));
	EXPECT_EQ(self->in_use, es_stat("stacks_in_use"));
}

/* A result that cannot be copied out leaves no stack behind. */
TEST_F(stk, alloc_unwritable_result_efault)
{
	struct estack_alloc *a;
	void *map;

	map = mmap(NULL, self->page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	a = map;
	memset(a, 0, sizeof(*a));
	a->size = sizeof(*a);
	ASSERT_EQ(0, mprotect(map, self->page, PROT_READ));
	EXPECT_EQ(EFAULT, es_ioctl(self->fd, ESTACK_IOC_ALLOC, a));
	EXPECT_EQ(self->in_use, es_stat("stacks_in_use"));
	munmap(map, self->page);
}

TEST_F(stk, alloc_past_max_stack_efbig)
{
	struct estack_alloc a;

	EXPECT_EQ(EFBIG, es_alloc(self->fd, self->api.max_stack + 1, &a));
	EXPECT_EQ(EFBIG, es_alloc(self->fd, UINT64_MAX, &a));
	EXPECT_EQ(EFBIG, es_alloc(self->fd, 1ULL << 63, &a));
	EXPECT_EQ(self->in_use, es_stat("stacks_in_use"));
}

TEST_F(stk, alloc_max_stack)
{
	struct estack_alloc a;
	long long old = es_param("max_stack");

	if (geteuid())
		ES_SKIP("needs root to lower max_stack");
	ASSERT_EQ(0, es_set_param("max_stack", 1 << 24));
	EXPECT_EQ(0, es_alloc(self->fd, 1 << 24, &a));
	EXPECT_EQ(1 << 24, a.hi - a.lo);
	es_poke(a.lo, 1);
	es_poke(a.hi - 1, 1);
	EXPECT_EQ(EFBIG, es_alloc(self->fd, (1 << 24) + 1, &a));
	ASSERT_EQ(0, es_set_param("max_stack", old));
}

TEST_F(stk, limits_enospc)
{
	long long stacks = es_param("max_stacks_per_fd");
	long long bytes = es_param("max_bytes_per_fd");
	long long user = es_param("max_bytes_per_user");
	long long cache = es_param("mapped_cache");
	struct estack_alloc a[4];
	int fd2;

	if (geteuid())
		ES_SKIP("needs root to lower the limits");

	/* Freed stacks are freed: the mapped cache has its own test. */
	ASSERT_LE(0, cache);
	ASSERT_EQ(0, es_set_param("mapped_cache", 0));
	ASSERT_EQ(0, es_set_param("max_stacks_per_fd", 3));
	EXPECT_EQ(0, es_alloc(self->fd, 0, &a[0]));
	EXPECT_EQ(0, es_alloc(self->fd, 0, &a[1]));
	EXPECT_EQ(0, es_alloc(self->fd, 0, &a[2]));
	EXPECT_EQ(ENOSPC, es_alloc(self->fd, 0, &a[3]));
	EXPECT_EQ(0, es_free(self->fd, a[2].id));
	EXPECT_EQ(0, es_alloc(self->fd, 0, &a[2]));
	ASSERT_EQ(0, es_set_param("max_stacks_per_fd", stacks));
	EXPECT_EQ(0, es_free(self->fd, a[2].id));

	/* Two pages in use: two more fit, a third does not. */
	ASSERT_EQ(0, es_set_param("max_bytes_per_fd", 4 * 4096));
	EXPECT_EQ(0, es_alloc(self->fd, 8192, &a[2]));
	EXPECT_EQ(ENOSPC, es_alloc(self->fd, 4096, &a[3]));
	ASSERT_EQ(0, es_set_param("max_bytes_per_fd", bytes));
	EXPECT_EQ(0, es_free(self->fd, a[2].id));

	/* The user's limit spans files: 2 pages here, 3 in another file. */
	ASSERT_EQ(0, es_set_param("max_bytes_per_user", 5 * 4096));
	fd2 = es_open();
	ASSERT_LE(0, fd2);
	EXPECT_EQ(0, es_alloc(fd2, 8192, &a[2]));
	EXPECT_EQ(0, es_alloc(fd2, 4096, &a[3]));
	EXPECT_EQ(ENOSPC, es_alloc(fd2, 4096, &a[3]));
	EXPECT_EQ(ENOSPC, es_alloc(self->fd, 4096, &a[3]));
	ASSERT_EQ(0, es_set_param("max_bytes_per_user", user));
	ASSERT_EQ(0, es_set_param("mapped_cache", cache));
	close(fd2);
}

struct run_on_stack {
	int fd;
	__u32 id;
	int err;
	ucontext_t main, fiber;
};

static struct run_on_stack *ros;

static void free_own_stack(void)
{
	ros->err = es_free(ros->fd, ros->id);
}

/* FREE of the stack the calling thread runs on: EBUSY. */
TEST_F(stk, free_running_stack_ebusy)
{
	struct run_on_stack r = { .fd = self->fd };
	struct estack_alloc a;

	ASSERT_EQ(0, es_alloc(self->fd, 65536, &a));
	r.id = a.id;
	ros = &r;
	ASSERT_EQ(0, es_run_on(&r.main, &r.fiber, a.lo, a.hi,
			       free_own_stack));
	EXPECT_EQ(EBUSY, r.err);
	/* From the main stack it goes. */
	EXPECT_EQ(0, es_free(self->fd, a.id));
}

TEST_F(stk, munmap_whole_arena_frees_stacks)
{
	struct estack_alloc a[8];
	struct estack_info info;
	struct es_range r;
	int i;

	for (i = 0; i < 8; i++)
		ASSERT_EQ(0, es_alloc(self->fd, 4096 << (i % 3), &a[i]));
	EXPECT_EQ(self->in_use + 8, es_stat("stacks_in_use"));
	ASSERT_EQ(0, es_arena_of(a[0].lo, &r));
	ASSERT_EQ(0, munmap(U2P(r.start), r.end - r.start));
	EXPECT_EQ(self->in_use, es_stat("stacks_in_use"));
	for (i = 0; i < 8; i++)
		EXPECT_EQ(ENOENT, es_info(self->fd, a[i].id, &info));
	/* The file goes on working: a new arena comes. */
	ASSERT_EQ(0, es_alloc(self->fd, 0, &a[0]));
	EXPECT_EQ(0, es_free(self->fd, a[0].id));
}

TEST_F(stk, partial_munmap_mprotect_einval)
{
	struct estack_alloc a;
	struct estack_info info;
	struct es_range r;

	ASSERT_EQ(0, es_alloc(self->fd, 8192, &a));
	memset(U2P(a.lo), 0x11, 8192);
	ASSERT_EQ(0, es_arena_of(a.lo, &r));
	EXPECT_EQ(-1, munmap(U2P(a.lo), 4096));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, munmap(U2P(r.start), 4096));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, mprotect(U2P(a.lo), 4096, PROT_READ));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, es_info(self->fd, a.id, &info));
	EXPECT_EQ(0x11, es_peek(a.hi - 1));
	EXPECT_EQ(0, es_free(self->fd, a.id));
}

TEST_F(stk, mprotect_whole_arena)
{
	struct estack_alloc a;
	struct es_range r;
	void *start;
	size_t len;

	ASSERT_EQ(0, es_alloc(self->fd, 4096, &a));
	ASSERT_EQ(0, es_arena_of(a.lo, &r));
	start = U2P(r.start);
	len = r.end - r.start;
	EXPECT_EQ(0, mprotect(start, len, PROT_READ));
	EXPECT_EQ(0, es_probe(a.lo, 0));
	EXPECT_EQ(SIGSEGV, es_probe(a.lo, 1));
	EXPECT_EQ(0, mprotect(start, len, PROT_READ | PROT_WRITE));
	EXPECT_EQ(0, es_probe(a.lo, 1));
	EXPECT_EQ(-1, mprotect(start, len, PROT_READ | PROT_WRITE | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(0, es_probe(a.lo, 1));
	EXPECT_EQ(0, es_free(self->fd, a.id));
}

TEST_F(stk, mremap_refused)
{
	struct estack_alloc a;
	struct es_range r;
	void *start, *p, *dst;
	size_t len;

	ASSERT_EQ(0, es_alloc(self->fd, 4096, &a));
	es_poke(a.lo, 42);
	ASSERT_EQ(0, es_arena_of(a.lo, &r));
	start = U2P(r.start);
	len = r.end - r.start;

	p = mremap(start, len, len + 4096, 0);
	EXPECT_TRUE(p == MAP_FAILED);
	p = mremap(start, len, len + 4096, MREMAP_MAYMOVE);
	EXPECT_TRUE(p == MAP_FAILED);
	p = mremap(start, len, len - 4096, 0);
	EXPECT_TRUE(p == MAP_FAILED);
	/* Same size, to a fixed address elsewhere. */
	dst = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		   MAP_NORESERVE, -1, 0);
	ASSERT_TRUE(dst != MAP_FAILED);
	p = mremap(start, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	EXPECT_TRUE(p == MAP_FAILED);
	EXPECT_EQ(EINVAL, errno);
	munmap(dst, len);

	EXPECT_EQ(42, es_peek(a.lo));
	EXPECT_EQ(0, es_free(self->fd, a.id));
}

/* A debugger reads and writes stacks (ptrace, /proc/PID/mem). */
TEST_F(stk, proc_mem_access)
{
	struct estack_alloc a;
	unsigned char buf[4];
	int fd;

	ASSERT_EQ(0, es_alloc(self->fd, 8192, &a));
	memset(U2P(a.lo), 0x42, 8192);
	fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(4, pread(fd, buf, 4, a.hi - 4));
	EXPECT_EQ(0x42, buf[3]);
	buf[0] = 0x99;
	ASSERT_EQ(1, pwrite(fd, buf, 1, a.lo));
	EXPECT_EQ(0x99, es_peek(a.lo));
	/* The guard page cannot be read that way either. */
	EXPECT_EQ(-1, pread(fd, buf, 1, a.lo - 1));
	close(fd);
	EXPECT_EQ(0, es_free(self->fd, a.id));
}

TEST_F(stk, madvise_dontneed_keeps_data)
{
	struct estack_alloc a;
	struct estack_info i;

	ASSERT_EQ(0, es_alloc(self->fd, 16384, &a));
	memset(U2P(a.lo), 0x77, 16384);
	ASSERT_EQ(0, madvise(U2P(a.lo), 16384, MADV_DONTNEED));
	ASSERT_EQ(0, es_info(self->fd, a.id, &i));
	EXPECT_EQ(0, i.resident);
	/* Unlike anonymous memory, the old data comes back. */
	EXPECT_EQ(0x77, es_peek(a.lo));
	EXPECT_EQ(0x77, es_peek(a.hi - 1));
	ASSERT_EQ(0, es_info(self->fd, a.id, &i));
	EXPECT_EQ(8192, i.resident);	/* the two pages touched */
	EXPECT_EQ(0, es_free(self->fd, a.id));
}

struct child_args {
	int fd;
	unsigned long addr;
};

static void child_ioctl(void *p)
{
	struct child_args *c = p;
	struct estack_alloc a;

	_exit(es_alloc(c->fd, 0, &a));
}

TEST_F(stk, fork_child_has_no_arena)
{
	struct child_args c = { .fd = self->fd };
	struct estack_alloc a;

	ASSERT_EQ(0, es_alloc(self->fd, 4096, &a));
	es_poke(a.lo, 9);
	/* VM_DONTCOPY: nothing is mapped there in the child. */
	EXPECT_EQ(128 + SIGSEGV, in_child(touch_byte, U2P(a.lo)));
	EXPECT_EQ(EPERM, in_child(child_ioctl, &c));
	/* The parent is unaffected. */
	EXPECT_EQ(9, es_peek(a.lo));
	EXPECT_EQ(0, es_free(self->fd, a.id));
}

static void dofork_child(void *p)
{
	struct child_args *c = p;

	/* The guard page was never mapped: the copy's fault is SIGSEGV. */
	if (in_child(read_byte, U2P(c->addr - 4096)) != 128 + SIGSEGV)
		_exit(3);
	child_ioctl(p);
}

/* With MADV_DOFORK the child's copy is harmless and nothing leaks. */
TEST_F(stk, fork_with_dofork_harmless)
{
	struct estack_alloc a;
	struct es_range r;
	struct child_args c = { .fd = self->fd };

	ASSERT_EQ(0, es_alloc(self->fd, 8192, &a));
	ASSERT_EQ(0, es_arena_of(a.lo, &r));
	ASSERT_EQ(0, madvise(U2P(r.start), r.end - r.start, MADV_DOFORK));
	c.addr = a.lo;
	EXPECT_EQ(EPERM, in_child(dofork_child, &c));
	EXPECT_EQ(0, es_free(self->fd, a.id));
}

static void exit_with_stacks(void *arg)
{
	struct estack_alloc a;
	int fd = open(DEV_PATH, O_RDWR), i;

	for (i = 0; i < 100; i++)
		if (fd < 0 || es_alloc(fd, 4096 << (i % 4), &a))
			_exit(1);
	_exit(0);	/* no FREE, no close, no munmap */
}

TEST_F(stk, exit_frees_everything)
{
	EXPECT_EQ(0, in_child(exit_with_stacks, NULL));
	EXPECT_EQ(self->in_use, es_stat("stacks_in_use"));
}

TEST_F(stk, close_keeps_stacks_until_unmapped)
{
	struct estack_alloc a;
	struct es_range r;
	int fd = es_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, es_alloc(fd, 8192, &a));
	close(fd);
	/* Still mapped and working after the last close. */
	memset(U2P(a.lo), 0x3c, 8192);
	EXPECT_EQ(0x3c, es_peek(a.hi - 1));
	EXPECT_EQ(self->in_use + 1, es_stat("stacks_in_use"));
	ASSERT_EQ(0, es_arena_of(a.lo, &r));
	ASSERT_EQ(0, munmap(U2P(r.start), r.end - r.start));
	EXPECT_EQ(self->in_use, es_stat("stacks_in_use"));
}

static int send_fd(int sock, int fd)
{
	char c = 0, buf[CMSG_SPACE(sizeof(int))] = {};
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = buf, .msg_controllen = sizeof(buf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char c, buf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = buf, .msg_controllen = sizeof(buf),
	};
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

static int scm_sock;

static void receive_and_use(void *arg)
{
	struct child_args c;

	c.fd = recv_fd(scm_sock);
	if (c.fd < 0)
		_exit(100);
	child_ioctl(&c);
}

/* A file passed to another process is refused there. */
TEST_F(stk, fd_passed_scm_rights_eperm)
{
	int sv[2], status;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	scm_sock = sv[1];
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		receive_and_use(NULL);
	ASSERT_EQ(0, send_fd(sv[0], self->fd));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(EPERM, WEXITSTATUS(status));
	close(sv[0]);
	close(sv[1]);
}

TEST_F(stk, rmmod_refused_while_in_use)
{
	struct estack_alloc a;
	struct es_range r;
	int fd;

	if (geteuid())
		ES_SKIP("needs root to try delete_module");
	EXPECT_EQ(-1, syscall(SYS_delete_module, "estack", O_NONBLOCK));
	EXPECT_TRUE(errno == EWOULDBLOCK || errno == EBUSY);

	/* Closed but still mapped: still refused. */
	fd = es_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, es_alloc(fd, 0, &a));
	close(fd);
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(-1, syscall(SYS_delete_module, "estack", O_NONBLOCK));
	EXPECT_TRUE(errno == EWOULDBLOCK || errno == EBUSY);
	ASSERT_EQ(0, es_arena_of(a.lo, &r));
	munmap(U2P(r.start), r.end - r.start);
	EXPECT_EQ(self->in_use, es_stat("stacks_in_use"));
}

TEST_F(stk, vma_count_flat)
{
	/* 4000 fit one arena, even a 32-bit process's 64 MiB one. */
	int before, after, i, n = 4000;
	struct estack_alloc a;

	ASSERT_EQ(0, es_alloc(self->fd, 0, &a));	/* the first arena */
	before = es_count_vmas();
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, es_alloc(self->fd, 4096 << (i % 2), &a));
	after = es_count_vmas();
	EXPECT_EQ(before, after);
	EXPECT_EQ(self->in_use + n + 1, es_stat("stacks_in_use"));
}

struct racer {
	int fd;
	int iters;
	int unmapper;
	int bad;
	__u32 *ids;	/* shared by the threads: atomic accesses only */
	unsigned int nids;
};

static void *race_fn(void *p)
{
	struct racer *r = p;
	struct estack_alloc a;
	struct estack_info info;
	unsigned int seed = (unsigned long)p, k;
	int i, err;

	for (i = 0; i < r->iters; i++) {
		k = rand_r(&seed) % r->nids;
		switch (rand_r(&seed) % 4) {
		case 0:
		case 1:
			err = es_alloc(r->fd, 4096 << (rand_r(&seed) % 3), &a);
			/* No touch: the unmapper may take it any time. */
			if (!err)
				__atomic_store_n(&r->ids[k], a.id,
						 __ATOMIC_RELAXED);
			else if (err != ENOMEM)
				r->bad++;
			break;
		case 2:
			err = es_free(r->fd, __atomic_load_n(&r->ids[k],
							     __ATOMIC_RELAXED));
			if (err && err != ENOENT)
				r->bad++;
			break;
		case 3:
			err = es_info(r->fd, __atomic_load_n(&r->ids[k],
							     __ATOMIC_RELAXED),
				      &info);
			if (err && err != ENOENT)
				r->bad++;
			break;
		}
		if (r->unmapper && !(i % 500))
			es_unmap_arenas();
	}
	return NULL;
}

/* Threads sharing one file: ALLOC, FREE, INFO and munmap racing. */
TEST_F(stk, threads_race)
{
	static __u32 ids[64];
	struct racer r[4];
	pthread_t t[4];
	int i;

	for (i = 0; i < 4; i++) {
		r[i] = (struct racer){ self->fd, 3000, i == 3, 0, ids, 64 };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, race_fn, &r[i]));
	}
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, pthread_join(t[i], NULL));
		EXPECT_EQ(0, r[i].bad);
	}
}

/* Stacks of 256 KiB under a per-user limit of 1 MiB: four at most. */
#define NS_STACK	(256 << 10)
#define NS_LIMIT	(4 * NS_STACK)
#define NS_UIDS		4
#define NS_OWNER	1000
#define NS_SUBUID	200000

/*
 * One uid of the namespace: as many stacks as the limits allow, their
 * number written to @res, then held until the process is killed.
 */
static void ns_hoarder(uid_t uid, int res)
{
	struct estack_alloc a;
	int fd, n = 0;

	if (setresuid(uid, uid, uid) || prctl(PR_SET_PDEATHSIG, SIGKILL))
		_exit(3);
	fd = es_open();
	while (fd >= 0 && n < 64 && !es_alloc(fd, NS_STACK, &a))
		n++;
	if (write(res, &n, sizeof(n)) != sizeof(n))
		_exit(4);
	for (;;)
		pause();
}

/**
 * struct ns_run - a user namespace whose uids hoard stacks
 * @owner: the process that made it, parent of the hoarders
 * @total: the stacks its NS_UIDS uids hold between them
 */
struct ns_run {
	pid_t owner;
	int total;
};

/*
 * As @owner_uid (root included), make a user namespace and map into it
 * NS_UIDS uids from @subuid up (what newuidmap does with /etc/subuid, or a
 * container manager as root), then have each of them hold as many stacks
 * as the limits allow, all at once. They hold them until ns_end().
 */
static void ns_hoard(struct __test_metadata *_metadata, uid_t owner_uid,
		     int subuid, struct ns_run *run)
{
	int ready[2], go[2], res[2], i, n;
	char map[64], path[64], c = 0;

	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(res));
	run->total = 0;
	run->owner = fork();
	ASSERT_LE(0, run->owner);
	if (!run->owner) {
		close(ready[0]);
		close(go[1]);
		close(res[0]);
		if (setgroups(0, NULL) ||
		    setresgid(owner_uid, owner_uid, owner_uid) ||
		    setresuid(owner_uid, owner_uid, owner_uid) ||
		    prctl(PR_SET_PDEATHSIG, SIGKILL) || unshare(CLONE_NEWUSER))
			_exit(2);
		if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(5);
		for (i = 0; i < NS_UIDS; i++)
			if (!fork())
				ns_hoarder(i, res[1]);
		for (;;)
			pause();
	}
	close(ready[1]);
	close(go[0]);
	close(res[1]);
	ASSERT_EQ(1, read(ready[0], &c, 1))
		TH_LOG("uid %d could not make a namespace", owner_uid);
	snprintf(path, sizeof(path), "/proc/%d/uid_map", run->owner);
	snprintf(map, sizeof(map), "0 %d %d\n", subuid, NS_UIDS);
	ASSERT_EQ(0, es_write_file(path, map));
	ASSERT_EQ(1, write(go[1], &c, 1));
	for (i = 0; i < NS_UIDS; i++) {
		ASSERT_EQ(sizeof(n), read(res[0], &n, sizeof(n)))
			TH_LOG("uid %d of the namespace gave no count", i);
		run->total += n;
	}
	TH_LOG("%d uids of a namespace uid %d made hold %d stacks of %d KiB",
	       NS_UIDS, owner_uid, run->total, NS_STACK >> 10);
	close(ready[0]);
	close(go[1]);
	close(res[0]);
}

/*
 * The hoarders die with the owner, and their files with them; then, unless
 * @in_use is negative, the module holds @in_use stacks again.
 */
static void ns_end(struct __test_metadata *_metadata, struct ns_run *run,
		   long long in_use)
{
	int status, i;

	kill(run->owner, SIGKILL);
	ASSERT_EQ(run->owner, waitpid(run->owner, &status, 0));
	if (in_use < 0)
		return;
	for (i = 0; i < 500 && es_stat("stacks_in_use") != in_use; i++)
		usleep(10000);
	EXPECT_EQ(in_use, es_stat("stacks_in_use"));
}

FIXTURE(userns) {
	long long saved;
	long long in_use;
};

FIXTURE_SETUP(userns)
{
	es_test_present(_metadata);
	if (geteuid())
		ES_SKIP("needs root to map subordinate uids");
	if (access("/proc/self/ns/user", F_OK))
		ES_SKIP("no user namespaces (CONFIG_USER_NS)");
	self->saved = es_param("max_bytes_per_user");
	ASSERT_LT(0, self->saved);
	self->in_use = es_stat("stacks_in_use");
	ASSERT_EQ(0, es_set_param("max_bytes_per_user", NS_LIMIT));
}

FIXTURE_TEARDOWN(userns)
{
	if (self->saved > 0)
		es_set_param("max_bytes_per_user", self->saved);
}

/*
 * Subordinate uids (/etc/subuid, mapped by newuidmap) are uids of their
 * own. A user given a range of them must not get the per-user limit once
 * per uid: the owner of their user namespace answers for them too.
 */
TEST_F(userns, owner_answers_for_its_uids)
{
	struct ns_run run;

	ns_hoard(_metadata, NS_OWNER, NS_SUBUID, &run);
	EXPECT_GE(NS_LIMIT / NS_STACK, run.total);
	EXPECT_LT(0, run.total);
	ns_end(_metadata, &run, self->in_use);
}

/*
 * A namespace root made (a container's) is one user: its uids share one
 * budget, and share it neither with root's own processes nor with another
 * such namespace.
 */
TEST_F(userns, root_made_namespace_is_one_user)
{
	struct ns_run run[2];
	struct estack_alloc a;
	int fd;

	ns_hoard(_metadata, 0, NS_SUBUID, &run[0]);
	EXPECT_GE(NS_LIMIT / NS_STACK, run[0].total);
	EXPECT_LT(0, run[0].total);
	ns_hoard(_metadata, 0, NS_SUBUID + NS_UIDS, &run[1]);
	EXPECT_EQ(run[0].total, run[1].total);
	/* Root itself, outside: its own budget is untouched. */
	fd = es_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, es_alloc(fd, NS_STACK, &a));
	close(fd);
	es_unmap_arenas();
	ns_end(_metadata, &run[1], -1);
	ns_end(_metadata, &run[0], self->in_use);
}

int main(int argc, char **argv)
{
	return test_harness_run(argc, argv);
}
