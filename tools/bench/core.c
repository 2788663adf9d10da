// SPDX-License-Identifier: GPL-2.0
/*
 * estack-bench: estack against what a fiber library would use instead,
 * side by side in one run.
 *
 * Groups of cases (see Documentation/mm/estack/benchmarks.rst for the
 * method):
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
 * Every case runs in batches, repeated; the cases that a ratio compares
 * run interleaved, as one set: each repetition runs one batch of each case
 * of the set in turn, so that the two sides of a ratio are timed seconds
 * apart, and the ratio is taken repetition by repetition. Before each
 * batch, the floors (a getppid() pair, two empty ioctls) are timed too,
 * so that a ratio against a floor uses the floor of the same repetition.
 * A case reports the median cost of one operation, the spread (min..max)
 * and each batch in order, in nanoseconds. The results go to stdout as
 * JSON (-j) or as a table. The JSON also carries the case table: every
 * case with what it measures, and every ratio that tools/bench/report.py
 * turns into a row of Documentation/mm/estack/benchmarks.rst (the median
 * of the per-repetition quotients and their spread), with its target. Progress
 * goes to stderr, one "[bench] group G: case I/N" line per set. Under QEMU
 * TCG absolute times mean little: only ratios of one run do.
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
#include <fcntl.h>
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
	if (!c->result.ran)
		b->done++;
	c->result.ran = true;
	return c;
}

/*
 * A new interleaved set of @nr cases: its number, and a progress line on
 * stderr (run.sh shows it while the VM runs).
 */
unsigned int bench_new_set(struct bench *b, unsigned int nr)
{
	unsigned int i, total = 0;

	for (i = 0; i < b->table.nr_cases; i++)
		total += b->group && !strcmp(b->table.cases[i].id.group,
					     b->group);
	if (nr == 1)
		fprintf(stderr, "[bench] group %s: case %u/%u\n", b->group,
			b->done + 1, total);
	else
		fprintf(stderr, "[bench] group %s: cases %u-%u/%u, interleaved\n",
			b->group, b->done + 1, b->done + nr, total);
	return ++b->nr_sets;
}

/*
 * The median and the spread of @n batches of @batch operations, and each
 * batch in the order it ran; @set as bench_new_set() gave it.
 */
void bench_record(struct bench *b, struct bench_id id, unsigned int set,
		  const double *t, unsigned int n, unsigned int batch)
{
	struct bench_result *r = &case_of(b, id)->result;
	double sorted[MAX_REPS];

	memcpy(r->t, t, n * sizeof(t[0]));
	memcpy(sorted, t, n * sizeof(t[0]));
	qsort(sorted, n, sizeof(sorted[0]), cmp_double);
	r->med = sorted[n / 2];
	r->min = sorted[0];
	r->max = sorted[n - 1];
	r->reps = n;
	r->batch = batch;
	r->set = set;
}

void bench_fail(struct bench *b, struct bench_id id, int err)
{
	struct bench_case_info *c = case_of(b, id);

	snprintf(c->result.error, sizeof(c->result.error), "%s",
		 strerror(err));
	fprintf(stderr, "estack-bench: %s: %s\n", c->key, c->result.error);
}

/*
 * Tell the perf record whose control FIFO ESTACK_BENCH_PERF_CTL names, if
 * any, to @cmd ("enable" or "disable"), and when ESTACK_BENCH_PERF_ACK
 * names its ack FIFO, wait until perf has done it. perf opens both FIFOs
 * read-write, so neither open blocks. A FIFO that cannot be used is said:
 * the profile would hold the setup too, or nothing.
 */
