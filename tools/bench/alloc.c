// SPDX-License-Identifier: GPL-2.0
/*
 * estack-bench, group alloc: ALLOC, one store into the top page and FREE of
 * 8, 16 and 64 KiB stacks, against the same with each alternative, and two
 * getppid() calls as the floor of any two system calls. At 8 KiB, the
 * floor of ALLOC + FREE itself runs with them: two empty ioctls and the
 * clear of the page the fiber wrote, which the uAPI requires.
 *
 * State: one struct stack_env, on a /dev/estack file of the group's own.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

#define GROUP		"alloc"

static const unsigned long alloc_kib[] = { 8, 16, 64 };

/* estack first, then the alternatives it is measured against. */
static const struct stack_kind *const alloc_kinds[] = {
	&stack_estack, &stack_mmap_guard, &stack_mmap, &stack_malloc,
	&stack_pool, &stack_lib,
};

/* The targets of the benchmark issue, all at 8 KiB. */
#define TARGET_KIB		8
#define TARGET_VS_GUARD		0.10	/* estack / mmap-guard */
#define TARGET_VS_GETPPID	4.0	/* estack / getppid pair */
/* The library issue's: libestack against the in-process pool, at 8 KiB. */
#define TARGET_LIB_VS_POOL	1.5

/*
 * What the uAPI's zeroing alone costs against the two targets, in the same
 * repetitions: where the floor misses a target, no fast path that clears
 * the page in line can meet it on that CPU model; where it does not, the
 * rest of the gap is the fast path's.
 */
static void floor_ratios(struct bench_table *t, const char *est)
{
	const char *floor = case_key(BENCH_ID(GROUP, "floor", TARGET_KIB));

	table_ratio(t, &(struct bench_ratio){
		.group = GROUP,
		.name = xasprintf("%d KiB: floor / getppid pair", TARGET_KIB),
		.num = { floor },
		.den = { FLOOR_PREFIX "getppid2" },
		.reading =
			"the least ALLOC + FREE can do costs {value} pairs of null system calls",
	});
	table_ratio(t, &(struct bench_ratio){
		.group = GROUP,
		.name = xasprintf("%d KiB: floor / mmap-guard", TARGET_KIB),
		.num = { floor },
		.den = { case_key(BENCH_ID(GROUP, stack_mmap_guard.name,
					   TARGET_KIB)) },
		.reading =
			"the least ALLOC + FREE can do takes {percent}% of mmap + guard + munmap",
	});
	table_ratio(t, &(struct bench_ratio){
		.group = GROUP,
		.name = xasprintf("%d KiB: estack / floor", TARGET_KIB),
		.num = { est },
		.den = { floor },
		.reading = "ALLOC + FREE cost {value} times the floor",
	});
}

static void alloc_ratios(struct bench_table *t, unsigned long kib)
{
	const char *est = case_key(BENCH_ID(GROUP, "estack", kib));
	const struct stack_kind *k;
	unsigned int i;

	for (i = 1; i < ARRAY_SIZE(alloc_kinds); i++) {
		struct bench_ratio r = { .group = GROUP, .num = { est } };

		k = alloc_kinds[i];
		if (k == &stack_lib)
			continue;
		r.name = xasprintf("%lu KiB: estack / %s", kib, k->name);
		r.den[0] = case_key(BENCH_ID(GROUP, k->name, kib));
		r.reading = xasprintf("estack takes {percent}%% of the time of %s",
				      k->what);
		r.slower = xasprintf("estack is {value} times slower than %s",
				     k->what);
		r.unmeasured = "not measured: {error}";
		if (kib == TARGET_KIB && k == &stack_mmap_guard) {
			r.op = "<=";
			r.bound = TARGET_VS_GUARD;
		}
		table_ratio(t, &r);
	}
	table_ratio(t, &(struct bench_ratio){
		.group = GROUP,
		.name = xasprintf("%lu KiB: estack / getppid pair", kib),
		.num = { est },
		.den = { FLOOR_PREFIX "getppid2" },
		.reading = "ALLOC + FREE cost {value} pairs of null system calls",
		.op = kib == TARGET_KIB ? "<=" : NULL,
		.bound = TARGET_VS_GETPPID,
	});
	table_ratio(t, &(struct bench_ratio){
		.group = GROUP,
		.name = xasprintf("%lu KiB: estack / two empty ioctls", kib),
		.num = { est },
		.den = { FLOOR_PREFIX "ioctl2" },
		.reading = "ALLOC + FREE cost {value} times two ioctls that only copy in and out",
	});
	if (kib == TARGET_KIB)
		floor_ratios(t, est);
	table_ratio(t, &(struct bench_ratio){
		.group = GROUP,
		.name = xasprintf("%lu KiB: libestack / pool", kib),
		.num = { case_key(BENCH_ID(GROUP, stack_lib.name, kib)) },
		.den = { case_key(BENCH_ID(GROUP, stack_pool.name, kib)) },
		.reading =
			"through libestack, a stack costs {value} times one off an in-process list",
		.unmeasured = "not measured: {error}",
		.op = kib == TARGET_KIB ? "<=" : NULL,
		.bound = TARGET_LIB_VS_POOL,
	});
}

