// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The fiber runtime of libestack: create/join, yield order, park/wake and
 * switch, many fibers growing and shrinking with checked results, the
 * learned start size, pointers into a stack across moves, the overflow
 * report, one run queue per thread.
 *
 * The same source runs natively on the fallback pool and in the VM on the
 * module, as lib_test does: ESTACK_TEST_MODE=kernel (the default; a
 * missing module is a failure, not a skip) or fallback.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <estack.h>
#include <estack/fiber.h>

#include "kselftest_harness.h"
#include "sanitizer.h"

#define NOIPA	__attribute__((noipa))

/*
 * Under ASan, GCC keeps each instrumented frame's base in a callee-saved
 * register, which deeper frames save where no frame chain names it: after
 * a move, the frame would go on reading its locals in the old stack. So
 * the fibers of an ASan build move with the conservative scan, as any
 * ASan program's must (libestack.rst).
 */
#define SCHED_FLAGS	(TEST_ASAN ? ESTACK_FIBER_CONSERVATIVE : 0)
#define CATCH_FLAGS	(ESTACK_SCHED_CATCH_OVERFLOW | SCHED_FLAGS)

static bool want_kernel(void)
{
	const char *m = getenv("ESTACK_TEST_MODE");

	return !m || !strcmp(m, "kernel");
}

static int open_pool(struct estack_pool **pool)
{
	bool kernel = want_kernel();
	int err = estack_pool_open(pool, kernel ? 0 :
				   ESTACK_POOL_FORCE_FALLBACK);

	if (err)
		return err;
	if (estack_pool_mode(*pool) !=
	    (kernel ? ESTACK_MODE_KERNEL : ESTACK_MODE_FALLBACK)) {
		estack_pool_close(*pool);
		return -ENODEV;
	}
	return 0;
}

FIXTURE(fiber) {
	struct estack_pool *pool;
};

FIXTURE_SETUP(fiber)
{
	ASSERT_EQ(0, open_pool(&self->pool));
	ASSERT_EQ(0, estack_sched_init(self->pool, SCHED_FLAGS));
}

FIXTURE_TEARDOWN(fiber)
{
	EXPECT_EQ(0, estack_sched_fini());
	estack_pool_close(self->pool);
}

static void *twice(void *arg)
{
	return (void *)(2 * (uintptr_t)arg);
}

TEST_F(fiber, create_join_results)
{
	struct estack_fiber *f[8];
	struct estack_sched_stats st;
	void *r;
	int i;

	for (i = 0; i < 8; i++)
		ASSERT_EQ(0, estack_fiber_create(&f[i], 0, 0, twice,
						 (void *)(uintptr_t)i));
	ASSERT_EQ(0, estack_sched_stats(&st));
	EXPECT_EQ(8, st.live);
	EXPECT_EQ(8, st.runnable);
	for (i = 7; i >= 0; i--) {
		ASSERT_EQ(0, estack_fiber_join(f[i], &r));
		EXPECT_EQ(2 * i, (uintptr_t)r);
	}
	ASSERT_EQ(0, estack_sched_stats(&st));
	EXPECT_EQ(0, st.live);
	EXPECT_EQ(0, st.stack_bytes);
}

static int order[64], norder;

static void *yielder(void *arg)
{
	int i;

	for (i = 0; i < 4; i++) {
		order[norder++] = (int)(uintptr_t)arg;
		estack_fiber_yield();
	}
	return NULL;
}

TEST_F(fiber, yield_round_robin)
{
	struct estack_fiber *f[3];
	int i;

	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, estack_fiber_create(&f[i], 0, 0, yielder,
						 (void *)(uintptr_t)i));
	EXPECT_EQ(0, estack_sched_run());
	ASSERT_EQ(12, norder);
	for (i = 0; i < 12; i++)
		EXPECT_EQ(i % 3, order[i]);
	for (i = 0; i < 3; i++)
		EXPECT_EQ(0, estack_fiber_join(f[i], NULL));
}

static void *exiter(void *arg)
{
	estack_fiber_exit((void *)0x1234);
	return arg;
}

static struct estack_fiber *joinee;

static void *joiner(void *arg)
{
	void *r = NULL;
	int err = estack_fiber_join(joinee, &r);

	if (err)
		return (void *)(intptr_t)err;
	return (void *)((uintptr_t)r + 1);
}

TEST_F(fiber, exit_and_join_from_fiber)
{
	struct estack_fiber *j;
	void *r;

	/* the joiner runs first and parks until the joinee has exited */
	ASSERT_EQ(0, estack_fiber_create(&j, 0, 0, joiner, NULL));
	ASSERT_EQ(0, estack_fiber_create(&joinee, 0, 0, exiter, NULL));
	ASSERT_EQ(0, estack_fiber_join(j, &r));
	EXPECT_EQ(0x1235, (uintptr_t)r);
}

/*
 * A fiber whose stack shrinks while it is parked in estack_fiber_join()
 * finds the result in its own variable, at the variable's new address.
 * The pointer it passed points into the stack that moves: join must keep
 * it where the move relocates it, not in a local of its own, which a
 * compiler may spill to the stack (GCC does at -O0 and under ASan), where
 * nothing relocates it and the result would go to the old stack, back in
 * the thread's cache by then and maybe another fiber's.
 */
static void *sj_child(void *arg)
{
	estack_fiber_yield();
	return arg;
}

static size_t sj_room;
/*
 * Not on the stack: its words point into the stack, and under ASan the
 * conservative scan would relocate them.
 */
static struct estack_stack sj_before, sj_after;

static void *sj_parent(void *arg)
{
	struct estack_fiber *child;
	void *r = NULL;
	int err;

	/* used far below a quarter: the park in join halves it */
	err = estack_fiber_check(sj_room);
	if (!err)
		err = estack_fiber_create(&child, 0, 0, sj_child, arg);
	if (!err)
		err = estack_fiber_stack(estack_fiber_self(), &sj_before);
	if (!err)
		err = estack_fiber_join(child, &r);
	if (!err)
		err = estack_fiber_stack(estack_fiber_self(), &sj_after);
	if (err)
		return (void *)(intptr_t)err;
	/* not moved: the case would prove nothing */
	if (sj_after.lo == sj_before.lo ||
	    estack_stack_size(&sj_after) >= estack_stack_size(&sj_before))
		return (void *)1;
	return r;
}

