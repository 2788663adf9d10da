// SPDX-License-Identifier: GPL-2.0
/*
 * estack-bench, group scale: the cost of one 8 KiB FREE + ALLOC (or its
 * alternative) with 1 k, 10 k, 100 k and 1 M stacks of the same kind live
 * in the process; -n caps the levels.
 *
 * Each timed operation frees a stack picked at random among the live ones
 * and allocates its replacement, as a runtime whose fibers end in any
 * order does: FREE looks up an id anywhere in the file's tree and gives
 * back a slot anywhere in the arenas, so that the case measures the tree,
 * the slots and the pools at that size, not one stack cycling through the
 * mapped cache. The picks come from a fixed-seed generator, restarted for
 * each case: every kind and every run sees the same sequence.
 *
 * The levels of a kind are compared as every other ratio is, interleaved
 * (one batch at each level in turn, repetition by repetition), so that
 * "1 M live / 1 k live" is not a quotient of medians taken minutes apart.
 * For that all of a kind's levels are live at once, each in a process of
 * its own (struct scale_level): its own address space, VMAs and page
 * tables, and for estack its own file, tree and arenas, as if it were the
 * only one. The parent asks each for a batch over a pipe and times the
 * floors next to it, as for any case.
 *
 * Profiling: with ESTACK_BENCH_PERF_CTL naming the control FIFO of a
 * `perf record --delay=-1 --control=fifo:FIFO,ACK` that runs estack-bench, the
 * parent enables the events once every level of a kind is set up and
 * disables them before the levels give their stacks back, so that a
 * profile holds the timed replacements only; each level's process is
 * named scale-N (perf report --comms scale-N). make bench-profile does
 * this for PROFILE_CASES=scale/...
 *
 * State: a struct scale_state in each level's process.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define GROUP		"scale"

static const unsigned long levels[] = { 1000, 10000, 100000, 1000000 };

#define BASE		levels[0]
#define TOP		levels[ARRAY_SIZE(levels) - 1]

/* The target of the benchmark issue: estack at the top level. */
#define SCALE_TARGET	1.2

/* Any non-zero constant: the seed only has to be the same in every run. */
#define SCALE_SEED	0x9e3779b97f4a7c15ULL

/**
 * struct scale_state - the stacks kept live while a case runs
 * @env: the 8 KiB stacks, and the pool
 * @ids: the live estack stacks
 * @ptrs: the live stacks of the alternatives
 * @nr: how many of @ids or @ptrs are live
 * @rng: state of the generator of the picks
 */
struct scale_state {
	struct stack_env env;
	__u32 *ids;
	void **ptrs;
	unsigned long nr;
	uint64_t rng;
};

/*
 * The index of the next stack to replace, uniform in [0, @nr): xorshift64*
 * (Marsaglia, Vigna), scaled by a multiply rather than a division so that
 * the pick costs a few cycles next to the operation it selects for.
 */
static unsigned long scale_pick(struct scale_state *s)
{
	uint64_t x = s->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	s->rng = x;
	x *= 0x2545f4914f6cdd1dULL;
	return (unsigned long)(((x >> 32) * s->nr) >> 32);
}

/*
 * The stack in slot @j could not be given back or replaced: the case
 * fails. Drop it from the live ones (moving the last into its slot), so
 * that the teardown gives back exactly what it knows is live; one whose
 * FREE failed is reaped when the group closes its file.
 */
static int scale_lost(struct scale_state *s, unsigned long j)
{
	int err = errno;

	s->nr--;
	s->ids[j] = s->ids[s->nr];
	s->ptrs[j] = s->ptrs[s->nr];
	errno = err;
	return -1;
}

static int live_estack(struct scale_state *s, unsigned long n)
{
	struct estack_alloc a;
	unsigned long i;
	int err;

	for (i = 0; i < n; i++) {
		err = es_alloc(s->env.dev, s->env.size, &a);
		if (err)
			goto fail;
		touch((char *)(uintptr_t)(a.hi - 8));
		s->ids[i] = a.id;
	}
	return 0;
fail:
	/* The stacks stay charged to the user until freed: free them. */
	fprintf(stderr, "estack-bench: estack stack %lu: %s\n", i + 1,
		strerror(err));
	while (i--)
		es_free(s->env.dev, s->ids[i]);
	errno = err;
	return -1;
}

