// SPDX-License-Identifier: GPL-2.0
/*
 * estack shrinker: cached stacks go back to the page allocator under
 * memory pressure.
 *
 * The shrinker is SHRINKER_MEMCG_AWARE and NUMA aware over the pools'
 * memcg-aware list_lrus: reclaim in a cgroup at its limit is offered that
 * cgroup's own free stacks (and only those) before it resorts to the OOM
 * killer; global reclaim visits every cgroup in turn. The per-CPU caches
 * are emptied too, counted once (on the first memory node's call), and
 * the root cgroup's call (global reclaim and drop_caches make one with
 * every shrinker) takes every cgroup's spans there: reclaim calls a
 * memcg-aware shrinker for any other cgroup only once one of that
 * cgroup's objects went on one of its list_lrus, and a cgroup whose free
 * stacks all sit in the per-CPU caches has none there.
 *
 * Concurrency: count is lockless. scan walks the list_lrus (their own
 * spinlock, as every list_lru shrinker does) and only trylocks the per-CPU
 * caches: a cache busy on its CPU is simply skipped this time. Spans are
 * freed after every lock is dropped.
 *
 * Copyright (C) 2026 The estack authors
 */

#include <linux/cgroup.h>
#include <linux/cpumask.h>
#include <linux/list_lru.h>
#include <linux/nodemask.h>
#include <linux/shrinker.h>

#include "alloc-internal.h"
#include "compat.h"
#include "trace.h"

/*
 * Whether a call may count and empty the per-CPU caches (see the top):
 * they belong to no node, and the first online node may have no memory,
 * which reclaim never visits.
 */
static bool estack_shrink_pcpu(struct shrink_control *sc)
{
	return sc->nid == first_memory_node;
}

/*
 * Whose spans in them: every cgroup's (NULL) for the root cgroup's call,
 * or with no cgroup; else the calling cgroup's. root_mem_cgroup is not
 * exported, and only the root has no parent.
 */
static struct mem_cgroup *estack_shrink_pcpu_memcg(struct shrink_control *sc)
{
	if (!sc->memcg || !sc->memcg->css.parent)
		return NULL;
	return sc->memcg;
}

unsigned long estack_shrink_count(struct shrinker *s, struct shrink_control *sc)
{
	struct estack_allocator *a = estack_shrinker_owner(s);
	unsigned long count = 0;
	unsigned int order;

	/* Pairs with the release in estack_allocator_init(). */
	if (!smp_load_acquire(&a->ready))
		return 0;
	for (order = 0; order < ESTACK_NR_ORDERS; order++)
		count += estack_pool_shrink_count(a, order, sc);
	if (estack_shrink_pcpu(sc))
		for (order = 0; order < ESTACK_NR_SMALL; order++)
			count += estack_pcpu_count(a, order,
						   estack_shrink_pcpu_memcg(sc));
	return count ?: SHRINK_EMPTY;
}
EXPORT_SYMBOL_IF_KUNIT(estack_shrink_count);

unsigned long estack_shrink_scan(struct shrinker *s, struct shrink_control *sc)
{
	struct estack_allocator *a = estack_shrinker_owner(s);
	unsigned long freed, pages = 0, n, nr_to_scan = sc->nr_to_scan;
	unsigned int order;
	LIST_HEAD(spans);
	int cpu;

	/* Pairs with the release in estack_allocator_init(). */
	if (!smp_load_acquire(&a->ready))
		return SHRINK_STOP;
	estack_stat_add(a, ESTACK_STAT_SHRINKER_SCANS, 1);

	/* Largest first: the most memory for the fewest spans. */
	for (order = ESTACK_NR_ORDERS; order-- > 0 && sc->nr_to_scan;) {
		n = estack_pool_shrink(a, order, sc, &spans);
		pages += n << order;
	}
	if (estack_shrink_pcpu(sc) && sc->nr_to_scan)
		for_each_online_cpu(cpu)
			pages += estack_pcpu_take(a, cpu,
						  estack_shrink_pcpu_memcg(sc),
						  true, &spans);
	freed = estack_span_release_list(a, &spans);
	estack_stat_add(a, ESTACK_STAT_SHRINKER_FREED, pages);
	trace_estack_shrinker_scan(sc->nid,
				   sc->memcg ? cgroup_ino(sc->memcg->css.cgroup) : 0,
				   nr_to_scan, freed, pages);
	return freed;
}
EXPORT_SYMBOL_IF_KUNIT(estack_shrink_scan);

/**
 * estack_shrinker_init() - the allocator's shrinker, with its id
 * @a: the allocator
 *
 * The id is what makes the pools' list_lrus memcg aware, so this comes
 * before estack_pools_init(); on 6.1 the shrinker is live from here on
 * and does nothing until @a->ready is set.
 *
 * Return: 0 or a negative errno.
 */
int estack_shrinker_init(struct estack_allocator *a)
{
	struct shrinker *s;

	s = estack_shrinker_alloc(SHRINKER_MEMCG_AWARE | SHRINKER_NUMA_AWARE,
				  estack_shrink_count, estack_shrink_scan, a,
				  a->name);
	if (IS_ERR(s))
		return PTR_ERR(s);
	a->shrinker = s;
	return 0;
}

/**
 * estack_shrinker_start() - the shrinker goes live, the pools being set up
 * @a: the allocator
 */
void estack_shrinker_start(struct estack_allocator *a)
{
	estack_shrinker_register(a->shrinker);
}

void estack_shrinker_destroy(struct estack_allocator *a)
{
	estack_shrinker_free(a->shrinker);
	a->shrinker = NULL;
}
