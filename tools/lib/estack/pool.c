// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * libestack: pools and stacks, the public API.
 *
 * Copyright (C) 2026 The estack authors
 *
 * A pool picks its backend at open: /dev/estack (kernel.c) or the
 * library's own mapping (fallback.c). Stacks of a page to 64 KiB go
 * through the per-thread caches (cache.c) unless the pool was opened with
 * ESTACK_POOL_NO_CACHE; larger ones straight to the backend. GROW and
 * SHRINK check their arguments here, in the order of the uAPI, and then
 * ask the module or move the stack in user space (move.c).
 *
 * fork(): a pthread_atfork() handler takes every pool's lock before the
 * fork and, in the child, resets every pool: no stack of the parent's is
 * in the child (the module's arenas are VM_DONTCOPY, the fallback's
 * mapping MADV_DONTFORK), the fork epoch in every key changes so that the
 * parent's handles give -ENOENT, and a kernel-mode pool opens /dev/estack
 * again on its next call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static pthread_mutex_t es_pools_lock = PTHREAD_MUTEX_INITIALIZER;
static struct estack_pool *es_pools;
static pthread_once_t es_atfork_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t es_default_lock = PTHREAD_MUTEX_INITIALIZER;
static struct estack_pool *es_default;
static uint64_t es_stamp_last;	/* es_stamp_next() */

uint64_t es_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * The list of pools; with it, the caches' link to their pools (cache.c).
 * Taken before any pool's lock.
 */
void es_pools_lock_take(void)
{
	pthread_mutex_lock(&es_pools_lock);
}

void es_pools_lock_give(void)
{
	pthread_mutex_unlock(&es_pools_lock);
}

void es_lock(struct estack_pool *pool)
{
	pthread_mutex_lock(&pool->lock);
}

void es_unlock(struct estack_pool *pool)
{
	pthread_mutex_unlock(&pool->lock);
}

/* The size of a stack of @want bytes (0: the smallest), as the module's. */
int es_size_round(const struct estack_pool *pool, uint64_t want, size_t *size)
{
	uint64_t s;

	if (want > pool->max_stack || want > (1ULL << 63))
		return -EFBIG;
	if (want <= pool->min_stack)
		s = pool->min_stack;
	else
		s = 1ULL << (es_ilog2(want - 1) + 1);
	if (s > pool->max_stack)
		return -EFBIG;
	*size = s;
	return 0;
}

/*
 * A value no pool of the process had as its stamp before: es_hint's check
 * fails for every thread until it catches its cache up again.
 */
uint64_t es_stamp_next(void)
{
	return __atomic_add_fetch(&es_stamp_last, 1, __ATOMIC_RELAXED);
}

int es_backend_alloc(struct estack_pool *pool, size_t size,
		     struct es_raw *raw, unsigned int nr)
{
	if (pool->mode == ESTACK_MODE_KERNEL)
		return es_kern_alloc(pool, size, raw, nr);
	return es_fb_alloc(pool, size, raw, nr);
}

void es_backend_free(struct estack_pool *pool, const struct es_raw *raw,
		     unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		es_san_unpoison(raw[i].lo, raw[i].hi - raw[i].lo);
	if (pool->mode == ESTACK_MODE_KERNEL)
		es_kern_free(pool, raw, nr);
	else
		es_fb_free(pool, raw, nr);
}

/* A stack of @size (a class size or larger), its entry not yet live. */
int es_alloc_entry(struct estack_pool *pool, size_t size, uint32_t *idx)
{
	int cls = es_class_of(pool, size), ret;

	if (cls >= 0)
		return es_cache_get(pool, cls, idx);
	ret = es_backend_alloc_idx(pool, size, idx, 1);
	return ret < 0 ? ret : 0;
}

