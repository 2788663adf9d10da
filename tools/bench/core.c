// SPDX-License-Identifier: GPL-2.0
/*
 * estack-bench: estack against what a fiber library would use instead,
 * side by side in one run.
 *
 * Groups of cases (see Documentation/benchmarks.rst for the method):
 *   alloc      ALLOC + touch of the top page + FREE of 8, 16 and 64 KiB
 *              stacks, against mmap + mprotect guard + munmap (Boost's
 *              protected_fixedsize_stack), mmap + munmap, malloc/free and
 *              an in-process free-list pool; getppid x 2 is the floor
 *   breakdown  the same 8 KiB ALLOC+FREE with the module's layers turned
 *              off one by one: mapped cache, per-CPU cache, pools
 *   grow       GROW with 2, 8, 64 and 512 KiB live, against memcpy of the
 *              live bytes, mremap(MREMAP_MAYMOVE) and mmap + copy + munmap
 *   shrink     SHRINK of a stack using an eighth of itself, against
 *              madvise(MADV_DONTNEED) of the unused half
 *   scale      8 KiB ALLOC+FREE with 1 k, 10 k, 100 k and 1 M stacks live
 *   cpus       ALLOC+FREE throughput of 1 and 2 threads
 *
 * Every case runs in batches, repeated; a case reports the median cost of
 * one operation and the spread (min..max) of its batches, in nanoseconds.
 * The results go to stdout as JSON (-j) or as a table. The JSON also
 * carries the case table: every case with what it measures, and every
 * ratio of two medians that tools/bench/report.py turns into a row of
 * Documentation/benchmarks.rst, with its target. Under QEMU TCG absolute
 * times mean little: only ratios of one run do.
 *
 * The breakdown changes module parameters and needs root; everything else
 * runs as any user.
 *
 * This file holds the command line and the timing loop; each group lives
 * in a file of its own, and works on a /dev/estack file it opens itself,
 * so that what one group leaves in a file's caches does not weigh on the
 * next.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static const struct bench_group *const groups[] = {
	&alloc_group, &breakdown_group, &grow_group, &shrink_group,
	&scale_group, &cpus_group,
};

#define NR_GROUPS	ARRAY_SIZE(groups)

double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

void die(const char *what)
{
	fprintf(stderr, "estack-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The slot of a case in the table: every case run must be declared. */
static struct bench_case_info *case_of(struct bench *b, struct bench_id id)
{
	struct bench_case_info *c = table_find(&b->table, id);

	if (!c) {
		fprintf(stderr, "estack-bench: case %s/%s/%lu is not in the table\n",
			id.group, id.name, id.param);
		exit(1);
	}
	c->result.ran = true;
	return c;
}

/* The median and the spread of @n batches of @batch operations. */
void bench_record(struct bench *b, struct bench_id id, double *t,
		  unsigned int n, unsigned int batch)
{
	struct bench_result *r = &case_of(b, id)->result;

	qsort(t, n, sizeof(t[0]), cmp_double);
	r->med = t[n / 2];
	r->min = t[0];
	r->max = t[n - 1];
	r->reps = n;
	r->batch = batch;
}

void bench_fail(struct bench *b, struct bench_id id, int err)
{
	struct bench_case_info *c = case_of(b, id);

	snprintf(c->result.error, sizeof(c->result.error), "%s",
		 strerror(err));
	fprintf(stderr, "estack-bench: %s: %s\n", c->key, c->result.error);
}

/* Time @c in b->reps batches of @n operations, after one to warm up. */
void bench_run(struct bench *b, struct bench_id id, const struct bench_case *c,
	       void *ctx, unsigned int n)
{
	double t[MAX_REPS], t0;
	unsigned int rep, i;

	for (rep = 0; rep <= b->reps; rep++) {
		if (c->prep && c->prep(ctx, n))
			goto fail;
		t0 = now_ns();
		for (i = 0; i < n; i++)
			if (c->op(ctx, i))
				goto fail;
		if (rep)
			t[rep - 1] = (now_ns() - t0) / n;
		if (c->done && c->done(ctx, n))
			goto fail;
	}
	bench_record(b, id, t, b->reps, n);
	return;
fail:
	bench_fail(b, id, errno);
}

/* ---- command line ------------------------------------------------------ */

struct options {
	bool json, list, quick;
	long batch, reps, max_live;	/* -1: not given */
	bool wanted[NR_GROUPS];
};

#define STR(x)		#x
#define XSTR(x)		STR(x)

