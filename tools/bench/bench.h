/* SPDX-License-Identifier: GPL-2.0 */
/*
 * estack-bench's core, shared by its groups.
 *
 * A group (alloc.c, breakdown.c, move.c, scale.c, cpus.c) owns its state in
 * a struct of its own and talks to the core through two functions: its
 * describe() declares its cases and the ratios they belong to in the case
 * table (table.c), its run() times the cases with bench_run() or records
 * them with bench_record(). A run of a case the table does not hold is a
 * bug and stops the tool, so that the table written to the JSON and what
 * was measured cannot drift apart.
 *
 * The device, its handshake, the untimed ALLOC and FREE and the module
 * parameters go through the helper library (tools/lib/util); only the
 * timed loops of stack.c and move.c issue their ioctls themselves, so that
 * no wrapper's work is timed with them.
 */
#ifndef ESTACK_BENCH_H
#define ESTACK_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/ioctl.h>

#include "estack_util.h"

struct estack_pool;

#define KIB		1024UL
#define STR(x)		#x
#define XSTR(x)		STR(x)
#define MAX_REPS	64

/* Every median is the time of one operation, in nanoseconds. */
#define UNIT_NS_PER_OP	"ns per operation"

/**
 * struct bench_id - which case: a case of a group, with its parameter
 * @group: the group, e.g. "alloc"
 * @name: the case within the group, e.g. "mmap-guard"
 * @param: KiB, stacks live or threads, as the case's param_unit says
 *
 * Its key in the JSON is "group/name/param".
 */
struct bench_id {
	const char *group;
	const char *name;
	unsigned long param;
};

#define BENCH_ID(g, n, p)	((struct bench_id){ (g), (n), (p) })

/*
 * The floors timed next to every case run by bench_run_set(), in each of
 * its repetitions: a ratio names them "floor:getppid2" (two getppid()
 * calls), "floor:getppid" (half of that) or "floor:ioctl2" (two ioctls
 * that only copy in and out), and means the floor timed in the
 * repetitions of its first numerator case.
 */
enum bench_floor { FLOOR_GETPPID2, FLOOR_IOCTL2, NR_FLOORS };

#define FLOOR_PREFIX	"floor:"

/**
 * struct bench_result - what one case measured
 * @ran: the case was run (or failed to be set up)
 * @med: median of the batches, in ns per operation
 * @min: fastest batch
 * @max: slowest batch
 * @t: each batch, in the order of the repetitions
 * @floor: each floor, timed in the same repetition as @t
 * @has_floor: @floor was timed
 * @set: the cases of one set ran interleaved, repetition by repetition:
 *	 their @t of one index were timed within the same repetition
 * @reps: timed batches
 * @batch: operations per batch
 * @error: why the case could not be measured; empty when it was
 */
struct bench_result {
	bool ran;
	double med, min, max;
	double t[MAX_REPS];
	double floor[NR_FLOORS][MAX_REPS];
	bool has_floor;
	unsigned int set;
	unsigned int reps, batch;
	char error[96];
};

/**
 * struct bench_case_info - one row of the case table
 * @id: the case
 * @key: "group/name/param", how ratios and the JSON name it
 * @param_unit: what @id.param counts, or NULL when it is unused
 * @measures: what one timed operation does
 * @unit: the unit of the results
 * @result: filled in by bench_run() or bench_record()
 */
struct bench_case_info {
	struct bench_id id;
	const char *key;
	const char *param_unit;
	const char *measures;
	const char *unit;
	struct bench_result result;
};

