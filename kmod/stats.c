// SPDX-License-Identifier: GPL-2.0
/*
 * estack statistics: per-CPU counters, summed on read, and the figures
 * derived from them and from the caches and pools. The files that show
 * them are in sysfs.c.
 *
 * Concurrency: counters are updated with this_cpu ops and read without
 * locks; a sum taken while stacks come and go is a snapshot, exact once
 * things are quiet.
 *
 * Copyright (C) 2026 The estack authors
 */

#include <linux/percpu.h>

#include "alloc-internal.h"

/* The sum over all CPUs of one per-CPU counter. */
static u64 estack_percpu_sum(u64 __percpu *counter)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += *per_cpu_ptr(counter, cpu);
	return sum;
}

u64 estack_stat_sum(struct estack_allocator *a, enum estack_stat item)
{
	return estack_percpu_sum(&a->stats->v[item]);
}
EXPORT_SYMBOL_IF_KUNIT(estack_stat_sum);

u64 estack_stat_allocs(struct estack_allocator *a, int order)
{
	return estack_percpu_sum(&a->stats->allocs[order]);
}
EXPORT_SYMBOL_IF_KUNIT(estack_stat_allocs);

u64 estack_stat_frees(struct estack_allocator *a, int order)
{
	return estack_percpu_sum(&a->stats->frees[order]);
}
EXPORT_SYMBOL_IF_KUNIT(estack_stat_frees);

/*
 * Stacks of @order in use: handed out and not given back. The frees are
 * summed first: each was counted after its stack's alloc (in the task's
 * own order, or across a migration's barriers), so a stack allocated and
 * freed while the sums are taken does not make the difference negative.
 * An alloc taken back (its count decremented, maybe on another CPU than
 * it was incremented) still can, for a moment: the clamp covers that.
 */
u64 estack_stat_in_use(struct estack_allocator *a, int order)
{
	u64 frees = estack_stat_frees(a, order), allocs;

	smp_rmb();	/* the frees' counts before the allocs' */
	allocs = estack_stat_allocs(a, order);
	return allocs > frees ? allocs - frees : 0;
}
EXPORT_SYMBOL_IF_KUNIT(estack_stat_in_use);

unsigned long estack_stacks_in_use(struct estack_allocator *a)
{
	unsigned long n = 0;
	int order;

	for (order = 0; order < ESTACK_NR_ORDERS; order++)
		n += estack_stat_in_use(a, order);
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(estack_stacks_in_use);

unsigned long estack_pages_in_use(struct estack_allocator *a)
{
	unsigned long n = 0;
	int order;

	for (order = 0; order < ESTACK_NR_ORDERS; order++)
		n += estack_stat_in_use(a, order) << order;
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(estack_pages_in_use);

/* Pages of free stacks of @order in caches and pools; all orders if -1. */
unsigned long estack_pages_cached(struct estack_allocator *a, int order)
{
	unsigned long n = 0;
	int o;

	for (o = 0; o < ESTACK_NR_ORDERS; o++) {
		if (order >= 0 && o != order)
			continue;
		n += estack_pool_count(a, o) << o;
		if (o < ESTACK_NR_SMALL)
			n += (estack_pcpu_count(a, o, NULL) +
			      atomic_long_read(&a->mapped[o])) << o;
	}
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(estack_pages_cached);

/* Pages of free stacks in one CPU's cache. */
unsigned long estack_pages_cached_cpu(struct estack_allocator *a, int cpu)
{
	return estack_pcpu_pages(a, cpu);
}