static void alloc_describe(struct bench_table *t)
{
	unsigned int i, k;

	table_case(t, BENCH_ID(GROUP, "getppid2", 0), NULL,
		   "two getppid() system calls: the floor of any two calls");
	for (i = 0; i < ARRAY_SIZE(alloc_kib); i++) {
		for (k = 0; k < ARRAY_SIZE(alloc_kinds); k++)
			table_case(t, BENCH_ID(GROUP, alloc_kinds[k]->name,
					       alloc_kib[i]),
				   "KiB stack", alloc_kinds[k]->measures);
		if (alloc_kib[i] == TARGET_KIB)
			table_case(t, BENCH_ID(GROUP, "floor", TARGET_KIB),
				   "KiB stack",
				   "two empty ioctls, one store into a page and its clear as the kernel's clear_page() makes it on this CPU (rep stosb with ERMS, rep stosq with REP_GOOD, else a loop of moves): the least an ALLOC + FREE that hands out a zeroed page does");
	}
	for (i = 0; i < ARRAY_SIZE(alloc_kib); i++)
		alloc_ratios(t, alloc_kib[i]);
}

/*
 * The pool of the alloc group holds one stack, taken and put back; its
 * top page touched here, untimed, as the stacks the other kinds reuse
 * are: else the first operation of each batch pays a page fault.
 */
static int pool_prep(void *env, unsigned int n)
{
	struct stack_env *e = env;

	if (stack_pool_init(e, 1))
		return -1;
	e->pool_base[e->size - 8] = 0;
	return 0;
}

static int pool_done(void *env, unsigned int n)
{
	stack_pool_fini(env);
	return 0;
}

static void alloc_run(struct bench *b)
{
	static const struct bench_case getppid2 = {
		.op = stack_getppid2_once,
	};
	struct stack_env env = { .dev = es_open(), .page = b->page };
	unsigned int i, k;

	if (env.dev < 0)
		die("open /dev/estack");
	/*
	 * One pool for every size, as a runtime keeps one: the warm-up
	 * batch of each case fills the calling thread's cache.
	 */
	if (stack_lib_open(&env))
		die("estack_pool_open");
	env.clear_page = mmap(NULL, env.page, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (env.clear_page == MAP_FAILED)
		die("mmap");
	bench_run(b, BENCH_ID(GROUP, "getppid2", 0), &getppid2, &env,
		  b->batch);
	/* Every kind of one size interleaved: the ratios of a size. */
	for (i = 0; i < ARRAY_SIZE(alloc_kib); i++) {
		struct bench_entry e[ARRAY_SIZE(alloc_kinds) + 1];
		struct bench_case c[ARRAY_SIZE(alloc_kinds) + 1];
		unsigned int nr = ARRAY_SIZE(alloc_kinds);

		env.size = alloc_kib[i] * KIB;
		for (k = 0; k < ARRAY_SIZE(alloc_kinds); k++) {
			const struct stack_kind *kind = alloc_kinds[k];

			c[k] = (struct bench_case){ .op = kind->once };
			if (kind == &stack_pool) {
				c[k].prep = pool_prep;
				c[k].done = pool_done;
			}
			e[k] = (struct bench_entry){
				.id = BENCH_ID(GROUP, kind->name, alloc_kib[i]),
				.c = &c[k], .ctx = &env, .n = b->batch,
			};
		}
		if (alloc_kib[i] == TARGET_KIB) {
			c[nr] = (struct bench_case){ .op = stack_floor_once };
			e[nr] = (struct bench_entry){
				.id = BENCH_ID(GROUP, "floor", TARGET_KIB),
				.c = &c[nr], .ctx = &env, .n = b->batch,
			};
			nr++;
		}
		bench_run_set(b, e, nr);
	}
	stack_lib_close(&env);
	munmap(env.clear_page, env.page);
	close(env.dev);
}

const struct bench_group alloc_group = {
	.name = GROUP,
	.title = "ALLOC + FREE against the alternatives",
	.intro =
		"ALLOC of a stack, one store into its top page, FREE; against the same with each alternative.",
	.describe = alloc_describe,
	.run = alloc_run,
};