static void join_result_follows(struct __test_metadata *_metadata,
				size_t room)
{
	struct estack_sched_stats st0, st1;
	struct estack_fiber *f;
	void *r = NULL;

	sj_room = room;
	ASSERT_EQ(0, estack_sched_stats(&st0));
	ASSERT_EQ(0, estack_fiber_create(&f, 4096, 0, sj_parent,
					 (void *)0x5a5a));
	ASSERT_EQ(0, estack_fiber_join(f, &r));
	ASSERT_EQ(0, estack_sched_stats(&st1));
	EXPECT_LT(st0.shrinks, st1.shrinks);
	EXPECT_EQ(0x5a5a, (uintptr_t)r);
}

/* 64 KiB to 32 KiB: in kernel mode too, a copy in user space. */
TEST_F(fiber, join_result_follows_a_shrink)
{
	join_result_follows(_metadata, 48 << 10);
}

/* 256 KiB to 128 KiB: in kernel mode, a SHRINK of the module. */
TEST_F(fiber, join_result_follows_a_module_shrink)
{
	join_result_follows(_metadata, 200 << 10);
}

/*
 * A fiber parked in estack_fiber_join() that something wakes before the
 * fiber it joins has finished parks again: join returns only with the
 * result, and never frees a fiber that is still queued.
 */
static struct estack_fiber *jw_joiner_f, *jw_joinee;
static int jw_woke = -1;

static void *jw_slow(void *arg)
{
	estack_fiber_yield();
	estack_fiber_yield();
	estack_fiber_yield();
	return (void *)0x55;
}

static void *jw_join(void *arg)
{
	void *r = NULL;
	int err = estack_fiber_join(jw_joinee, &r);

	return err ? (void *)(intptr_t)err : r;
}

static void *jw_wake(void *arg)
{
	jw_woke = estack_fiber_wake(jw_joiner_f);
	return NULL;
}

TEST_F(fiber, join_parks_again_after_a_wake)
{
	struct estack_fiber *waker;
	void *r = NULL;

	/* the joinee yields, the joiner parks in join, the waker wakes it */
	ASSERT_EQ(0, estack_fiber_create(&jw_joinee, 0, 0, jw_slow, NULL));
	ASSERT_EQ(0, estack_fiber_create(&jw_joiner_f, 0, 0, jw_join, NULL));
	ASSERT_EQ(0, estack_fiber_create(&waker, 0, 0, jw_wake, NULL));
	ASSERT_EQ(0, estack_fiber_join(waker, NULL));
	EXPECT_EQ(1, jw_woke);
	ASSERT_EQ(0, estack_fiber_join(jw_joiner_f, &r));
	EXPECT_EQ(0x55, (uintptr_t)r);
}

static void *jw_quick(void *arg)
{
	estack_fiber_yield();
	return (void *)0x66;
}

/*
 * The joinee finishes while its woken joiner waits in the run queue: the
 * joiner is queued once, runs once, and nothing is left behind.
 */
TEST_F(fiber, join_woken_joiner_queued_once)
{
	struct estack_sched_stats st;
	struct estack_fiber *waker;
	void *r = NULL;

	/* the joiner parks, the joinee yields, the waker wakes the joiner
	 * behind the joinee, which then finishes first
	 */
	jw_woke = -1;
	ASSERT_EQ(0, estack_fiber_create(&jw_joiner_f, 0, 0, jw_join, NULL));
	ASSERT_EQ(0, estack_fiber_create(&jw_joinee, 0, 0, jw_quick, NULL));
	ASSERT_EQ(0, estack_fiber_create(&waker, 0, 0, jw_wake, NULL));
	ASSERT_EQ(0, estack_fiber_join(waker, NULL));
	EXPECT_EQ(1, jw_woke);
	ASSERT_EQ(0, estack_fiber_join(jw_joiner_f, &r));
	EXPECT_EQ(0x66, (uintptr_t)r);
	ASSERT_EQ(0, estack_sched_stats(&st));
	EXPECT_EQ(0, st.runnable);
	EXPECT_EQ(0, st.live);
	EXPECT_EQ(0, estack_sched_run());
}

static struct estack_fiber *parked;

static void *park_once(void *arg)
{
	order[norder++] = 1;
	if (estack_fiber_park())
		return (void *)1;
	order[norder++] = 3;
	return NULL;
}

static struct estack_fiber *switch_to;

static void *switcher(void *arg)
{
	order[norder++] = 0;
	if (estack_fiber_switch(switch_to))	/* to runs before the fiber behind */
		return (void *)1;
	order[norder++] = 2;
	estack_fiber_wake(parked);
	return NULL;
}

TEST_F(fiber, park_wake_switch)
{
	static const int want[] = { 1, 0, 9, 7, 2, 9, 7, 3, 9, 7, 9, 7 };
	struct estack_fiber *w, *y, *z;
	void *r;
	int i;

	ASSERT_EQ(0, estack_fiber_create(&parked, 0, 0, park_once, NULL));
	ASSERT_EQ(0, estack_fiber_create(&y, 0, 0, switcher, NULL));
	ASSERT_EQ(0, estack_fiber_create(&w, 0, 0, yielder, (void *)7));
	ASSERT_EQ(0, estack_fiber_create(&z, 0, 0, yielder, (void *)9));
	/* y switches to z at once, ahead of w: 9 right after 0 */
	switch_to = z;
	ASSERT_EQ(0, estack_fiber_join(y, &r));
	EXPECT_EQ(NULL, r);
	ASSERT_EQ(0, estack_fiber_join(z, NULL));
	ASSERT_EQ(0, estack_fiber_join(w, NULL));
	ASSERT_EQ(0, estack_fiber_join(parked, &r));
	EXPECT_EQ(NULL, r);
	EXPECT_EQ(-EPERM, estack_fiber_switch(z));	/* off a fiber */
	ASSERT_EQ(12, norder);
	for (i = 0; i < 12; i++)
		EXPECT_EQ(want[i], order[i]) TH_LOG("step %d", i);
}