/**
 * struct bench_ratio - one row of Documentation/mm/estack/benchmarks.rst
 * @group: the section it belongs to
 * @name: the row's name
 * @num: keys of the cases whose times are added up above the line
 * @less: key of a case subtracted above the line, or NULL
 * @den: keys of the cases whose times are added up below the line; a
 *	 floor ("floor:getppid2"...) is the one timed with @num[0]
 * @op: "<=" or ">=" when the row has a target, else NULL
 * @bound: the target's bound; with @cal, the fraction of the platform's
 *	   ratio that the value must reach
 * @cal: keys of the numerator and denominator of the platform's own
 *	 ratio (share-nothing loops) that the target is relative to, or NULL
 * @cap: with @cal, the bound is never above this
 * @reading: what the value says; {value} and {percent} are filled in
 * @slower: the reading when the value is 1 or more, or NULL
 * @unmeasured: the reading when a case is missing ({error}), or NULL
 *
 * Unused slots of @num and @den are NULL. Like the rest of the table, the
 * strings live as long as the tool.
 */
struct bench_ratio {
	const char *group;
	const char *name;
	const char *num[2];
	const char *less;
	const char *den[2];
	const char *op;
	double bound;
	const char *cal[2];
	double cap;
	const char *reading;
	const char *slower;
	const char *unmeasured;
};

/**
 * struct bench_table - every case and ratio of every group
 * @cases: the cases, in the order their group runs them
 * @nr_cases: number of @cases
 * @ratios: the ratios, in the order of the page
 * @nr_ratios: number of @ratios
 */
struct bench_table {
	struct bench_case_info *cases;
	unsigned int nr_cases;
	struct bench_ratio *ratios;
	unsigned int nr_ratios;
};

/**
 * struct bench - one invocation
 * @only: run only the cases whose key contains it (-o), or NULL
 * @batch: operations per timed batch (-b)
 * @reps: timed batches per case (-r)
 * @max_live: largest number of live stacks in the scale group (-n)
 * @page: the module's page size, from the API handshake
 * @table: the case table, with the results
 * @floor_dev: the /dev/estack file of the ioctl floor
 * @nr_sets: interleaved sets run so far
 * @group: the group running, for the progress lines
 * @done: its cases recorded so far
 */
struct bench {
	const char *only;
	unsigned int batch;
	unsigned int reps;
	unsigned long max_live;
	unsigned long page;
	struct bench_table table;
	int floor_dev;
	unsigned int nr_sets;
	const char *group;
	unsigned int done;
};

/**
 * struct bench_group - a group of cases, and a section of the page
 * @name: as given on the command line
 * @title: title of its section in Documentation/mm/estack/benchmarks.rst
 * @intro: first paragraph of that section; {cpus} is filled in
 * @describe: adds the group's cases and ratios to the table
 * @run: runs the group's cases
 */
struct bench_group {
	const char *name;
	const char *title;
	const char *intro;
	void (*describe)(struct bench_table *t);
	void (*run)(struct bench *b);
};

extern const struct bench_group alloc_group, breakdown_group, grow_group,
	shrink_group, scale_group, cpus_group;

/**
 * struct bench_case - how to time one case
 * @prep: untimed, sets up what @op needs for @n operations, or NULL
 * @op: timed, does operation @i
 * @done: untimed, cleans up after @n operations, or NULL
 * @batch: instead of the three above, a batch of @n operations timed
 *	elsewhere (another process, scale.c): its time per operation in
 *	nanoseconds, or a negative value with errno set
 *
 * Each gets the group's state as @ctx. A callback that cannot go on
 * returns non-zero with errno set: the case is reported as failed with
 * that error.
 */
struct bench_case {
	int (*prep)(void *ctx, unsigned int n);
	int (*op)(void *ctx, unsigned int i);
	int (*done)(void *ctx, unsigned int n);
	double (*batch)(void *ctx, unsigned int n);
};

/**
 * struct bench_entry - one case of an interleaved set
 * @id: the case
 * @c: how to time it
 * @ctx: its state
 * @n: operations per batch
 */
struct bench_entry {
	struct bench_id id;
	const struct bench_case *c;
	void *ctx;
	unsigned int n;
};

/* core.c */
void bench_run(struct bench *b, struct bench_id id, const struct bench_case *c,
	       void *ctx, unsigned int n);