static void unlive_estack(struct scale_state *s, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		es_free(s->env.dev, s->ids[i]);
}

static int replace_estack(void *ctx, unsigned int i)
{
	struct scale_state *s = ctx;
	unsigned long j = scale_pick(s);
	struct estack_alloc a;

	if (timed_free(s->env.dev, s->ids[j]))
		return scale_lost(s, j);
	if (timed_alloc(s->env.dev, s->env.size, &a))
		return scale_lost(s, j);
	touch((char *)(uintptr_t)(a.hi - 8));
	s->ids[j] = a.id;
	return 0;
}

static int live_mmap(struct scale_state *s, unsigned long n, int guard)
{
	unsigned long page = guard ? s->env.page : 0;
	unsigned long len = s->env.size + page, i;
	char *p;

	for (i = 0; i < n; i++) {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (p == MAP_FAILED)
			goto fail;
		if (guard && mprotect(p, page, PROT_NONE)) {
			munmap(p, len);
			goto fail;
		}
		touch(p + len - 8);
		s->ptrs[i] = p;
	}
	return 0;
fail:
	fprintf(stderr, "estack-bench: mmap%s stack %lu: %s\n",
		guard ? "-guard" : "", i + 1, strerror(errno));
	while (i--)
		munmap(s->ptrs[i], len);
	return -1;
}

static void unlive_mmap(struct scale_state *s, unsigned long n, int guard)
{
	unsigned long len = s->env.size + (guard ? s->env.page : 0), i;

	for (i = 0; i < n; i++)
		munmap(s->ptrs[i], len);
}

static int replace_mmap(struct scale_state *s, int guard)
{
	unsigned long page = guard ? s->env.page : 0;
	unsigned long len = s->env.size + page;
	unsigned long j = scale_pick(s);
	char *p;

	if (munmap(s->ptrs[j], len))
		return scale_lost(s, j);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (p == MAP_FAILED)
		return scale_lost(s, j);
	if (guard && mprotect(p, page, PROT_NONE)) {
		munmap(p, len);
		return scale_lost(s, j);
	}
	touch(p + len - 8);
	s->ptrs[j] = p;
	return 0;
}

static int replace_mmap_guard(void *ctx, unsigned int i)
{
	return replace_mmap(ctx, 1);
}

static int replace_mmap_plain(void *ctx, unsigned int i)
{
	return replace_mmap(ctx, 0);
}

static int live_mmap_guard(struct scale_state *s, unsigned long n)
{
	return live_mmap(s, n, 1);
}

static void unlive_mmap_guard(struct scale_state *s, unsigned long n)
{
	unlive_mmap(s, n, 1);
}

static int live_mmap_plain(struct scale_state *s, unsigned long n)
{
	return live_mmap(s, n, 0);
}

static void unlive_mmap_plain(struct scale_state *s, unsigned long n)
{
	unlive_mmap(s, n, 0);
}

static int live_malloc(struct scale_state *s, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		s->ptrs[i] = malloc(s->env.size);
		if (!s->ptrs[i])
			return -1;
		touch((char *)s->ptrs[i] + s->env.size - 8);
	}
	return 0;
}

static void unlive_malloc(struct scale_state *s, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		free(s->ptrs[i]);
}

static int replace_malloc(void *ctx, unsigned int i)
{
	struct scale_state *s = ctx;
	unsigned long j = scale_pick(s);
	char *p;

	free(s->ptrs[j]);
	p = malloc(s->env.size);
	if (!p)
		return scale_lost(s, j);
	touch(p + s->env.size - 8);
	s->ptrs[j] = p;
	return 0;
}

/* The pool holds one stack more than are live, as when the loop took one. */
static int live_pool(struct scale_state *s, unsigned long n)
{
	unsigned long i;

	if (stack_pool_init(&s->env, n + 1))
		return -1;
	for (i = 0; i < n; i++) {
		s->ptrs[i] = stack_pool_get(&s->env);
		touch((char *)s->ptrs[i] + s->env.size - 8);
	}
	return 0;
}

static void unlive_pool(struct scale_state *s, unsigned long n)
{
	stack_pool_fini(&s->env);
}