/* ---- many fibers, deep recursion, checked against the main stack ---- */

#define FRAME_WORDS	24

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static NOIPA uint64_t work(unsigned int depth, uint64_t x)
{
	uint64_t local[FRAME_WORDS], r;
	unsigned int i;

	if (estack_fiber_check(0))
		abort();
	for (i = 0; i < FRAME_WORDS; i++)
		local[i] = mix(x + i);
	r = depth ? work(depth - 1, local[depth % FRAME_WORDS]) : x;
	for (i = 0; i < FRAME_WORDS; i++)
		r += local[i] * (i + 1);
	return r;
}

#define MAX_DEPTH	300

static uint64_t rounds(uint64_t seed)
{
	uint64_t acc = seed;
	int r;

	for (r = 0; r < 4; r++) {
		acc = work(mix(seed * 131 + r) % (MAX_DEPTH + 1), acc);
		estack_fiber_yield();	/* near the top: shrink */
	}
	return acc;
}

static void *rounds_fiber(void *arg)
{
	return (void *)(uintptr_t)rounds((uintptr_t)arg);
}

/* minutes under QEMU TCG, a second natively */
TEST_F_TIMEOUT(fiber, ten_thousand_deep_grow_and_shrink, 600)
{
	const unsigned int n = 10000;
	struct estack_fiber **f = calloc(n, sizeof(*f));
	struct estack_sched_stats st;
	unsigned int i, bad = 0;
	void *r;

	ASSERT_NE(NULL, f);
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, estack_fiber_create(&f[i], 4096,
						 ESTACK_FIBER_CONSERVATIVE,
						 rounds_fiber,
						 (void *)(uintptr_t)(i + 1)));
	EXPECT_EQ(0, estack_sched_run());
	ASSERT_EQ(0, estack_sched_stats(&st));
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, estack_fiber_join(f[i], &r));
		if ((uintptr_t)r != rounds(i + 1))
			bad++;
	}
	EXPECT_EQ(0, bad);
	EXPECT_LT(n, st.grows);
	EXPECT_LT(n, st.shrinks);
	/* 300 levels of ~250 bytes: the stacks reached 128 KiB and more */
	EXPECT_LE(n * 4096ULL, st.peak_stack_bytes);
	TH_LOG("%llu grows, %llu shrinks, %llu bytes copied, peak %zu KiB",
	       (unsigned long long)st.grows, (unsigned long long)st.shrinks,
	       (unsigned long long)st.bytes_copied,
	       st.peak_stack_bytes >> 10);
	free(f);
}

/* ---- the learned start size ---- */

/* the compiler must keep @p's bytes in memory */
static inline void keep(void *p)
{
	__asm__ volatile ("" : : "r" (p) : "memory");
}

static NOIPA void burn(unsigned int depth)
{
	char pad[512];

	if (estack_fiber_check(0))
		abort();
	pad[0] = (char)depth;
	keep(pad);
	if (depth)
		burn(depth - 1);
	keep(pad);
	if (pad[0] != (char)depth)
		abort();
}

static void *burner(void *arg)
{
	burn((uintptr_t)arg);
	return NULL;
}

static void *first_size(void *arg)
{
	return (void *)(intptr_t)estack_fiber_stack(estack_fiber_self(), arg);
}

/* a fiber of size 0 on a fallback pool whose largest stack is 16 KiB */
static void *small_pool_thread(void *arg)
{
	struct estack_pool *pool;
	struct estack_fiber *f;
	intptr_t err;
	void *r;

	err = estack_pool_open(&pool, ESTACK_POOL_FORCE_FALLBACK);
	if (err)
		return (void *)err;
	err = estack_sched_init(pool, SCHED_FLAGS);
	if (!err)
		err = estack_fiber_create(&f, 0, 0, first_size, arg);
	if (!err)
		err = estack_fiber_join(f, &r);
	if (!err)
		err = (intptr_t)r;
	if (estack_sched_fini() && !err)
		err = -EBUSY;
	estack_pool_close(pool);
	return (void *)err;
}

TEST_F(fiber, start_size_learned)
{
	struct estack_sched_stats st;
	pthread_t t;
	struct estack_fiber *f;
	struct estack_stack s;
	void *r;
	int i;

	/* about 20 KiB deep: every fiber ends on a 32 KiB stack */
	for (i = 0; i < 64; i++) {
		ASSERT_EQ(0, estack_fiber_create(&f, 4096, ESTACK_FIBER_NO_SHRINK,
						 burner, (void *)30));
		ASSERT_EQ(0, estack_fiber_join(f, NULL));
	}
	ASSERT_EQ(0, estack_sched_stats(&st));
	EXPECT_EQ(32768, st.start_size);
	ASSERT_EQ(0, estack_fiber_create(&f, 0, 0, first_size, &s));
	ASSERT_EQ(0, estack_fiber_join(f, &r));
	ASSERT_EQ(NULL, r);
	EXPECT_EQ(32768, estack_stack_size(&s));
	/* the size is the process's: a pool with smaller stacks caps it */
	ASSERT_EQ(0, setenv("ESTACK_MAX_STACK", "16384", 1));
	ASSERT_EQ(0, pthread_create(&t, NULL, small_pool_thread, &s));
	ASSERT_EQ(0, pthread_join(t, &r));
	ASSERT_EQ(NULL, r);
	EXPECT_EQ(16384, estack_stack_size(&s));
}

/* ---- the stack comes at the first run ---- */

#define BURST	32

struct burst {
	struct estack_stack first[BURST];
	int n;
};

/* record the first stack, grow (burn(20): 11 KiB or more), park */
static void *burst_fiber(void *arg)
{
	struct burst *b = arg;

	if (estack_fiber_stack(estack_fiber_self(), &b->first[b->n++]))
		abort();
	burn(20);
	estack_fiber_park();
	return NULL;
}

