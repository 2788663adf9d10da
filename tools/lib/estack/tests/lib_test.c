// SPDX-License-Identifier: GPL-2.0
/*
 * libestack's tests: every function of <estack.h> and its errors, in the
 * mode ESTACK_TEST_MODE names:
 *
 *   kernel    (the default) pools over /dev/estack; a missing module is
 *             a failure, not a skip
 *   fallback  pools over the library's own mapping (ESTACK_POOL_FORCE_FALLBACK)
 *
 * The same source runs natively on the host (fallback: the host has no
 * module but has MADV_GUARD_INSTALL), under ASan and UBSan, and in the VM
 * in both modes (there 6.1 has no MADV_GUARD_INSTALL: mprotect guards).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <linux/types.h>

#include "kselftest_harness.h"
#include "sanitizer.h"
#include "estack.h"

#if TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define KIB	1024UL
#define MIB	(1024 * KIB)

static bool kernel_mode(void)
{
	const char *m = getenv("ESTACK_TEST_MODE");

	return !m || !strcmp(m, "kernel");
}

static unsigned int mode_flags(void)
{
	return kernel_mode() ? 0 : ESTACK_POOL_FORCE_FALLBACK;
}

static int expected_mode(void)
{
	return kernel_mode() ? ESTACK_MODE_KERNEL : ESTACK_MODE_FALLBACK;
}

/* Under valgrind, which runs one thread at a time, far more slowly. */
static bool under_valgrind(void)
{
	const char *p = getenv("LD_PRELOAD");

	return p && strstr(p, "vgpreload");
}

/*
 * Rounds of a race: @n, a few under valgrind. race_more() also ends it
 * after RACE_NS, on a slow machine (a debug kernel under TCG).
 */
#define RACE_NS		(10 * 1000000000ULL)

static int race_rounds(int n)
{
	return under_valgrind() ? n / 500 : n;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static bool race_more(int n, int rounds, uint64_t t0)
{
	return n < rounds && (!n || now_ns() - t0 < RACE_NS);
}

static uintptr_t cur_sp(void)
{
	return (uintptr_t)__builtin_frame_address(0);
}

static size_t stack_size(const struct estack_stack *s)
{
	return estack_stack_size(s);
}

static bool all_zero(const void *p, size_t len)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (c[i])
			return false;
	return true;
}

FIXTURE(lib) {
	struct estack_pool *pool;
	struct estack_pool_info info;
	size_t page;
};

FIXTURE_SETUP(lib)
{
	const char *m = getenv("ESTACK_TEST_MODE");

	ASSERT_TRUE(!m || !strcmp(m, "kernel") || !strcmp(m, "fallback"))
		TH_LOG("ESTACK_TEST_MODE=%s: kernel or fallback", m);
	self->page = sysconf(_SC_PAGESIZE);
	/* Kernel mode without the module fails: it was asked for. */
	ASSERT_EQ(0, estack_pool_open(&self->pool, mode_flags()))
		TH_LOG("open in %s mode", kernel_mode() ? "kernel" : "fallback");
	ASSERT_EQ(expected_mode(), estack_pool_mode(self->pool));
	ASSERT_EQ(0, estack_pool_query(self->pool, &self->info));
}

FIXTURE_TEARDOWN(lib)
{
	estack_pool_close(self->pool);
}

TEST_F(lib, open_query_mode)
{
	struct estack_pool *p = NULL;
	struct estack_pool_info i;

	EXPECT_EQ(-EINVAL, estack_pool_open(NULL, 0));
	EXPECT_EQ(-EINVAL, estack_pool_open(&p, 1u << 7));
	EXPECT_EQ(NULL, p);
	EXPECT_EQ(-EINVAL, estack_pool_mode(NULL));
	EXPECT_EQ(-EINVAL, estack_pool_query(NULL, &i));
	EXPECT_EQ(-EINVAL, estack_pool_query(self->pool, NULL));
	EXPECT_EQ(-EINVAL, estack_pool_trim(NULL));
	EXPECT_EQ(expected_mode(), self->info.mode);
	EXPECT_EQ(self->page, self->info.page_size);
	EXPECT_EQ(self->page, self->info.guard_size);
	EXPECT_EQ(self->page, self->info.min_stack);
	EXPECT_LE(self->page, self->info.max_stack);
	EXPECT_EQ(0, self->info.max_stack & (self->info.max_stack - 1));
	if (!kernel_mode()) {
		/* The module's default max_stack. */
		EXPECT_EQ(1UL << 30, self->info.max_stack);
	}
	EXPECT_EQ(0, self->info.live);
	EXPECT_EQ(0, self->info.cached);
	EXPECT_EQ(0, self->info.cached_bytes);
	estack_pool_close(NULL);

	/* A second pool of the same process, with the cache off. */
	ASSERT_EQ(0, estack_pool_open(&p, mode_flags() | ESTACK_POOL_NO_CACHE));
	EXPECT_EQ(expected_mode(), estack_pool_mode(p));
	estack_pool_close(p);
	/* FALLBACK alone: the module when there is one. */
	ASSERT_EQ(0, estack_pool_open(&p, ESTACK_POOL_FALLBACK));
	EXPECT_EQ(access("/dev/estack", F_OK) ? ESTACK_MODE_FALLBACK :
		  ESTACK_MODE_KERNEL, estack_pool_mode(p));
	estack_pool_close(p);
	if (kernel_mode()) {
		ASSERT_EQ(0, estack_pool_open(&p, 0));
		EXPECT_EQ(ESTACK_MODE_KERNEL, estack_pool_mode(p));
		estack_pool_close(p);
	} else if (access("/dev/estack", F_OK)) {
		/* No module and no fallback asked for. */
		EXPECT_EQ(-ENOENT, estack_pool_open(&p, 0));
	}
}

TEST_F(lib, alloc_sizes)
{
	const size_t pg = self->page, max = self->info.max_stack;
	const struct {
		size_t want, got;
	} c[] = {
		{ 0, pg }, { 1, pg }, { pg - 1, pg }, { pg, pg },
		{ pg + 1, 2 * pg }, { 5000, 8 * KIB }, { 3 * pg, 4 * pg },
		{ 64 * KIB, 64 * KIB }, { 64 * KIB + 1, 128 * KIB },
		{ 1 * MIB - 5, 1 * MIB },
	};
	struct estack_stack s;
	struct estack_pool_info i;
	unsigned int k;

	for (k = 0; k < ARRAY_SIZE(c); k++) {
		ASSERT_EQ(0, estack_stack_alloc(self->pool, c[k].want, &s))
			TH_LOG("alloc %zu", c[k].want);
		EXPECT_EQ(c[k].got, stack_size(&s)) TH_LOG("alloc %zu", c[k].want);
		EXPECT_EQ(0, (uintptr_t)s.lo % pg);
		/* Every usable byte can be written. */
		memset(s.lo, 0xa5, stack_size(&s));
		ASSERT_EQ(0, estack_pool_query(self->pool, &i));
		EXPECT_EQ(1, i.live);
		EXPECT_EQ(0, estack_stack_free(self->pool, &s));
	}
	EXPECT_EQ(-EFBIG, estack_stack_alloc(self->pool, max + 1, &s));
	EXPECT_EQ(-EFBIG, estack_stack_alloc(self->pool, 2 * max, &s));
	EXPECT_EQ(-EFBIG, estack_stack_alloc(self->pool, SIZE_MAX, &s));
	EXPECT_EQ(-EINVAL, estack_stack_alloc(self->pool, 0, NULL));
	EXPECT_EQ(-EINVAL, estack_stack_alloc(NULL, 0, &s));
	if (!kernel_mode()) {
		/* The largest: address space only, nothing touched. */
		ASSERT_EQ(0, estack_stack_alloc(self->pool, max, &s));
		EXPECT_EQ(max, stack_size(&s));
		*((char *)s.hi - 1) = 1;
		EXPECT_EQ(0, estack_stack_free(self->pool, &s));
	}
	ASSERT_EQ(0, estack_pool_query(self->pool, &i));
	EXPECT_EQ(0, i.live);
}

TEST_F(lib, fresh_stacks_read_zero)
{
	struct estack_pool *nc;
	struct estack_stack s[8];
	size_t sizes[] = { 0, 8 * KIB, 64 * KIB, 256 * KIB };
	unsigned int k, round;

	ASSERT_EQ(0, estack_pool_open(&nc, mode_flags() | ESTACK_POOL_NO_CACHE));
	for (round = 0; round < 3; round++) {
		for (k = 0; k < 4; k++) {
			ASSERT_EQ(0, estack_stack_alloc(nc, sizes[k], &s[k]));
			EXPECT_TRUE(all_zero(s[k].lo, stack_size(&s[k])))
				TH_LOG("round %u size %zu", round, sizes[k]);
			memset(s[k].lo, 0x5a, stack_size(&s[k]));
		}
		for (k = 0; k < 4; k++)
			EXPECT_EQ(0, estack_stack_free(nc, &s[k]));
	}
	estack_pool_close(nc);

	/* With the cache: the first of each class is fresh too. */
	for (k = 0; k < 4; k++) {
		ASSERT_EQ(0, estack_stack_alloc(self->pool, sizes[k], &s[k]));
		EXPECT_TRUE(all_zero(s[k].lo, stack_size(&s[k])));
	}
	for (k = 0; k < 4; k++)
		EXPECT_EQ(0, estack_stack_free(self->pool, &s[k]));
}

/* The SIGSEGV handler: on a sigaltstack, asks estack_guard_hit(). */
static struct {
	struct estack_pool *pool;
	sigjmp_buf jb;
	int faults;
	void *addr;
	int hit;
	struct estack_stack st;
} seg;

static void segv_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	seg.faults++;
	seg.addr = si->si_addr;
	seg.hit = estack_guard_hit(seg.pool, si->si_addr, &seg.st);
	siglongjmp(seg.jb, 1);
}

/* Touch @p: 0 when it did not fault, 1 when it did (seg.* filled). */
static int touch(char *p)
{
	seg.hit = -1;
	seg.addr = NULL;
	if (sigsetjmp(seg.jb, 1))
		return 1;
	/* An atomic store: the compiler may not drop it. */
	__atomic_store_n(p, 1, __ATOMIC_RELAXED);
	return 0;
}

