// SPDX-License-Identifier: GPL-2.0
/*
 * estack-bench, group cpus: the 8 KiB ALLOC + FREE loop (or its
 * alternative) on one thread, then on two at once. A case's median is the
 * wall time of one operation of all threads together, 1/throughput, so
 * that the time on one thread over the time on two is the speed-up.
 *
 * The platform's own speed-up is the calibration: two loops that share
 * nothing, one of getppid() pairs (system calls, like estack's loop) and
 * one of pure compute, on one thread then on two. A target on the
 * speed-up of estack is a fraction of the platform's getppid speed-up,
 * not a number the platform may not reach.
 *
 * Every case runs in one interleaved set: each repetition runs, for each
 * loop, one batch on one thread then one on two. The wall time of a batch
 * runs from the first worker's start to the last worker's end, each read
 * by the worker itself around its loop, so that neither the release from
 * the start barrier nor the wake-up of the main thread is timed; and the
 * workers of a batch wait for each other, spinning, once awake, so that
 * the wake-up of the second is not timed either.
 *
 * Each worker is pinned to a CPU of its own (pin_worker()).
 *
 * State: a struct cpus_run, with two workers kept for the whole group;
 * each worker has, for each loop, its own struct stack_env, on its own
 * /dev/estack file or on the one the group shares.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

#include "bench.h"

#define GROUP		"cpus"
#define MAX_THREADS	2

/* The target of the benchmark issue: a fraction of the platform's own. */
#define CPUS_SHARE	0.9
#define CPUS_CAP	1.8

#define CPUS_UNIT	"ns of wall time per operation, all threads together (1/throughput)"

/* The getppid() calibration: share-nothing system calls. */
#define CAL_KIND	"getppid"

/* Iterations of the compute loop's one operation. */
#define COMPUTE_ITERS	4096