/*
 * Fibers created in a burst hold no stack until they run; then each takes
 * the 4 KiB stack that the one before it left when it grew, so the burst
 * needs two first stacks, not one each. Creating them all with their
 * stacks, as Go does, would take BURST stacks of 4 KiB from the pool only
 * to give them back at the first growth.
 */
TEST_F(fiber, stack_at_first_run)
{
	struct estack_fiber *f[BURST];
	struct estack_sched_stats st;
	struct estack_stack s;
	static struct burst b;
	int i, j, distinct = 0;
	size_t grown;

	for (i = 0; i < BURST; i++)
		ASSERT_EQ(0, estack_fiber_create(&f[i], 4096,
						 ESTACK_FIBER_NO_SHRINK,
						 burst_fiber, &b));
	ASSERT_EQ(0, estack_sched_stats(&st));
	EXPECT_EQ(BURST, st.live);
	EXPECT_EQ(0, st.stack_bytes);
	EXPECT_EQ(-EAGAIN, estack_fiber_stack(f[0], &s));
	EXPECT_EQ(BURST, estack_sched_run());
	ASSERT_EQ(BURST, b.n);
	for (i = 0; i < BURST; i++) {
		EXPECT_EQ(4096, estack_stack_size(&b.first[i]));
		for (j = 0; j < i; j++)
			if (b.first[j].lo == b.first[i].lo)
				break;
		distinct += j == i;
	}
	EXPECT_GE(2, distinct);
	/* grown alike: 16 KiB, 32 KiB with the sanitizers' larger frames */
	ASSERT_EQ(0, estack_fiber_stack(f[0], &s));
	grown = estack_stack_size(&s);
	EXPECT_LE(16384, grown);
	ASSERT_EQ(0, estack_sched_stats(&st));
	EXPECT_EQ(BURST * grown, st.stack_bytes);
	for (i = 0; i < BURST; i++) {
		EXPECT_EQ(0, estack_fiber_stack(f[i], &s));
		EXPECT_EQ(grown, estack_stack_size(&s));
		EXPECT_EQ(1, estack_fiber_wake(f[i]));
	}
	for (i = 0; i < BURST; i++)
		EXPECT_EQ(0, estack_fiber_join(f[i], NULL));
}

static void *must_not_run(void *arg)
{
	*(bool *)arg = true;
	return arg;
}

/*
 * A fiber whose first stack cannot be had does not run: join returns the
 * pool's error and frees it; a detached one is only counted. The pool
 * has mapped nothing yet, and the address space is limited to what the
 * process has and 1 MiB (room for malloc, also under the sanitizers):
 * the module cannot map an arena, the fallback cannot reserve its region
 * (64 GiB each). The harness runs each test in a child of its own, so
 * the limit ends with it.
 */
TEST(first_stack_fails_join_reports)
{
	struct estack_sched_stats st;
	struct estack_pool *pool;
	struct estack_fiber *f;
	struct estack_stack s;
	struct rlimit rl;
	bool ran = false;
	void *r = &r;
	unsigned long vm;
	FILE *statm;
	int err;

	ASSERT_EQ(0, open_pool(&pool));
	ASSERT_EQ(0, estack_sched_init(pool, SCHED_FLAGS));
	statm = fopen("/proc/self/statm", "r");
	ASSERT_NE(NULL, statm);
	ASSERT_EQ(1, fscanf(statm, "%lu", &vm));
	fclose(statm);
	rl.rlim_cur = vm * sysconf(_SC_PAGESIZE) + (1UL << 20);
	rl.rlim_max = rl.rlim_cur;
	ASSERT_EQ(0, setrlimit(RLIMIT_AS, &rl));
	err = estack_stack_alloc(pool, 4096, &s);
	ASSERT_GT(0, err);
	ASSERT_EQ(0, estack_fiber_create(&f, 4096, 0, must_not_run, &ran));
	EXPECT_EQ(err, estack_fiber_join(f, &r));
	EXPECT_EQ(NULL, r);
	EXPECT_FALSE(ran);
	ASSERT_EQ(0, estack_sched_stats(&st));
	EXPECT_EQ(1, st.start_failures);
	ASSERT_EQ(0, estack_fiber_create(&f, 4096, 0, must_not_run, &ran));
	ASSERT_EQ(0, estack_fiber_detach(f));
	EXPECT_EQ(0, estack_sched_run());
	EXPECT_FALSE(ran);
	ASSERT_EQ(0, estack_sched_stats(&st));
	EXPECT_EQ(2, st.start_failures);
	EXPECT_EQ(0, st.live);
	EXPECT_EQ(0, estack_sched_fini());
	estack_pool_close(pool);
}

/* ---- pointers into the stack across moves ---- */

/*
 * The fiber keeps &buf in locals of deeper frames and in registers across
 * safe points that move its stack; with the conservative scan every copy
 * is relocated, so the pointer still names the fiber's own buf.
 */
static NOIPA uint64_t hold(uint64_t *p, unsigned int depth, int *moved)
{
	uint64_t pad[16];
	uint64_t r;
	struct estack_stack s;

	pad[0] = depth;
	keep(pad);
	if (estack_fiber_check(0))
		abort();
	if (estack_fiber_stack(estack_fiber_self(), &s))
		abort();
	/* p must point into the stack we are on now */
	if ((char *)p < (char *)s.lo || (char *)p >= (char *)s.hi)
		*moved = -1;
	r = p[depth % 8];
	if (depth)
		r += hold(p, depth - 1, moved);
	keep(pad);
	return r + pad[0];
}

static void *holder(void *arg)
{
	uint64_t buf[8], r;
	int moved = 0, i;
	struct estack_stack before, after;

	for (i = 0; i < 8; i++)
		buf[i] = mix(i);
	estack_fiber_stack(estack_fiber_self(), &before);
	r = hold(buf, 200, &moved);
	estack_fiber_stack(estack_fiber_self(), &after);
	if (moved)
		return (void *)1;
	if (before.lo == after.lo)	/* it must have moved */
		return (void *)2;
	for (i = 0; i < 8; i++)		/* buf is intact where it is now */
		if (buf[i] != mix(i))
			return (void *)3;
	return (void *)(uintptr_t)(r == (uintptr_t)arg ? 0 : 4);
}

