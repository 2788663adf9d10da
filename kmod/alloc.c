// SPDX-License-Identifier: GPL-2.0
/*
 * estack allocator: stacks of 2^order pages for the rest of the module.
 *
 * A request goes to the first layer that can serve it, as in Go's
 * stackalloc: for a small class (4 to 32 KiB) this CPU's cache, then a
 * batch refilled from the pool; for a large one the pool directly; then
 * the page allocator. A freed stack goes back the same way: the CPU's cache
 * if it has room, else the pool within its reserve, else the page allocator.
 * Stacks are handed out zeroed: fresh pages come zeroed, recycled ones
 * are cleared on the way out (only when they may hold data). A move, which
 * clears what it does not copy over, takes its pages unzeroed, fresh ones
 * included.
 *
 * An allocator is an instance (struct estack_allocator) with its own pools,
 * caches, counters and shrinker, so that a test can build one beside the
 * module's. Instances share the descriptor slab cache and one CPU hotplug
 * state, set up by estack_alloc_module_init().
 *
 * Concurrency: see pcpu.c and pool.c; this file takes no lock itself.
 *
 * Copyright (C) 2026 The estack authors
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpuhotplug.h>
#include <linux/err.h>
#include <linux/memcontrol.h>
#include <linux/percpu.h>

#include "alloc-internal.h"

static enum cpuhp_state estack_cpuhp_state;

/* A CPU is dead: its cache goes to the pools, which any CPU can reach. */
static int estack_cpu_dead(unsigned int cpu, struct hlist_node *node)
{
	struct estack_allocator *a = hlist_entry(node, struct estack_allocator,
						 cpuhp_node);
	struct estack_span *span, *next;
	LIST_HEAD(spans);

	estack_pcpu_take(a, cpu, NULL, false, &spans);
	list_for_each_entry_safe(span, next, &spans, node) {
		list_del_init(&span->node);
		estack_pool_put(a, span);
	}
	return 0;
}

int estack_alloc_module_init(void)
{
	int ret;

	ret = estack_span_cache_init();
	if (ret)
		return ret;
	ret = cpuhp_setup_state_multi(CPUHP_BP_PREPARE_DYN, "estack:dead",
				      NULL, estack_cpu_dead);
	if (ret < 0)
		goto err_exit_span_cache;
	estack_cpuhp_state = ret;
	return 0;

err_exit_span_cache:
	estack_span_cache_exit();
	return ret;
}

void estack_alloc_module_exit(void)
{
	cpuhp_remove_multi_state(estack_cpuhp_state);
	estack_span_cache_exit();
}

/**
 * estack_allocator_init() - set up an allocator instance
 * @a: the instance, zeroed
 * @name: names its shrinker ("estack-@name")
 * @tun: its cache_budget and pool_reserve
 *
 * Return: 0 or a negative errno.
 */