/* A loop of arithmetic on a register: no memory, no system call. */
static int compute_once(void *env, unsigned int i)
{
	unsigned long x = i + 1;
	unsigned int k;

	for (k = 0; k < COMPUTE_ITERS; k++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	__asm__ volatile("" : : "r"(x));
	return 0;
}

static const struct stack_kind cpus_getppid = {
	CAL_KIND, "two getppid() calls", "two getppid() system calls",
	stack_getppid2_once,
};

static const struct stack_kind cpus_compute = {
	"compute", "a compute loop",
	XSTR(COMPUTE_ITERS) " rounds of xorshift on a register",
	compute_once,
};

static const struct cpus_kind {
	const char *name;
	const struct stack_kind *kind;
	bool own_fd;
	bool stack;
	const char *reading;
	const char *op;
} cpus_kinds[] = {
	{ CAL_KIND, &cpus_getppid, false, false,
	  "the platform: two threads in system calls, sharing nothing" },
	{ "compute", &cpus_compute, false, false,
	  "the platform: two threads computing, sharing nothing" },
	{ "estack-own-fd", &stack_estack, true, true,
	  "each thread its own /dev/estack file", ">=" },
	{ "estack-shared-fd", &stack_estack, false, true,
	  "both threads on one file (one lock)" },
	{ "mmap-guard", &stack_mmap_guard, false, true,
	  "both threads in one address space (mmap_lock)" },
	{ "malloc", &stack_malloc, false, true, "glibc's per-thread arenas" },
	{ "libestack", &stack_lib, false, true,
	  "one libestack pool, each thread through its own cache", ">=" },
};

#define NR_KINDS	ARRAY_SIZE(cpus_kinds)

struct cpus_run;

/**
 * struct cpus_worker - one thread of the group
 * @thread: the thread
 * @run: the group's run
 * @index: its place: it runs the batches on more than @index threads
 * @env: its stacks for each loop, on its own file or the shared one
 * @err: errno of the first failed operation of each loop, or 0
 * @start: when its last batch started
 * @end: and ended
 */
struct cpus_worker {
	pthread_t thread;
	struct cpus_run *run;
	unsigned int index;
	struct stack_env env[NR_KINDS];
	int err[NR_KINDS];
	double start, end;
};

/**
 * struct cpus_run - the workers, and the batch they run next
 * @b: the invocation: batch and repetitions
 * @kind: the loop of the next batch
 * @nr: threads running it (the others wait)
 * @stop: the workers return instead
 * @ready: workers of the batch awake; they start when all @nr are
 * @start_line: every batch starts on it, with the main thread
 * @finish_line: and ends on it
 * @w: the threads
 */
struct cpus_run {
	const struct bench *b;
	unsigned int kind;
	unsigned int nr;
	bool stop;
	unsigned int ready;
	pthread_barrier_t start_line, finish_line;
	struct cpus_worker w[MAX_THREADS];
};

static void cpus_describe(struct bench_table *t)
{
	const struct cpus_kind *k;
	struct bench_case_info *c;
	unsigned int i, nr;

	for (nr = 1; nr <= MAX_THREADS; nr++)
		for (i = 0; i < NR_KINDS; i++) {
			k = &cpus_kinds[i];
			c = table_case(t, BENCH_ID(GROUP, k->name, nr),
				       "threads",
				       xasprintf("%s%s, on each thread; %s",
						 k->kind->measures,
						 k->stack ? ", 8 KiB" : "",
						 k->reading));
			c->unit = CPUS_UNIT;
		}
	for (i = 0; i < NR_KINDS; i++) {
		k = &cpus_kinds[i];
		table_ratio(t, &(struct bench_ratio){
			.group = GROUP,
			.name = xasprintf("%s: throughput of 2 threads / 1",
					  k->name),
			.num = { case_key(BENCH_ID(GROUP, k->name, 1)) },
			.den = { case_key(BENCH_ID(GROUP, k->name, 2)) },
			.reading = k->reading,
			.op = k->op,
			.bound = CPUS_SHARE,
			.cal = { case_key(BENCH_ID(GROUP, CAL_KIND, 1)),
				 case_key(BENCH_ID(GROUP, CAL_KIND, 2)) },
			.cap = CPUS_CAP,
		});
	}
}

/*
 * Each worker on a CPU of its own, the index-th the process may use, as
 * will-it-scale pins its tasks. A batch of the cheapest loops (libestack's
 * cache hits, malloc) lasts well under a millisecond, less than the
 * scheduler takes to pull apart two threads woken together onto one CPU;
 * unpinned, their speed-up would be where the wake-ups landed. Pinned,
 * a thread never migrates, so the rows say nothing of what migration
 * costs. With fewer usable CPUs than workers (or more than a cpu_set_t
 * holds), none is pinned, and stderr says so.
 */
static void pin_worker(const struct cpus_worker *w)
{
	unsigned int cpu, seen = 0;
	cpu_set_t allowed, one;

	if (sched_getaffinity(0, sizeof(allowed), &allowed) ||
	    CPU_COUNT(&allowed) < MAX_THREADS) {
		fprintf(stderr, "[bench] cpus: worker %u not pinned\n",
			w->index);
		return;
	}
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &allowed))
			continue;
		if (seen++ < w->index)
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (sched_setaffinity(0, sizeof(one), &one))
			die("sched_setaffinity");
		return;
	}
}

/*
 * Each batch starts and ends on a barrier with the main thread; the
 * worker times its own loop, so that the barriers are not timed.
 */
static void *worker_main(void *arg)
{
	struct cpus_worker *w = arg;
	struct cpus_run *r = w->run;
	const struct stack_kind *kind;
	struct stack_env *env;
	unsigned int i;
	int *err;

	pin_worker(w);
	for (;;) {
		pthread_barrier_wait(&r->start_line);
		if (r->stop)
			return NULL;
		kind = cpus_kinds[r->kind].kind;
		env = &w->env[r->kind];
		err = &w->err[r->kind];
		if (w->index < r->nr) {
			__atomic_add_fetch(&r->ready, 1, __ATOMIC_ACQ_REL);
			while (__atomic_load_n(&r->ready, __ATOMIC_ACQUIRE) <
			       r->nr)
				;
		}
		if (w->index < r->nr && !*err) {
			w->start = now_ns();
			for (i = 0; i < r->b->batch; i++)
				if (kind->once(env, i)) {
					*err = errno;
					break;
				}
			w->end = now_ns();
		}
		pthread_barrier_wait(&r->finish_line);
	}
}

static void start_workers(struct cpus_run *r, int shared_dev,
			  struct estack_pool *lib)
{
	unsigned int i, k;