static uint64_t hold_expected(void)
{
	uint64_t r = 0;
	int d;

	for (d = 200; d >= 0; d--)
		r += mix(d % 8) + d;
	return r;
}

TEST_F(fiber, pointers_survive_moves_conservative)
{
	struct estack_fiber *f;
	void *r;

	ASSERT_EQ(0, estack_fiber_create(&f, 4096,
					 ESTACK_FIBER_CONSERVATIVE |
					 ESTACK_FIBER_NO_SHRINK, holder,
					 (void *)(uintptr_t)hold_expected()));
	ASSERT_EQ(0, estack_fiber_join(f, &r));
	EXPECT_EQ(NULL, r);
}

/* ---- errors ---- */

static void *nothing(void *arg)
{
	return arg;
}

static void *join_self(void *arg)
{
	return (void *)(intptr_t)estack_fiber_join(estack_fiber_self(), NULL);
}

/* Asking for more than any stack holds: EFBIG, whatever the margin adds. */
static int huge_err[3];

static void *check_huge(void *arg)
{
	huge_err[0] = estack_fiber_check(SIZE_MAX);
	huge_err[1] = estack_fiber_check(SIZE_MAX - ESTACK_FIBER_MARGIN / 2);
	huge_err[2] = estack_fiber_check(SIZE_MAX / 2);
	return NULL;
}

TEST_F(fiber, errors)
{
	struct estack_fiber *f;
	void *r;

	EXPECT_EQ(-EINVAL, estack_fiber_create(&f, 0, 0x80, nothing, NULL));
	EXPECT_EQ(-EINVAL, estack_fiber_create(&f, 0, 0, NULL, NULL));
	EXPECT_EQ(-EBUSY, estack_sched_init(self->pool, SCHED_FLAGS));
	EXPECT_EQ(-EPERM, estack_fiber_park());
	EXPECT_EQ(0, estack_fiber_check(0));	/* off a fiber: nothing */
	ASSERT_EQ(0, estack_fiber_create(&f, 0, 0, join_self, NULL));
	ASSERT_EQ(0, estack_fiber_join(f, &r));
	EXPECT_EQ(-EINVAL, (intptr_t)r);
	ASSERT_EQ(0, estack_fiber_create(&f, 0, 0, check_huge, NULL));
	ASSERT_EQ(0, estack_fiber_join(f, NULL));
	EXPECT_EQ(-EFBIG, huge_err[0]);
	EXPECT_EQ(-EFBIG, huge_err[1]);
	EXPECT_EQ(-EFBIG, huge_err[2]);
	/* a fiber parked forever: the thread's join cannot finish */
	ASSERT_EQ(0, estack_fiber_create(&f, 0, 0, park_once, NULL));
	EXPECT_EQ(-EDEADLK, estack_fiber_join(f, NULL));
	EXPECT_EQ(-EBUSY, estack_sched_fini());
	EXPECT_EQ(1, estack_fiber_wake(f));
	EXPECT_EQ(0, estack_fiber_wake(f));
	EXPECT_EQ(0, estack_fiber_join(f, NULL));
	/* no fiber, no struct: not "another thread's" */
	EXPECT_EQ(-EINVAL, estack_fiber_join(NULL, NULL));
	EXPECT_EQ(-EINVAL, estack_fiber_wake(NULL));
	EXPECT_EQ(-EINVAL, estack_fiber_detach(NULL));
	EXPECT_EQ(-EINVAL, estack_sched_stats(NULL));
}

/*
 * fork() from the thread's own stack, with fibers parked, queued after
 * running, queued never run, and detached: in the child, none of them can
 * run (their stacks are the parent's), so each is cancelled and the
 * scheduler goes on with new fibers. The parent's are untouched.
 */
static int fork_child(struct estack_fiber **f)
{
	struct estack_sched_stats st;
	struct estack_fiber *g;
	void *r = (void *)1;
	int i;

	if (estack_sched_run() != 0)	/* nothing of the parent's runs */
		return 10;
	for (i = 0; i < 3; i++) {
		if (estack_fiber_join(f[i], &r) != -ECANCELED || r)
			return 11 + i;
	}
	/* joined by a fiber in the parent: joinable here */
	if (estack_fiber_join(f[4], &r) != -ECANCELED ||
	    estack_fiber_join(f[5], &r) != -ECANCELED)
		return 17;
	/* finished in the parent while a fiber joined it: its result */
	if (estack_fiber_join(f[7], &r) || (uintptr_t)r != 14 ||
	    estack_fiber_join(f[6], &r) != -ECANCELED)
		return 18;
	if (estack_sched_stats(&st) || st.live || st.runnable ||
	    st.stack_bytes)
		return 14;
	if (estack_fiber_create(&g, 0, 0, twice, (void *)21) ||
	    estack_fiber_join(g, &r) || (uintptr_t)r != 42)
		return 15;
	return estack_sched_fini() ? 16 : 0;
}

static void *join_arg(void *arg)
{
	void *r;

	return (void *)(intptr_t)estack_fiber_join(arg, &r);
}

static void *join_at(void *arg)
{
	void *r;

	return (void *)(intptr_t)estack_fiber_join(*(struct estack_fiber **)arg,
						   &r);
}

