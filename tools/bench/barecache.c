// SPDX-License-Identifier: GPL-2.0
/*
 * estack-bench: the least a library's per-thread stack cache can do, as a
 * yardstick for libestack's. The same calls (a pool, a size, a handle
 * filled in and handed back), out of line in a file of their own (built
 * without link-time optimisation, so that stack.c cannot inline them, as a
 * program cannot inline libestack's), and the same cache (per thread, per
 * size class, a LIFO of stacks), but no check beyond a null pointer: no
 * handle check (a stale or forged handle would be pushed as is), no
 * running-stack check, no directory that a signal handler could read, no
 * miss path. What it costs against the in-process pool is what the calls
 * and the cache cost by themselves; what libestack costs against it is
 * what its checks cost.
 *
 * State: one cache per thread, of one pool at a time (barecache_fill()
 * makes it the pool's, with the stacks it is given).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "bench.h"

#define BARE_CLASSES	8
#define BARE_DEPTH	32

struct bare_tcache {
	const struct bare_pool *pool;
	unsigned int count[BARE_CLASSES];
	char *lo[BARE_CLASSES][BARE_DEPTH];
};

static __thread struct bare_tcache bare_tc
	__attribute__((tls_model("initial-exec")));

static unsigned int bare_ilog2(uint64_t v)
{
	return 63 - __builtin_clzll(v);
}

/* The class of a stack of @size bytes, a power of two: -1 for none. */
static int bare_class(const struct bare_pool *pool, size_t size)
{
	if (size > pool->cache_max)
		return -1;
	return (int)bare_ilog2(size) - (int)pool->min_shift;
}

int barecache_alloc(struct bare_pool *pool, size_t bytes,
		    struct bare_stack *st)
{
	int cls;

	if (!pool || !st)
		return -EINVAL;
	if (bytes > pool->cache_max)
		return -ENOMEM;
	cls = bytes <= pool->min_stack ? 0 :
	      (int)bare_ilog2(bytes - 1) + 1 - (int)pool->min_shift;
	if (bare_tc.pool != pool || !bare_tc.count[cls])
		return -ENOMEM;
	/*
	 * A word per stack, its lo: a struct copied in and out would be
	 * one wide load of what two narrow stores just wrote, which store
	 * forwarding cannot serve (libestack's cache holds indexes, too).
	 */
	st->lo = bare_tc.lo[cls][--bare_tc.count[cls]];
	st->hi = (char *)st->lo + (pool->min_stack << cls);
	return 0;
}

int barecache_free(struct bare_pool *pool, struct bare_stack *st)
{
	int cls;

	if (!pool || !st)
		return -EINVAL;
	cls = bare_class(pool, (uintptr_t)st->hi - (uintptr_t)st->lo);
	if (cls < 0 || bare_tc.pool != pool ||
	    bare_tc.count[cls] >= BARE_DEPTH)
		return -ENOMEM;
	bare_tc.lo[cls][bare_tc.count[cls]++] = st->lo;
	return 0;
}

/*
 * Make the calling thread's cache @pool's, holding the @nr stacks of
 * @size bytes at @base (a power of two, at least min_stack).
 */
int barecache_fill(struct bare_pool *pool, char *base, size_t size,
		   unsigned int nr)
{
	int cls = bare_class(pool, size);
	unsigned int i;

	if (cls < 0 || nr > BARE_DEPTH)
		return -EINVAL;
	memset(&bare_tc, 0, sizeof(bare_tc));
	bare_tc.pool = pool;
	for (i = 0; i < nr; i++)
		bare_tc.lo[cls][i] = base + i * size;
	bare_tc.count[cls] = nr;
	return 0;
}

/* The calling thread's cache emptied, of no pool. */
void barecache_drain(void)
{
	memset(&bare_tc, 0, sizeof(bare_tc));
}
