// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * A random soak of the fiber runtime: threads, each with its scheduler and
 * 16 fibers that recurse to random depths with checked locals, grow at
 * safe points asking random room, yield, park and wake each other, and
 * create and join children whose results are checked, for a number of
 * seconds. Half the threads move their fibers with the conservative scan
 * and also keep an array and a pointer to a local across every safe point,
 * which must follow the stack; under ASan every thread does
 * (libestack.rst).
 *
 * Usage: fiber_soak [SECONDS] (default 20). ESTACK_TEST_MODE=kernel (the
 * default; a missing module fails) or fallback, as lib_test. One TAP
 * result; exit status 0 when every check held.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <estack.h>
#include <estack/fiber.h>

#include "sanitizer.h"

#define NOIPA		__attribute__((noipa))
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define NR_THREADS	4
#define NR_FIBERS	16
#define NR_CHILDREN	8	/* joins in progress per thread */
#define NR_WORDS	32

struct soak_thread {
	pthread_t th;
	unsigned int idx;
	unsigned int seed;
	bool conservative;
	unsigned long ops, joins, parks, grows, shrinks;
	int err;
	struct estack_fiber *parked[NR_FIBERS + NR_CHILDREN];
	unsigned int nr_parked;
	unsigned int children;
};

static struct estack_pool *pool;
static int stop;
static unsigned long bad;
/* Per thread, not on a stack: what the fibers of the thread share. */
static __thread struct soak_thread *me;

static void fail(const char *what, unsigned int depth)
{
	/* stdio wants more room than a safe point leaves */
	if (__atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED) < 10 &&
	    !estack_fiber_check(32 << 10))
		fprintf(stderr, "# thread %u, depth %u: %s\n", me->idx, depth,
			what);
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static void *child_fn(void *arg);

/* @p's memory is the frame's: kept there, read again after each call. */
static inline void keep(void *p)
{
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

/* The compiler no longer knows *@v: it must keep the value itself. */
static inline void opaque(uint64_t *v)
{
	__asm__ __volatile__("" : "+r"(*v));
}

/* A child's result comes back through join, into this frame. */
static NOIPA void spawn_and_join(uint64_t x, unsigned int r,
				 unsigned int depth)
{
	struct estack_fiber *c;
	void *res = NULL;
	unsigned int flags = (r >> 9) % 4 ? 0 : ESTACK_FIBER_NO_SHRINK;
	int err;

	if (me->children >= NR_CHILDREN)
		return;
	err = estack_fiber_create(&c, (r >> 8) % 2 ? 4096 : 0, flags,
				  child_fn, (void *)(uintptr_t)(x | 1));
	if (err) {
		fail("create", depth);
		return;
	}
	me->children++;
	err = estack_fiber_join(c, &res);
	me->children--;
	me->joins++;
	if (err || (uintptr_t)res != (uintptr_t)mix(x | 1))
		fail("join: wrong result", depth);
}

static NOIPA void step(uint64_t x, unsigned int depth)
{
	unsigned int r = rand_r(&me->seed);

	/* up to 16 KiB more room: growth by more than doubling too */
	if (estack_fiber_check((r >> 16) % 4 ? 512 :
			       rand_r(&me->seed) % (16 << 10)))
		fail("estack_fiber_check", depth);
	switch (r % 16) {
	case 0:
		estack_fiber_yield();
		break;
	case 1:
		spawn_and_join(x, r, depth);
		break;
	case 2:
		if (me->nr_parked < ARRAY_SIZE(me->parked)) {
			me->parked[me->nr_parked++] = estack_fiber_self();
			me->parks++;
			if (estack_fiber_park())
				fail("park", depth);
		}
		break;
	case 3:
		while (me->nr_parked)
			if (estack_fiber_wake(me->parked[--me->nr_parked]) != 1)
				fail("wake", depth);
		break;
	}
}

/*
 * What a frame keeps across its safe points: two values in registers or
 * spilled (any thread), and, where the thread moves with the conservative
 * scan, an array of them and a pointer to one, which a compiler addresses
 * through registers that deeper frames save where only that scan looks.
 */
static NOIPA uint64_t recurse(unsigned int depth, uint64_t x)
{
	uint64_t a = mix(x), b = mix(x + 1), sum = 0;
	uint64_t words[NR_WORDS];
	uintptr_t mine = 0;
	unsigned int i;

	opaque(&a);
	opaque(&b);
	if (me->conservative) {
		for (i = 0; i < NR_WORDS; i++)
			words[i] = mix(x + i);
		mine = (uintptr_t)&words[3];
		keep(words);
		keep(&mine);
	}
	step(x, depth);
	me->ops++;
	if (depth && rand_r(&me->seed) % 8 < 7)
		sum = recurse(depth - 1, x + 1);
	step(x, depth);
	opaque(&a);
	opaque(&b);
	if (a != mix(x) || b != mix(x + 1))
		fail("a value kept across a safe point changed", depth);
	if (!me->conservative)
		return sum + a;
	for (i = 0; i < NR_WORDS; i++)
		if (words[i] != mix(x + i)) {
			fail("a local changed", depth);
			break;
		}
	if (mine != (uintptr_t)&words[3])
		fail("a pointer to a local did not follow the stack", depth);
	return sum + words[depth % NR_WORDS];
}

static void *child_fn(void *arg)
{
	recurse(rand_r(&me->seed) % 100, (uintptr_t)arg);
	return (void *)(uintptr_t)mix((uintptr_t)arg);
}

static void *fiber_fn(void *arg)
{
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED))
		recurse(rand_r(&me->seed) % 300, (uintptr_t)arg + me->ops);
	return NULL;
}