/* A stack the caller is done with: to the cache, or the backend. */
void es_release_entry(struct estack_pool *pool, uint32_t idx)
{
	struct es_entry *e = es_dir_at(pool, idx);
	int cls = es_class_of(pool, e->hi - e->lo);
	struct es_tcache *tc;

	es_entry_set_state(e, ES_CACHED, 0);
	es_san_unpoison(e->lo, e->hi - e->lo);
	if (cls < 0) {
		es_backend_free_idx(pool, &idx, 1);
		return;
	}
	/* The fast path: onto the calling thread's cache, with room. */
	tc = es_tcache_fast(pool);
	if (tc && tc->count[cls] < es_tcache_bound(pool, cls))
		tc->stack[cls][tc->count[cls]++] = idx;
	else
		es_cache_put(pool, cls, idx);
}

/* The live entry a handle names, or NULL: -ENOENT. */
static inline struct es_entry *es_lookup(struct estack_pool *pool,
					 const struct estack_stack *st,
					 uint32_t *idx)
{
	struct es_entry *e;

	*idx = (uint32_t)st->priv[1];
	e = es_dir_get(pool, *idx);
	if (!e || e->state != ES_LIVE || !st->priv[0] ||
	    e->key != st->priv[0] || e->lo != (uintptr_t)st->lo)
		return NULL;
	return e;
}

/*
 * fork() takes every lock of the library first, so that the child inherits
 * none of them held by a thread it does not have: the default pool's
 * (held across its first open), the list of pools, then each pool's.
 */
static void es_fork_prepare(void)
{
	struct estack_pool *p;

	pthread_mutex_lock(&es_default_lock);
	pthread_mutex_lock(&es_pools_lock);
	for (p = es_pools; p; p = p->next_pool)
		es_lock(p);
}

static void es_fork_parent(void)
{
	struct estack_pool *p;

	for (p = es_pools; p; p = p->next_pool)
		es_unlock(p);
	pthread_mutex_unlock(&es_pools_lock);
	pthread_mutex_unlock(&es_default_lock);
}

static void es_fork_child(void)
{
	struct estack_pool *p;

	for (p = es_pools; p; p = p->next_pool) {
		p->epoch++;
		__atomic_store_n(&p->stamp, es_stamp_next(), __ATOMIC_RELEASE);
		if (p->mode == ESTACK_MODE_KERNEL && p->fd >= 0) {
			/* The parent's file: EPERM here. Reopened on use. */
			close(p->fd);
			p->fd = -1;
		} else if (p->mode == ESTACK_MODE_FALLBACK) {
			es_fb_fork_reset(p);
		}
		es_cache_fork_reset(p);
		es_dir_reset(p);
		es_unlock(p);
	}
	pthread_mutex_unlock(&es_pools_lock);
	pthread_mutex_unlock(&es_default_lock);
}

static void es_atfork_register(void)
{
	pthread_atfork(es_fork_prepare, es_fork_parent, es_fork_child);
}

/* ESTACK_MAX_STACK: the fallback's largest stack, a power of two. */
static size_t es_env_max_stack(size_t page)
{
	const char *s = getenv("ESTACK_MAX_STACK");
	unsigned long long v;
	char *end;

	if (!s || !*s)
		return ES_DEFAULT_MAX_STACK;
	errno = 0;
	v = strtoull(s, &end, 0);
	switch (*end) {
	case 'k': case 'K':
		v <<= 10; end++; break;
	case 'm': case 'M':
		v <<= 20; end++; break;
	case 'g': case 'G':
		v <<= 30; end++; break;
	}
	if (errno || *end || v < page || v > (1ULL << 40) || (v & (v - 1)))
		return ES_DEFAULT_MAX_STACK;
	return (size_t)v;
}

static int es_pool_setup_fallback(struct estack_pool *pool)
{
	long page = sysconf(_SC_PAGESIZE);

	pool->mode = ESTACK_MODE_FALLBACK;
	pool->page = page > 0 ? (size_t)page : 4096;
	pool->guard = pool->page;
	pool->min_stack = pool->page;
	pool->max_stack = es_env_max_stack(pool->page);
	return es_fb_init(pool);
}