void bench_run_set(struct bench *b, const struct bench_entry *e,
		   unsigned int nr);
unsigned int bench_new_set(struct bench *b, unsigned int nr);
void bench_record(struct bench *b, struct bench_id id, unsigned int set,
		  const double *t, unsigned int n, unsigned int batch);
void bench_fail(struct bench *b, struct bench_id id, int err);
void bench_perf_ctl(const char *cmd);
double bench_time_batch(const struct bench_case *c, void *ctx,
			unsigned int n);
double now_ns(void);
void die(const char *what);

/* table.c */
char *xasprintf(const char *fmt, ...);
char *case_key(struct bench_id id);
struct bench_case_info *table_case(struct bench_table *t, struct bench_id id,
				   const char *param_unit,
				   const char *measures);
void table_ratio(struct bench_table *t, const struct bench_ratio *r);
struct bench_case_info *table_find(struct bench_table *t, struct bench_id id);
void table_print_json(FILE *out, const struct bench *b,
		      const struct bench_group *const *groups,
		      unsigned int nr_groups, bool results);
void table_print_cases(FILE *out, const struct bench_table *t);
void table_print_results(FILE *out, const struct bench_table *t);

/* stack.c: one stack taken, touched and given back, by each means */

/**
 * struct stack_env - what the stack operations of one group work on
 * @dev: the /dev/estack file that ALLOC and FREE go to
 * @size: usable bytes per stack
 * @page: size of the guard page of the mmap alternative
 * @pool_base: the in-process pool's mapping
 * @pool_len: its length
 * @pool_free: its free list
 * @pool_nr: stacks on @pool_free
 * @lib: the libestack pool of the "libestack" kind, in kernel mode
 * @clear_page: a page of @page bytes that stack_floor_once() clears
 */
struct stack_env {
	int dev;
	unsigned long size;
	unsigned long page;
	char *pool_base;
	size_t pool_len;
	char **pool_free;
	unsigned long pool_nr;
	struct estack_pool *lib;
	char *clear_page;
};

/**
 * struct stack_kind - a means of getting a stack, and its name in the table
 * @name: the case name, e.g. "mmap-guard"
 * @what: what it does, as a reading names it
 * @measures: what one operation of its loop does
 * @once: takes a stack, writes into its top page, gives it back
 */
struct stack_kind {
	const char *name;
	const char *what;
	const char *measures;
	int (*once)(void *env, unsigned int i);
};

extern const struct stack_kind stack_estack, stack_mmap_guard, stack_mmap,
	stack_malloc, stack_pool, stack_lib;

void touch(char *p);

/*
 * ALLOC and FREE as the timed loops issue them: the ioctl itself, as a
 * fiber library would, -1 and errno on failure. Not es_alloc() and
 * es_free(): their call through es_ioctl() and its errno translation would
 * be timed with every operation. The untimed ALLOCs and FREEs use the
 * library.
 */
static inline int timed_alloc(int fd, unsigned long bytes,
			      struct estack_alloc *a)
{
	*a = (struct estack_alloc){ .size = sizeof(*a), .bytes = bytes };
	return ioctl(fd, ESTACK_IOC_ALLOC, a);
}

static inline int timed_free(int fd, __u32 id)
{
	struct estack_free f = { .size = sizeof(f), .id = id };

	return ioctl(fd, ESTACK_IOC_FREE, &f);
}

int stack_pool_init(struct stack_env *e, unsigned long nr);
int stack_lib_open(struct stack_env *e);
void stack_lib_close(struct stack_env *e);
void stack_pool_fini(struct stack_env *e);
char *stack_pool_get(struct stack_env *e);
int stack_estack_notouch_once(void *env, unsigned int i);
int stack_ioctl2_once(void *env, unsigned int i);
int stack_getppid_once(void *env, unsigned int i);
int stack_getppid2_once(void *env, unsigned int i);
int stack_floor_once(void *env, unsigned int i);

#endif /* ESTACK_BENCH_H */