static void *install_segv(void)
{
	struct sigaction sa;
	stack_t ss;
	void *alt = malloc(64 * KIB);

	ss.ss_sp = alt;
	ss.ss_size = 64 * KIB;
	ss.ss_flags = 0;
	sigaltstack(&ss, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = segv_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	return alt;
}

TEST_F(lib, guard_faults_and_guard_hit)
{
	size_t sizes[] = { 0, 16 * KIB, 128 * KIB };
	struct estack_stack s[3], t, other;
	unsigned int k;
	void *alt = install_segv();
	char *g;

	ASSERT_NE(NULL, alt);
	seg.pool = self->pool;
	for (k = 0; k < 3; k++)
		ASSERT_EQ(0, estack_stack_alloc(self->pool, sizes[k], &s[k]));
	for (k = 0; k < 3; k++) {
		g = (char *)s[k].lo;
		/* The usable range does not fault. */
		EXPECT_EQ(0, touch(g));
		EXPECT_EQ(0, touch((char *)s[k].hi - 1));
		/* Just below lo, and the guard's first byte, do. */
		EXPECT_EQ(1, touch(g - 1));
		EXPECT_EQ(g - 1, (char *)seg.addr);
		EXPECT_EQ(1, seg.hit);
		EXPECT_EQ(s[k].lo, seg.st.lo);
		EXPECT_EQ(s[k].hi, seg.st.hi);
		EXPECT_EQ(1, touch(g - self->info.guard_size));
		EXPECT_EQ(1, seg.hit);
		EXPECT_EQ(s[k].lo, seg.st.lo);
		/* Outside the guard: not a hit, from a plain call either. */
		EXPECT_EQ(0, estack_guard_hit(self->pool, g, NULL));
		EXPECT_EQ(0, estack_guard_hit(self->pool, (char *)s[k].hi - 1,
					      NULL));
		EXPECT_EQ(0, estack_guard_hit(self->pool, g - self->info.guard_size - 1,
					      NULL));
		EXPECT_EQ(1, estack_guard_hit(self->pool, g - 1, &t));
		EXPECT_EQ(s[k].lo, t.lo);
		EXPECT_EQ(0, estack_guard_hit(NULL, g - 1, &t));
	}
	/* Not a pool's: another pool's guard is not this one's. */
	{
		struct estack_pool *p2;

		ASSERT_EQ(0, estack_pool_open(&p2, mode_flags()));
		ASSERT_EQ(0, estack_stack_alloc(p2, 0, &other));
		EXPECT_EQ(0, estack_guard_hit(self->pool,
					      (char *)other.lo - 1, NULL));
		EXPECT_EQ(1, estack_guard_hit(p2, (char *)other.lo - 1, NULL));
		EXPECT_EQ(0, estack_stack_free(p2, &other));
		estack_pool_close(p2);
	}
	/* A heap address and a freed stack's guard are not hits. */
	EXPECT_EQ(0, estack_guard_hit(self->pool, alt, NULL));
	g = (char *)s[1].lo;
	EXPECT_EQ(0, estack_stack_free(self->pool, &s[1]));
	EXPECT_EQ(0, estack_guard_hit(self->pool, g - 1, NULL));
	EXPECT_EQ(0, estack_stack_free(self->pool, &s[0]));
	EXPECT_EQ(0, estack_stack_free(self->pool, &s[2]));
	EXPECT_EQ(0, estack_guard_hit(self->pool, (char *)s[2].lo - 1, NULL));
	EXPECT_EQ(6, seg.faults);
	signal(SIGSEGV, SIG_DFL);
}

/* Nothing caught: a touch of the guard kills the process (the test's). */
TEST_SIGNAL(guard_touch_kills, SIGSEGV)
{
	struct estack_pool *pool;
	struct estack_stack s;

	signal(SIGSEGV, SIG_DFL);	/* ASan's handler would exit(1) */
	ASSERT_EQ(0, estack_pool_open(&pool, mode_flags()));
	ASSERT_EQ(0, estack_stack_alloc(pool, 0, &s));
	__atomic_store_n((char *)s.hi - 1, 1, __ATOMIC_RELAXED);
	__atomic_store_n((char *)s.lo, 1, __ATOMIC_RELAXED);
	__atomic_store_n((char *)s.lo - 1, 1, __ATOMIC_RELAXED);
	TH_LOG("the guard below lo did not fault");
}

/* A freed stack and a stale handle: ENOENT, never a double free. */
TEST_F(lib, free_errors)
{
	struct estack_stack s, copy, s2;

	ASSERT_EQ(0, estack_stack_alloc(self->pool, 0, &s));
	copy = s;
	EXPECT_EQ(-EINVAL, estack_stack_free(self->pool, NULL));
	EXPECT_EQ(-EINVAL, estack_stack_free(NULL, &s));
	EXPECT_EQ(0, estack_stack_free(self->pool, &s));
	EXPECT_EQ(-ENOENT, estack_stack_free(self->pool, &s));
	EXPECT_EQ(-ENOENT, estack_stack_free(self->pool, &copy));
	/* The same memory again under a new allocation: still stale. */
	ASSERT_EQ(0, estack_stack_alloc(self->pool, 0, &s2));
	EXPECT_EQ(copy.lo, s2.lo);
	EXPECT_EQ(-ENOENT, estack_stack_free(self->pool, &copy));
	memset(&s, 0, sizeof(s));
	EXPECT_EQ(-ENOENT, estack_stack_free(self->pool, &s));
	EXPECT_EQ(0, estack_stack_free(self->pool, &s2));
}

/* Live words at the top of @s: sp = hi - @used. */
static void *fill_top(struct estack_stack *s, size_t used)
{
	__u64 *w = (__u64 *)((char *)s->hi - used);
	size_t i;

	for (i = 0; i < used / 8; i++)
		w[i] = 0x1111111111111111ULL * (i % 15 + 1) ^ i;
	return w;
}

static bool top_kept(const struct estack_stack *s, size_t used,
		     const __u64 *skip, unsigned int nr_skip)
{
	const __u64 *w = (const __u64 *)((const char *)s->hi - used);
	size_t i;
	unsigned int k;

	for (i = 0; i < used / 8; i++) {
		bool skipped = false;

		for (k = 0; k < nr_skip; k++)
			skipped |= skip[k] == i;
		if (!skipped && w[i] != (0x1111111111111111ULL * (i % 15 + 1) ^ i))
			return false;
	}
	return true;
}

TEST_F(lib, grow_with_slots)
{
	struct estack_stack s;
	void *sp, *heap_slot, *heap_out, *fp;
	__u64 *w, skip[3];
	uintptr_t old_lo, old_hi;
	intptr_t delta;
	const size_t used = 512;

	ASSERT_EQ(0, estack_stack_alloc(self->pool, 8 * KIB, &s));
	old_lo = (uintptr_t)s.lo;
	old_hi = (uintptr_t)s.hi;
	sp = fill_top(&s, used);
	w = sp;
	/* Inside: word 2 points at word 10, word 5 at hi - 1. */
	w[2] = (uintptr_t)&w[10];
	w[5] = old_hi - 1;
	/* A word that points in but is named by nothing stays. */
	w[7] = (uintptr_t)&w[1];
	skip[0] = 2;
	skip[1] = 5;
	skip[2] = 7;
	heap_slot = &w[20];
	heap_out = (void *)(old_lo - 8);	/* outside: untouched */
	fp = &w[3];				/* no chain walk: *fp moves */
	{
		void *const slots[] = { &heap_slot, &heap_out, &w[2], &w[5] };

		ASSERT_EQ(0, estack_stack_grow(self->pool, &s, &sp, &fp, slots,
					       4, 0));
	}
	EXPECT_EQ(16 * KIB, stack_size(&s));
	delta = (intptr_t)((uintptr_t)s.hi - old_hi);
	EXPECT_EQ((uintptr_t)s.hi - used, (uintptr_t)sp);
	w = sp;
	EXPECT_EQ((uintptr_t)&w[10], w[2]);
	EXPECT_EQ((uintptr_t)s.hi - 1, w[5]);
	EXPECT_EQ(old_hi - used + 8, w[7]);
	EXPECT_EQ(&w[20], heap_slot);
	EXPECT_EQ((void *)(old_lo - 8), heap_out);
	EXPECT_EQ(&w[3], fp);
	EXPECT_TRUE(top_kept(&s, used, skip, 3));
	/* Below the copy reads as zero. */
	EXPECT_TRUE(all_zero(s.lo, stack_size(&s) - used));
	EXPECT_NE(0, delta);
	/* The old handle's range is gone from the guard directory. */
	EXPECT_EQ(0, estack_guard_hit(self->pool, (void *)(old_lo - 1), NULL));
	EXPECT_EQ(1, estack_guard_hit(self->pool, (char *)s.lo - 1, NULL));
	EXPECT_EQ(0, estack_stack_free(self->pool, &s));
}

TEST_F(lib, grow_frame_chain)
{
	struct estack_stack s;
	__u64 *w;
	void *sp, *fp;
	uintptr_t old_hi;

	ASSERT_EQ(0, estack_stack_alloc(self->pool, 0, &s));
	old_hi = (uintptr_t)s.hi;
	sp = (char *)s.hi - 1024;
	w = sp;
	memset(w, 0, 1024);
	/* Frames at words 0, 16, 40, 100; the last one ends the chain. */
	w[0] = (uintptr_t)&w[16];
	w[1] = 0xdead;			/* a return address */
	w[16] = (uintptr_t)&w[40];
	w[40] = (uintptr_t)&w[100];
	w[100] = 0;
	/* Not in the chain, points in: left without the conservative scan. */
	w[50] = (uintptr_t)&w[60];
	fp = &w[0];
	ASSERT_EQ(0, estack_stack_grow(self->pool, &s, &sp, &fp, NULL, 0,
				       ESTACK_MOVE_ADJUST_FP));
	w = sp;
	EXPECT_EQ((char *)s.hi - 1024, (char *)sp);
	EXPECT_EQ(&w[0], fp);
	EXPECT_EQ((uintptr_t)&w[16], w[0]);
	EXPECT_EQ(0xdead, w[1]);
	EXPECT_EQ((uintptr_t)&w[40], w[16]);
	EXPECT_EQ((uintptr_t)&w[100], w[40]);
	EXPECT_EQ(0, w[100]);
	EXPECT_EQ(old_hi - 1024 + 60 * 8, w[50]);

	/* A chain that loops back stops there: the back link stays. */
	w[0] = (uintptr_t)&w[16];
	w[16] = (uintptr_t)&w[8];	/* not above: the walk ends */
	w[8] = (uintptr_t)&w[30];
	fp = &w[0];
	old_hi = (uintptr_t)s.hi;
	ASSERT_EQ(0, estack_stack_grow(self->pool, &s, &sp, &fp, NULL, 0,
				       ESTACK_MOVE_ADJUST_FP));
	w = sp;
	EXPECT_EQ(&w[0], fp);
	EXPECT_EQ((uintptr_t)&w[16], w[0]);
	EXPECT_EQ(old_hi - 1024 + 8 * 8, w[16]);
	EXPECT_EQ(old_hi - 1024 + 30 * 8, w[8]);

	/* fp NULL: no walk, and the flag alone is harmless. */
	w[0] = (uintptr_t)&w[16];
	old_hi = (uintptr_t)s.hi;
	ASSERT_EQ(0, estack_stack_grow(self->pool, &s, &sp, NULL, NULL, 0,
				       ESTACK_MOVE_ADJUST_FP));
	w = sp;
	EXPECT_EQ(old_hi - 1024 + 16 * 8, w[0]);
	EXPECT_EQ(0, estack_stack_free(self->pool, &s));
}

/* The module's count of one event, or -1 where it cannot be read. */
static long long module_stat(const char *name)
{
	char path[128];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/misc/estack/stats/%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/*
 * A frame chain, slots inside and outside, and words that only the
 * conservative scan rewrites, 1 KiB from the top of @s; @out is a slot
 * outside the stack that points into it.
 */
static void *move_image(struct estack_stack *s, void **out)
{
	__u64 *w = (__u64 *)((char *)s->hi - 1024);
	size_t i;

	for (i = 0; i < 128; i++)
		w[i] = 0x5a5a5a5a00000000ULL | i;
	w[0] = (uintptr_t)&w[16];
	w[16] = (uintptr_t)&w[40];
	w[40] = 0;
	w[3] = (uintptr_t)&w[90];	/* a slot inside */
	w[70] = (uintptr_t)&w[120];	/* the conservative scan's */
	w[71] = (uintptr_t)s->hi - 1;
	*out = &w[100];
	return w;
}

/* The image after a move, the words that point in taken back to offsets. */
static void move_image_read(const struct estack_stack *s, const void *sp,
			    __u64 *img)
{
	const __u64 *w = sp;
	size_t i;

	for (i = 0; i < 128; i++)
		img[i] = w[i] >= (uintptr_t)s->lo && w[i] < (uintptr_t)s->hi ?
			 (uintptr_t)s->hi - w[i] : w[i];
}

/*
 * The same stack moved by a pool with caches and by one without: in
 * kernel mode the first copies in user space (no GROW, no SHRINK in the
 * module's counts) between sizes the caches hold and the second goes
 * through the module, and both leave the same words.
 */
TEST_F(lib, moves_agree_across_paths)
{
	const unsigned int flags = ESTACK_MOVE_ADJUST_FP |
				   ESTACK_MOVE_ADJUST_CONSERVATIVE;
	__u64 img[2][128];
	struct estack_pool *pools[2];
	long long grows[3], shrinks[3];
	int k;

	pools[0] = self->pool;
	ASSERT_EQ(0, estack_pool_open(&pools[1],
				      mode_flags() | ESTACK_POOL_NO_CACHE));
	grows[0] = module_stat("grows");
	shrinks[0] = module_stat("shrinks");
	for (k = 0; k < 2; k++) {
		struct estack_stack s;
		void *sp, *fp, *out, *slots[2];

		ASSERT_EQ(0, estack_stack_alloc(pools[k], 8 * KIB, &s));
		sp = move_image(&s, &out);
		fp = sp;
		/* The slot inside is named at its place of the moment. */
		slots[0] = &out;
		slots[1] = (__u64 *)sp + 3;
		ASSERT_EQ(0, estack_stack_grow(pools[k], &s, &sp, &fp, slots,
					       2, flags));
		ASSERT_EQ(16 * KIB, stack_size(&s));
		slots[1] = (__u64 *)sp + 3;
		ASSERT_EQ(0, estack_stack_grow_to(pools[k], &s, 64 * KIB, &sp,
						  &fp, slots, 2, flags));
		ASSERT_EQ(64 * KIB, stack_size(&s));
		slots[1] = (__u64 *)sp + 3;
		ASSERT_EQ(0, estack_stack_shrink(pools[k], &s, &sp, &fp, slots,
						 2, flags));
		ASSERT_EQ(32 * KIB, stack_size(&s));
		EXPECT_EQ((char *)s.hi - 1024, (char *)sp);
		EXPECT_EQ(sp, fp);
		EXPECT_EQ((__u64 *)sp + 100, (__u64 *)out);
		EXPECT_TRUE(all_zero(s.lo, stack_size(&s) - 1024));
		move_image_read(&s, sp, img[k]);
		ASSERT_EQ(0, estack_stack_free(pools[k], &s));
		grows[k + 1] = module_stat("grows");
		shrinks[k + 1] = module_stat("shrinks");
	}
	EXPECT_EQ(0, memcmp(img[0], img[1], sizeof(img[0])));
	EXPECT_EQ(1024 - 16 * 8, img[0][0]);
	EXPECT_EQ(1024 - 90 * 8, img[0][3]);
	EXPECT_EQ(1024 - 120 * 8, img[0][70]);
	EXPECT_EQ(1, img[0][71]);
	if (kernel_mode() && grows[0] >= 0) {
		EXPECT_EQ(grows[0], grows[1]);
		EXPECT_EQ(shrinks[0], shrinks[1]);
		EXPECT_EQ(grows[1] + 2, grows[2]);
		EXPECT_EQ(shrinks[1] + 1, shrinks[2]);
	}
	estack_pool_close(pools[1]);
}

TEST_F(lib, grow_conservative)
{
	struct estack_stack s;
	__u64 *w, below;
	uintptr_t old_lo, old_hi;
	void *sp;
	char *c;

	ASSERT_EQ(0, estack_stack_alloc(self->pool, 16 * KIB, &s));
	old_lo = (uintptr_t)s.lo;
	old_hi = (uintptr_t)s.hi;
	sp = (char *)s.hi - 2048;
	w = sp;
	memset(w, 0, 2048);
	w[0] = old_lo;			/* in: rewritten */
	w[1] = old_hi - 8;		/* in: rewritten */
	w[2] = old_hi;			/* one past: not */
	w[3] = old_lo - 1;		/* below: not */
	w[4] = (uintptr_t)&w[4];	/* self: rewritten */
	/* A pointer at an odd offset is not an aligned word: left. */
	c = (char *)&w[10] + 4;
	memcpy(c, &old_hi, sizeof(old_hi));
	old_hi -= 16;
	memcpy(c, &old_hi, sizeof(old_hi));
	old_hi += 16;
	/* Below sp: not copied at all. */
	below = old_hi - 8;
	memcpy((char *)sp - 8, &below, 8);
	ASSERT_EQ(0, estack_stack_grow(self->pool, &s, &sp, NULL, NULL, 0,
				       ESTACK_MOVE_ADJUST_CONSERVATIVE));
	w = sp;
	EXPECT_EQ((uintptr_t)s.hi - 16 * KIB, w[0]);
	EXPECT_EQ((uintptr_t)s.hi - 8, w[1]);
	EXPECT_EQ(old_hi, w[2]);
	EXPECT_EQ(old_lo - 1, w[3]);
	EXPECT_EQ((uintptr_t)&w[4], w[4]);
	c = (char *)&w[10] + 4;
	memcpy(&below, c, 8);
	EXPECT_EQ(old_hi - 16, below);
	memcpy(&below, (char *)sp - 8, 8);
	EXPECT_EQ(0, below);
	EXPECT_EQ(32 * KIB, stack_size(&s));
	EXPECT_EQ(0, estack_stack_free(self->pool, &s));
}

TEST_F(lib, grow_to_and_errors)
{
	struct estack_stack s, stale;
	void *sp, *bad;
	void **heap;
	const size_t max = self->info.max_stack;

	ASSERT_EQ(0, estack_stack_alloc(self->pool, 8 * KIB, &s));
	sp = s.hi;
	/* bytes not larger than the stack */
	EXPECT_EQ(-EINVAL, estack_stack_grow_to(self->pool, &s, 8 * KIB, &sp,
						NULL, NULL, 0, 0));
	EXPECT_EQ(-EINVAL, estack_stack_grow_to(self->pool, &s, 100, &sp,
						NULL, NULL, 0, 0));
	EXPECT_EQ(0, estack_stack_grow_to(self->pool, &s, 8 * KIB + 1, &sp,
					  NULL, NULL, 0, 0));
	EXPECT_EQ(16 * KIB, stack_size(&s));
	EXPECT_EQ(s.hi, sp);
	EXPECT_EQ(0, estack_stack_grow_to(self->pool, &s, 100 * KIB, &sp,
					  NULL, NULL, 0, 0));
	EXPECT_EQ(128 * KIB, stack_size(&s));
	EXPECT_EQ(-EFBIG, estack_stack_grow_to(self->pool, &s, max + 1, &sp,
					       NULL, NULL, 0, 0));
	EXPECT_EQ(128 * KIB, stack_size(&s));
	/* sp outside [lo, hi] */
	bad = (char *)s.hi + 8;
	EXPECT_EQ(-EINVAL, estack_stack_grow(self->pool, &s, &bad, NULL, NULL,
					     0, 0));
	bad = (char *)s.lo - 8;
	EXPECT_EQ(-EINVAL, estack_stack_grow(self->pool, &s, &bad, NULL, NULL,
					     0, 0));
	EXPECT_EQ(-EINVAL, estack_stack_grow(self->pool, &s, NULL, NULL, NULL,
					     0, 0));
	/* unknown flags, too many slots, no slot array */
	EXPECT_EQ(-EINVAL, estack_stack_grow(self->pool, &s, &sp, NULL, NULL,
					     0, 0x4));
	heap = calloc(4097, sizeof(*heap));
	ASSERT_NE(NULL, heap);
	EXPECT_EQ(-EINVAL, estack_stack_grow(self->pool, &s, &sp, NULL,
					     (void *const *)heap, 4097, 0));
	EXPECT_EQ(-EINVAL, estack_stack_grow(self->pool, &s, &sp, NULL, NULL,
					     1, 0));
	free(heap);
	/* The slot array inside the stack that moves. */
	heap = (void **)((char *)s.hi - 64);
	heap[0] = &sp;
	EXPECT_EQ(-EINVAL, estack_stack_grow(self->pool, &s, &sp, NULL,
					     (void *const *)heap, 1, 0));
	EXPECT_EQ(-EINVAL, estack_stack_shrink(self->pool, &s, &sp, NULL,
					       (void *const *)heap, 1, 0));
	/* A stale handle */
	stale = s;
	stale.priv[0] ^= 1;
	EXPECT_EQ(-ENOENT, estack_stack_grow(self->pool, &stale, &sp, NULL,
					     NULL, 0, 0));
	EXPECT_EQ(-ENOENT, estack_stack_shrink(self->pool, &stale, &sp, NULL,
					       NULL, 0, 0));
	EXPECT_EQ(-EINVAL, estack_stack_grow(NULL, &s, &sp, NULL, NULL, 0, 0));
	EXPECT_EQ(-EINVAL, estack_stack_grow(self->pool, NULL, &sp, NULL, NULL,
					     0, 0));
	EXPECT_EQ(128 * KIB, stack_size(&s));
	stale = s;
	EXPECT_EQ(0, estack_stack_free(self->pool, &s));
	EXPECT_EQ(-ENOENT, estack_stack_grow(self->pool, &stale, &sp, NULL,
					     NULL, 0, 0));
	EXPECT_EQ(-ENOENT, estack_stack_free(self->pool, &stale));

	/* Doubling past max_stack (fallback: address space only). */
	if (!kernel_mode()) {
		ASSERT_EQ(0, estack_stack_alloc(self->pool, max, &s));
		sp = s.hi;
		EXPECT_EQ(-EFBIG, estack_stack_grow(self->pool, &s, &sp, NULL,
						    NULL, 0, 0));
		EXPECT_EQ(0, estack_stack_free(self->pool, &s));
	}
}

TEST_F(lib, shrink)
{
	struct estack_stack s;
	void *sp, *lo, *heap_slot;
	__u64 *w;
	uintptr_t old_hi;
	const size_t used = 1024;

	ASSERT_EQ(0, estack_stack_alloc(self->pool, 64 * KIB, &s));
	sp = fill_top(&s, used);
	old_hi = (uintptr_t)s.hi;
	w = sp;
	heap_slot = &w[3];
	{
		void *const slots[] = { &heap_slot };

		ASSERT_EQ(0, estack_stack_shrink(self->pool, &s, &sp, NULL,
						 slots, 1, 0));
	}
	EXPECT_EQ(32 * KIB, stack_size(&s));
	EXPECT_EQ((char *)s.hi - used, (char *)sp);
	EXPECT_EQ((char *)sp + 24, (char *)heap_slot);
	EXPECT_TRUE(top_kept(&s, used, NULL, 0));
	EXPECT_NE(old_hi, (uintptr_t)s.hi);

	/* A quarter or more in use: not worth it, nothing changes. */
	lo = s.lo;
	sp = (char *)s.hi - 8 * KIB;
	EXPECT_EQ(0, estack_stack_shrink(self->pool, &s, &sp, NULL, NULL, 0,
					 0));
	EXPECT_EQ(lo, s.lo);
	EXPECT_EQ((char *)s.hi - 8 * KIB, (char *)sp);
	/* Just under a quarter: halves. */
	sp = (char *)s.hi - 8 * KIB + 16;
	EXPECT_EQ(0, estack_stack_shrink(self->pool, &s, &sp, NULL, NULL, 0,
					 0));
	EXPECT_EQ(16 * KIB, stack_size(&s));
	/* Down to a page and no further. */
	sp = s.hi;
	while (stack_size(&s) > self->page)
		ASSERT_EQ(0, estack_stack_shrink(self->pool, &s, &sp, NULL,
						 NULL, 0, 0));
	lo = s.lo;
	EXPECT_EQ(0, estack_stack_shrink(self->pool, &s, &sp, NULL, NULL, 0,
					 0));
	EXPECT_EQ(lo, s.lo);
	EXPECT_EQ(self->page, stack_size(&s));
	sp = (char *)s.lo - 1;
	EXPECT_EQ(-EINVAL, estack_stack_shrink(self->pool, &s, &sp, NULL, NULL,
					       0, 0));
	EXPECT_EQ(0, estack_stack_free(self->pool, &s));
}

/*
 * What a move writes after it (the handle, *sp, *fp) may not lie in the
 * stack that moves, which is gone by then, as the module refuses a struct
 * in it: -EINVAL, and nothing moves. A runtime that keeps its control
 * block at the top of the fiber's stack would otherwise keep a handle to
 * the old stack there, and resume on it.
 */
TEST_F(lib, moves_refuse_results_in_the_stack)
{
	struct estack_stack s, *in;
	void **spp, **fpp, *sp, *fp = NULL;
	void *lo;

	ASSERT_EQ(0, estack_stack_alloc(self->pool, 16 * KIB, &s));
	lo = s.lo;
	in = (struct estack_stack *)((char *)s.hi - 256);
	*in = s;
	spp = (void **)((char *)s.hi - 64);
	fpp = (void **)((char *)s.hi - 72);
	sp = (char *)s.hi - 512;	/* an eighth in use: SHRINK halves */
	*spp = sp;
	*fpp = NULL;
	EXPECT_EQ(-EINVAL, estack_stack_grow(self->pool, in, &sp, NULL, NULL,
					     0, 0));
	EXPECT_EQ(-EINVAL, estack_stack_shrink(self->pool, in, &sp, NULL,
					       NULL, 0, 0));
	EXPECT_EQ(-EINVAL, estack_stack_grow(self->pool, &s, spp, NULL, NULL,
					     0, 0));
	EXPECT_EQ(-EINVAL, estack_stack_shrink(self->pool, &s, spp, NULL,
					       NULL, 0, 0));
	EXPECT_EQ(-EINVAL, estack_stack_grow(self->pool, &s, &sp, fpp, NULL,
					     0, ESTACK_MOVE_ADJUST_FP));
	EXPECT_EQ(lo, s.lo);
	EXPECT_EQ(lo, in->lo);
	EXPECT_EQ((char *)s.hi - 512, (char *)sp);
	/* From outside the stack, the same moves go. */
	EXPECT_EQ(0, estack_stack_grow(self->pool, &s, &sp, &fp, NULL, 0,
				       ESTACK_MOVE_ADJUST_FP));
	EXPECT_EQ(32 * KIB, stack_size(&s));
	EXPECT_EQ(0, estack_stack_free(self->pool, &s));
}

/*
 * A word is relocated at most once per move, however many ways name it,
 * as the module does (move_test's relocation_once_per_word): a slot
 * outside the stack listed twice, and a word inside named by a slot and
 * by the conservative scan. When a SHRINK's new stack lies less than the
 * old size above the old one, a stale pointer to the old bottom still
 * points into the old stack after one relocation, and a second pass
 * moved it again. A pool without caches carves the new stack next to the
 * old one (in kernel mode the module moves it, by the same rule).
 */
#define ONCE_TRIES	8

TEST_F(lib, relocation_once_per_word)
{
	struct estack_stack s[ONCE_TRIES];
	uintptr_t lo = 0, old_hi = 0, delta = 0;
	void *sp, **w = NULL, *heap = NULL, *fp = NULL;
	struct estack_pool *p;
	int n, k;

	ASSERT_EQ(0, estack_pool_open(&p, mode_flags() | ESTACK_POOL_NO_CACHE));
	/* The case that matters needs the new stack just above the old. */
	for (n = 0; n < ONCE_TRIES; n++) {
		ASSERT_EQ(0, estack_stack_alloc(p, 16 * KIB, &s[n]));
		lo = (uintptr_t)s[n].lo;
		old_hi = (uintptr_t)s[n].hi;
		sp = (char *)s[n].hi - 256;
		w = (void **)((char *)s[n].hi - 64);
		*w = (void *)(lo + 8);
		heap = (void *)(lo + 100);
		fp = (void *)(lo + 16);		/* *fp and *sp, slots too */
		{
			void *const slots[] = { w, &heap, &heap, &fp, &sp };

			ASSERT_EQ(0, estack_stack_shrink(p, &s[n], &sp, &fp,
							 slots, 5,
							 ESTACK_MOVE_ADJUST_CONSERVATIVE));
		}
		ASSERT_EQ(8 * KIB, stack_size(&s[n]));
		delta = (uintptr_t)s[n].hi - old_hi;
		if (lo + 100 + delta >= lo && lo + 100 + delta < old_hi)
			break;
	}
	ASSERT_GT(ONCE_TRIES, n)
		TH_LOG("no SHRINK's new stack lay within 16 KiB above the old");
	EXPECT_EQ(lo + 100 + delta, (uintptr_t)heap);
	EXPECT_EQ(lo + 16 + delta, (uintptr_t)fp);
	EXPECT_EQ((char *)s[n].hi - 256, (char *)sp);
	EXPECT_EQ(lo + 8 + delta, *(uintptr_t *)((char *)s[n].hi - 64));
	for (k = 0; k <= n && k < ONCE_TRIES; k++)
		EXPECT_EQ(0, estack_stack_free(p, &s[k]));
	estack_pool_close(p);
}

/*
 * A slot may name a word of the slot array itself, whose value is the
 * address of another slot: the array is read before any slot is written,
 * as the module copies it in, so the other slot is still the word in the
 * stack it named (valgrind's run read uninitialised memory before).
 */
TEST_F(lib, slot_naming_the_slot_array)
{
	struct estack_stack s;
	void *sp, *sa[2];
	uintptr_t lo, old_hi;
	void **in;

	ASSERT_EQ(0, estack_stack_alloc(self->pool, 16 * KIB, &s));
	lo = (uintptr_t)s.lo;
	old_hi = (uintptr_t)s.hi;
	sp = (char *)s.hi - 256;
	in = (void **)((char *)s.hi - 64);
	*in = (void *)(old_hi - 128);	/* a live pointer, in the stack */
	sa[0] = &sa[1];			/* outside: the array's own word */
	sa[1] = in;			/* inside: the word above */
	ASSERT_EQ(0, estack_stack_grow(self->pool, &s, &sp, NULL,
				       (void *const *)sa, 2, 0));
	EXPECT_EQ((char *)in + ((uintptr_t)s.hi - old_hi), (char *)sa[1]);
	EXPECT_EQ(old_hi - 128 + ((uintptr_t)s.hi - old_hi),
		  *(uintptr_t *)((char *)s.hi - 64));
	EXPECT_NE(lo, (uintptr_t)s.lo);
	EXPECT_EQ(0, estack_stack_free(self->pool, &s));
}

/*
 * mlockall(MCL_FUTURE) locks the fallback's mapping too, and the kernel
 * refuses MADV_DONTNEED on locked memory: a freed stack kept its bytes,
 * and the next stack in its slot, which the pool hands out as fresh and
 * does not clear, read them. Cleared by hand instead, a freed stack must
 * not be faulted in whole: a 64 MiB stack with one page written may not
 * add 64 MiB of locked, resident memory when freed. In a child, so that the test's
 * own process is not locked.
 */
/* The process's resident memory (VmRSS), in KiB; -1 if unknown. */
static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static int locked_child(void)
{
	struct estack_pool *p;
	struct estack_stack a, b;
	long before;
	void *sp;
	int ret;

	if (mlockall(MCL_FUTURE | MCL_ONFAULT))
		return 2;
	if (estack_pool_open(&p, ESTACK_POOL_FORCE_FALLBACK |
			     ESTACK_POOL_NO_CACHE))
		return 3;
	ret = estack_stack_alloc(p, 16 * KIB, &a);
	/* An unprivileged RLIMIT_MEMLOCK takes no fallback region. */
	if (ret == -ENOMEM && geteuid())
		return 2;
	if (ret)
		return 4;
	memset(a.lo, 0xab, 16 * KIB);
	if (estack_stack_free(p, &a) || estack_stack_alloc(p, 16 * KIB, &a))
		return 5;
	if (!all_zero(a.lo, 16 * KIB))
		return 6;
	memset(a.lo, 0xab, 16 * KIB);
	if (estack_stack_free(p, &a) || estack_stack_alloc(p, 8 * KIB, &b))
		return 7;
	sp = (char *)b.hi - 64;
	memset(sp, 0xcd, 64);
	/* Into the slot of a, at 16 KiB: below the copy, zero. */
	if (estack_stack_grow(p, &b, &sp, NULL, NULL, 0, 0))
		return 8;
	if (!all_zero(b.lo, (char *)sp - (char *)b.lo))
		return 9;
	estack_stack_free(p, &b);
	if (estack_stack_alloc(p, 64 * MIB, &a))
		return 10;
	*((char *)a.hi - 1) = 1;
	/* ASan's unpoisoning of the freed stack fills 8 MiB of shadow. */
	before = rss_kib();
	if (estack_stack_free(p, &a))
		return 11;
	if (before < 0 || rss_kib() - before > 16 * 1024)
		return 12;
	estack_pool_close(p);
	return 0;
}

TEST(fallback_clears_locked_stacks)
{
	int status = -1;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(locked_child());
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("status 0x%x", status);
	/* Only an unprivileged mlockall() may fail: root's must work. */
	if (WEXITSTATUS(status) == 2 && geteuid())
		SKIP(return, "mlockall() or RLIMIT_MEMLOCK: %s", "needs root");
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/*
 * A move into a stack the calling thread's cache held, one a fiber used
 * before: below the copy it reads as zero, as a new stack does, for GROW
 * and SHRINK alike (in kernel mode both come from the cache and the copy
 * is made here).
 */
TEST_F(lib, moves_into_used_stacks_read_zero)
{
	struct estack_stack used, s;
	const size_t live = 512;
	void *sp;

	/* A used 16 KiB stack in the cache, then a GROW from 8 KiB into it. */
	ASSERT_EQ(0, estack_stack_alloc(self->pool, 16 * KIB, &used));
	memset(used.lo, 0xaa, stack_size(&used));
	ASSERT_EQ(0, estack_stack_free(self->pool, &used));
	ASSERT_EQ(0, estack_stack_alloc(self->pool, 8 * KIB, &s));
	sp = fill_top(&s, live);
	ASSERT_EQ(0, estack_stack_grow(self->pool, &s, &sp, NULL, NULL, 0, 0));
	ASSERT_EQ(16 * KIB, stack_size(&s));
	EXPECT_TRUE(top_kept(&s, live, NULL, 0));
	EXPECT_TRUE(all_zero(s.lo, (char *)sp - (char *)s.lo));

	/* A used 8 KiB stack in the cache, then a SHRINK from 16 KiB into it. */
	ASSERT_EQ(0, estack_stack_alloc(self->pool, 8 * KIB, &used));
	memset(used.lo, 0xbb, stack_size(&used));
	ASSERT_EQ(0, estack_stack_free(self->pool, &used));
	sp = fill_top(&s, live);
	ASSERT_EQ(0, estack_stack_shrink(self->pool, &s, &sp, NULL, NULL, 0,
					 0));
	ASSERT_EQ(8 * KIB, stack_size(&s));
	EXPECT_TRUE(top_kept(&s, live, NULL, 0));
	EXPECT_TRUE(all_zero(s.lo, (char *)sp - (char *)s.lo));
	EXPECT_EQ(0, estack_stack_free(self->pool, &s));
}

/*
 * A fiber's live frames hold the redzones ASan poisons around its locals:
 * a move copies them all the same (under ASan the copy must not trip
 * over them; elsewhere this checks the copy).
 */
TEST_F(lib, moves_copy_poisoned_frames)
{
	struct estack_stack s;
	const size_t live = 1024;
	void *sp;

	ASSERT_EQ(0, estack_stack_alloc(self->pool, 8 * KIB, &s));
	sp = fill_top(&s, live);
#if TEST_ASAN
	__asan_poison_memory_region((char *)s.hi - live / 2, 64);
#endif
	ASSERT_EQ(0, estack_stack_grow(self->pool, &s, &sp, NULL, NULL, 0, 0));
	EXPECT_TRUE(top_kept(&s, live, NULL, 0));
#if TEST_ASAN
	__asan_poison_memory_region((char *)s.hi - live / 2, 64);
#endif
	ASSERT_EQ(0, estack_stack_shrink(self->pool, &s, &sp, NULL, NULL, 0,
					 0));
	EXPECT_TRUE(top_kept(&s, live, NULL, 0));
	EXPECT_EQ(0, estack_stack_free(self->pool, &s));
}

/* Moving or freeing the stack one runs on: EBUSY. */
static struct {
	struct estack_pool *pool;
	struct estack_stack *s;
	int grow, shrink, freed, grow_to;
	ucontext_t main, fiber;
} busy;

static void on_stack(void)
{
	void *sp = (void *)cur_sp();

	busy.grow = estack_stack_grow(busy.pool, busy.s, &sp, NULL, NULL, 0,
				      0);
	busy.grow_to = estack_stack_grow_to(busy.pool, busy.s, 1 * MIB, &sp,
					    NULL, NULL, 0, 0);
	busy.shrink = estack_stack_shrink(busy.pool, busy.s, &sp, NULL, NULL,
					  0, 0);
	busy.freed = estack_stack_free(busy.pool, busy.s);
}

TEST_F(lib, busy_on_own_stack)
{
	struct estack_stack s;

	ASSERT_EQ(0, estack_stack_alloc(self->pool, 64 * KIB, &s));
	busy.pool = self->pool;
	busy.s = &s;
	busy.grow = 1;
	busy.shrink = 1;
	busy.freed = 1;
	busy.grow_to = 1;
	ASSERT_EQ(0, getcontext(&busy.fiber));
	busy.fiber.uc_stack.ss_sp = s.lo;
	busy.fiber.uc_stack.ss_size = stack_size(&s);
	busy.fiber.uc_link = &busy.main;
	makecontext(&busy.fiber, on_stack, 0);
	ASSERT_EQ(0, swapcontext(&busy.main, &busy.fiber));
	EXPECT_EQ(-EBUSY, busy.grow);
	EXPECT_EQ(-EBUSY, busy.grow_to);
	EXPECT_EQ(-EBUSY, busy.shrink);
	EXPECT_EQ(-EBUSY, busy.freed);
	EXPECT_EQ(64 * KIB, stack_size(&s));
	EXPECT_EQ(0, estack_stack_free(self->pool, &s));
}

/* fork() on a fiber stack: the child is on memory it does not have. */
static void fork_on_stack(void)
{
	pid_t pid = fork();

	if (!pid)
		_exit(0);	/* not reached: the stack is not in the child */
	busy.grow = pid;
}

TEST_F(lib, fork_on_fiber_stack_kills_child)
{
	struct estack_stack s;
	int status;

	ASSERT_EQ(0, estack_stack_alloc(self->pool, 64 * KIB, &s));
	ASSERT_EQ(0, getcontext(&busy.fiber));
	busy.fiber.uc_stack.ss_sp = s.lo;
	busy.fiber.uc_stack.ss_size = stack_size(&s);
	busy.fiber.uc_link = &busy.main;
	makecontext(&busy.fiber, fork_on_stack, 0);
	busy.grow = -1;
	ASSERT_EQ(0, swapcontext(&busy.main, &busy.fiber));
	ASSERT_LT(0, busy.grow);
	ASSERT_EQ(busy.grow, waitpid(busy.grow, &status, 0));
#if TEST_ASAN
	/* ASan's SIGSEGV handler reports the fault and exits 1. */
	EXPECT_TRUE(WIFSIGNALED(status) ||
		    (WIFEXITED(status) && WEXITSTATUS(status)))
		TH_LOG("status %#x", status);
#else
	EXPECT_TRUE(WIFSIGNALED(status)) TH_LOG("status %#x", status);
	if (WIFSIGNALED(status))
		EXPECT_EQ(SIGSEGV, WTERMSIG(status));
#endif
	EXPECT_EQ(0, estack_stack_free(self->pool, &s));
}

TEST_F(lib, cache_reuse_and_bounds)
{
	struct estack_pool_info i;
	struct estack_stack *s;
	const unsigned int n = 2048;	/* 8 MiB of 4 KiB stacks */
	unsigned int k;
	uint64_t t0;
	void *lo;

	/* LIFO: the stack just freed comes back first. */
	s = calloc(n, sizeof(*s));
	ASSERT_NE(NULL, s);
	ASSERT_EQ(0, estack_stack_alloc(self->pool, 0, &s[0]));
	lo = s[0].lo;
	memset(s[0].lo, 0x77, self->page);
	ASSERT_EQ(0, estack_stack_free(self->pool, &s[0]));
	ASSERT_EQ(0, estack_pool_query(self->pool, &i));
	EXPECT_EQ(0, i.live);
	EXPECT_LE(1, i.cached);
	EXPECT_EQ(i.cached * self->page, i.cached_bytes);
	ASSERT_EQ(0, estack_stack_alloc(self->pool, 0, &s[0]));
	EXPECT_EQ(lo, s[0].lo);
	/* Reused stacks are not cleared (documented). */
	EXPECT_EQ(0x77, *(unsigned char *)s[0].lo);
	ASSERT_EQ(0, estack_stack_free(self->pool, &s[0]));

	for (k = 0; k < n; k++)
		ASSERT_EQ(0, estack_stack_alloc(self->pool, 0, &s[k]));
	ASSERT_EQ(0, estack_pool_query(self->pool, &i));
	EXPECT_EQ(n, i.live);
	EXPECT_GE(16, i.cached);
	t0 = now_ns();
	for (k = 0; k < n; k++)
		ASSERT_EQ(0, estack_stack_free(self->pool, &s[k]));
	ASSERT_EQ(0, estack_pool_query(self->pool, &i));
	EXPECT_EQ(0, i.live);
	/*
	 * 32 in the thread's cache, 4 MiB in the central list; less when
	 * the frees took over a second (a debug kernel under emulation), as
	 * the first entries put then were already idle and given back.
	 */
	EXPECT_GE(4 * MIB + 32 * self->page, i.cached_bytes);
	if (now_ns() - t0 < 1000000000ULL) {
		EXPECT_LE(4 * MIB, i.cached_bytes);
	} else {
		TH_LOG("frees took %.1f s: idle entries went back",
		       (now_ns() - t0) / 1e9);
	}
	/* 64 KiB: 4 per thread. */
	for (k = 0; k < 8; k++)
		ASSERT_EQ(0, estack_stack_alloc(self->pool, 64 * KIB, &s[k]));
	for (k = 0; k < 8; k++)
		ASSERT_EQ(0, estack_stack_free(self->pool, &s[k]));
	/* Larger than 64 KiB: never cached. */
	ASSERT_EQ(0, estack_pool_query(self->pool, &i));
	k = i.cached;
	ASSERT_EQ(0, estack_stack_alloc(self->pool, 128 * KIB, &s[0]));
	ASSERT_EQ(0, estack_stack_free(self->pool, &s[0]));
	ASSERT_EQ(0, estack_pool_query(self->pool, &i));
	EXPECT_EQ(k, i.cached);
	free(s);
}

TEST_F(lib, no_cache)
{
	struct estack_pool *nc;
	struct estack_pool_info i;
	struct estack_stack s[4];
	unsigned int k;

	ASSERT_EQ(0, estack_pool_open(&nc, mode_flags() | ESTACK_POOL_NO_CACHE));
	for (k = 0; k < 4; k++)
		ASSERT_EQ(0, estack_stack_alloc(nc, k * 8 * KIB, &s[k]));
	ASSERT_EQ(0, estack_pool_query(nc, &i));
	EXPECT_EQ(4, i.live);
	EXPECT_EQ(0, i.cached);
	for (k = 0; k < 4; k++)
		ASSERT_EQ(0, estack_stack_free(nc, &s[k]));
	ASSERT_EQ(0, estack_pool_query(nc, &i));
	EXPECT_EQ(0, i.live);
	EXPECT_EQ(0, i.cached);
	EXPECT_EQ(0, i.cached_bytes);
	EXPECT_EQ(0, estack_pool_trim(nc));
	estack_pool_close(nc);
}

/*
 * A pool closed and another opened at the same address: the hint the
 * thread keeps of the first (its cache, orphaned by the close, still
 * holding a stack) must not serve the second.
 */
TEST(pool_reopened_at_the_same_address)
{
	struct estack_pool *a, *b;
	struct estack_pool_info i;
	struct estack_stack s;
	unsigned int tries;
	bool reused = false;
	uintptr_t old;

	for (tries = 0; tries < 64 && !reused; tries++) {
		ASSERT_EQ(0, estack_pool_open(&a, mode_flags()));
		ASSERT_EQ(0, estack_stack_alloc(a, 0, &s));
		ASSERT_EQ(0, estack_stack_free(a, &s));	/* the cache's */
		old = (uintptr_t)a;
		estack_pool_close(a);
		ASSERT_EQ(0, estack_pool_open(&b, mode_flags()));
		reused = (uintptr_t)b == old;
		ASSERT_EQ(0, estack_stack_alloc(b, 0, &s));
		memset(s.lo, 1, estack_stack_size(&s));
		ASSERT_EQ(0, estack_pool_query(b, &i));
		EXPECT_EQ(1, i.live);
		EXPECT_EQ(0, estack_stack_free(b, &s));
		estack_pool_close(b);
	}
	/*
	 * glibc's malloc hands the block out again at once; ASan and
	 * valgrind hold freed blocks back, and there the case only checks
	 * that each new pool works. Another allocator that never repeats the
	 * address fails here, rather than passing without the check.
	 */
	if (!TEST_ASAN && !under_valgrind())
		EXPECT_TRUE(reused);
}

/* A thread that frees into its cache, then waits. */
struct trim_thread {
	struct estack_pool *pool;
	pthread_barrier_t *bar;
	unsigned int cached_before;
	int err;
};

static void *trim_thread_fn(void *arg)
{
	struct trim_thread *t = arg;
	struct estack_stack s[8], big;
	unsigned int k;

	for (k = 0; k < 8; k++)
		t->err |= estack_stack_alloc(t->pool, 0, &s[k]);
	for (k = 0; k < 8; k++)
		t->err |= estack_stack_free(t->pool, &s[k]);
	pthread_barrier_wait(t->bar);	/* main trims */
	pthread_barrier_wait(t->bar);
	/* The next call drains this thread's cache first. */
	t->err |= estack_stack_alloc(t->pool, 64 * KIB, &big);
	t->err |= estack_stack_free(t->pool, &big);
	pthread_barrier_wait(t->bar);
	return NULL;
}

TEST_F(lib, trim)
{
	struct estack_pool_info i;
	struct estack_stack s[64];
	pthread_barrier_t bar;
	struct trim_thread t = { .pool = self->pool, .bar = &bar };
	pthread_t th;
	unsigned int k;
	unsigned char vec[16];
	void *lo[64];

	for (k = 0; k < 64; k++)
		ASSERT_EQ(0, estack_stack_alloc(self->pool, 16 * KIB, &s[k]));
	for (k = 0; k < 64; k++) {
		memset(s[k].lo, 1, 16 * KIB);
		lo[k] = s[k].lo;
		ASSERT_EQ(0, estack_stack_free(self->pool, &s[k]));
	}
	ASSERT_EQ(0, estack_pool_query(self->pool, &i));
	EXPECT_LT(0, i.cached);
	EXPECT_EQ(0, estack_pool_trim(self->pool));
	ASSERT_EQ(0, estack_pool_query(self->pool, &i));
	EXPECT_EQ(0, i.cached);
	EXPECT_EQ(0, i.cached_bytes);
	EXPECT_EQ(0, i.live);
	if (!kernel_mode()) {
		/* The fallback gave the pages back (MADV_DONTNEED). */
		for (k = 0; k < 64; k++) {
			ASSERT_EQ(0, mincore(lo[k], 16 * KIB, vec));
			EXPECT_TRUE(all_zero(vec, 16 * KIB / self->page));
		}
	}

	/* Another thread's cache goes on its next call. */
	ASSERT_EQ(0, pthread_barrier_init(&bar, NULL, 2));
	ASSERT_EQ(0, pthread_create(&th, NULL, trim_thread_fn, &t));
	pthread_barrier_wait(&bar);
	ASSERT_EQ(0, estack_pool_query(self->pool, &i));
	EXPECT_LE(8, i.cached);		/* the thread's 4 KiB stacks */
	EXPECT_EQ(0, estack_pool_trim(self->pool));
	ASSERT_EQ(0, estack_pool_query(self->pool, &i));
	EXPECT_LE(8, i.cached);		/* still the thread's */
	pthread_barrier_wait(&bar);
	pthread_barrier_wait(&bar);
	ASSERT_EQ(0, estack_pool_query(self->pool, &i));
	/* Only the 64 KiB class refill is left: 2 stacks. */
	EXPECT_EQ(2, i.cached);
	EXPECT_EQ(128 * KIB, i.cached_bytes);
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(0, t.err);
	pthread_barrier_destroy(&bar);
}

static void *exit_thread_fn(void *arg)
{
	struct estack_pool *pool = arg;
	struct estack_stack s[4];
	unsigned int k;
	long err = 0;

	for (k = 0; k < 4; k++)
		err |= estack_stack_alloc(pool, 8 * KIB, &s[k]);
	for (k = 0; k < 4; k++)
		err |= estack_stack_free(pool, &s[k]);
	return (void *)err;
}

TEST_F(lib, thread_exit_drains)
{
	struct estack_pool_info i;
	struct estack_stack s;
	pthread_t th;
	void *ret;

	ASSERT_EQ(0, pthread_create(&th, NULL, exit_thread_fn, self->pool));
	ASSERT_EQ(0, pthread_join(th, &ret));
	EXPECT_EQ(NULL, ret);
	ASSERT_EQ(0, estack_pool_query(self->pool, &i));
	EXPECT_EQ(0, i.live);
	/* The thread's cache went to the central list, not away. */
	EXPECT_EQ(16, i.cached);
	EXPECT_EQ(16 * 8 * KIB, i.cached_bytes);
	/* ...from where this thread's cache refills. */
	ASSERT_EQ(0, estack_stack_alloc(self->pool, 8 * KIB, &s));
	ASSERT_EQ(0, estack_pool_query(self->pool, &i));
	EXPECT_EQ(15, i.cached);
	EXPECT_EQ(0, estack_stack_free(self->pool, &s));
	EXPECT_EQ(0, estack_pool_trim(self->pool));
	ASSERT_EQ(0, estack_pool_query(self->pool, &i));
	EXPECT_EQ(0, i.cached);
}

/*
 * A thread whose last call into a pool has returned may still be exiting,
 * its cache's destructor not yet run: the pool may be closed then, and a
 * thread that was never joined (a detached one) gives no other moment.
 */
struct close_race {
	struct estack_pool *pool;
	int done;
	long err;
};

static void *close_race_fn(void *arg)
{
	struct close_race *r = arg;
	struct estack_stack s[8];
	long err = 0;
	int k;

	for (k = 0; k < 8; k++)
		err |= estack_stack_alloc(r->pool, 8 * KIB, &s[k]);
	for (k = 0; k < 8; k++)
		err |= estack_stack_free(r->pool, &s[k]);
	r->err = err;
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;	/* and the cache's destructor runs */
}

TEST(close_while_a_user_exits)
{
	int rounds = race_rounds(2000), n;
	uint64_t t0 = now_ns();

	for (n = 0; race_more(n, rounds, t0); n++) {
		struct close_race r = { 0 };
		pthread_t th;

		ASSERT_EQ(0, estack_pool_open(&r.pool, mode_flags()));
		ASSERT_EQ(0, pthread_create(&th, NULL, close_race_fn, &r));
		while (!__atomic_load_n(&r.done, __ATOMIC_ACQUIRE))
			sched_yield();
		estack_pool_close(r.pool);
		ASSERT_EQ(0, pthread_join(th, NULL));
		ASSERT_EQ(0, r.err);
	}
}

/*
 * A fork() can catch another thread in the middle of a change to its
 * entry, its sequence count odd; that thread is not in the child to end
 * it. The child's entries must all read as written, or the stacks made in
 * them have guards that estack_guard_hit() never sees.
 */
struct fork_churn {
	struct estack_pool *pool;
	int stop;
	long err;
};

/*
 * It also stops by itself, after twice the race's time: under valgrind's
 * default scheduler (a pipe, not fair) a thread that never blocks can keep
 * the one that forks from ever running again.
 */
static void *fork_churn_fn(void *arg)
{
	struct fork_churn *c = arg;
	struct estack_stack s;
	uint64_t t0 = now_ns();

	while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED) && !c->err &&
	       now_ns() - t0 < 2 * RACE_NS) {
		c->err = estack_stack_alloc(c->pool, 0, &s);
		if (!c->err)
			c->err = estack_stack_free(c->pool, &s);
	}
	return NULL;
}

#define FORK_CHILD_STACKS	64

TEST_F_TIMEOUT(lib, fork_mid_change_keeps_guards, 120)
{
	int rounds = race_rounds(2000), n, bad = 0;
	struct fork_churn c = { .pool = self->pool };
	const char *failed = NULL;
	uint64_t t0 = now_ns();
	pthread_t th;

	ASSERT_EQ(0, pthread_create(&th, NULL, fork_churn_fn, &c));
	for (n = 0; race_more(n, rounds, t0); n++) {
		int status;
		pid_t pid;

		pid = fork();
		if (pid < 0) {
			failed = "fork";
			break;
		}
		if (!pid) {
			static struct estack_stack s[FORK_CHILD_STACKS];
			int k, miss = 0;

			for (k = 0; k < FORK_CHILD_STACKS; k++)
				if (estack_stack_alloc(self->pool, 0, &s[k]))
					_exit(2);
			for (k = 0; k < FORK_CHILD_STACKS; k++)
				miss += estack_guard_hit(self->pool,
							 (char *)s[k].lo - 1,
							 NULL) != 1;
			_exit(miss ? 1 : 0);
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) == 2) {
			failed = "a child that did not exit 0 or 1";
			break;
		}
		bad += WEXITSTATUS(status) == 1;
	}
	/* The thread ends before any assertion returns to the teardown. */
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELAXED);
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_EQ(NULL, failed) TH_LOG("round %d: %s", n, failed);
	EXPECT_EQ(0, c.err);
	EXPECT_EQ(0, bad)
		TH_LOG("%d of %d children: a guard estack_guard_hit() missed",
		       bad, n);
}

