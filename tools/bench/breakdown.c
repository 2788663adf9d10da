// SPDX-License-Identifier: GPL-2.0
/*
 * estack-bench, group breakdown: where the time of an 8 KiB ALLOC + FREE
 * goes. The same loop as the alloc group's, with the module's layers turned
 * off one by one through its parameters (mapped cache, per-CPU cache,
 * pools, statistics); needs root.
 *
 * State: the parameters as found, restored after each layer, and a
 * struct stack_env on a file opened fresh for each layer, so that a layer
 * starts with nothing cached in its file.
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

struct breakdown_state {
	char saved[NR_PARAMS][32];
	struct stack_env env;
};

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

/* The rows of the page; the floor is the alloc group's getppid pair. */
#define KEY(name)	GROUP "/" name "/8"
#define GETPPID2	"alloc/getppid2/0"

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

/* Set the layer's parameters, then open the file it runs on; 0 or errno. */
static int layer_enter(struct breakdown_state *s, const struct layer *l)
{
	unsigned int i;
	int err;

	s->env.dev = -1;
	for (i = 0; i < NR_PARAMS; i++) {
		err = l->set[i] ? es_write_param(params[i], l->set[i]) : 0;
		if (err)
			return err;
	}
	s->env.dev = es_open();
	return s->env.dev < 0 ? errno : 0;
}

static void breakdown_run(struct bench *b)
{
	struct breakdown_state s = {
		.env = { .size = KIB_8 * KIB, .page = b->page },
	};
	unsigned int i;
	int err = params_save(&s);

	if (err) {
		fprintf(stderr,
			"estack-bench: cannot read %s: no breakdown (%s)\n",
			PARAM_DIR, strerror(err));
		return;
	}
	for (i = 0; i < ARRAY_SIZE(layers); i++) {
		const struct layer *l = &layers[i];
		struct bench_case c = {
			.op = l->op ? l->op : stack_estack.once,
		};
		struct bench_id id = BENCH_ID(GROUP, l->name, KIB_8);

		err = layer_enter(&s, l);
		if (err)
			bench_fail(b, id, err);
		else
			bench_run(b, id, &c, &s.env, b->batch);
		/* Its arena stays mapped, and the file with it. */
		if (s.env.dev >= 0)
			close(s.env.dev);
		params_restore(&s);
	}
}

const struct bench_group breakdown_group = {
	.name = GROUP,
	.title = "Where the time of an 8 KiB ALLOC + FREE goes",
	.intro =
		"The same loop with the module's layers turned off one by one (module parameters mapped_cache, cache_budget, pool_reserve, stats).",
	.describe = breakdown_describe,
	.run = breakdown_run,
};