TEST_F(fiber, fork_cancels_the_parents_fibers)
{
	struct estack_fiber *f[9];
	int status = -1;
	void *r;
	pid_t pid;

	ASSERT_EQ(0, estack_fiber_create(&f[0], 0, 0, park_once, NULL));
	ASSERT_EQ(0, estack_fiber_create(&f[1], 0, 0, park_once, NULL));
	ASSERT_EQ(0, estack_fiber_create(&f[3], 0, 0, park_once, NULL));
	ASSERT_EQ(0, estack_fiber_detach(f[3]));
	ASSERT_EQ(0, estack_fiber_create(&f[4], 0, 0, park_once, NULL));
	ASSERT_EQ(0, estack_fiber_create(&f[5], 0, 0, join_arg, f[4]));
	ASSERT_EQ(5, estack_sched_run());
	/*
	 * f[6] joins f[7], which finishes and queues f[6]; the thread's
	 * join of f[8] returns before f[6] runs again.
	 */
	ASSERT_EQ(0, estack_fiber_create(&f[6], 0, 0, join_at, &f[7]));
	ASSERT_EQ(0, estack_fiber_create(&f[7], 0, 0, twice, (void *)7));
	ASSERT_EQ(0, estack_fiber_create(&f[8], 0, 0, twice, (void *)8));
	ASSERT_EQ(0, estack_fiber_join(f[8], &r));
	ASSERT_EQ(1, estack_fiber_wake(f[0]));	/* queued, on its stack */
	ASSERT_EQ(0, estack_fiber_create(&f[2], 0, 0, twice, (void *)1));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(fork_child(f));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("child status 0x%x", status);
	EXPECT_EQ(1, estack_fiber_wake(f[1]));
	EXPECT_EQ(1, estack_fiber_wake(f[3]));
	ASSERT_EQ(0, estack_fiber_join(f[0], NULL));
	ASSERT_EQ(0, estack_fiber_join(f[1], NULL));
	ASSERT_EQ(0, estack_fiber_join(f[2], &r));
	EXPECT_EQ(2, (uintptr_t)r);
	EXPECT_EQ(1, estack_fiber_wake(f[4]));
	ASSERT_EQ(0, estack_fiber_join(f[5], &r));
	EXPECT_EQ(0, (intptr_t)r);
	ASSERT_EQ(0, estack_fiber_join(f[6], &r));
	EXPECT_EQ(0, (intptr_t)r);
	EXPECT_EQ(0, estack_sched_run());
}

/* ---- one run queue per thread ---- */

struct thr {
	struct estack_pool *pool;
	pthread_t self;
	int order[40], n, err;
	bool foreign;
};

static void *thr_fiber(void *arg)
{
	struct thr *t = arg;
	int i;

	for (i = 0; i < 4; i++) {
		if (!pthread_equal(pthread_self(), t->self))
			t->foreign = true;
		t->order[t->n++] = (int)(estack_fiber_id(estack_fiber_self()) %
					 1000000);
		work(40, i);	/* grows */
		estack_fiber_yield();
	}
	return NULL;
}

static void *thr_main(void *arg)
{
	struct thr *t = arg;
	struct estack_fiber *f[10];
	int i;

	t->self = pthread_self();
	t->err = estack_sched_init(t->pool, SCHED_FLAGS);
	for (i = 0; !t->err && i < 10; i++)
		t->err = estack_fiber_create(&f[i], 0,
					     ESTACK_FIBER_CONSERVATIVE,
					     thr_fiber, t);
	if (!t->err && estack_sched_run())
		t->err = -EAGAIN;
	for (i = 0; !t->err && i < 10; i++)
		t->err = estack_fiber_join(f[i], NULL);
	if (!t->err)
		t->err = estack_sched_fini();
	return NULL;
}

TEST_F(fiber, threads_each_their_own_queue)
{
	struct thr t[4] = {};
	pthread_t th[4];
	int i, j;

	for (i = 0; i < 4; i++) {
		t[i].pool = self->pool;
		ASSERT_EQ(0, pthread_create(&th[i], NULL, thr_main, &t[i]));
	}
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, pthread_join(th[i], NULL));
		EXPECT_EQ(0, t[i].err);
		EXPECT_FALSE(t[i].foreign);
		ASSERT_EQ(40, t[i].n);
		/* round robin of the thread's own ten fibers */
		for (j = 10; j < 40; j++)
			EXPECT_EQ(t[i].order[j - 10], t[i].order[j]);
	}
}

/*
 * pthread_exit() from a fiber: glibc unwinds the fiber's frames (their
 * cleanup handlers run), then ends the thread from its own stack, whose
 * exit frees the scheduler and every fiber it had: the one that ended
 * the thread and two that wait in the run queue, between two yields.
 */
struct ender {
	struct estack_pool *pool;
	bool cleaned, returned;
	int err;
};

static void ender_cleanup(void *arg)
{
	((struct ender *)arg)->cleaned = true;
}

