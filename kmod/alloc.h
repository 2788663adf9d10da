/* SPDX-License-Identifier: GPL-2.0 */
/*
 * estack allocator layer (alloc.c, stats.c, shrinker.c, pcpu.c, pool.c,
 * span.c): stacks of 2^order pages from per-CPU caches, per-order pools
 * and the page allocator, and the counters of it all. What the layers
 * above use; the allocator's own files also include alloc-internal.h.
 *
 * Copyright (C) 2026 The estack authors
 */
#ifndef _ESTACK_ALLOC_H
#define _ESTACK_ALLOC_H

#include <linux/highmem.h>
#include <linux/jump_label.h>
#include <linux/list.h>
#include <linux/list_lru.h>
#include <linux/memcontrol.h>
#include <linux/page-flags.h>
#include <linux/percpu.h>
#include <linux/shrinker.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <kunit/visibility.h>

#include "params.h"

/* How many pages between two cond_resched() and fatal-signal checks. */
#define ESTACK_RESCHED_PAGES	256

bool estack_should_stop(void);

/**
 * estack_resched_point() - a step of long work: go on?
 * @n: steps done so far (pages copied or cleared, frames walked)
 *
 * Every %ESTACK_RESCHED_PAGES steps, reschedules and looks for a fatal
 * signal. Long copies, clears and walks call it after each step and, when
 * it says stop, undo their work and return -EINTR.
 *
 * Return: true when the caller must stop.
 */
static inline bool estack_resched_point(unsigned long n)
{
	return !(n % ESTACK_RESCHED_PAGES) && estack_should_stop();
}

/**
 * struct estack_span - the pages of one stack
 * @node: while free, in a per-CPU cache (under that cache's lock) or in a
 *	pool's list_lru (under its lock); unused while the stack is in use
 * @pages: the 2^@order pages, each holding its own reference
 * @order: log2 of the number of pages; fixed for the span's life
 * @dirty: some pages may hold a previous user's data, and are cleared
 *	before they are handed out again: those marked PG_dirty, when the
 *	span is claimed by the owner that last held it, else all of them
 *	(estack_span_claim()); false when every page is known to be zero
 * @owner: estack_ctx.serial of the file that last held the span, 0 for
 *	none (fresh, or a caller with no file)
 * @inline_pages: @pages of a small span; large spans use a kvmalloc'ed
 *	array
 *
 * A page of a span that no one maps, marked clean (PG_dirty clear), reads
 * as zero for the owner that held it last: the writes leave a mark. A
 * store through the mapping sets the PTE's dirty bit, which the zap that
 * unmaps the page moves to PG_dirty; most writes through GUP end with
 * set_page_dirty(); the module's own copies mark what they write, and
 * fresh pages that the page allocator did not clear come marked. The
 * marks are trusted for that owner alone: a write with no mark (through
 * get_user_pages_fast() and put_page() or unpin_user_page(), as AF_ALG
 * output, kTLS receive and io_uring's fixed buffers do) can then show
 * its bytes only to the file whose stack received them, never to
 * another process.
 *
 * Allocated with kmem_cache_alloc_lru() and GFP_KERNEL_ACCOUNT while the
 * owner's memcg is the active one, so that the descriptor and its pages are
 * charged to the same cgroup: the list_lru finds a span's cgroup from this
 * object, which is what keeps a page charged to one cgroup from serving
 * another.
 */
struct estack_span {
	struct list_head node;
	struct page **pages;
	u8 order;
	bool dirty;
	u64 owner;
	struct page *inline_pages[1 << (ESTACK_NR_SMALL - 1)];
};

static inline unsigned long estack_span_nr_pages(const struct estack_span *span)
{
	return 1UL << span->order;
}

/**
 * estack_page_clear() - make a page of a claimed span read as zero
 * @page: the page, mapped nowhere
 *
 * Return: 1 when it was marked and is cleared now, 0 when it read as zero.
 */
static inline unsigned int estack_page_clear(struct page *page)
{
	if (!PageDirty(page))
		return 0;
	clear_highpage(page);
	ClearPageDirty(page);
	return 1;
}

/* Counters, per CPU, summed on read (stats.c). */
enum estack_stat {
	ESTACK_STAT_CACHE_HITS,		/* small stack served by a per-CPU cache */
	ESTACK_STAT_CACHE_MISSES,	/* small stack the cache could not serve */
	ESTACK_STAT_POOL_REFILLS,	/* batches moved from a pool to a cache */
	ESTACK_STAT_POOL_RELEASES,	/* batches moved from a cache to a pool */
	ESTACK_STAT_POOL_HITS,		/* stacks served from a pool */
	ESTACK_STAT_POOL_LOCKS,		/* pool lock acquisitions (walks, adds) */
	ESTACK_STAT_PAGES_ALLOCATED,	/* pages taken from the page allocator */
	ESTACK_STAT_PAGES_FREED,	/* pages given back to it */
	ESTACK_STAT_PAGES_ZEROED,	/* pages cleared for reuse */
	ESTACK_STAT_PINNED_RELEASED,	/* spans not recycled: page shared */
	ESTACK_STAT_SHRINKER_SCANS,	/* shrinker scan calls */
	ESTACK_STAT_SHRINKER_FREED,	/* pages the shrinker freed */
	ESTACK_STAT_GROWS,		/* stacks moved to a larger one */
	ESTACK_STAT_SHRINKS,		/* stacks moved to a smaller one */
	ESTACK_STAT_GROW_FAILURES,	/* GROWs that failed past validation */
	ESTACK_STAT_BYTES_COPIED,	/* live bytes copied by moves */
	ESTACK_STAT_WORDS_RELOCATED,	/* pointer words rewritten by moves */
	ESTACK_STAT_MAPPED_ADDS,	/* freed stacks kept mapped by a file */
	ESTACK_STAT_MAPPED_HITS,	/* ALLOCs served by such a stack */
	ESTACK_NR_STATS
};

