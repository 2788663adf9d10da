/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libestack internals: the pool, its directory of stacks, the per-thread
 * caches and the two backends (/dev/estack and the fallback mapping).
 *
 * Copyright (C) 2026 The estack authors
 *
 * Every stack the pool holds, live or cached, has an entry in the pool's
 * directory (dir.c). A caller's struct estack_stack names its entry
 * (priv[1], low 32 bits) and the entry's key at the time of the alloc
 * (priv[0]: the pool's fork epoch and the entry's allocation count), so a
 * stale handle (freed, or the parent's after fork) is told apart: -ENOENT.
 * The valgrind stack id, when built with ESTACK_VALGRIND, is priv[1]'s high
 * 32 bits.
 *
 * Locking: pool->lock guards the central lists, the directory's free list
 * and its growth, the fallback backend's slots and the list of per-thread
 * caches. A live or cached-by-a-thread entry is changed only by the thread
 * that holds it, with no lock; estack_guard_hit() reads entries under a
 * sequence count, with no lock.
 */
#ifndef ESTACK_INTERNAL_H
#define ESTACK_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "estack.h"

#define ES_EXPORT	__attribute__((visibility("default")))

/* Per-thread cache classes: 4 KiB (a page) to 64 KiB, powers of two. */
#define ES_CACHE_MAX_SIZE	(64UL * 1024)
#define ES_NR_CLASSES		8	/* enough for pages down to 512 bytes */
#define ES_TCACHE_MAX_STACKS	32
#define ES_TCACHE_MAX_BYTES	(256UL * 1024)
#define ES_CENTRAL_MAX_BYTES	(4UL * 1024 * 1024)
#define ES_IDLE_NS		1000000000ULL

/* The module's default max_stack (kmod/params.c) and frame-walk bound. */
#define ES_DEFAULT_MAX_STACK	(1024UL * 1024 * 1024)
#define ES_MAX_FRAMES		1048576U
#define ES_MAX_SLOTS		4096U

/* Directory: chunks of entries, published once, freed at close. */
#define ES_DIR_CHUNK_SHIFT	12
#define ES_DIR_CHUNK		4096U	/* 1 << ES_DIR_CHUNK_SHIFT */
#define ES_DIR_CHUNKS		4096U
#define ES_NO_ENTRY		UINT32_MAX

enum es_state {
	ES_FREE,	/* no stack */
	ES_LIVE,	/* a caller's */
	ES_CACHED,	/* in a per-thread cache or a central list */
};

/**
 * struct es_entry - one stack the pool holds
 * @seq: even when stable, odd while the fields below change
 * @lo: lowest usable byte
 * @hi: one past the highest
 * @key: what a handle of the current allocation holds in priv[0]
 * @state: enum es_state
 * @gen: allocations of this entry (the low half of @key)
 * @kid: the module's id of the stack (kernel mode)
 * @next: central list or free list link (pool->lock)
 * @put_ns: when it went on a central list (pool->lock)
 * @fresh: every byte reads as zero: never handed out since the backend
 *	gave it (ALLOC clears it; a move then clears the new stack below
 *	the copy)
 */
struct es_entry {
	uint64_t seq;
	uintptr_t lo;
	uintptr_t hi;
	uint64_t key;
	uint32_t state;
	uint32_t gen;
	uint32_t kid;
	uint32_t next;
	uint64_t put_ns;
	bool fresh;
};

struct es_dir {
	struct es_entry *chunks[ES_DIR_CHUNKS];
	uint32_t nr;		/* entries published (atomic) */
	uint32_t free;		/* free list head (pool->lock) */
};

/* A stack as a backend hands it out. */
struct es_raw {
	uintptr_t lo;
	uintptr_t hi;
	uint32_t kid;
};

/* A central list: entry indexes, the oldest first. pool->lock. */
struct es_central {
	uint32_t *idx;
	uint32_t count;
	uint32_t cap;
};

/**
 * struct es_tcache - one thread's cache of one pool
 * @pool: the pool
 * @gen: the pool's trim generation last seen
 * @epoch: the pool's fork epoch when made
 * @count: stacks per class
 * @stack: entry indexes per class, a LIFO
 * @prev: link in pool->tcaches
 * @next: link in pool->tcaches
 * @tnext: the owner's next cache, of another pool
 *
 * @pool is NULL once its pool is closed (es_pools_lock); only the owner
 * frees the cache.
 */
struct es_tcache {
	struct estack_pool *pool;
	uint32_t gen;
	uint32_t epoch;
	uint32_t count[ES_NR_CLASSES];
	uint32_t stack[ES_NR_CLASSES][ES_TCACHE_MAX_STACKS];
	struct es_tcache *prev, *next;
	struct es_tcache *tnext;
};

/* The fallback backend's reservations. */
#define ES_FB_MAX_REGIONS	256
#define ES_FB_ORDERS		48

struct es_region {
	uintptr_t base;
	size_t len;
	size_t used;
};

struct es_fallback {
	struct es_region regions[ES_FB_MAX_REGIONS];
	unsigned int nr_regions;
	size_t region_size;
	bool mprotect_guards;
	/* freed slots per log2 size: their lo */
	uintptr_t *free[ES_FB_ORDERS];
	size_t nr_free[ES_FB_ORDERS];
	size_t cap_free[ES_FB_ORDERS];
};

struct estack_pool {
	int mode;
	unsigned int flags;
	int fd;			/* kernel mode; -1 after fork until reopened */
	uint64_t features;
	size_t page;
	size_t guard;
	size_t min_stack;
	size_t max_stack;
	unsigned int min_shift;
	size_t cache_max;	/* largest class the caches hold; 0: none */
	unsigned int tcache_bound[ES_NR_CLASSES];	/* es_tcache_bound() */
	uint64_t stamp;		/* es_hint's check (atomic): es_stamp_next() */
	uint32_t epoch;		/* fork epoch, in every key */
	uint32_t gen;		/* trim generation (atomic) */
	pthread_mutex_t lock;
	struct es_tcache *tcaches;
	struct es_central central[ES_NR_CLASSES];
	size_t central_bytes;
	struct es_dir dir;
	struct es_fallback fb;
	struct estack_pool *prev_pool, *next_pool;	/* es_pools_lock */
};

/* pool.c */
uint64_t es_now_ns(void);
int es_size_round(const struct estack_pool *pool, uint64_t want, size_t *size);
void es_lock(struct estack_pool *pool);
void es_unlock(struct estack_pool *pool);
uint64_t es_stamp_next(void);
int es_alloc_entry(struct estack_pool *pool, size_t size, uint32_t *idx);
void es_release_entry(struct estack_pool *pool, uint32_t idx);
void es_pools_lock_take(void);
void es_pools_lock_give(void);

/* dir.c */
int es_dir_add(struct estack_pool *pool, const struct es_raw *raw,
	       uint32_t *idx);
void es_dir_remove(struct estack_pool *pool, uint32_t idx);
void es_dir_reset(struct estack_pool *pool);
void es_dir_destroy(struct estack_pool *pool);
void es_dir_count(const struct estack_pool *pool, size_t *live,
		  size_t *cached, size_t *cached_bytes);

/* cache.c */
int es_cache_get(struct estack_pool *pool, int cls, uint32_t *idx);
void es_cache_put(struct estack_pool *pool, int cls, uint32_t idx);
int es_stack_alloc_miss(struct estack_pool *pool, size_t bytes,
			struct estack_stack *st);
struct es_tcache *es_tcache_get(struct estack_pool *pool);
void es_cache_trim(struct estack_pool *pool);
void es_cache_orphan(struct estack_pool *pool);
void es_cache_destroy(struct estack_pool *pool);
void es_cache_fork_reset(struct estack_pool *pool);
int es_cache_init(struct estack_pool *pool);

/* backend: kernel.c and fallback.c, chosen by pool->mode */
int es_backend_alloc(struct estack_pool *pool, size_t size,
		     struct es_raw *raw, unsigned int nr);
void es_backend_free(struct estack_pool *pool, const struct es_raw *raw,
		     unsigned int nr);
int es_backend_alloc_idx(struct estack_pool *pool, size_t size,
			 uint32_t *idx, unsigned int nr);
void es_backend_free_idx(struct estack_pool *pool, const uint32_t *idx,
			 unsigned int nr);

int es_kern_open(struct estack_pool *pool);
int es_kern_fd(struct estack_pool *pool);
int es_kern_alloc(struct estack_pool *pool, size_t size, struct es_raw *raw,
		  unsigned int nr);
void es_kern_free(struct estack_pool *pool, const struct es_raw *raw,
		  unsigned int nr);
int es_kern_move_check(const struct estack_pool *pool, unsigned int flags,
		       unsigned int nr_slots);
int es_kern_move(struct estack_pool *pool, struct es_entry *e, bool grow,
		 size_t bytes, void **sp, void **fp, void *const *slots,
		 unsigned int nr_slots, unsigned int flags);

int es_fb_init(struct estack_pool *pool);
void es_fb_destroy(struct estack_pool *pool);
void es_fb_fork_reset(struct estack_pool *pool);
int es_fb_alloc(struct estack_pool *pool, size_t size, struct es_raw *raw,
		unsigned int nr);
void es_fb_free(struct estack_pool *pool, const struct es_raw *raw,
		unsigned int nr);

/*
 * move.c: GROW and SHRINK by copy in user space: every move of the
 * fallback, and the kernel mode's between cached sizes
 */
int es_copy_move(struct estack_pool *pool, uint32_t idx, size_t new_size,
		 void **sp, void **fp, void *const *slots,
		 unsigned int nr_slots, unsigned int flags);

/* sanitizers and valgrind: no-ops unless built for them (debug.c) */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ES_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define ES_ASAN 1
#endif

#ifdef ES_ASAN
void es_san_unpoison(uintptr_t lo, size_t len);
#else
static inline void es_san_unpoison(uintptr_t lo, size_t len)
{
	(void)lo;
	(void)len;
}
#endif

#ifdef ESTACK_VALGRIND
unsigned int es_vg_register(uintptr_t lo, uintptr_t hi);
void es_vg_deregister(unsigned int id);
void es_vg_mem(uintptr_t lo, size_t len, bool defined);
#else
static inline void es_vg_mem(uintptr_t lo, size_t len, bool defined)
{
	(void)lo;
	(void)len;
	(void)defined;
}

static inline unsigned int es_vg_register(uintptr_t lo, uintptr_t hi)
{
	(void)lo;
	(void)hi;
	return 0;
}

static inline void es_vg_deregister(unsigned int id)
{
	(void)id;
}
#endif

/*
 * The fast path of ALLOC and FREE, inline: Go's stackalloc takes a stack
 * off the mcache with a handful of instructions, and so must this.
 */

static inline unsigned int es_ilog2(uint64_t v)
{
	return 63 - __builtin_clzll(v);
}

static inline struct es_entry *es_dir_get(const struct estack_pool *pool,
					  uint32_t idx)
{
	struct es_entry *chunk;

	if (idx >= __atomic_load_n(&pool->dir.nr, __ATOMIC_ACQUIRE))
		return NULL;
	chunk = __atomic_load_n(&pool->dir.chunks[idx >> ES_DIR_CHUNK_SHIFT],
				__ATOMIC_ACQUIRE);
	return chunk ? &chunk[idx & (ES_DIR_CHUNK - 1)] : NULL;
}

/* The entry of an index the caller holds (so published): no check. */
static inline struct es_entry *es_dir_at(const struct estack_pool *pool,
					 uint32_t idx)
{
	return &pool->dir.chunks[idx >> ES_DIR_CHUNK_SHIFT]
		[idx & (ES_DIR_CHUNK - 1)];
}

/*
 * Change an entry under its sequence count: the one writer is the thread
 * that holds the entry (or pool->lock for one that nobody holds). Plain
 * stores and compiler barriers on x86: no locked instruction.
 */
static inline void es_entry_set(struct es_entry *e, uint32_t state,
				uintptr_t lo, uintptr_t hi, uint64_t key)
{
	uint64_t seq = __atomic_load_n(&e->seq, __ATOMIC_RELAXED);

	/*
	 * Release stores, not a fence (which TSan cannot model): each is
	 * seen only after the odd seq. Plain moves on x86.
	 */
	__atomic_store_n(&e->seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&e->state, state, __ATOMIC_RELEASE);
	__atomic_store_n(&e->lo, lo, __ATOMIC_RELEASE);
	__atomic_store_n(&e->hi, hi, __ATOMIC_RELEASE);
	__atomic_store_n(&e->key, key, __ATOMIC_RELEASE);
	__atomic_store_n(&e->seq, seq + 2, __ATOMIC_RELEASE);
}

/* es_entry_set() of the state and key only: the stack stays where it is. */
static inline void es_entry_set_state(struct es_entry *e, uint32_t state,
				      uint64_t key)
{
	uint64_t seq = __atomic_load_n(&e->seq, __ATOMIC_RELAXED);

	__atomic_store_n(&e->seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&e->state, state, __ATOMIC_RELEASE);
	__atomic_store_n(&e->key, key, __ATOMIC_RELEASE);
	__atomic_store_n(&e->seq, seq + 2, __ATOMIC_RELEASE);
}

/*
 * The cache class of a stack of @size bytes (a power of two, at least
 * min_stack, as every stack the pool holds), or -1 for none.
 */
static inline int es_class_of(const struct estack_pool *pool, size_t size)
{
	if (size > pool->cache_max)
		return -1;
	return (int)es_ilog2(size) - (int)pool->min_shift;
}

/*
 * The class of the stack that ALLOC of @bytes makes (0: min_stack), or -1
 * when that is no class (more than cache_max, or no caches): es_class_of()
 * of es_size_round() without its checks, which cache_max implies.
 */
static inline int es_class_of_bytes(const struct estack_pool *pool,
				    size_t bytes)
{
	if (bytes > pool->cache_max || !pool->cache_max)
		return -1;
	if (bytes <= pool->min_stack)
		return 0;
	return (int)es_ilog2(bytes - 1) + 1 - (int)pool->min_shift;
}

/* The calling thread's stack pointer, near enough: its frame. */
static inline uintptr_t es_current_sp(void)
{
#if defined(__x86_64__)
	uintptr_t sp;

	__asm__ volatile ("mov %%rsp, %0" : "=r" (sp));
	return sp;
#else
	return (uintptr_t)__builtin_frame_address(0);
#endif
}

static inline size_t es_class_size(const struct estack_pool *pool, int cls)
{
	return pool->min_stack << cls;
}

static inline unsigned int es_tcache_bound(const struct estack_pool *pool,
					   int cls)
{
	return pool->tcache_bound[cls];
}

/**
 * struct es_hint - the calling thread's cache of the pool it used last
 * @pool: that pool
 * @stamp: the pool's stamp when the cache was last brought up to date
 * @tc: its cache
 *
 * Saves the walk of the thread's caches on the fast path. A pool's stamp
 * is taken from one counter of the process when the pool is opened and
 * again at every trim and, in a fork's child, at the fork: while the hint's
 * stamp is the pool's, no trim or fork happened since the thread last
 * caught its cache up, and the pool is the one the hint was made for (a
 * pool opened later at the same address has another stamp). Only the
 * thread frees its caches (at exit, or an orphaned one when it makes its
 * next cache), and clears the hint when it does.
 */
struct es_hint {
	const struct estack_pool *pool;
	uint64_t stamp;
	struct es_tcache *tc;
};

extern __thread struct es_hint es_hint
	__attribute__((tls_model("initial-exec")));

/* The calling thread's cache of @pool, up to date, or NULL: the fast path. */
static inline struct es_tcache *es_tcache_fast(const struct estack_pool *pool)
{
	if (es_hint.pool == pool &&
	    es_hint.stamp == __atomic_load_n(&pool->stamp, __ATOMIC_ACQUIRE))
		return es_hint.tc;
	return NULL;
}

/*
 * The entry @idx, which the caller took off a cache or the backend, made
 * live and handed out in @st.
 */
static inline int es_stack_hand(struct estack_pool *pool, uint32_t idx,
				struct estack_stack *st)
{
	struct es_entry *e = es_dir_at(pool, idx);
	uintptr_t lo = e->lo, hi = e->hi;
	uint32_t gen;
	uint64_t key;

	/* Its holder may write it: a move into it after its FREE clears. */
	e->fresh = false;
	gen = e->gen + 1;
	if (!gen)
		gen = 1;
	e->gen = gen;
	key = (uint64_t)pool->epoch << 32 | gen;
	es_entry_set_state(e, ES_LIVE, key);
	st->lo = (void *)lo;
	st->hi = (void *)hi;
	st->priv[0] = key;
	st->priv[1] = idx | (uint64_t)es_vg_register(lo, hi) << 32;
	return 0;
}

#endif /* ESTACK_INTERNAL_H */