static int replace_pool(void *ctx, unsigned int i)
{
	struct scale_state *s = ctx;
	unsigned long j = scale_pick(s);
	char *p;

	s->env.pool_free[s->env.pool_nr++] = s->ptrs[j];
	p = stack_pool_get(&s->env);
	touch(p + s->env.size - 8);
	s->ptrs[j] = p;
	return 0;
}

/**
 * struct scale_kind - one kind of stack in the group
 * @kind: its name and what it is
 * @setup: makes @n stacks live, untimed
 * @teardown: gives back the stacks still live, untimed
 * @replace: the timed operation: frees a random live stack, allocates
 *	its replacement and writes into its top page
 */
static const struct scale_kind {
	const struct stack_kind *kind;
	int (*setup)(struct scale_state *s, unsigned long n);
	void (*teardown)(struct scale_state *s, unsigned long n);
	int (*replace)(void *ctx, unsigned int i);
} scale_kinds[] = {
	{ &stack_estack, live_estack, unlive_estack, replace_estack },
	{ &stack_mmap_guard, live_mmap_guard, unlive_mmap_guard,
	  replace_mmap_guard },
	{ &stack_mmap, live_mmap_plain, unlive_mmap_plain, replace_mmap_plain },
	{ &stack_malloc, live_malloc, unlive_malloc, replace_malloc },
	{ &stack_pool, live_pool, unlive_pool, replace_pool },
};

/* estack side by side with these, at the lowest and the highest level. */
static const struct stack_kind *const side_by_side[] = {
	&stack_mmap_guard, &stack_malloc,
};

static void scale_ratio_growth(struct bench_table *t, const char *name,
			       unsigned long n)
{
	bool target = !strcmp(name, stack_estack.name) && n == TOP;

	table_ratio(t, &(struct bench_ratio){
		.group = GROUP,
		.name = xasprintf("%s: %lu live / %lu live", name, n, BASE),
		.num = { case_key(BENCH_ID(GROUP, name, n)) },
		.den = { case_key(BENCH_ID(GROUP, name, BASE)) },
		.reading = xasprintf("FREE+ALLOC of a random stack with %lu live, against %lu live",
				     n, BASE),
		.unmeasured = "fails: {error}",
		.op = target ? "<=" : NULL,
		.bound = SCALE_TARGET,
	});
}

static void scale_ratio_side(struct bench_table *t, const char *alt,
			     unsigned long n)
{
	table_ratio(t, &(struct bench_ratio){
		.group = GROUP,
		.name = xasprintf("estack / %s at %lu live", alt, n),
		.num = { case_key(BENCH_ID(GROUP, stack_estack.name, n)) },
		.den = { case_key(BENCH_ID(GROUP, alt, n)) },
		.reading = xasprintf("the two side by side at %lu live", n),
		.unmeasured = "not measured: {error}",
	});
}

/* What one timed operation does: with the kind, and the level. */
#define SCALE_MEASURES \
	"%s: one of %lu live 8 KiB stacks, picked at random, given back and replaced; one store into the new one's top page"

static void scale_describe(struct bench_table *t)
{
	const unsigned long ends[] = { BASE, TOP };
	unsigned int i, k;

	for (i = 0; i < ARRAY_SIZE(levels); i++)
		for (k = 0; k < ARRAY_SIZE(scale_kinds); k++) {
			const struct stack_kind *kind = scale_kinds[k].kind;

			table_case(t, BENCH_ID(GROUP, kind->name, levels[i]),
				   "stacks live",
				   xasprintf(SCALE_MEASURES, kind->what,
					     levels[i]));
		}
	for (k = 0; k < ARRAY_SIZE(scale_kinds); k++)
		for (i = 1; i < ARRAY_SIZE(levels); i++)
			scale_ratio_growth(t, scale_kinds[k].kind->name,
					   levels[i]);
	for (i = 0; i < ARRAY_SIZE(ends); i++)
		for (k = 0; k < ARRAY_SIZE(side_by_side); k++)
			scale_ratio_side(t, side_by_side[k]->name, ends[i]);
}

/**
 * struct scale_level - one level of one kind, live in a process of its own
 * @pid: the process, or 0 when it could not be started
 * @req: the parent's end of the pipe of requests (a batch size)
 * @rep: the parent's end of the pipe of replies (struct scale_reply)
 */