static void *ender_fiber(void *arg)
{
	struct ender *e = arg;
	int err;

	estack_fiber_yield();	/* every fiber has run once */
	/* The unwinder needs room: at the first exit it loads libgcc_s. */
	err = estack_fiber_check(64 << 10);
	if (err) {
		e->err = err;
		return NULL;
	}
	pthread_cleanup_push(ender_cleanup, e);
	pthread_exit((void *)(uintptr_t)42);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *spinner_fiber(void *arg)
{
	for (;;)
		estack_fiber_yield();
	return arg;
}

static void *ender_thread(void *arg)
{
	struct ender *e = arg;
	struct estack_fiber *f;

	e->err = estack_sched_init(e->pool, SCHED_FLAGS);
	if (!e->err)
		e->err = estack_fiber_create(&f, 0, 0, spinner_fiber, e);
	if (!e->err)
		e->err = estack_fiber_create(&f, 0, 0, ender_fiber, e);
	if (!e->err)
		e->err = estack_fiber_create(&f, 0, 0, spinner_fiber, e);
	if (!e->err) {
		estack_sched_run();
		e->returned = true;
	}
	return NULL;
}

TEST_F(fiber, pthread_exit_from_a_fiber_frees_them_all)
{
	struct ender e = { .pool = self->pool };
	struct estack_pool_info before, after;
	pthread_t th;
	void *ret;

	ASSERT_EQ(0, estack_pool_query(self->pool, &before));
	ASSERT_EQ(0, pthread_create(&th, NULL, ender_thread, &e));
	ASSERT_EQ(0, pthread_join(th, &ret));
	EXPECT_EQ(0, e.err);
	EXPECT_FALSE(e.returned);
	EXPECT_TRUE(e.cleaned);
	EXPECT_EQ((void *)(uintptr_t)42, ret);
	ASSERT_EQ(0, estack_pool_query(self->pool, &after));
	EXPECT_EQ(before.live, after.live);
}

/* ---- the overflow report ---- */

static NOIPA int overflow(unsigned int depth)
{
	char pad[256];

	pad[0] = (char)depth;
	keep(pad);
	if (depth == 1u << 30)	/* never: 256 GiB of frames */
		return 0;
	return overflow(depth + 1) + pad[0];	/* no safe point: overflows */
}

static void *overflower(void *arg)
{
	return (void *)(intptr_t)overflow(0);
}

TEST(overflow_names_the_fiber)
{
	struct estack_pool *pool;
	struct estack_fiber *f;
	static char buf[16384];
	char sink[512];
	int pfd[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		dup2(pfd[1], STDERR_FILENO);
		close(pfd[0]);
		if (open_pool(&pool) ||
		    estack_sched_init(pool, CATCH_FLAGS) ||
		    estack_fiber_create(&f, 16384, ESTACK_FIBER_NO_SHRINK,
					overflower, NULL) ||
		    estack_fiber_set_name(f, "deep-one"))
			_exit(3);
		estack_fiber_join(f, NULL);
		_exit(4);	/* not reached: the fiber overflows */
	}
	close(pfd[1]);
	while ((n = read(pfd[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += n;
	while (read(pfd[0], sink, sizeof(sink)) > 0)	/* the rest */
		;
	close(pfd[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
#if TEST_ASAN
	/* the handler hands the fault on to the one before it: ASan's */
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0 &&
		    strstr(buf, "AddressSanitizer"))
		TH_LOG("status 0x%x", status);
#else
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV)
		TH_LOG("status 0x%x", status);
#endif
	EXPECT_NE(NULL, strstr(buf, "estack: fiber deep-one overflowed its 16384-byte stack\n"))
		TH_LOG("stderr: %s", buf);
}

/*
 * sigaction() as the runtime calls it (this program's definition comes
 * first), slowed on demand for SIGSEGV: the window in which a thread
 * installs the overflow handler under the runtime's lock.
 */
/* glibc's own sigaction(), exported (GLIBC_2.2.5), static and shared */
extern int __sigaction(int sig, const struct sigaction *act,
		       struct sigaction *old);
static int slow_sigaction_ms;
static int in_slow_sigaction;	/* set while a slowed sigaction() sleeps */

int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	static int (*next)(int, const struct sigaction *, struct sigaction *);

	/* the next one (a sanitizer's), or in a static program libc's */
	if (!next)
		next = (int (*)(int, const struct sigaction *,
				struct sigaction *))dlsym(RTLD_NEXT,
							  "sigaction");
	if (!next)
		next = __sigaction;
	if (sig == SIGSEGV && act &&
	    __atomic_load_n(&slow_sigaction_ms, __ATOMIC_RELAXED)) {
		__atomic_store_n(&in_slow_sigaction, 1, __ATOMIC_RELEASE);
		usleep(slow_sigaction_ms * 1000);
	}
	return next(sig, act, old);
}

static void *catching_sched(void *arg)
{
	struct estack_pool *pool = arg;
	intptr_t err = estack_sched_init(pool, CATCH_FLAGS);

	if (!err)
		err = estack_sched_fini();
	return (void *)err;
}

/*
 * fork() while another thread installs the overflow handler: the child
 * can still start a scheduler that catches overflows.
 */
TEST(fork_while_catching_overflow)
{
	struct estack_pool *pool;
	int status = -1, ms;
	pthread_t th;
	void *r;
	pid_t pid;

	ASSERT_EQ(0, open_pool(&pool));
	__atomic_store_n(&slow_sigaction_ms, 400, __ATOMIC_RELAXED);
	ASSERT_EQ(0, pthread_create(&th, NULL, catching_sched, pool));
	/* The thread inside the slowed sigaction(), the lock held. */
	for (ms = 0; ms < 20000 &&
	     !__atomic_load_n(&in_slow_sigaction, __ATOMIC_ACQUIRE); ms++)
		usleep(1000);
	ASSERT_GT(20000, ms) TH_LOG("the overflow handler was never installed");
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		__atomic_store_n(&slow_sigaction_ms, 0, __ATOMIC_RELAXED);
		_exit(catching_sched(pool) ? 1 : 0);
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
	EXPECT_GT(20000, ms) TH_LOG("the child hangs in estack_sched_init()");
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("status 0x%x", status);
	ASSERT_EQ(0, pthread_join(th, &r));
	EXPECT_EQ(NULL, r);
	estack_pool_close(pool);
}

/*
 * The overflow handler is for faults on guards: a SIGSEGV sent with
 * kill() or sigqueue() still does what it did before the handler (kills
 * under the default, nothing when ignored), whatever address its sender
 * wrote into it, and a signal stack the thread had stays its own.
 */
static void no_core(void)
{
	struct rlimit rl = { 0, 0 };

	setrlimit(RLIMIT_CORE, &rl);
}

/* In a child, its stderr on @err: 0 when set up, else the exit code. */
static int catching_child(int err, struct estack_pool **pool)
{
	no_core();
	dup2(err, STDERR_FILENO);
	if (open_pool(pool) ||
	    estack_sched_init(*pool, CATCH_FLAGS))
		return 3;
	return 0;
}

/* The child's stderr (at most @len - 1 bytes), and its status. */
static int reap(int rd, pid_t pid, char *buf, size_t len)
{
	ssize_t n, got = 0;
	int status = -1;

	while (got < (ssize_t)len - 1 &&
	       (n = read(rd, buf + got, len - 1 - got)) > 0)
		got += n;
	buf[got] = 0;
	close(rd);
	waitpid(pid, &status, 0);
	return status;
}

TEST(overflow_handler_passes_other_sigsegv)
{
	struct estack_pool *pool;
	char out[4096];
	int pfd[2], status;
	pid_t pid;

	/* kill() under the default: dies of it */
	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(pfd[0]);
		if (catching_child(pfd[1], &pool))
			_exit(3);
		kill(getpid(), SIGSEGV);
		_exit(7);	/* the signal was swallowed */
	}
	close(pfd[1]);
	status = reap(pfd[0], pid, out, sizeof(out));
	EXPECT_FALSE(WIFEXITED(status) && WEXITSTATUS(status) == 7)
		TH_LOG("the SIGSEGV of kill() was swallowed");
#if !TEST_ASAN
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV)
		TH_LOG("status 0x%x", status);
#endif

	/*
	 * sigqueue() with a guard's address where si_addr lies: no report.
	 * Valgrind drops a SIGSEGV queued to itself whatever its handler
	 * (a program of one sigqueue() survives it): the plain, ASan and
	 * VM runs check this part.
	 */
	if (getenv("LD_PRELOAD") && strstr(getenv("LD_PRELOAD"), "vgpreload")) {
		TH_LOG("under valgrind: the sigqueue() part is not run");
		goto ignored;
	}
	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct estack_stack st;
		siginfo_t si;

		close(pfd[0]);
		if (catching_child(pfd[1], &pool) ||
		    estack_stack_alloc(pool, 0, &st))
			_exit(3);
		memset(&si, 0, sizeof(si));
		si.si_signo = SIGSEGV;
		si.si_code = SI_QUEUE;
		si.si_addr = (char *)st.lo - 8;
		syscall(SYS_rt_sigqueueinfo, getpid(), SIGSEGV, &si);
		_exit(7);
	}
	close(pfd[1]);
	status = reap(pfd[0], pid, out, sizeof(out));
	EXPECT_EQ(NULL, strstr(out, "overflowed"))
		TH_LOG("a sent signal was taken for an overflow: %s", out);
	EXPECT_FALSE(WIFEXITED(status) && WEXITSTATUS(status) == 7)
		TH_LOG("the SIGSEGV of sigqueue() was swallowed");

ignored:
	/* kill() while ignored: ignored, and overflows are still caught */
	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct sigaction now;

		close(pfd[0]);
		signal(SIGSEGV, SIG_IGN);
		if (catching_child(pfd[1], &pool))
			_exit(3);
		kill(getpid(), SIGSEGV);
		if (sigaction(SIGSEGV, NULL, &now) ||
		    now.sa_handler == SIG_IGN || now.sa_handler == SIG_DFL)
			_exit(8);	/* the catcher was taken away */
		_exit(7);
	}
	close(pfd[1]);
	status = reap(pfd[0], pid, out, sizeof(out));
#if !TEST_ASAN
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 7)
		TH_LOG("status 0x%x", status);