/**
 * struct estack_stats_pcpu - one CPU's counters
 * @v: the events of enum estack_stat
 * @allocs: stacks handed out, per order
 * @frees: stacks given back, per order
 */
struct estack_stats_pcpu {
	u64 v[ESTACK_NR_STATS];
	u64 allocs[ESTACK_NR_ORDERS];
	u64 frees[ESTACK_NR_ORDERS];
};

/**
 * struct estack_pcpu_class - one CPU's free stacks of one small class
 * @spans: the free spans, most recently freed first
 * @nr: number of spans on @spans
 * @memcg: the cgroup every span here is charged to, with a css reference
 *	while @nr > 0; NULL when empty (or without memcg)
 */
struct estack_pcpu_class {
	struct list_head spans;
	unsigned int nr;
	struct mem_cgroup *memcg;
};

/**
 * struct estack_pcpu - a CPU's stack cache (Go's mcache.stackcache)
 * @lock: protects @cls; taken by tasks on its CPU (and, after a migration,
 *	rarely by one that just left it), and by a drainer (CPU hotplug,
 *	shrinker with trylock, teardown) from elsewhere
 * @cpu: the CPU whose cache this is
 * @cls: per small class
 */
struct estack_pcpu {
	spinlock_t lock;	/* protects cls; see above */
	int cpu;
	struct estack_pcpu_class cls[ESTACK_NR_SMALL];
};

/**
 * struct estack_pool - free stacks of one order (Go's stackpool/stackLarge)
 * @lru: the free spans, per node and per memcg; its per-node lock is the
 *	pool lock
 */
struct estack_pool {
	struct list_lru lru;
};

/**
 * struct estack_allocator - an allocator instance
 * @name: for the shrinker and messages
 * @tun: tunables (cache_budget, pool_reserve) read with READ_ONCE()
 * @pools: per order
 * @pcpu: per-CPU caches of the small orders
 * @stats: per-CPU counters
 * @pages: pages this instance holds from the page allocator, in use or
 *	cached; zero again after estack_allocator_destroy()
 * @pool_pages: pages on the pools' lists (bounded by pool_reserve)
 * @mapped: per small order, freed stacks the files keep mapped (counted
 *	as freed in @stats and as cached in the statistics)
 * @free_slots: free arena slots the files keep for reuse (arena.c)
 * @shrinker: gives cached stacks back under memory pressure
 * @cpuhp_node: drains a dead CPU's cache
 * @ready: pools initialised; the shrinker does nothing before
 */
struct estack_allocator {
	const char *name;
	const struct estack_tunables *tun;
	struct estack_pool pools[ESTACK_NR_ORDERS];
	struct estack_pcpu __percpu *pcpu;
	struct estack_stats_pcpu __percpu *stats;
	atomic_long_t pages;
	atomic_long_t pool_pages;
	atomic_long_t mapped[ESTACK_NR_SMALL];
	atomic_long_t free_slots;
	struct shrinker *shrinker;
	struct hlist_node cpuhp_node;
	bool ready;
};

static inline void estack_stat_add(struct estack_allocator *a,
				   enum estack_stat item, u64 n)
{
	if (static_branch_likely(&estack_stats_enabled))
		this_cpu_add(a->stats->v[item], n);
}

int estack_alloc_module_init(void);
void estack_alloc_module_exit(void);
int estack_allocator_init(struct estack_allocator *a, const char *name,
			  const struct estack_tunables *tun);
void estack_allocator_destroy(struct estack_allocator *a);
struct estack_span *estack_span_alloc(struct estack_allocator *a,
				      unsigned int order,
				      struct mem_cgroup *memcg, u64 owner);
struct estack_span *estack_span_alloc_unzeroed(struct estack_allocator *a,
					       unsigned int order,
					       struct mem_cgroup *memcg,
					       u64 owner);
void estack_span_free(struct estack_allocator *a, struct estack_span *span,
		      struct mem_cgroup *memcg);
void estack_span_keep(struct estack_allocator *a, struct estack_span *span);
void estack_span_reuse(struct estack_allocator *a, struct estack_span *span);
void estack_span_drop(struct estack_allocator *a, struct estack_span *span,
		      struct mem_cgroup *memcg);

/* stats.c */
u64 estack_stat_sum(struct estack_allocator *a, enum estack_stat item);
u64 estack_stat_allocs(struct estack_allocator *a, int order);
u64 estack_stat_frees(struct estack_allocator *a, int order);
unsigned long estack_stacks_in_use(struct estack_allocator *a);
unsigned long estack_pages_in_use(struct estack_allocator *a);
unsigned long estack_pages_cached(struct estack_allocator *a, int order);
unsigned long estack_pages_cached_cpu(struct estack_allocator *a, int cpu);
u64 estack_stat_in_use(struct estack_allocator *a, int order);

/* Free stacks of a class in the pools and the per-CPU caches (snapshots). */
unsigned long estack_pool_count(struct estack_allocator *a,
				unsigned int order);
unsigned long estack_pcpu_count(struct estack_allocator *a,
				unsigned int order, struct mem_cgroup *memcg);

#endif /* _ESTACK_ALLOC_H */
