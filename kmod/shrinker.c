// SPDX-License-Identifier: GPL-2.0
/*
 * estack shrinker: cached stacks go back to the page allocator under
 * memory pressure.
 *
 * The shrinker is SHRINKER_MEMCG_AWARE and NUMA aware over the pools'
 * memcg-aware list_lrus: reclaim in a cgroup at its limit is offered that
 * cgroup's own free stacks (and only those) before it resorts to the OOM
 * killer; global reclaim visits every cgroup in turn. Per-CPU caches holding
 * the cgroup's spans are emptied too, counted once (on the first online
 * node's call).
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

/* Whose per-CPU caches a call may count and empty (see the top). */
static bool estack_shrink_pcpu(struct shrink_control *sc)
{
	return sc->nid == first_online_node;
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
			count += estack_pcpu_count(a, order, sc->memcg);
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
			pages += estack_pcpu_take(a, cpu, sc->memcg, true,
						  &spans);
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