struct scale_level {
	pid_t pid;
	int req;
	int rep;
};

/**
 * struct scale_reply - what a level's process answers
 * @t: the time of one operation of the batch, in nanoseconds
 * @err: 0, or the errno of the setup or of the batch
 */
struct scale_reply {
	double t;
	int err;
};

static int scale_read(int fd, void *buf, size_t len)
{
	ssize_t r;

	do
		r = read(fd, buf, len);
	while (r < 0 && errno == EINTR);
	if (r == (ssize_t)len)
		return 0;
	/* A process that died (or answered half) ends the case. */
	errno = r < 0 ? errno : ECHILD;
	return -1;
}

static int scale_write(int fd, const void *buf, size_t len)
{
	ssize_t r;

	do
		r = write(fd, buf, len);
	while (r < 0 && errno == EINTR);
	if (r == (ssize_t)len)
		return 0;
	errno = r < 0 ? errno : EIO;
	return -1;
}

/*
 * The body of a level's process: make @n stacks of @k live, say whether
 * that worked, then time a batch of replacements for each request until
 * the parent closes the pipe, give everything back and exit: it never
 * returns.
 */
static void scale_serve(const struct scale_kind *k, unsigned long n,
			unsigned long page, int req, int rep)
{
	struct scale_state s = {
		.env = { .dev = -1, .size = 8 * KIB, .page = page },
	};
	struct bench_case c = { .op = k->replace };
	struct scale_reply r = { 0 };
	unsigned int batch;
	char comm[16];

	/* For perf report --comms: the level, not the parent's name. */
	snprintf(comm, sizeof(comm), "scale-%lu", n);
	prctl(PR_SET_NAME, comm);
	s.ids = calloc(n, sizeof(*s.ids));
	s.ptrs = calloc(n, sizeof(*s.ptrs));
	if (k->kind == &stack_estack)
		s.env.dev = es_open();
	if (!s.ids || !s.ptrs)
		r.err = ENOMEM;
	else if (k->kind == &stack_estack && s.env.dev < 0)
		r.err = errno;
	else if (k->setup(&s, n))
		r.err = errno ? errno : EIO;
	if (scale_write(rep, &r, sizeof(r)) || r.err)
		_exit(0);
	s.nr = n;
	s.rng = SCALE_SEED;
	while (!scale_read(req, &batch, sizeof(batch))) {
		r.t = bench_time_batch(&c, &s, batch);
		r.err = r.t < 0 ? (errno ? errno : EIO) : 0;
		if (scale_write(rep, &r, sizeof(r)))
			break;
	}
	k->teardown(&s, s.nr);
	/* _exit: the parent's buffered output is not the child's to flush. */
	_exit(0);
}

/* bench_case.batch of every level: ask its process for a batch. */
static double scale_batch(void *ctx, unsigned int n)
{
	struct scale_level *lv = ctx;
	struct scale_reply r;

	if (scale_write(lv->req, &n, sizeof(n)) ||
	    scale_read(lv->rep, &r, sizeof(r)))
		return -1;
	if (r.err) {
		errno = r.err;
		return -1;
	}
	return r.t;
}

/*
 * Start the process of level @i of @k, in @lv[@i]; on failure, say why in
 * errno. The setup is untimed and happens before any batch of the kind is
 * timed.
 */
static int scale_start(struct bench *b, const struct scale_kind *k,
		       struct scale_level *lv, unsigned int i)
{
	struct scale_level *me = &lv[i];
	struct scale_reply r;
	int req[2], rep[2];
	unsigned int j;

	me->pid = 0;
	if (pipe(req))
		return -1;
	if (pipe(rep)) {
		close(req[0]);
		close(req[1]);
		return -1;
	}
	fflush(NULL);
	me->pid = fork();
	if (me->pid < 0) {
		me->pid = 0;
		close(req[0]);
		close(req[1]);
		close(rep[0]);
		close(rep[1]);
		return -1;
	}
	if (!me->pid) {
		close(req[1]);
		close(rep[0]);
		/*
		 * The parent's ends of the levels started before: the parent
		 * closing one must be the last close, which that level's
		 * process sees as the end.
		 */
		for (j = 0; j < i; j++) {
			if (lv[j].pid) {
				close(lv[j].req);
				close(lv[j].rep);
			}
		}
		scale_serve(k, levels[i], b->page, req[0], rep[1]);
	}
	close(req[0]);
	close(rep[1]);
	me->req = req[1];
	me->rep = rep[0];
	if (scale_read(me->rep, &r, sizeof(r)))
		return -1;
	if (r.err) {
		errno = r.err;
		return -1;
	}
	return 0;
}