static const char usage[] =
	"Usage: estack-bench [OPTION...] [GROUP...]\n"
	"Groups: alloc breakdown grow shrink scale cpus (default: all).\n"
	"  -j, --json           JSON on stdout, with the case table\n"
	"                       (for tools/bench/report.py)\n"
	"  -b, --batch=N        operations per timed batch (default 2000)\n"
	"  -r, --repeats=N      timed batches per case (default 9, at most "
	XSTR(MAX_REPS) ")\n"
	"  -n, --max-live=N     largest number of live stacks in the scale\n"
	"                       group (default 1000000; levels 1000, 10000,\n"
	"                       100000, 1000000 up to N)\n"
	"  -q, --quick          a smoke run: -b 200 -r 3 -n 10000 unless given\n"
	"  -l, --list           print the case table (with -j, as JSON) and\n"
	"                       exit; needs no module\n"
	"  -h, --help           this text\n";

static int parse_count(const char *arg, long *val)
{
	char *end;

	errno = 0;
	*val = strtol(arg, &end, 0);
	return errno || end == arg || *end || *val < 0 || *val > INT_MAX ?
	       -1 : 0;
}

static int find_group(const char *name)
{
	unsigned int i;

	for (i = 0; i < NR_GROUPS; i++)
		if (!strcmp(name, groups[i]->name))
			return i;
	fprintf(stderr, "estack-bench: no group %s\n", name);
	return -1;
}

static int parse_groups(struct options *o, int argc, char **argv)
{
	unsigned int i;
	int g;

	for (i = 0; i < NR_GROUPS; i++)
		o->wanted[i] = optind == argc;
	for (; optind < argc; optind++) {
		g = find_group(argv[optind]);
		if (g < 0)
			return -1;
		o->wanted[g] = true;
	}
	return 0;
}

static int parse_options(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "batch", required_argument, NULL, 'b' },
		{ "repeats", required_argument, NULL, 'r' },
		{ "max-live", required_argument, NULL, 'n' },
		{ "quick", no_argument, NULL, 'q' },
		{ "list", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	int opt, bad = 0;

	*o = (struct options){ .batch = -1, .reps = -1, .max_live = -1 };
	while ((opt = getopt_long(argc, argv, "jb:r:n:qlh", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'j':
			o->json = true;
			break;
		case 'b':
			bad |= parse_count(optarg, &o->batch);
			break;
		case 'r':
			bad |= parse_count(optarg, &o->reps);
			break;
		case 'n':
			bad |= parse_count(optarg, &o->max_live);
			break;
		case 'q':
			o->quick = true;
			break;
		case 'l':
			o->list = true;
			break;
		case 'h':
			exit(es_usage(usage, 0));
		default:
			es_usage(usage, 2);
			return -1;
		}
	}
	if (bad) {
		fprintf(stderr, "estack-bench: bad -b, -r or -n\n");
		return -1;
	}
	return parse_groups(o, argc, argv);
}

/* Apply the defaults (or --quick's) to what the command line left out. */
static int apply_options(struct bench *b, const struct options *o)
{
	b->batch = o->batch >= 0 ? o->batch : o->quick ? 200 : 2000;
	b->reps = o->reps >= 0 ? o->reps : o->quick ? 3 : 9;
	b->max_live = o->max_live >= 0 ? o->max_live :
		      o->quick ? 10000 : 1000000;
	if (!b->batch || !b->reps || b->reps > MAX_REPS || b->max_live < 1000) {
		fprintf(stderr, "estack-bench: bad -b, -r or -n\n");
		return -1;
	}
	return 0;
}

/*
 * Fail early, with a clear message, when the module is not loaded; and
 * take the module's page size from the handshake.
 */
static int check_device(struct bench *b)
{
	int fd = es_open_verbose("estack-bench");
	long page;

	if (fd < 0)
		return -1;
	page = es_page_size(fd);
	close(fd);
	if (page < 0) {
		fprintf(stderr, "estack-bench: API handshake: %s\n",
			strerror(-page));
		return -1;
	}
	b->page = page;
	return 0;
}

int main(int argc, char **argv)
{
	struct bench b = { };
	struct options o;
	unsigned int i;

	if (parse_options(&o, argc, argv) || apply_options(&b, &o))
		return 2;
	for (i = 0; i < NR_GROUPS; i++)
		groups[i]->describe(&b.table);
	if (o.list) {
		if (o.json)
			table_print_json(stdout, &b, groups, NR_GROUPS, false);
		else
			table_print_cases(stdout, &b.table);
		return 0;
	}
	if (check_device(&b))
		return 1;
	for (i = 0; i < NR_GROUPS; i++) {
		if (!o.wanted[i])
			continue;
		fprintf(stderr, "estack-bench: %s\n", groups[i]->name);
		groups[i]->run(&b);
	}
	if (o.json)
		table_print_json(stdout, &b, groups, NR_GROUPS, true);
	else
		table_print_results(stdout, &b.table);
	return 0;
}