static void *thread_fn(void *arg)
{
	struct soak_thread *t = arg;
	struct estack_fiber *f[NR_FIBERS];
	struct estack_sched_stats st;
	unsigned int i;
	int err;

	me = t;
	err = estack_sched_init(pool, t->conservative ?
				ESTACK_FIBER_CONSERVATIVE : 0);
	for (i = 0; !err && i < NR_FIBERS; i++)
		err = estack_fiber_create(&f[i], 0, 0, fiber_fn,
					  (void *)(uintptr_t)(t->seed + i));
	if (err) {
		t->err = err;
		return NULL;
	}
	/* Until every fiber has seen stop: wake what is left parked. */
	for (;;) {
		while (t->nr_parked)
			estack_fiber_wake(t->parked[--t->nr_parked]);
		if (estack_sched_run() <= 0 && !t->nr_parked)
			break;
	}
	for (i = 0; i < NR_FIBERS; i++)
		if (estack_fiber_join(f[i], NULL))
			fail("join at the end", 0);
	if (!estack_sched_stats(&st)) {
		t->grows = st.grows;
		t->shrinks = st.shrinks;
	}
	t->err = estack_sched_fini();
	return NULL;
}

static bool want_kernel(void)
{
	const char *m = getenv("ESTACK_TEST_MODE");

	return !m || !strcmp(m, "kernel");
}

int main(int argc, char **argv)
{
	unsigned int secs = argc > 1 ? (unsigned int)atoi(argv[1]) : 20;
	unsigned int seed = (unsigned int)time(NULL), i;
	unsigned long ops = 0, joins = 0, parks = 0, grows = 0, shrinks = 0;
	struct soak_thread t[NR_THREADS];
	bool kernel = want_kernel();
	int err;

	err = estack_pool_open(&pool, kernel ? 0 : ESTACK_POOL_FORCE_FALLBACK);
	if (err) {
		fprintf(stderr, "estack_pool_open: %s\n", strerror(-err));
		return 1;
	}
	printf("TAP version 13\n1..1\n");
	printf("# fiber_soak: %u threads x %u fibers, %u s, %s pool, seed %u\n",
	       NR_THREADS, NR_FIBERS, secs, kernel ? "kernel" : "fallback",
	       seed);
	fflush(stdout);
	for (i = 0; i < NR_THREADS; i++) {
		t[i] = (struct soak_thread){ .idx = i, .seed = seed + i };
		t[i].conservative = TEST_ASAN || i % 2;	/* all under ASan */
		if (pthread_create(&t[i].th, NULL, thread_fn, &t[i])) {
			perror("pthread_create");
			return 1;
		}
	}
	sleep(secs);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < NR_THREADS; i++) {
		pthread_join(t[i].th, NULL);
		if (t[i].err) {
			fprintf(stderr, "# thread %u: %s\n", i,
				strerror(-t[i].err));
			bad++;
		}
		ops += t[i].ops;
		joins += t[i].joins;
		parks += t[i].parks;
		grows += t[i].grows;
		shrinks += t[i].shrinks;
	}
	printf("# fiber_soak: %lu steps, %lu joins, %lu parks, ", ops, joins,
	       parks);
	printf("%lu grows, %lu shrinks, %lu failed checks\n", grows, shrinks,
	       bad);
	if (!grows || !shrinks || !joins || !parks) {
		fprintf(stderr, "# fiber_soak: a kind of step never ran\n");
		bad++;
	}
	estack_pool_close(pool);
	printf("%s 1 fiber_soak: %u s of random fiber steps, %s pool\n",
	       bad ? "not ok" : "ok", secs, kernel ? "kernel" : "fallback");
	return bad ? 1 : 0;
}