#endif
}

/*
 * A report hands the fault back to the handler that was there before,
 * which may recover (siglongjmp(), as some runtimes do): a scheduler
 * made after that catches overflows again.
 */
static sigjmp_buf recover_jb;

static void recover_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	siglongjmp(recover_jb, 1);
}

static void touch_guard(const struct estack_stack *st)
{
	if (!sigsetjmp(recover_jb, 1))
		__atomic_store_n((char *)st->lo - 1, 1, __ATOMIC_RELAXED);
}

TEST(overflow_caught_again_after_a_recovery)
{
	struct estack_pool *pool;
	char out[4096], *at;
	int pfd[2], status, n = 0;
	pid_t pid;

	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct sigaction sa = { .sa_sigaction = recover_handler,
					.sa_flags = SA_SIGINFO | SA_ONSTACK };
		struct estack_stack st;

		close(pfd[0]);
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSEGV, &sa, NULL))
			_exit(4);
		if (catching_child(pfd[1], &pool) ||
		    estack_stack_alloc(pool, 0, &st))
			_exit(3);
		touch_guard(&st);	/* reported, then recovered */
		if (estack_sched_fini() ||
		    estack_sched_init(pool, CATCH_FLAGS))
			_exit(5);
		touch_guard(&st);	/* reported again */
		_exit(0);
	}
	close(pfd[1]);
	status = reap(pfd[0], pid, out, sizeof(out));
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("status 0x%x", status);
	for (at = out; (at = strstr(at, "overflowed")); at++)
		n++;
	EXPECT_EQ(2, n) TH_LOG("reports: %s", out);
}

/*
 * A thread's own signal stack, as large as the runtime's, is kept; a
 * smaller one is replaced while the scheduler lives and then put back.
 */
TEST(overflow_keeps_the_threads_sigaltstack)
{
	static char mine[64 * 1024];
	stack_t ss = { .ss_sp = mine, .ss_size = sizeof(mine) }, now;
	struct estack_pool *pool;

	ASSERT_EQ(0, sigaltstack(&ss, NULL));
	ASSERT_EQ(0, open_pool(&pool));
	ASSERT_EQ(0, estack_sched_init(pool, CATCH_FLAGS));
	ASSERT_EQ(0, sigaltstack(NULL, &now));
	EXPECT_EQ((void *)mine, now.ss_sp);
	EXPECT_EQ(0, estack_sched_fini());
	ASSERT_EQ(0, sigaltstack(NULL, &now));
	EXPECT_EQ((void *)mine, now.ss_sp);
	EXPECT_FALSE(now.ss_flags & SS_DISABLE);

	ss.ss_size = 8192;	/* too small for the report */
	ASSERT_EQ(0, sigaltstack(&ss, NULL));
	ASSERT_EQ(0, estack_sched_init(pool, CATCH_FLAGS));
	ASSERT_EQ(0, sigaltstack(NULL, &now));
	EXPECT_NE((void *)mine, now.ss_sp);
	EXPECT_LE(64 * 1024, now.ss_size);
	EXPECT_EQ(0, estack_sched_fini());
	ASSERT_EQ(0, sigaltstack(NULL, &now));
	EXPECT_EQ((void *)mine, now.ss_sp);
	EXPECT_EQ(8192, now.ss_size);
	EXPECT_FALSE(now.ss_flags & SS_DISABLE);
	estack_pool_close(pool);
	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);
}

TEST_HARNESS_MAIN