int estack_allocator_init(struct estack_allocator *a, const char *name,
			  const struct estack_tunables *tun)
{
	int ret, order;

	a->name = name;
	a->tun = tun;
	atomic_long_set(&a->pages, 0);
	atomic_long_set(&a->pool_pages, 0);
	for (order = 0; order < ESTACK_NR_SMALL; order++)
		atomic_long_set(&a->mapped[order], 0);

	a->stats = alloc_percpu(struct estack_stats_pcpu);
	if (!a->stats)
		return -ENOMEM;
	ret = estack_pcpu_init(a);
	if (ret)
		goto err_free_stats;
	/* The shrinker's id makes the list_lrus memcg aware: it comes first. */
	ret = estack_shrinker_init(a);
	if (ret)
		goto err_destroy_pcpu;
	ret = estack_pools_init(a);
	if (ret)
		goto err_destroy_shrinker;
	ret = cpuhp_state_add_instance_nocalls(estack_cpuhp_state,
					       &a->cpuhp_node);
	if (ret)
		goto err_destroy_pools;
	/* Pairs with the acquire in the shrinker: pools are set up. */
	smp_store_release(&a->ready, true);
	estack_shrinker_start(a);
	return 0;

err_destroy_pools:
	estack_pools_destroy(a);
err_destroy_shrinker:
	estack_shrinker_destroy(a);
err_destroy_pcpu:
	estack_pcpu_destroy(a);
err_free_stats:
	free_percpu(a->stats);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(estack_allocator_init);

/**
 * estack_allocator_destroy() - free every cached page and the instance
 * @a: the instance; no stack of it may be in use
 *
 * kmemleak does not see pages, so the instance counts them: any page not
 * back by now is reported ("N pages left allocated at unload") and warned
 * about.
 */
void estack_allocator_destroy(struct estack_allocator *a)
{
	long left;

	WRITE_ONCE(a->ready, false);
	estack_shrinker_destroy(a);
	cpuhp_state_remove_instance_nocalls(estack_cpuhp_state,
					    &a->cpuhp_node);
	estack_pcpu_destroy(a);
	estack_pools_destroy(a);

	left = atomic_long_read(&a->pages);
	if (left)
		pr_err("%s: %ld pages left allocated at unload\n", a->name,
		       left);
	WARN_ON_ONCE(left);
	free_percpu(a->stats);
}
EXPORT_SYMBOL_IF_KUNIT(estack_allocator_destroy);

/*
 * Hand a recycled @span to @owner. The PG_dirty marks of its pages say
 * which may hold data only to the owner that held it last; for any other,
 * and for the anonymous owner 0, every page of a dirty span is marked, so
 * that all of it is cleared before it is handed out.
 */
static void estack_span_claim(struct estack_span *span, u64 owner)
{
	unsigned long nr = estack_span_nr_pages(span), i;

	if (span->dirty && (!owner || span->owner != owner)) {
		for (i = 0; i < nr; i++) {
			SetPageDirty(span->pages[i]);
			/* A 1 GiB span has 262144 pages. */
			if (!((i + 1) % ESTACK_RESCHED_PAGES))
				cond_resched();
		}
	}
	span->owner = owner;
}

/* The layers in turn; fresh pages from the allocator zeroed if @zero. */
static struct estack_span *__estack_span_alloc(struct estack_allocator *a,
					       unsigned int order,
					       struct mem_cgroup *memcg,
					       bool zero, u64 owner)
{
	struct estack_span *span = NULL;
	LIST_HEAD(one);

	if (WARN_ON_ONCE(order > ESTACK_MAX_ORDER))
		return ERR_PTR(-EINVAL);

	if (order < ESTACK_NR_SMALL) {
		span = estack_pcpu_pop(a, order, memcg);
		if (span) {
			estack_stat_add(a, ESTACK_STAT_CACHE_HITS, 1);
			goto out;
		}
		estack_stat_add(a, ESTACK_STAT_CACHE_MISSES, 1);
		span = estack_pcpu_refill(a, order, memcg);
	} else if (estack_pool_take(a, order, memcg, &one, 1)) {
		span = list_first_entry(&one, struct estack_span, node);
		list_del_init(&span->node);
	}
	if (span) {
		estack_stat_add(a, ESTACK_STAT_POOL_HITS, 1);
		goto out;
	}

	span = estack_span_new(a, order, memcg, zero);
	if (IS_ERR(span))
		return span;
out:
	estack_span_claim(span, owner);
	this_cpu_inc(a->stats->allocs[order]);
	return span;
}

/**
 * estack_span_alloc_unzeroed() - a stack of 2^@order pages, maybe dirty
 * @a: the allocator
 * @order: up to ESTACK_MAX_ORDER
 * @memcg: the caller's cgroup: pages come from its caches or are charged
 *	to it (NULL without memcg)
 * @owner: the caller's file (estack_ctx.serial), 0 for none
 *
 * The pages may hold a previous user's data when ->dirty is set: one of
 * the same cgroup for a recycled span, anyone's for a fresh one, which the
 * page allocator did not clear. Those that may are marked PG_dirty. The
 * caller clears every marked page before it exposes it (GROW and SHRINK
 * clear the part they do not copy over).
 *
 * Context: process context, may sleep; takes no lock of the caller's.
 * Return: the span, or ERR_PTR(-ENOMEM).
 */
struct estack_span *estack_span_alloc_unzeroed(struct estack_allocator *a,
					       unsigned int order,
					       struct mem_cgroup *memcg,
					       u64 owner)
{
	return __estack_span_alloc(a, order, memcg, false, owner);
}
EXPORT_SYMBOL_IF_KUNIT(estack_span_alloc_unzeroed);

/**
 * estack_span_alloc() - a zeroed stack of 2^@order pages for @memcg
 * @a: the allocator
 * @order: up to ESTACK_MAX_ORDER
 * @memcg: the caller's cgroup: pages come from its caches or are charged
 *	to it (NULL without memcg)
 * @owner: the caller's file (estack_ctx.serial), 0 for none: of a span
 *	the same file held last, only the pages it wrote are cleared
 *
 * Context: process context, may sleep; takes no lock of the caller's.
 * Return: the span, ERR_PTR(-ENOMEM), or ERR_PTR(-EINTR) when a fatal
 * signal interrupted the allocation or clearing of a large stack.
 */
struct estack_span *estack_span_alloc(struct estack_allocator *a,
				      unsigned int order,
				      struct mem_cgroup *memcg, u64 owner)
{
	struct estack_span *span = __estack_span_alloc(a, order, memcg, true,
						       owner);
	int ret;

	if (IS_ERR(span) || !span->dirty)
		return span;
	ret = estack_span_zero(a, span);
	if (ret) {
		/* Never handed out: it counts as not allocated. */
		this_cpu_dec(a->stats->allocs[order]);
		estack_pool_put(a, span);
		return ERR_PTR(ret);
	}
	return span;
}
EXPORT_SYMBOL_IF_KUNIT(estack_span_alloc);

/* Back to a cache, a pool or the page allocator: a span no one maps. */
static void estack_span_recycle(struct estack_allocator *a,
				struct estack_span *span,
				struct mem_cgroup *memcg)
{
	/*
	 * It has been the user's: the pages it wrote are marked PG_dirty
	 * (struct estack_span), for its owner's next claim.
	 */
	span->dirty = true;

	if (!estack_span_recyclable(span)) {
		estack_stat_add(a, ESTACK_STAT_PINNED_RELEASED, 1);
		estack_span_release(a, span);
		return;
	}
	if (span->order < ESTACK_NR_SMALL && estack_pcpu_push(a, span, memcg))
		return;
	estack_pool_put(a, span);
}

/**
 * estack_span_free() - give back a stack
 * @a: the allocator
 * @span: from estack_span_alloc(), no longer mapped anywhere
 * @memcg: the cgroup it was allocated for
 *
 * Context: process context, may sleep.
 */
void estack_span_free(struct estack_allocator *a, struct estack_span *span,
		      struct mem_cgroup *memcg)
{
	this_cpu_inc(a->stats->frees[span->order]);
	estack_span_recycle(a, span, memcg);
}
EXPORT_SYMBOL_IF_KUNIT(estack_span_free);

/*
 * A file's mapped cache (stack.c) keeps some freed small stacks mapped,
 * pages and all, for its next ALLOC. The allocator still owns the pages;
 * these three keep its figures true: such a stack counts as freed and as
 * cached, and a page held is always in use or cached.
 */

/**
 * estack_span_keep() - a freed stack stays mapped in its file's cache
 * @a: the allocator
 * @span: a small span, still mapped
 *
 * Context: any; takes no lock.
 */
void estack_span_keep(struct estack_allocator *a, struct estack_span *span)
{
	this_cpu_inc(a->stats->frees[span->order]);
	atomic_long_inc(&a->mapped[span->order]);
	estack_stat_add(a, ESTACK_STAT_MAPPED_ADDS, 1);
}
EXPORT_SYMBOL_IF_KUNIT(estack_span_keep);

/**
 * estack_span_reuse() - a kept stack is handed out again
 * @a: the allocator
 * @span: a span passed to estack_span_keep(), cleared by the caller
 *
 * Context: any; takes no lock.
 */
void estack_span_reuse(struct estack_allocator *a, struct estack_span *span)
{
	atomic_long_dec(&a->mapped[span->order]);
	this_cpu_inc(a->stats->allocs[span->order]);
	estack_stat_add(a, ESTACK_STAT_MAPPED_HITS, 1);
}
EXPORT_SYMBOL_IF_KUNIT(estack_span_reuse);

/**
 * estack_span_drop() - a kept stack leaves its file's cache
 * @a: the allocator
 * @span: a span passed to estack_span_keep(), unmapped since
 * @memcg: the cgroup it was allocated for
 *
 * Context: process context, may sleep.
 */
void estack_span_drop(struct estack_allocator *a, struct estack_span *span,
		      struct mem_cgroup *memcg)
{
	atomic_long_dec(&a->mapped[span->order]);
	estack_span_recycle(a, span, memcg);
}
EXPORT_SYMBOL_IF_KUNIT(estack_span_drop);
