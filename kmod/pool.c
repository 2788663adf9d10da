// SPDX-License-Identifier: GPL-2.0
/*
 * estack global pools: free stacks per order, behind the per-CPU caches.
 *
 * Go keeps small free stacks in stackpool[order] and large ones in
 * stackLarge.free[log2(npages)]; here every order has one pool, a
 * memcg-aware list_lru. The list_lru keeps a list per node and per cgroup
 * and puts each span on the list of the cgroup its descriptor is charged
 * to, so taking "a free span for cgroup M" is a walk of M's list only: a
 * page charged to one cgroup never serves another. When a cgroup dies its
 * lists move to the parent, the same way its charges do.
 *
 * The pools together keep at most pool_reserve bytes; a span freed beyond
 * that goes back to the page allocator at once (Go returns a fully free
 * span to the heap). The shrinker empties them under memory pressure.
 *
 * Concurrency: the list_lru's per-node spinlock; nothing sleeps under it.
 * @pool_pages is atomic and only bounds the reserve, so a race may overshoot
 * it by a span or two.
 *
 * Copyright (C) 2026 The estack authors
 */

#include <linux/list_lru.h>
#include <linux/nodemask.h>
#include <linux/topology.h>

#include "alloc-internal.h"
#include "compat.h"

static enum lru_status estack_pool_isolate(struct list_head *item,
					   struct list_lru_one *list,
					   spinlock_t *lock, void *arg)
{
	list_lru_isolate_move(list, item, arg);
	return LRU_REMOVED;
}

/**
 * estack_pool_take() - move up to @nr free spans of @memcg to @out
 * @a: the allocator
 * @order: the pool
 * @memcg: whose spans
 * @out: a private list
 * @nr: how many at most
 *
 * One walk, and so one acquisition of the pool lock, per node: a refill of
 * a whole batch costs the same lock traffic as a single span.
 *
 * Return: the number moved.
 */
unsigned int estack_pool_take(struct estack_allocator *a, unsigned int order,
			      struct mem_cgroup *memcg, struct list_head *out,
			      unsigned int nr)
{
	struct list_lru *lru = &a->pools[order].lru;
	unsigned long want = nr;
	int local = numa_node_id(), nid;

	/* The local node first; a lockless count skips empty lists. */
	nid = local;
	do {
		if (list_lru_count_one(lru, nid, memcg)) {
			estack_stat_add(a, ESTACK_STAT_POOL_LOCKS, 1);
			list_lru_walk_one(lru, nid, memcg, estack_pool_isolate,
					  out, &want);
		}
		nid = next_online_node(nid);
		if (nid >= MAX_NUMNODES)
			nid = first_online_node;
	} while (want && nid != local);
	nr -= want;
	atomic_long_sub((unsigned long)nr << order, &a->pool_pages);
	return nr;
}

/**
 * estack_pool_put() - keep a free span, or release it beyond the reserve
 * @a: the allocator
 * @span: a span on no list, recyclable
 */
void estack_pool_put(struct estack_allocator *a, struct estack_span *span)
{
	unsigned long reserve = estack_tunable_get(&a->tun->pool_reserve) >>
				PAGE_SHIFT;
	unsigned long nr = estack_span_nr_pages(span);

	if (atomic_long_read(&a->pool_pages) + nr > reserve) {
		estack_span_release(a, span);
		return;
	}
	atomic_long_add(nr, &a->pool_pages);
	estack_stat_add(a, ESTACK_STAT_POOL_LOCKS, 1);
	estack_list_lru_add(&a->pools[span->order].lru, &span->node);
}

/**
 * estack_pool_shrink_count() - what the shrinker may take from a pool
 * @a: the allocator
 * @order: the pool
 * @sc: the shrinker's node and cgroup
 *
 * Return: the count of free spans (a snapshot).
 */
unsigned long estack_pool_shrink_count(struct estack_allocator *a,
				       unsigned int order,
				       struct shrink_control *sc)
{
	return list_lru_shrink_count(&a->pools[order].lru, sc);
}

/**
 * estack_pool_shrink() - take free spans for the shrinker
 * @a: the allocator
 * @order: the pool
 * @sc: the shrinker's node, cgroup and budget (sc->nr_to_scan, consumed)
 * @out: a private list the spans go on
 *
 * Return: the number of spans taken.
 */
unsigned long estack_pool_shrink(struct estack_allocator *a,
				 unsigned int order, struct shrink_control *sc,
				 struct list_head *out)
{
	unsigned long n;

	n = list_lru_shrink_walk(&a->pools[order].lru, sc, estack_pool_isolate,
				 out);
	atomic_long_sub(n << order, &a->pool_pages);
	return n;
}

/**
 * estack_pool_count() - free spans in a pool, over all nodes and cgroups
 * @a: the allocator
 * @order: the pool
 *
 * Return: the count (a snapshot).
 */
unsigned long estack_pool_count(struct estack_allocator *a, unsigned int order)
{
	return list_lru_count(&a->pools[order].lru);
}
EXPORT_SYMBOL_IF_KUNIT(estack_pool_count);

int estack_pools_init(struct estack_allocator *a)
{
	int order, ret;

	for (order = 0; order < ESTACK_NR_ORDERS; order++) {
		ret = list_lru_init_memcg(&a->pools[order].lru, a->shrinker);
		if (ret)
			goto err_destroy_lrus;
	}
	return 0;

err_destroy_lrus:
	while (--order >= 0)
		list_lru_destroy(&a->pools[order].lru);
	return ret;
}

/* Release every span of every pool; the shrinker is already gone. */
void estack_pools_destroy(struct estack_allocator *a)
{
	LIST_HEAD(spans);
	int order;

	for (order = 0; order < ESTACK_NR_ORDERS; order++) {
		list_lru_walk(&a->pools[order].lru, estack_pool_isolate, &spans,
			      ULONG_MAX);
		estack_span_release_list(a, &spans);
		list_lru_destroy(&a->pools[order].lru);
	}
	atomic_long_set(&a->pool_pages, 0);
}
