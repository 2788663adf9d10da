// SPDX-License-Identifier: GPL-2.0
/*
 * estack-bench, group breakdown: where the time of an 8 KiB ALLOC + FREE
 * goes. The same loop as the alloc group's, with the module's layers turned
 * off one by one through its parameters (mapped cache, per-CPU cache,
 * pools, statistics); needs root.
 *
 * All layers run interleaved, one batch of each per repetition: a layer's
 * batch sets its parameters (untimed) and the parameters as found are
 * restored after it, so that "counters off / counters on" and the others
 * compare batches seconds apart, not minutes.
 *
 * State: the parameters as found, and for each layer a struct stack_env
 * on a file of its own, opened with the layer's parameters set, so that
 * a layer starts with nothing cached in its file.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define GROUP		"breakdown"
#define KIB_8		8

static const char *const params[] = {
	"mapped_cache", "cache_budget", "pool_reserve", "stats",
};

#define NR_PARAMS	ARRAY_SIZE(params)

/*
 * A layer: the value of each parameter (in the order of params[]; NULL
 * leaves it as found) and the loop timed.
 */
static const struct layer {
	const char *name;
	const char *set[NR_PARAMS];
	int (*op)(void *env, unsigned int i);
	const char *measures;
} layers[] = {
	{ "ioctl2", { }, stack_ioctl2_once,
	  "two ioctls that only copy in and out (ESTACK_IOC_API)" },
	{ "mapped-hit", { }, NULL,
	  "ALLOC, one store, FREE: a hit in the file's mapped cache" },
	{ "mapped-hit-untouched", { }, stack_estack_notouch_once,
	  "ALLOC and FREE with no store: nothing to clear" },
	{ "mapped-hit-nostats", { [3] = "N" }, NULL,
	  "as mapped-hit, with stats=N" },
	{ "cpu-cache-hit", { "0" }, NULL,
	  "as mapped-hit, with mapped_cache=0: a hit in the per-CPU cache" },
	{ "pool-refill", { "0", "0" }, NULL,
	  "as mapped-hit, with mapped_cache=0 cache_budget=0: from the global pool" },
	{ "page-allocator", { "0", "0", "0" }, NULL,
	  "as mapped-hit, with mapped_cache=0 cache_budget=0 pool_reserve=0: from the page allocator",
	},
};

#define NR_LAYERS	ARRAY_SIZE(layers)

struct breakdown_state;

/**
 * struct layer_ctx - what the batches of one layer work on
 * @s: the group's state
 * @l: the layer
 * @env: its stacks, on its own file
 */
struct layer_ctx {
	struct breakdown_state *s;
	const struct layer *l;
	struct stack_env env;
};

struct breakdown_state {
	char saved[NR_PARAMS][32];
	struct layer_ctx ctx[NR_LAYERS];
};

/* The rows of the page; the floor is the one timed next to each case. */
#define KEY(name)	GROUP "/" name "/8"
#define GETPPID2	FLOOR_PREFIX "getppid2"

static const struct {
	const char *name, *num, *less, *den, *reading;
} breakdown_ratios[] = {
	{ "two ioctls that do nothing / getppid pair",
	  KEY("ioctl2"), NULL, GETPPID2,
	  "the floor of any two estack calls: fd lookup, LSM hook, argument copies" },
	{ "mapped-cache hit / getppid pair", KEY("mapped-hit"), NULL, GETPPID2,
	  "the fast path: a freed stack still mapped, its touched page cleared" },
	{ "mapped-cache hit, nothing touched / getppid pair",
	  KEY("mapped-hit-untouched"), NULL, GETPPID2,
	  "the fast path when the previous user wrote nothing: no clearing at all" },
	{ "clearing the one touched page / getppid pair",
	  KEY("mapped-hit"), KEY("mapped-hit-untouched"), GETPPID2,
	  "what clearing a 4 KiB page costs, next to a null syscall" },
	{ "per-CPU cache hit / mapped-cache hit",
	  KEY("cpu-cache-hit"), NULL, KEY("mapped-hit"),
	  "the slow path from the per-CPU cache: clear, insert and zap both pages" },
	{ "pool refill / per-CPU cache hit",
	  KEY("pool-refill"), NULL, KEY("cpu-cache-hit"),
	  "per-CPU caches off: every stack comes from the global pool" },
	{ "page allocator / per-CPU cache hit",
	  KEY("page-allocator"), NULL, KEY("cpu-cache-hit"),
	  "caches and pools off: every stack comes from and goes back to the page allocator",
	},
	{ "counters off / counters on",
	  KEY("mapped-hit-nostats"), NULL, KEY("mapped-hit"),
	  "what the statistics cost on the fast path (1 = nothing)" },
};