/* Close the pipes: the process gives its stacks back and exits. */
static void scale_stop(struct scale_level *lv)
{
	if (!lv->pid)
		return;
	close(lv->req);
	close(lv->rep);
	while (waitpid(lv->pid, NULL, 0) < 0 && errno == EINTR)
		;
	lv->pid = 0;
}

/* Every level of @k up to @most, live at once, timed as one set. */
static void scale_kind(struct bench *b, const struct scale_kind *k,
		       unsigned long most)
{
	static const struct bench_case remote = { .batch = scale_batch };
	struct scale_level lv[ARRAY_SIZE(levels)] = { };
	struct bench_entry e[ARRAY_SIZE(levels)];
	unsigned int i, nr = 0;

	for (i = 0; i < ARRAY_SIZE(levels) && levels[i] <= most; i++) {
		struct bench_id id = BENCH_ID(GROUP, k->kind->name, levels[i]);

		/* --only: no million stacks for a case that is not run. */
		if (b->only && !strstr(table_find(&b->table, id)->key, b->only))
			continue;
		if (scale_start(b, k, lv, i)) {
			bench_fail(b, id, errno);
			scale_stop(&lv[i]);
			continue;
		}
		e[nr++] = (struct bench_entry){
			.id = id, .c = &remote, .ctx = &lv[i], .n = b->batch,
		};
	}
	if (nr) {
		bench_perf_ctl("enable");
		bench_run_set(b, e, nr);
		bench_perf_ctl("disable");
	}
	for (i = 0; i < ARRAY_SIZE(levels); i++)
		scale_stop(&lv[i]);
}

/*
 * A million 8 KiB stacks are 8 GiB: above the default byte limits (a
 * quarter of RAM per file and per user). The group lifts them while it
 * runs, as an administrator would for such a load, and puts them back.
 */
static const char *const scale_limits[] = {
	"max_bytes_per_fd", "max_bytes_per_user",
};

static void scale_limits_set(char saved[][32], bool lift)
{
	unsigned int i;
	int err;

	for (i = 0; i < ARRAY_SIZE(scale_limits); i++) {
		if (lift) {
			err = es_param_str(scale_limits[i], saved[i], 32);
			if (!err)
				err = es_set_param(scale_limits[i], 1ULL << 40);
		} else {
			err = saved[i][0] ?
			      es_write_param(scale_limits[i], saved[i]) : 0;
		}
		if (err)
			fprintf(stderr, "estack-bench: %s %s: %s\n",
				lift ? "lift" : "restore", scale_limits[i],
				strerror(err));
	}
}

static void scale_run(struct bench *b)
{
	char saved[ARRAY_SIZE(scale_limits)][32] = { "" };
	struct sigaction ign = { .sa_handler = SIG_IGN }, was;
	unsigned long most = 0;
	unsigned int i, k;

	for (i = 0; i < ARRAY_SIZE(levels) && levels[i] <= b->max_live; i++)
		most = levels[i];
	if (access(DEV_PATH, F_OK))
		die("open /dev/estack");
	/* A level's process that died is an error of its case, not a signal. */
	sigaction(SIGPIPE, &ign, &was);
	scale_limits_set(saved, true);
	for (k = 0; k < ARRAY_SIZE(scale_kinds); k++)
		scale_kind(b, &scale_kinds[k], most);
	scale_limits_set(saved, false);
	sigaction(SIGPIPE, &was, NULL);
}

const struct bench_group scale_group = {
	.name = GROUP,
	.title = "Scale",
	.intro =
		"Cost of freeing one 8 KiB stack picked at random among many live in the process and allocating its replacement, with estack and with each alternative.",
	.describe = scale_describe,
	.run = scale_run,
};