	if (pthread_barrier_init(&r->start_line, NULL, MAX_THREADS + 1) ||
	    pthread_barrier_init(&r->finish_line, NULL, MAX_THREADS + 1))
		die("pthread_barrier_init");
	for (i = 0; i < MAX_THREADS; i++) {
		struct cpus_worker *w = &r->w[i];

		*w = (struct cpus_worker){ .run = r, .index = i };
		for (k = 0; k < NR_KINDS; k++) {
			w->env[k] = (struct stack_env){
				.dev = cpus_kinds[k].own_fd ? es_open() :
				       shared_dev,
				.size = 8 * KIB, .page = r->b->page,
				.lib = lib,
			};
			if (w->env[k].dev < 0)
				die("open /dev/estack");
		}
		if (pthread_create(&w->thread, NULL, worker_main, w))
			die("pthread_create");
	}
}

static void stop_workers(struct cpus_run *r)
{
	unsigned int i, k;

	r->stop = true;
	pthread_barrier_wait(&r->start_line);
	for (i = 0; i < MAX_THREADS; i++) {
		pthread_join(r->w[i].thread, NULL);
		for (k = 0; k < NR_KINDS; k++)
			if (cpus_kinds[k].own_fd)
				close(r->w[i].env[k].dev);
	}
	pthread_barrier_destroy(&r->start_line);
	pthread_barrier_destroy(&r->finish_line);
}

/* The first error of loop @k on any thread, or 0. */
static int kind_err(const struct cpus_run *r, unsigned int k)
{
	unsigned int i;

	for (i = 0; i < MAX_THREADS; i++)
		if (r->w[i].err[k])
			return r->w[i].err[k];
	return 0;
}

/*
 * One batch of loop @k on @nr threads: the wall time of one operation of
 * all threads together (1/throughput), from the first start to the last
 * end; < 0 when a thread failed.
 */
static double run_batch(struct cpus_run *r, unsigned int k, unsigned int nr)
{
	double first, last;
	unsigned int i;

	r->kind = k;
	r->nr = nr;
	r->ready = 0;
	pthread_barrier_wait(&r->start_line);
	pthread_barrier_wait(&r->finish_line);
	if (kind_err(r, k))
		return -1;
	first = r->w[0].start;
	last = r->w[0].end;
	for (i = 1; i < nr; i++) {
		if (r->w[i].start < first)
			first = r->w[i].start;
		if (r->w[i].end > last)
			last = r->w[i].end;
	}
	return (last - first) / ((double)r->b->batch * nr);
}

static void cpus_run(struct bench *b)
{
	static double t[NR_KINDS][MAX_THREADS][MAX_REPS];
	static struct cpus_run r;
	struct stack_env lib = { .dev = -1 };
	unsigned int set, rep, k, nr;
	int shared_dev = es_open();
	double x;

	if (shared_dev < 0)
		die("open /dev/estack");
	if (stack_lib_open(&lib))
		die("estack_pool_open");
	r = (struct cpus_run){ .b = b };
	start_workers(&r, shared_dev, lib.lib);
	set = bench_new_set(b, NR_KINDS * MAX_THREADS);
	for (rep = 0; rep <= b->reps; rep++)	/* rep 0 warms up */
		for (k = 0; k < NR_KINDS; k++)
			for (nr = 1; nr <= MAX_THREADS; nr++) {
				if (kind_err(&r, k))
					continue;
				x = run_batch(&r, k, nr);
				if (rep && x >= 0)
					t[k][nr - 1][rep - 1] = x;
			}
	stop_workers(&r);
	for (k = 0; k < NR_KINDS; k++)
		for (nr = 1; nr <= MAX_THREADS; nr++) {
			struct bench_id id = BENCH_ID(GROUP, cpus_kinds[k].name,
						      nr);

			if (kind_err(&r, k))
				bench_fail(b, id, kind_err(&r, k));
			else
				bench_record(b, id, set, t[k][nr - 1],
					     b->reps, b->batch);
		}
	stack_lib_close(&lib);
	close(shared_dev);
}

const struct bench_group cpus_group = {
	.name = GROUP,
	.title = "CPUs",
	.intro =
		"The ALLOC + FREE loop on one thread, then on two at once, on {cpus} vCPUs.",
	.describe = cpus_describe,
	.run = cpus_run,
};