/*
 * A thread's cache that outlived it: an application's key destructor,
 * run after libestack's, used the pool in every round until glibc gave
 * up, so the last cache it made stays on the pool's list. glibc gives the
 * next thread the same pthread_t; when that one forks, the child keeps
 * its cache (the one its key holds), not the dead thread's, so that a
 * close in the child orphans it and the child's exit frees no pool twice.
 */
static struct estack_pool *reuse_pool, *reuse_other;
static pthread_key_t reuse_key;
static pthread_t reuse_first;

static int reuse_use(struct estack_pool *pool)
{
	struct estack_stack s;

	return estack_stack_alloc(pool, 0, &s) || estack_stack_free(pool, &s);
}

static void reuse_dtor(void *v)
{
	reuse_use(reuse_pool);		/* a cache again, each round */
	pthread_setspecific(reuse_key, v);
}

static void *reuse_first_fn(void *arg)
{
	reuse_first = pthread_self();
	pthread_setspecific(reuse_key, arg);
	return (void *)(long)reuse_use(reuse_pool);
}

static void *reuse_second_fn(void *arg)
{
	int status = -1;
	pid_t pid;

	if (!pthread_equal(reuse_first, pthread_self()))
		return (void *)1;	/* glibc gave another id: no case */
	if (reuse_use(reuse_pool))
		return (void *)2;
	pid = fork();
	if (!pid) {
		estack_pool_close(reuse_pool);
		if (reuse_use(reuse_other))
			_exit(3);
		pthread_exit(NULL);	/* its caches' destructor: exit 0 */
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return (void *)4;
	return (void *)(long)(WIFEXITED(status) && !WEXITSTATUS(status) ?
			      0 : 16 + status);
}

TEST(fork_after_a_thread_id_reused)
{
	pthread_t th;
	void *ret;

	ASSERT_EQ(0, estack_pool_open(&reuse_pool, mode_flags()));
	ASSERT_EQ(0, estack_pool_open(&reuse_other, mode_flags()));
	/* Created after libestack's: its destructor runs after the caches'. */
	ASSERT_EQ(0, pthread_key_create(&reuse_key, reuse_dtor));
	ASSERT_EQ(0, pthread_create(&th, NULL, reuse_first_fn, (void *)1));
	ASSERT_EQ(0, pthread_join(th, &ret));
	ASSERT_EQ(NULL, ret);
	ASSERT_EQ(0, pthread_create(&th, NULL, reuse_second_fn, NULL));
	ASSERT_EQ(0, pthread_join(th, &ret));
	if (ret == (void *)1)
		TH_LOG("the second thread got another pthread_t: nothing to test");
	else
		EXPECT_EQ(NULL, ret) TH_LOG("child status 0x%lx",
					    (long)ret - 16);
}

static void *exit_thread_4k(void *arg)
{
	struct estack_pool *pool = arg;
	struct estack_stack s;
	long err;

	err = estack_stack_alloc(pool, 0, &s);
	err |= estack_stack_free(pool, &s);
	return (void *)err;
}

/* Central entries idle for over a second go on the next drain. */
TEST_F(lib, idle_central_entries_go)
{
	struct estack_pool_info i;
	uint64_t t0 = now_ns();
	pthread_t th;
	void *ret;

	ASSERT_EQ(0, pthread_create(&th, NULL, exit_thread_fn, self->pool));
	ASSERT_EQ(0, pthread_join(th, &ret));
	ASSERT_EQ(NULL, ret);
	ASSERT_EQ(0, estack_pool_query(self->pool, &i));
	EXPECT_EQ(16 * 8 * KIB, i.cached_bytes);
	/*
	 * A drain within the second keeps them; one that came later (a
	 * machine so busy that two threads took a second) rightly does not.
	 */
	ASSERT_EQ(0, pthread_create(&th, NULL, exit_thread_4k, self->pool));
	ASSERT_EQ(0, pthread_join(th, &ret));
	ASSERT_EQ(NULL, ret);
	ASSERT_EQ(0, estack_pool_query(self->pool, &i));
	if (now_ns() - t0 < 1000000000ULL) {
		EXPECT_EQ(16 * 8 * KIB + 16 * self->page, i.cached_bytes);
	} else {
		TH_LOG("the two threads took %.1f s: no drain within a second",
		       (now_ns() - t0) / 1e9);
	}
	usleep(1200 * 1000);
	/* One after it does not: only the newest drain is left. */
	ASSERT_EQ(0, pthread_create(&th, NULL, exit_thread_4k, self->pool));
	ASSERT_EQ(0, pthread_join(th, &ret));
	ASSERT_EQ(NULL, ret);
	ASSERT_EQ(0, estack_pool_query(self->pool, &i));
	EXPECT_EQ(16 * self->page, i.cached_bytes);
}

/*
 * The library's clock, when fake_mono_ns is set: CLOCK_MONOTONIC that
 * reads one nanosecond earlier at each call. Two threads that each read
 * the clock and then take the pool's lock see their readings in either
 * order; in one thread, a clock that goes back models the other order.
 */
static uint64_t fake_mono_ns;

int clock_gettime(clockid_t id, struct timespec *ts)
{
	uint64_t ns;

	if (id != CLOCK_MONOTONIC ||
	    !__atomic_load_n(&fake_mono_ns, __ATOMIC_RELAXED))
		return syscall(SYS_clock_gettime, id, ts);
	ns = __atomic_sub_fetch(&fake_mono_ns, 1, __ATOMIC_RELAXED);
	ts->tv_sec = ns / 1000000000;
	ts->tv_nsec = ns % 1000000000;
	return 0;
}

/*
 * An entry put on the central list after the drain that looks for idle
 * entries read the clock is not idle: the central list keeps the exiting
 * thread's stacks.
 */
TEST_F(lib, central_entries_put_after_the_clock_read_stay)
{
	struct estack_pool_info i;
	pthread_t th;
	void *ret;

	__atomic_store_n(&fake_mono_ns, 1000 * 1000000000ULL, __ATOMIC_RELAXED);
	ASSERT_EQ(0, pthread_create(&th, NULL, exit_thread_fn, self->pool));
	ASSERT_EQ(0, pthread_join(th, &ret));
	__atomic_store_n(&fake_mono_ns, 0, __ATOMIC_RELAXED);
	ASSERT_EQ(NULL, ret);
	ASSERT_EQ(0, estack_pool_query(self->pool, &i));
	EXPECT_EQ(16, i.cached);
	EXPECT_EQ(16 * 8 * KIB, i.cached_bytes);
}

/*
 * Threads that alloc, free and grow at once, checking what they hold, and
 * now and then trim: each trim makes the others drain their caches while
 * they use them, and no stack may be handed to two at once.
 */
#define STRESS_THREADS	4
#define STRESS_OPS	10000
#define STRESS_HELD	16

struct stress {
	struct estack_pool *pool;
	unsigned int seed;
	unsigned long bad, ops, grows, trims;
};

static __u64 tag_of(const struct estack_stack *s, unsigned int id)
{
	return (__u64)(uintptr_t)s->hi * 31 + id;
}

static void *stress_fn(void *arg)
{
	struct stress *t = arg;
	struct estack_stack s[STRESS_HELD];
	bool held[STRESS_HELD] = { false };
	unsigned int id[STRESS_HELD];
	unsigned int op, k;

	for (op = 0; op < STRESS_OPS; op++) {
		unsigned int r = rand_r(&t->seed);
		__u64 *top;

		if (r % 101 == 0) {
			if (estack_pool_trim(t->pool))
				t->bad++;
			t->trims++;
		}
		k = r % STRESS_HELD;
		if (!held[k]) {
			size_t bytes = (size_t)4096 << (r >> 8) % 6;

			if (estack_stack_alloc(t->pool, bytes, &s[k])) {
				t->bad++;
				continue;
			}
			held[k] = true;
			id[k] = r;
			top = (__u64 *)s[k].hi - 2;
			top[1] = tag_of(&s[k], id[k]);
			top[0] = (uintptr_t)&top[1];	/* points in */
			*(__u64 *)s[k].lo = ~top[1];
		} else if ((r >> 12) % 3 == 0 && stack_size(&s[k]) < 1 * MIB) {
			void *sp = (__u64 *)s[k].hi - 2;

			top = sp;
			if (top[1] != tag_of(&s[k], id[k]))
				t->bad++;
			if (estack_stack_grow(t->pool, &s[k], &sp, NULL, NULL,
					      0, ESTACK_MOVE_ADJUST_CONSERVATIVE)) {
				t->bad++;
				continue;
			}
			t->grows++;
			top = sp;
			if (top != (__u64 *)s[k].hi - 2 ||
			    top[0] != (uintptr_t)&top[1])
				t->bad++;
			top[1] = tag_of(&s[k], id[k]);
			*(__u64 *)s[k].lo = ~top[1];
		} else {
			top = (__u64 *)s[k].hi - 2;
			if (top[1] != tag_of(&s[k], id[k]) ||
			    *(__u64 *)s[k].lo != ~top[1] ||
			    top[0] != (uintptr_t)&top[1])
				t->bad++;
			if (estack_stack_free(t->pool, &s[k]))
				t->bad++;
			held[k] = false;
		}
		t->ops++;
	}
	for (k = 0; k < STRESS_HELD; k++)
		if (held[k] && estack_stack_free(t->pool, &s[k]))
			t->bad++;
	return NULL;
}

TEST_F_TIMEOUT(lib, threads_alloc_free_grow, 600)
{
	struct stress t[STRESS_THREADS];
	pthread_t th[STRESS_THREADS];
	struct estack_pool_info i;
	unsigned int k;

	for (k = 0; k < STRESS_THREADS; k++) {
		t[k] = (struct stress){ .pool = self->pool, .seed = k + 1 };
		ASSERT_EQ(0, pthread_create(&th[k], NULL, stress_fn, &t[k]));
	}
	for (k = 0; k < STRESS_THREADS; k++) {
		ASSERT_EQ(0, pthread_join(th[k], NULL));
		EXPECT_EQ(0, t[k].bad) TH_LOG("thread %u", k);
		EXPECT_EQ(STRESS_OPS, t[k].ops);
		EXPECT_LT(100, t[k].grows);
		EXPECT_LT(10, t[k].trims);
	}
	ASSERT_EQ(0, estack_pool_query(self->pool, &i));
	EXPECT_EQ(0, i.live);
	EXPECT_EQ(0, estack_pool_trim(self->pool));
	ASSERT_EQ(0, estack_pool_query(self->pool, &i));
	EXPECT_EQ(0, i.cached);
}

/* The child's checks; its exit code says which failed. */
static int fork_child(struct estack_pool *pool, struct estack_stack *parent)
{
	struct estack_pool_info i;
	struct estack_stack s, t;
	void *sp;

	if (estack_stack_free(pool, parent) != -ENOENT)
		return 10;
	sp = parent->hi;
	if (estack_stack_grow(pool, parent, &sp, NULL, NULL, 0, 0) != -ENOENT)
		return 11;
	if (estack_pool_query(pool, &i) || i.live || i.cached)
		return 12;
	if (estack_stack_alloc(pool, 0, &s))
		return 13;
	if (!all_zero(s.lo, estack_stack_size(&s)))
		return 14;
	memset(s.lo, 3, estack_stack_size(&s));
	sp = s.hi;
	if (estack_stack_grow(pool, &s, &sp, NULL, NULL, 0, 0))
		return 15;
	if (estack_guard_hit(pool, (char *)s.lo - 1, &t) != 1 || t.lo != s.lo)
		return 16;
	if (estack_guard_hit(pool, (char *)parent->lo - 1, NULL))
		return 17;
	if (estack_stack_free(pool, &s))
		return 18;
	if (estack_stack_free(pool, parent) != -ENOENT)
		return 19;
	/* The thread's cache is the child's now: a trim empties it. */
	if (estack_pool_trim(pool) || estack_pool_query(pool, &i) ||
	    i.live || i.cached)
		return 21;
	if (estack_stack_alloc(estack_pool_default(), 0, &s) ||
	    estack_stack_free(estack_pool_default(), &s))
		return 20;
	return 0;
}

TEST_F(lib, fork_child_uses_pool)
{
	struct estack_stack s, s2;
	int status;
	pid_t pid;

	ASSERT_EQ(0, estack_stack_alloc(self->pool, 0, &s));
	ASSERT_EQ(0, estack_stack_alloc(self->pool, 0, &s2));
	ASSERT_EQ(0, estack_stack_free(self->pool, &s2));	/* cached */
	memset(s.lo, 9, self->page);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(fork_child(self->pool, &s));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* The parent's are untouched. */
	EXPECT_EQ(9, *(unsigned char *)s.lo);
	EXPECT_EQ(0, estack_stack_free(self->pool, &s));
}

static int nr_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int c, n = 0;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* Does this kernel take MADV_GUARD_INSTALL (102)? */
static bool has_guard_markers(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bool ok;

	if (p == MAP_FAILED)
		return false;
	ok = !madvise(p, pg, 102);
	munmap(p, 2 * pg);
	return ok;
}

/*
 * A thousand stacks: a few mappings with the module or guard markers, two
 * per stack at most with mprotect guards.
 */
TEST_F(lib, mappings_per_stack)
{
	const unsigned int n = 1000;
	struct estack_pool *nc;
	struct estack_stack *s = calloc(n, sizeof(*s));
	const char *g = getenv("ESTACK_FALLBACK_GUARD");
	bool cheap = kernel_mode() ||
		     (has_guard_markers() && !(g && !strcmp(g, "mprotect")));
	unsigned int k;
	int before, after;

	ASSERT_NE(NULL, s);
	ASSERT_EQ(0, estack_pool_open(&nc, mode_flags() | ESTACK_POOL_NO_CACHE));
	before = nr_maps();
	for (k = 0; k < n; k++)
		ASSERT_EQ(0, estack_stack_alloc(nc, 0, &s[k]));
	after = nr_maps();
	ASSERT_LT(0, before);
	EXPECT_GE(before + 8 + (cheap ? 0 : 2 * (int)n), after);
	EXPECT_LE(before, after);
	TH_LOG("%u stacks: %d mappings more (%s)", n, after - before,
	       cheap ? "module or guard markers" : "mprotect guards");
	for (k = 0; k < n; k++)
		ASSERT_EQ(0, estack_stack_free(nc, &s[k]));
	estack_pool_close(nc);
	free(s);
}

static void *default_fn(void *arg)
{
	(void)arg;
	return estack_pool_default();
}

/*
 * open() as the library calls it (this program's definition comes first,
 * for libestack.so and for the sources built in alike), slowed on demand
 * for /dev/estack: the window in which a thread is inside the first
 * estack_pool_default().
 */
static int slow_open_ms;
static int in_slow_open;	/* set while a slowed open() sleeps */

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (__atomic_load_n(&slow_open_ms, __ATOMIC_RELAXED) &&
	    !strcmp(path, "/dev/estack")) {
		__atomic_store_n(&in_slow_open, 1, __ATOMIC_RELEASE);
		usleep(slow_open_ms * 1000);
	}
	return syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

/*
 * fork() while another thread opens the default pool: the child can use
 * the default pool (the library's fork handlers wait for the opener, so
 * the child never inherits its lock held).
 */
TEST(pool_default_fork_while_opening)
{
	struct estack_pool *p;
	pthread_t th;
	int status = -1, ms;
	pid_t pid;

	/* A pool opened and closed: the fork handlers are in place. */
	ASSERT_EQ(0, estack_pool_open(&p, mode_flags()));
	estack_pool_close(p);
	__atomic_store_n(&slow_open_ms, 400, __ATOMIC_RELAXED);
	ASSERT_EQ(0, pthread_create(&th, NULL, default_fn, NULL));
	/* The opener inside the slowed open(), its lock held. */
	for (ms = 0; ms < 20000 &&
	     !__atomic_load_n(&in_slow_open, __ATOMIC_ACQUIRE); ms++)
		usleep(1000);
	ASSERT_GT(20000, ms) TH_LOG("estack_pool_default() never opened");
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		__atomic_store_n(&slow_open_ms, 0, __ATOMIC_RELAXED);
		_exit(estack_pool_default() ? 0 : 1);
	}
	for (ms = 0; ms < 20000; ms += 10) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		usleep(10 * 1000);
	}
	if (ms >= 20000) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	EXPECT_GT(20000, ms) TH_LOG("the child hangs in estack_pool_default()");
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	ASSERT_EQ(0, pthread_join(th, (void **)&p));
	EXPECT_NE(NULL, p);
}

TEST(pool_default)
{
	struct estack_pool *p = estack_pool_default(), *q;
	struct estack_stack s;
	pthread_t th;

	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, pthread_create(&th, NULL, default_fn, NULL));
	ASSERT_EQ(0, pthread_join(th, (void **)&q));
	EXPECT_EQ(p, q);
	EXPECT_EQ(p, estack_pool_default());
	EXPECT_EQ(access("/dev/estack", F_OK) ? ESTACK_MODE_FALLBACK :
		  ESTACK_MODE_KERNEL, estack_pool_mode(p));
	ASSERT_EQ(0, estack_stack_alloc(p, 0, &s));
	memset(s.lo, 1, estack_stack_size(&s));
	EXPECT_EQ(0, estack_stack_free(p, &s));
}

TEST_HARNESS_MAIN
