// SPDX-License-Identifier: GPL-2.0
/*
 * estack-bench, group cpus: the 8 KiB ALLOC + FREE loop (or its
 * alternative) on one thread, then on two at once. A case's median is the
 * wall time of one operation of all threads together, 1/throughput, so
 * that the time on one thread over the time on two is the speed-up.
 *
 * State: a struct cpus_run per case; each worker has its own struct
 * stack_env, on its own /dev/estack file or on the one the group shares.
 */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "bench.h"

#define GROUP		"cpus"
#define MAX_THREADS	2

/* The target of the benchmark issue: two threads on their own files. */
#define CPUS_TARGET	1.8

#define CPUS_UNIT	"ns of wall time per operation, all threads together (1/throughput)"

struct cpus_run;

/**
 * struct cpus_worker - one thread of a case
 * @thread: the thread
 * @run: the case it belongs to
 * @env: its stacks, on its own file or the shared one
 * @own_fd: @env.dev is its own, to close
 * @err: errno of the first failed operation, or 0
 */
struct cpus_worker {
	pthread_t thread;
	struct cpus_run *run;
	struct stack_env env;
	bool own_fd;
	int err;
};

/**
 * struct cpus_run - a case on @nr threads
 * @b: the invocation: batch and repetitions
 * @kind: the loop each thread runs
 * @nr: threads
 * @start_line: every repetition starts on it, with the main thread
 * @finish_line: and ends on it
 * @w: the threads
 */
struct cpus_run {
	const struct bench *b;
	const struct stack_kind *kind;
	unsigned int nr;
	pthread_barrier_t start_line, finish_line;
	struct cpus_worker w[MAX_THREADS];
};

static const struct cpus_kind {
	const char *name;
	const struct stack_kind *kind;
	bool own_fd;
	const char *reading;
	const char *op;
} cpus_kinds[] = {
	{ "estack-own-fd", &stack_estack, true,
	  "each thread its own /dev/estack file", ">=" },
	{ "estack-shared-fd", &stack_estack, false,
	  "both threads on one file (one lock)" },
	{ "mmap-guard", &stack_mmap_guard, false,
	  "both threads in one address space (mmap_lock)" },
	{ "malloc", &stack_malloc, false, "glibc's per-thread arenas" },
	{ "libestack", &stack_lib, false,
	  "one libestack pool, each thread through its own cache" },
};

static void cpus_describe(struct bench_table *t)
{
	struct bench_case_info *c;
	unsigned int i, nr;

	for (nr = 1; nr <= MAX_THREADS; nr++)
		for (i = 0; i < ARRAY_SIZE(cpus_kinds); i++) {
			c = table_case(t, BENCH_ID(GROUP, cpus_kinds[i].name, nr),
				       "threads",
				       xasprintf("%s, 8 KiB, on each thread; %s",
						 cpus_kinds[i].kind->measures,
						 cpus_kinds[i].reading));
			c->unit = CPUS_UNIT;
		}
	for (i = 0; i < ARRAY_SIZE(cpus_kinds); i++)
		table_ratio(t, &(struct bench_ratio){
			.group = GROUP,
			.name = xasprintf("%s: throughput of 2 threads / 1",
					  cpus_kinds[i].name),
			.num = { case_key(BENCH_ID(GROUP, cpus_kinds[i].name,
						   1)) },
			.den = { case_key(BENCH_ID(GROUP, cpus_kinds[i].name,
						   2)) },
			.reading = cpus_kinds[i].reading,
			.op = cpus_kinds[i].op,
			.bound = CPUS_TARGET,
		});
}

/* Every repetition starts and ends on a barrier with the main thread. */
static void *worker_main(void *arg)
{
	struct cpus_worker *w = arg;
	struct cpus_run *r = w->run;
	unsigned int rep, i;

	for (rep = 0; rep <= r->b->reps; rep++) {
		pthread_barrier_wait(&r->start_line);
		for (i = 0; i < r->b->batch && !w->err; i++)
			if (r->kind->once(&w->env, i))
				w->err = errno;
		pthread_barrier_wait(&r->finish_line);
	}
	return NULL;
}

static void start_workers(struct cpus_run *r, int shared_dev, bool own_fd,
			  struct estack_pool *lib)
{
	unsigned int i;

	if (pthread_barrier_init(&r->start_line, NULL, r->nr + 1) ||
	    pthread_barrier_init(&r->finish_line, NULL, r->nr + 1))
		die("pthread_barrier_init");
	for (i = 0; i < r->nr; i++) {
		struct cpus_worker *w = &r->w[i];

		*w = (struct cpus_worker){
			.run = r, .own_fd = own_fd,
			.env = { .dev = own_fd ? es_open() : shared_dev,
				 .size = 8 * KIB, .page = r->b->page,
				 .lib = lib },
		};
		if (w->env.dev < 0)
			die("open /dev/estack");
		if (pthread_create(&w->thread, NULL, worker_main, w))
			die("pthread_create");
	}
}

/* The first error of any thread, or 0. */
static int join_workers(struct cpus_run *r)
{
	unsigned int i;
	int err = 0;

	for (i = 0; i < r->nr; i++) {
		pthread_join(r->w[i].thread, NULL);
		if (r->w[i].err)
			err = r->w[i].err;
		if (r->w[i].own_fd)
			close(r->w[i].env.dev);
	}
	pthread_barrier_destroy(&r->start_line);
	pthread_barrier_destroy(&r->finish_line);
	return err;
}

static void run_threads(struct bench *b, const struct cpus_kind *k,
			unsigned int nr, int shared_dev, struct estack_pool *lib)
{
	struct cpus_run r = { .b = b, .kind = k->kind, .nr = nr };
	struct bench_id id = BENCH_ID(GROUP, k->name, nr);
	double t[MAX_REPS], t0;
	unsigned int rep;
	int err;

	start_workers(&r, shared_dev, k->own_fd, lib);
	for (rep = 0; rep <= b->reps; rep++) {	/* rep 0 warms up */
		pthread_barrier_wait(&r.start_line);
		t0 = now_ns();
		pthread_barrier_wait(&r.finish_line);
		/* Wall time per operation of all threads: 1/throughput. */
		if (rep)
			t[rep - 1] = (now_ns() - t0) / (b->batch * nr);
	}
	err = join_workers(&r);
	if (err)
		bench_fail(b, id, err);
	else
		bench_record(b, id, t, b->reps, b->batch);
}

static void cpus_run(struct bench *b)
{
	struct stack_env lib = { .dev = -1 };
	int shared_dev = es_open();
	unsigned int i, nr;

	if (shared_dev < 0)
		die("open /dev/estack");
	if (stack_lib_open(&lib))
		die("estack_pool_open");
	for (nr = 1; nr <= MAX_THREADS; nr++)
		for (i = 0; i < ARRAY_SIZE(cpus_kinds); i++)
			run_threads(b, &cpus_kinds[i], nr, shared_dev, lib.lib);
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