static void breakdown_describe(struct bench_table *t)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(layers); i++)
		table_case(t, BENCH_ID(GROUP, layers[i].name, KIB_8),
			   "KiB stack", layers[i].measures);
	for (i = 0; i < ARRAY_SIZE(breakdown_ratios); i++)
		table_ratio(t, &(struct bench_ratio){
			.group = GROUP,
			.name = breakdown_ratios[i].name,
			.num = { breakdown_ratios[i].num },
			.less = breakdown_ratios[i].less,
			.den = { breakdown_ratios[i].den },
			.reading = breakdown_ratios[i].reading,
		});
}

/* The parameters as found, to come back to; 0 or the errno. */
static int params_save(struct breakdown_state *s)
{
	unsigned int i;
	int err;

	for (i = 0; i < NR_PARAMS; i++) {
		err = es_param_str(params[i], s->saved[i], sizeof(s->saved[i]));
		if (err)
			return err;
	}
	return 0;
}

static void params_restore(const struct breakdown_state *s)
{
	unsigned int i;
	int err;

	for (i = 0; i < NR_PARAMS; i++) {
		err = es_write_param(params[i], s->saved[i]);
		if (err)
			fprintf(stderr, "estack-bench: cannot restore %s: %s\n",
				params[i], strerror(err));
	}
}

/* Set the parameters of @l; 0 or the errno. */
static int layer_set(const struct layer *l)
{
	unsigned int i;
	int err;

	for (i = 0; i < NR_PARAMS; i++) {
		err = l->set[i] ? es_write_param(params[i], l->set[i]) : 0;
		if (err)
			return err;
	}
	return 0;
}

/* Untimed, before each batch of a layer: its parameters. */
static int layer_prep(void *ctx, unsigned int n)
{
	struct layer_ctx *c = ctx;

	errno = layer_set(c->l);
	return errno ? -1 : 0;
}

/* Untimed, after each batch of a layer: the parameters as found. */
static int layer_done(void *ctx, unsigned int n)
{
	struct layer_ctx *c = ctx;

	params_restore(c->s);
	return 0;
}

static int layer_op(void *ctx, unsigned int i)
{
	struct layer_ctx *c = ctx;

	return (c->l->op ? c->l->op : stack_estack.once)(&c->env, i);
}

/* Open the file of each layer with its parameters set; 0 or the errno. */
static int layers_open(struct breakdown_state *s, struct bench *b)
{
	unsigned int i;
	int err = 0;

	for (i = 0; i < NR_LAYERS; i++) {
		s->ctx[i] = (struct layer_ctx){
			.s = s, .l = &layers[i],
			.env = { .dev = -1, .size = KIB_8 * KIB,
				 .page = b->page },
		};
		err = layer_set(&layers[i]);
		if (!err) {
			s->ctx[i].env.dev = es_open();
			if (s->ctx[i].env.dev < 0)
				err = errno;
		}
		params_restore(s);
		if (err)
			return err;
	}
	return 0;
}

static void breakdown_run(struct bench *b)
{
	static const struct bench_case c = {
		.prep = layer_prep, .op = layer_op, .done = layer_done,
	};
	static struct breakdown_state s;
	struct bench_entry e[NR_LAYERS];
	unsigned int i;
	int err = params_save(&s);

	if (err) {
		fprintf(stderr,
			"estack-bench: cannot read %s: no breakdown (%s)\n",
			PARAM_DIR, strerror(err));
		return;
	}
	err = layers_open(&s, b);
	for (i = 0; i < NR_LAYERS; i++)
		e[i] = (struct bench_entry){
			.id = BENCH_ID(GROUP, layers[i].name, KIB_8),
			.c = &c, .ctx = &s.ctx[i], .n = b->batch,
		};
	if (err) {
		for (i = 0; i < NR_LAYERS; i++)
			bench_fail(b, e[i].id, err);
	} else {
		bench_run_set(b, e, NR_LAYERS);
	}
	/* Their arenas stay mapped, and the files with them. */
	for (i = 0; i < NR_LAYERS; i++)
		if (s.ctx[i].env.dev >= 0)
			close(s.ctx[i].env.dev);
}

const struct bench_group breakdown_group = {
	.name = GROUP,
	.title = "Where the time of an 8 KiB ALLOC + FREE goes",
	.intro =
		"The same loop with the module's layers turned off one by one (module parameters mapped_cache, cache_budget, pool_reserve, stats).",
	.describe = breakdown_describe,
	.run = breakdown_run,
};