ES_EXPORT int estack_pool_open(struct estack_pool **poolp, unsigned int flags)
{
	const unsigned int known = ESTACK_POOL_FALLBACK |
		ESTACK_POOL_FORCE_FALLBACK | ESTACK_POOL_NO_CACHE;
	struct estack_pool *pool;
	int cls, ret;

	if (!poolp || (flags & ~known))
		return -EINVAL;
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	pool->flags = flags;
	pool->stamp = es_stamp_next();
	pool->fd = -1;
	pool->dir.free = ES_NO_ENTRY;
	ret = pthread_mutex_init(&pool->lock, NULL);
	if (ret) {
		free(pool);
		return -ret;
	}
	ret = -ENOENT;
	if (!(flags & ESTACK_POOL_FORCE_FALLBACK)) {
		ret = es_kern_open(pool);
		if (!ret)
			pool->mode = ESTACK_MODE_KERNEL;
	}
	if (ret && (flags & (ESTACK_POOL_FALLBACK | ESTACK_POOL_FORCE_FALLBACK)))
		ret = es_pool_setup_fallback(pool);
	if (ret)
		goto err;
	pool->min_shift = es_ilog2(pool->min_stack);
	for (cls = 0; cls < ES_NR_CLASSES; cls++) {
		/* At most 32 stacks and 256 KiB per class, at least one. */
		size_t b = ES_TCACHE_MAX_BYTES / es_class_size(pool, cls);

		if (b > ES_TCACHE_MAX_STACKS)
			b = ES_TCACHE_MAX_STACKS;
		pool->tcache_bound[cls] = b ? (unsigned int)b : 1;
		/* The largest class: within the pool's sizes and the caps. */
		if (!(flags & ESTACK_POOL_NO_CACHE) &&
		    es_class_size(pool, cls) <= ES_CACHE_MAX_SIZE &&
		    es_class_size(pool, cls) <= pool->max_stack)
			pool->cache_max = es_class_size(pool, cls);
	}
	ret = es_cache_init(pool);
	if (ret)
		goto err_backend;

	pthread_once(&es_atfork_once, es_atfork_register);
	pthread_mutex_lock(&es_pools_lock);
	pool->next_pool = es_pools;
	if (es_pools)
		es_pools->prev_pool = pool;
	es_pools = pool;
	pthread_mutex_unlock(&es_pools_lock);
	*poolp = pool;
	return 0;

err_backend:
	es_cache_destroy(pool);
	if (pool->mode == ESTACK_MODE_KERNEL)
		close(pool->fd);
	else
		es_fb_destroy(pool);
err:
	pthread_mutex_destroy(&pool->lock);
	free(pool);
	return ret;
}

/* Kernel mode, at close: FREE every stack the pool holds. */
static void es_kern_free_all(struct estack_pool *pool)
{
	struct es_raw raw[32];
	uint32_t i, n = pool->dir.nr;
	unsigned int k = 0;

	for (i = 0; i < n; i++) {
		struct es_entry *e = es_dir_get(pool, i);

		if (e->state == ES_FREE)
			continue;
		raw[k].lo = e->lo;
		raw[k].hi = e->hi;
		raw[k].kid = e->kid;
		if (++k == 32) {
			es_kern_free(pool, raw, k);
			k = 0;
		}
	}
	if (k)
		es_kern_free(pool, raw, k);
}

ES_EXPORT void estack_pool_close(struct estack_pool *pool)
{
	if (!pool)
		return;
	pthread_mutex_lock(&es_pools_lock);
	if (pool->prev_pool)
		pool->prev_pool->next_pool = pool->next_pool;
	else
		es_pools = pool->next_pool;
	if (pool->next_pool)
		pool->next_pool->prev_pool = pool->prev_pool;
	es_cache_orphan(pool);
	pthread_mutex_unlock(&es_pools_lock);

	es_cache_destroy(pool);
	if (pool->mode == ESTACK_MODE_KERNEL) {
		if (pool->fd >= 0) {
			es_kern_free_all(pool);
			close(pool->fd);
		}
	} else {
		es_fb_destroy(pool);
	}
	es_dir_destroy(pool);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}

ES_EXPORT int estack_pool_mode(const struct estack_pool *pool)
{
	return pool ? pool->mode : -EINVAL;
}

