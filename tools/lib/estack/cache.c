// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * libestack's caches of free stacks, after Go's mcache.stackcache.
 *
 * Copyright (C) 2026 The estack authors
 *
 * Each thread has a cache per pool, per power-of-two class from a page to
 * 64 KiB: at most 32 stacks and 256 KiB per class. An empty class is
 * refilled, and a full one drained, by half that bound at a time, from and
 * to the pool's central list of the class. The central lists hold at most
 * 4 MiB per pool; what does not fit, and what stayed there unused for more
 * than a second, goes back to the backend on the next drain or trim. A
 * cache hit takes no lock: the entry is the thread's. A thread's cache is
 * drained when the thread exits (the pthread key's destructor), and
 * estack_pool_trim() bumps the pool's generation so that every other
 * thread empties its cache on its next call.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define ES_CHUNK	16	/* stacks per backend call: a refill */

__thread struct es_hint es_hint __attribute__((tls_model("initial-exec")));

/* Give @nr entries (and their stacks) back to the backend. */
void es_backend_free_idx(struct estack_pool *pool, const uint32_t *idx,
			 unsigned int nr)
{
	struct es_raw raw[ES_CHUNK];
	unsigned int i, n;

	while (nr) {
		n = nr < ES_CHUNK ? nr : ES_CHUNK;
		es_lock(pool);
		for (i = 0; i < n; i++) {
			struct es_entry *e = es_dir_get(pool, idx[i]);

			raw[i].lo = e->lo;
			raw[i].hi = e->hi;
			raw[i].kid = e->kid;
			es_dir_remove(pool, idx[i]);
		}
		es_unlock(pool);
		es_backend_free(pool, raw, n);
		idx += n;
		nr -= n;
	}
}

/*
 * Up to @nr (at most ES_CHUNK) new stacks of @size from the backend, with
 * their entries (cached, fresh): how many, or -errno for none.
 */
int es_backend_alloc_idx(struct estack_pool *pool, size_t size,
			 uint32_t *idx, unsigned int nr)
{
	struct es_raw raw[ES_CHUNK];
	int got, i, ret = 0;

	if (nr > ES_CHUNK)
		nr = ES_CHUNK;
	got = es_backend_alloc(pool, size, raw, nr);
	if (got <= 0)
		return got;
	es_lock(pool);
	for (i = 0; i < got; i++) {
		ret = es_dir_add(pool, &raw[i], &idx[i]);
		if (ret)
			break;
	}
	es_unlock(pool);
	if (i < got)
		es_backend_free(pool, &raw[i], got - i);
	return i ? i : ret;
}

/*
 * Central lists, pool->lock held: take from the newest end, put at it;
 * the oldest are at index 0.
 */
static unsigned int es_central_take(struct estack_pool *pool, int cls,
				    uint32_t *idx, unsigned int nr)
{
	struct es_central *c = &pool->central[cls];
	unsigned int n = 0;

	while (n < nr && c->count) {
		idx[n++] = c->idx[--c->count];
		pool->central_bytes -= es_class_size(pool, cls);
	}
	return n;
}

/* Drop the oldest @n entries of class @cls into @out. pool->lock. */
static void es_central_drop_oldest(struct estack_pool *pool, int cls,
				   unsigned int n, uint32_t *out)
{
	struct es_central *c = &pool->central[cls];

	memcpy(out, c->idx, n * sizeof(*out));
	memmove(c->idx, c->idx + n, (c->count - n) * sizeof(*out));
	c->count -= n;
	pool->central_bytes -= n * es_class_size(pool, cls);
}

/*
 * Whether an entry put on a central list at put_ns has been idle for more
 * than ES_IDLE_NS at @now. The caller read the clock before it took the
 * lock, and another thread may have put the entry after that with a later
 * reading: such an entry is new, not idle for some 584 years.
 */
static bool es_idle(uint64_t now, const struct es_entry *e)
{
	return now > e->put_ns && now - e->put_ns > ES_IDLE_NS;
}

/*
 * What the central lists should give back: entries idle for more than a
 * second (@all: every entry), then the oldest while over the bound. Works
 * in chunks so that the lock is not held across the backend's calls.
 */
static void es_central_release(struct estack_pool *pool, bool all)
{
	uint32_t out[ES_CHUNK];
	uint64_t now = es_now_ns();
	unsigned int n;
	int cls;

	for (;;) {
		n = 0;
		es_lock(pool);
		for (cls = 0; cls < ES_NR_CLASSES && !n; cls++) {
			struct es_central *c = &pool->central[cls];

			while (n < c->count && n < ES_CHUNK &&
			       (all || pool->central_bytes -
				n * es_class_size(pool, cls) >
				ES_CENTRAL_MAX_BYTES ||
				es_idle(now, es_dir_get(pool, c->idx[n]))))
				n++;
			if (n)
				es_central_drop_oldest(pool, cls, n, out);
		}
		es_unlock(pool);
		if (!n)
			return;
		es_backend_free_idx(pool, out, n);
	}
}

static void es_central_put(struct estack_pool *pool, int cls,
			   const uint32_t *idx, unsigned int nr)
{
	struct es_central *c = &pool->central[cls];
	uint32_t over[ES_TCACHE_MAX_STACKS];
	uint64_t now = es_now_ns();
	unsigned int i, n_over = 0;

	es_lock(pool);
	for (i = 0; i < nr; i++) {
		if (c->count == c->cap) {
			over[n_over++] = idx[i];
			continue;
		}
		es_dir_get(pool, idx[i])->put_ns = now;
		c->idx[c->count++] = idx[i];
		pool->central_bytes += es_class_size(pool, cls);
	}
	es_unlock(pool);
	if (n_over)
		es_backend_free_idx(pool, over, n_over);
	es_central_release(pool, false);
}

/* Empty a thread's cache into the backend (trim) or the central lists. */
static void es_tcache_drain(struct estack_pool *pool, struct es_tcache *tc,
			    bool backend)
{
	int cls;

	for (cls = 0; cls < ES_NR_CLASSES; cls++) {
		if (!tc->count[cls])
			continue;
		if (backend)
			es_backend_free_idx(pool, tc->stack[cls],
					    tc->count[cls]);
		else
			es_central_put(pool, cls, tc->stack[cls],
				       tc->count[cls]);
		tc->count[cls] = 0;
	}
}

/*
 * Every thread's caches, of all the pools it used, hang off one key that is
 * never deleted. A key per pool would be deleted at its close, but
 * pthread_key_delete() does not wait for a destructor that already runs:
 * a thread whose last call into the pool had returned, still exiting,
 * would drain into a pool that the close frees. es_pools_lock orders the
 * two instead: the destructor drains the caches whose pools are open, and
 * a close orphans the pool's caches (tc->pool = NULL), which their threads
 * free, at exit or when they make their next cache.
 */
static pthread_key_t es_tc_key;
static pthread_once_t es_tc_key_once = PTHREAD_ONCE_INIT;
static int es_tc_key_err;

/* Unlink @tc from its pool's list and free it. es_pools_lock held. */
static void es_tcache_release(struct es_tcache *tc)
{
	struct estack_pool *pool = __atomic_load_n(&tc->pool, __ATOMIC_RELAXED);

	if (es_hint.tc == tc)
		es_hint = (struct es_hint){ NULL, 0, NULL };
	if (pool) {
		if (tc->epoch == pool->epoch)
			es_tcache_drain(pool, tc, false);
		es_lock(pool);
		if (tc->prev)
			tc->prev->next = tc->next;
		else
			pool->tcaches = tc->next;
		if (tc->next)
			tc->next->prev = tc->prev;
		es_unlock(pool);
	}
	free(tc);
}

/* The thread is exiting: @arg is the first of its caches. */
static void es_tcache_dtor(void *arg)
{
	struct es_tcache *tc, *next;

	es_pools_lock_take();
	for (tc = arg; tc; tc = next) {
		next = tc->tnext;
		es_tcache_release(tc);
	}
	es_pools_lock_give();
}

static void es_tc_key_make(void)
{
	es_tc_key_err = pthread_key_create(&es_tc_key, es_tcache_dtor);
}

/*
 * The calling thread's cache of @pool, if it has one; moved to the front
 * of the thread's list (only the thread changes it), so that a thread
 * that uses a few pools out of many finds them first.
 */
static struct es_tcache *es_tcache_lookup(const struct estack_pool *pool)
{
	struct es_tcache *head, *tc, **link;

	if (es_tc_key_err)
		return NULL;
	head = pthread_getspecific(es_tc_key);
	for (link = &head; (tc = *link); link = &tc->tnext) {
		if (__atomic_load_n(&tc->pool, __ATOMIC_RELAXED) != pool)
			continue;
		if (tc != head && !pthread_setspecific(es_tc_key, tc)) {
			*link = tc->tnext;
			tc->tnext = head;
		}
		return tc;
	}
	return NULL;
}

/*
 * Link @tc first in the calling thread's caches, freeing on the way those
 * that closes orphaned. es_pools_lock held. 0 or -errno.
 */
static int es_tcache_link(struct es_tcache *tc)
{
	struct es_tcache **link = &tc->tnext, *old;
	int ret;

	if (es_tc_key_err)
		return -es_tc_key_err;
	tc->tnext = pthread_getspecific(es_tc_key);
	while ((old = *link)) {
		if (__atomic_load_n(&old->pool, __ATOMIC_RELAXED)) {
			link = &old->tnext;
			continue;
		}
		*link = old->tnext;
		es_tcache_release(old);
	}
	ret = pthread_setspecific(es_tc_key, tc);
	if (ret) {
		/* The old list, pruned, stays the key's. */
		pthread_setspecific(es_tc_key, tc->tnext);
		return -ret;
	}
	return 0;
}

/* The calling thread's cache, made on first use; NULL without memory. */
static struct es_tcache *es_tcache_find(struct estack_pool *pool)
{
	struct es_tcache *tc = es_tcache_lookup(pool);
	uint32_t gen = __atomic_load_n(&pool->gen, __ATOMIC_ACQUIRE);

	if (tc) {
		if (tc->epoch != pool->epoch) {	/* a fork's child */
			memset(tc->count, 0, sizeof(tc->count));
			tc->epoch = pool->epoch;
		}
		if (tc->gen != gen) {		/* a trim elsewhere */
			es_tcache_drain(pool, tc, true);
			tc->gen = gen;
		}
		return tc;
	}
	tc = calloc(1, sizeof(*tc));
	if (!tc)
		return NULL;
	tc->pool = pool;
	tc->gen = gen;
	tc->epoch = pool->epoch;
	es_pools_lock_take();
	if (es_tcache_link(tc)) {
		es_pools_lock_give();
		free(tc);
		return NULL;
	}
	es_lock(pool);
	tc->next = pool->tcaches;
	if (tc->next)
		tc->next->prev = tc;
	pool->tcaches = tc;
	es_unlock(pool);
	es_pools_lock_give();
	return tc;
}

/* es_tcache_find(), remembered in the thread's hint for the fast path. */
struct es_tcache *es_tcache_get(struct estack_pool *pool)
{
	struct es_tcache *tc = es_tcache_fast(pool);
	uint64_t stamp;

	if (tc)
		return tc;
	/*
	 * The stamp before the catch-up: a trim that bumps the generation
	 * after this load also changes the stamp, and the next call comes
	 * back here; one before it is seen by es_tcache_find() (acquire).
	 */
	stamp = __atomic_load_n(&pool->stamp, __ATOMIC_ACQUIRE);
	tc = es_tcache_find(pool);
	if (tc)
		es_hint = (struct es_hint){ pool, stamp, tc };
	return tc;
}

/* A stack of class @cls: its entry, cached. */
int es_cache_get(struct estack_pool *pool, int cls, uint32_t *idx)
{
	size_t size = es_class_size(pool, cls);
	struct es_tcache *tc = es_tcache_get(pool);
	unsigned int want, got;
	int ret;

	if (!tc) {
		ret = es_backend_alloc_idx(pool, size, idx, 1);
		return ret < 0 ? ret : 0;
	}
	if (!tc->count[cls]) {
		want = es_tcache_bound(pool, cls) / 2;
		if (!want)
			want = 1;
		es_lock(pool);
		got = es_central_take(pool, cls, tc->stack[cls], want);
		es_unlock(pool);
		if (!got) {
			ret = es_backend_alloc_idx(pool, size, tc->stack[cls],
						   want);
			if (ret < 0)
				return ret;
			got = ret;
		}
		tc->count[cls] = got;
	}
	*idx = tc->stack[cls][--tc->count[cls]];
	return 0;
}

/*
 * estack_stack_alloc() of what the calling thread's cache does not hold
 * (or of a size no cache holds): out of line, so that the hit saves no
 * register and sets up no frame.
 */
int es_stack_alloc_miss(struct estack_pool *pool, size_t bytes,
			struct estack_stack *st)
{
	uint32_t idx;
	size_t size;
	int ret;

	ret = es_size_round(pool, bytes, &size);
	if (ret)
		return ret;
	ret = es_alloc_entry(pool, size, &idx);
	if (ret)
		return ret;
	return es_stack_hand(pool, idx, st);
}

/* A stack of class @cls back, its entry marked cached. */
void es_cache_put(struct estack_pool *pool, int cls, uint32_t idx)
{
	struct es_tcache *tc = es_tcache_get(pool);
	unsigned int bound = es_tcache_bound(pool, cls), half = bound / 2;

	if (!tc) {
		es_backend_free_idx(pool, &idx, 1);
		return;
	}
	if (tc->count[cls] >= bound) {
		if (!half)
			half = 1;
		/* The oldest half to the central list. */
		es_central_put(pool, cls, tc->stack[cls], half);
		memmove(tc->stack[cls], tc->stack[cls] + half,
			(tc->count[cls] - half) * sizeof(uint32_t));
		tc->count[cls] -= half;
	}
	tc->stack[cls][tc->count[cls]++] = idx;
}

void es_cache_trim(struct estack_pool *pool)
{
	struct es_tcache *tc;

	/*
	 * Under the lock, so that two trims' stamps land in the order of
	 * their generations: a thread that reads the last stamp reads the
	 * last generation after it (es_tcache_get()).
	 */
	es_lock(pool);
	__atomic_add_fetch(&pool->gen, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&pool->stamp, es_stamp_next(), __ATOMIC_RELEASE);
	es_unlock(pool);
	tc = es_tcache_lookup(pool);
	if (tc) {
		if (tc->epoch == pool->epoch)
			es_tcache_drain(pool, tc, true);
		tc->gen = __atomic_load_n(&pool->gen, __ATOMIC_ACQUIRE);
	}
	es_central_release(pool, true);
}

int es_cache_init(struct estack_pool *pool)
{
	int cls;

	for (cls = 0; cls < ES_NR_CLASSES; cls++) {
		size_t size = es_class_size(pool, cls);
		struct es_central *c = &pool->central[cls];

		if (size > ES_CACHE_MAX_SIZE)
			break;
		c->cap = ES_CENTRAL_MAX_BYTES / size;
		c->idx = calloc(c->cap, sizeof(*c->idx));
		if (!c->idx)
			return -ENOMEM;
	}
	/*
	 * Without the key (the process used up its keys) the pool works
	 * without per-thread caches: every stack goes through the central
	 * lists' backend calls (es_tcache_lookup() and es_tcache_link() see
	 * es_tc_key_err).
	 */
	pthread_once(&es_tc_key_once, es_tc_key_make);
	return 0;
}

/*
 * At close, es_pools_lock held: the threads' caches of the pool are
 * orphaned, for their threads to free (their stacks are the directory's).
 * A thread exiting now has drained its cache already, or finds it orphaned.
 */
void es_cache_orphan(struct estack_pool *pool)
{
	struct es_tcache *tc;

	for (tc = pool->tcaches; tc; tc = tc->next)
		__atomic_store_n(&tc->pool, NULL, __ATOMIC_RELAXED);
	pool->tcaches = NULL;
}

/* At close, or a failed open: the central lists' memory. */
void es_cache_destroy(struct estack_pool *pool)
{
	int cls;

	for (cls = 0; cls < ES_NR_CLASSES; cls++) {
		free(pool->central[cls].idx);
		pool->central[cls].idx = NULL;
		pool->central[cls].count = 0;
	}
	pool->central_bytes = 0;
}

/*
 * In a fork's child, pool->lock held: the other threads are gone, and with
 * them the use of their caches; the calling thread's is emptied (its
 * stacks are not in the child).
 */
void es_cache_fork_reset(struct estack_pool *pool)
{
	/*
	 * The one its key holds: a cache on the list with the same owner
	 * may be a dead thread's (one left after its destructors' last
	 * round), whose pthread_t glibc gave to this thread.
	 */
	struct es_tcache *tc, *next, *mine = es_tcache_lookup(pool);
	int cls;

	for (tc = pool->tcaches; tc; tc = next) {
		next = tc->next;
		if (tc != mine)
			free(tc);
	}
	if (mine) {
		memset(mine->count, 0, sizeof(mine->count));
		mine->prev = NULL;
		mine->next = NULL;
	}
	pool->tcaches = mine;
	for (cls = 0; cls < ES_NR_CLASSES; cls++)
		pool->central[cls].count = 0;
	pool->central_bytes = 0;
}