void bench_perf_ctl(const char *cmd)
{
	const char *path = getenv("ESTACK_BENCH_PERF_CTL");
	const char *ack = getenv("ESTACK_BENCH_PERF_ACK");
	char line[16];
	int fd, len;

	if (!path || !*path)
		return;
	len = snprintf(line, sizeof(line), "%s\n", cmd);
	fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || write(fd, line, len) != len)
		fprintf(stderr, "estack-bench: perf control %s: %s: %s\n",
			path, cmd, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (!ack || !*ack)
		return;
	fd = open(ack, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, line, sizeof(line)) <= 0)
		fprintf(stderr, "estack-bench: perf ack %s: %s: %s\n",
			ack, cmd, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/*
 * Set by bench_run_set() around the timed batches: with a perf control
 * FIFO, perf records only their operations, not the preparation, the
 * warm-up, the floors or the cleanup around them.
 */
static bool perf_timed;

/*
 * One batch of @n operations of @c: the time of one, in nanoseconds, or a
 * negative value with errno set.
 */
double bench_time_batch(const struct bench_case *c, void *ctx,
			unsigned int n)
{
	unsigned int i;
	double t0, t;

	if (c->batch)
		return c->batch(ctx, n);
	if (c->prep && c->prep(ctx, n))
		return -1;
	if (perf_timed)
		bench_perf_ctl("enable");
	t0 = now_ns();
	for (i = 0; i < n; i++)
		if (c->op(ctx, i))
			return -1;
	t = (now_ns() - t0) / n;
	if (perf_timed)
		bench_perf_ctl("disable");
	if (c->done && c->done(ctx, n))
		return -1;
	return t;
}

/* A quarter of a batch of each floor: enough to time, cheap next to it. */
static int time_floors(struct bench *b, double floor[][MAX_REPS],
		       unsigned int rep)
{
	static const struct bench_case floors[NR_FLOORS] = {
		[FLOOR_GETPPID2] = { .op = stack_getppid2_once },
		[FLOOR_IOCTL2] = { .op = stack_ioctl2_once },
	};
	struct stack_env env = { .dev = b->floor_dev };
	unsigned int f, n = b->batch / 4 ? b->batch / 4 : 1;

	for (f = 0; f < NR_FLOORS; f++) {
		floor[f][rep] = bench_time_batch(&floors[f], &env, n);
		if (floor[f][rep] < 0)
			return -1;
	}
	return 0;
}

#define MAX_SET		16

/*
 * Time the @nr cases of @e interleaved: each repetition runs one batch of
 * each case in turn, the floors just before each; the repetition after a
 * warm-up one are timed. A ratio of two cases of one set is then taken
 * repetition by repetition, over times a few seconds apart at most.
 */
void bench_run_set(struct bench *b, const struct bench_entry *e,
		   unsigned int nr)
{
	static double t[MAX_SET][MAX_REPS], floor[MAX_SET][NR_FLOORS][MAX_REPS];
	struct bench_entry only[MAX_SET];
	unsigned int set, rep, i, n;
	int err[MAX_SET] = { };
	double x;

	if (nr > MAX_SET) {
		fprintf(stderr, "estack-bench: a set of %u cases\n", nr);
		exit(1);
	}
	/* --only: the other cases are not run at all (not even prepared). */
	if (b->only) {
		for (i = n = 0; i < nr; i++)
			if (strstr(case_of(b, e[i].id)->key, b->only))
				only[n++] = e[i];
		if (!n)
			return;
		e = only;
		nr = n;
	}
	set = bench_new_set(b, nr);
	for (rep = 0; rep <= b->reps; rep++) {
		for (i = 0; i < nr; i++) {
			if (err[i])
				continue;
			if (rep && time_floors(b, floor[i], rep - 1)) {
				err[i] = errno;
				continue;
			}
			perf_timed = rep;
			x = bench_time_batch(e[i].c, e[i].ctx, e[i].n);
			perf_timed = false;
			if (x < 0)
				err[i] = errno ? errno : EIO;
			else if (rep)
				t[i][rep - 1] = x;
		}
	}
	for (i = 0; i < nr; i++) {
		struct bench_result *r;

		if (err[i]) {
			bench_fail(b, e[i].id, err[i]);
			continue;
		}
		bench_record(b, e[i].id, set, t[i], b->reps, e[i].n);
		r = &table_find(&b->table, e[i].id)->result;
		memcpy(r->floor, floor[i], sizeof(r->floor));
		r->has_floor = true;
	}
}

/* One case alone: a set of one, with its floors. */
void bench_run(struct bench *b, struct bench_id id, const struct bench_case *c,
	       void *ctx, unsigned int n)
{
	struct bench_entry e = { .id = id, .c = c, .ctx = ctx, .n = n };

	bench_run_set(b, &e, 1);
}

/* ---- command line ------------------------------------------------------ */

struct options {
	const char *only;
	bool json, list, quick;
	long batch, reps, max_live;	/* -1: not given */
	bool wanted[NR_GROUPS];
};

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
	"  -o, --only=TEXT      run only the cases whose key (GROUP/CASE/PARAM,\n"
	"                       as -l lists them) contains TEXT: a profile of\n"
	"                       one case (make bench-profile); the cpus\n"
	"                       group runs its threads together and ignores it\n"
	"  -l, --list           print the case table (with -j, as JSON) and\n"
	"                       exit; needs no module\n"
	"  -h, --help           this text\n"
	"Environment: ESTACK_BENCH_PERF_CTL=FIFO and ESTACK_BENCH_PERF_ACK=ACK,\n"
	"  the control and ack FIFOs of a perf record --delay=-1\n"
	"  --control=fifo:FIFO,ACK around estack-bench: perf is on only while\n"
	"  timed operations run (the scale group: once its levels are set up,\n"
	"  until they are timed; its processes are named scale-N).\n";

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
		{ "only", required_argument, NULL, 'o' },
		{ "list", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	int opt, bad = 0;

	*o = (struct options){ .batch = -1, .reps = -1, .max_live = -1 };
	while ((opt = getopt_long(argc, argv, "jb:r:n:qo:lh", longopts,
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
		case 'o':
			o->only = optarg;
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
	b->only = o->only;
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
	b.floor_dev = es_open();
	if (b.floor_dev < 0)
		die("open /dev/estack");
	for (i = 0; i < NR_GROUPS; i++) {
		if (!o.wanted[i])
			continue;
		fprintf(stderr, "[bench] group %s (%u of %u groups)\n",
			groups[i]->name, i + 1, (unsigned int)NR_GROUPS);
		b.group = groups[i]->name;
		b.done = 0;
		groups[i]->run(&b);
	}
	close(b.floor_dev);
	if (o.json)
		table_print_json(stdout, &b, groups, NR_GROUPS, true);
	else
		table_print_results(stdout, &b.table);
	return 0;
}