ES_EXPORT int estack_pool_trim(struct estack_pool *pool)
{
	if (!pool)
		return -EINVAL;
	es_cache_trim(pool);
	return 0;
}

ES_EXPORT struct estack_pool *estack_pool_default(void)
{
	struct estack_pool *pool = __atomic_load_n(&es_default,
						   __ATOMIC_ACQUIRE);

	if (pool)
		return pool;
	pthread_mutex_lock(&es_default_lock);
	if (!es_default && !estack_pool_open(&pool, ESTACK_POOL_FALLBACK))
		__atomic_store_n(&es_default, pool, __ATOMIC_RELEASE);
	pool = es_default;
	pthread_mutex_unlock(&es_default_lock);
	return pool;
}

ES_EXPORT int estack_pool_query(struct estack_pool *pool,
				struct estack_pool_info *info)
{
	if (!pool || !info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	if (pool->mode == ESTACK_MODE_KERNEL) {
		int fd = es_kern_fd(pool);

		if (fd < 0)
			return fd;
	}
	info->mode = pool->mode;
	info->page_size = (unsigned int)pool->page;
	info->guard_size = pool->guard;
	info->min_stack = pool->min_stack;
	info->max_stack = pool->max_stack;
	es_dir_count(pool, &info->live, &info->cached, &info->cached_bytes);
	return 0;
}

ES_EXPORT int estack_stack_alloc(struct estack_pool *pool, size_t bytes,
				 struct estack_stack *st)
{
	struct es_tcache *tc;
	int cls;

	if (!pool || !st)
		return -EINVAL;
	/*
	 * The fast path, Go's stackcache_alloc(): a stack of the size's
	 * class off the calling thread's cache.
	 */
	cls = es_class_of_bytes(pool, bytes);
	if (cls >= 0) {
		tc = es_tcache_fast(pool);
		if (tc && tc->count[cls])
			return es_stack_hand(pool,
					     tc->stack[cls][--tc->count[cls]],
					     st);
	}
	return es_stack_alloc_miss(pool, bytes, st);
}

ES_EXPORT int estack_stack_free(struct estack_pool *pool,
				struct estack_stack *st)
{
	struct es_tcache *tc;
	struct es_entry *e;
	uintptr_t sp, lo, hi;
	uint32_t idx;
	int cls;

	if (!pool || !st)
		return -EINVAL;
	e = es_lookup(pool, st, &idx);
	if (!e)
		return -ENOENT;
	lo = e->lo;
	hi = e->hi;
	sp = es_current_sp();
	if (sp >= lo && sp <= hi)
		return -EBUSY;
	es_vg_deregister((unsigned int)(st->priv[1] >> 32));
	st->priv[0] = 0;
	/* The fast path: onto the calling thread's cache, with room. */
	cls = es_class_of(pool, hi - lo);
	if (cls >= 0) {
		tc = es_tcache_fast(pool);
		if (tc && tc->count[cls] < es_tcache_bound(pool, cls)) {
			es_entry_set_state(e, ES_CACHED, 0);
			es_san_unpoison(lo, hi - lo);
			tc->stack[cls][tc->count[cls]++] = idx;
			return 0;
		}
	}
	es_release_entry(pool, idx);
	return 0;
}

/* Does [addr, addr + len) meet [lo, hi)? As the module's. */
static bool es_range_meets(uintptr_t addr, size_t len, uintptr_t lo,
			   uintptr_t hi)
{
	return len && addr < hi && (addr >= lo || lo - addr < len);
}

static int es_move(struct estack_pool *pool, struct estack_stack *st,
		   bool grow, size_t bytes, void **sp, void **fp,
		   void *const *slots, unsigned int nr_slots,
		   unsigned int flags)
{
	const unsigned int known = ESTACK_MOVE_ADJUST_FP |
				   ESTACK_MOVE_ADJUST_CONSERVATIVE;
	uintptr_t lo, hi, usp, csp;
	struct es_entry *e;
	size_t cur, size;
	uint32_t idx;
	int ret;

	if (!pool || !st || !sp || (flags & ~known) ||
	    nr_slots > ES_MAX_SLOTS || (nr_slots && !slots))
		return -EINVAL;
	e = es_lookup(pool, st, &idx);
	if (!e)
		return -ENOENT;
	lo = e->lo;
	hi = e->hi;
	cur = hi - lo;
	usp = (uintptr_t)*sp;
	if (usp < lo || usp > hi || (grow && bytes && bytes <= cur))
		return -EINVAL;
	csp = es_current_sp();
	if (csp >= lo && csp <= hi)
		return -EBUSY;
	/*
	 * Nor may what the move writes after it lie in the stack that moves
	 * (the module's rule for its struct): the handle, *sp and *fp would
	 * be written into the old stack, gone by then.
	 */
	if (es_range_meets((uintptr_t)slots, (size_t)nr_slots * sizeof(void *),
			   lo, hi) ||
	    es_range_meets((uintptr_t)st, sizeof(*st), lo, hi) ||
	    es_range_meets((uintptr_t)sp, sizeof(*sp), lo, hi) ||
	    (fp && es_range_meets((uintptr_t)fp, sizeof(*fp), lo, hi)))
		return -EINVAL;
	if (grow) {
		if (!bytes && cur > SIZE_MAX / 2)
			return -EFBIG;
		ret = es_size_round(pool, bytes ? bytes : 2 * cur, &size);
		if (ret)
			return ret;
	} else {
		/* Go's shrinkstack rule: less than a quarter in use. */
		if (hi - usp >= cur / 4 || cur / 2 < pool->min_stack)
			return 0;
		size = cur / 2;
	}
	if (!fp)
		flags &= ~ESTACK_MOVE_ADJUST_FP;
	/*
	 * Between two cached sizes the move is ours, as Go's copystack: the
	 * new stack comes off the thread's cache, the old one goes back, and
	 * no system call is made. Larger stacks (and every stack of a pool
	 * without caches) move in the module, with GROW and SHRINK.
	 */
	if (pool->mode == ESTACK_MODE_KERNEL) {
		ret = es_kern_move_check(pool, flags, nr_slots);
		if (ret)
			return ret;
	}
	if (pool->mode == ESTACK_MODE_KERNEL &&
	    (es_class_of(pool, cur) < 0 || es_class_of(pool, size) < 0))
		ret = es_kern_move(pool, e, grow, grow ? bytes : 0, sp, fp,
				   slots, nr_slots, flags);
	else
		ret = es_copy_move(pool, idx, size, sp, fp, slots, nr_slots,
				   flags);
	if (ret)
		return ret;
	if (e->lo != lo || e->hi != hi) {
		es_vg_deregister((unsigned int)(st->priv[1] >> 32));
		st->priv[1] = idx |
			(uint64_t)es_vg_register(e->lo, e->hi) << 32;
	}
	st->lo = (void *)e->lo;
	st->hi = (void *)e->hi;
	return 0;
}

ES_EXPORT int estack_stack_grow(struct estack_pool *pool,
				struct estack_stack *st, void **sp, void **fp,
				void *const *slot_addrs, unsigned int nr_slots,
				unsigned int flags)
{
	return es_move(pool, st, true, 0, sp, fp, slot_addrs, nr_slots, flags);
}

ES_EXPORT int estack_stack_grow_to(struct estack_pool *pool,
				   struct estack_stack *st, size_t bytes,
				   void **sp, void **fp,
				   void *const *slot_addrs,
				   unsigned int nr_slots, unsigned int flags)
{
	return es_move(pool, st, true, bytes, sp, fp, slot_addrs, nr_slots,
		       flags);
}

ES_EXPORT int estack_stack_shrink(struct estack_pool *pool,
				  struct estack_stack *st, void **sp,
				  void **fp, void *const *slot_addrs,
				  unsigned int nr_slots, unsigned int flags)
{
	return es_move(pool, st, false, 0, sp, fp, slot_addrs, nr_slots,
		       flags);
}
