// SPDX-License-Identifier: GPL-2.0
/*
 * estack per-CPU caches (Go's mcache.stackcache).
 *
 * Each CPU keeps, per small class, a list of free spans worth at most
 * cache_budget bytes. A hit takes only this CPU's own lock: no shared
 * cache line, no pool lock. A miss refills half the budget from the pool in
 * one walk (Go's stackcacherefill); a cache that goes over budget releases
 * half of it back (stackcacherelease).
 *
 * A class's spans all belong to one memcg, recorded (with a css reference)
 * in the class: a caller of another memcg misses, and its refill first
 * hands the foreign spans back to the pool, which files them under their
 * own cgroup. Spans never cross cgroups here either.
 *
 * Concurrency: pcpu->lock, a spinlock_t (a sleeping lock on PREEMPT_RT).
 * A task takes the lock of the cache of the CPU it runs on, found with
 * raw_cpu_ptr() and no preempt_disable() around it (which PREEMPT_RT
 * forbids before a sleeping lock): a task that migrates in between uses
 * the other CPU's cache, which its lock keeps safe; only locality is lost,
 * and rarely. A cache whose CPU went offline meanwhile (its "dead"
 * callback drains it under the same lock) is not used. The lock is
 * uncontended in the fast path; CPU hotplug, teardown and the shrinker
 * (trylock only) take it from other CPUs. Nothing is allocated, freed or
 * slept on under it: spans move to a private list first and go to the
 * pool after the unlock.
 *
 * Copyright (C) 2026 The estack authors
 */

#include <linux/cpumask.h>
#include <linux/memcontrol.h>
#include <linux/percpu.h>

#include "alloc-internal.h"
#include "trace.h"

/*
 * Is @pc, locked, the cache of a CPU that went offline after the caller
 * found it (see the top)? Its cache is drained, or being drained, and must
 * stay empty.
 */
static bool estack_pcpu_gone_locked(struct estack_pcpu *pc)
{
	lockdep_assert_held(&pc->lock);
	return unlikely(!cpu_online(pc->cpu));
}

static void estack_pcpu_tag(struct estack_pcpu_class *c,
			    struct mem_cgroup *memcg)
{
	if (memcg)
		css_get(&memcg->css);
	c->memcg = memcg;
}

static void estack_pcpu_untag(struct estack_pcpu_class *c)
{
	if (c->memcg)
		css_put(&c->memcg->css);
	c->memcg = NULL;
}

/**
 * estack_pcpu_batch() - spans moved per refill or release (half the budget)
 * @a: the allocator
 * @order: a small class
 *
 * Return: the batch, at least 1; 0 when the caches are off.
 */
unsigned int estack_pcpu_batch(struct estack_allocator *a, unsigned int order)
{
	unsigned long budget = estack_tunable_get(&a->tun->cache_budget);

	if (!budget)
		return 0;
	return max(1UL, (budget >> (order + PAGE_SHIFT)) / 2);
}
EXPORT_SYMBOL_IF_KUNIT(estack_pcpu_batch);

static bool estack_pcpu_over_budget(struct estack_allocator *a,
				    const struct estack_pcpu_class *c,
				    unsigned int order)
{
	unsigned long budget = estack_tunable_get(&a->tun->cache_budget);

	return ((unsigned long)c->nr << (order + PAGE_SHIFT)) > budget;
}

/* Move the first @nr spans of @c to @out; the caller holds the lock. */
static void estack_pcpu_cut_locked(struct estack_pcpu *pc,
				   struct estack_pcpu_class *c,
				   unsigned int nr, struct list_head *out)
{
	struct estack_span *span;

	lockdep_assert_held(&pc->lock);
	while (nr-- && c->nr) {
		span = list_first_entry(&c->spans, struct estack_span, node);
		list_move_tail(&span->node, out);
		c->nr--;
	}
	if (!c->nr)
		estack_pcpu_untag(c);
}

/*
 * Move the @nr coldest spans of @c (the tail: pushes and refills add at
 * the head) to @out; the caller holds the lock. Return: how many moved.
 */
static unsigned int estack_pcpu_cut_cold_locked(struct estack_pcpu *pc,
						struct estack_pcpu_class *c,
						unsigned int nr,
						struct list_head *out)
{
	struct estack_span *cold;
	unsigned int moved = 0;

	lockdep_assert_held(&pc->lock);
	while (moved < nr && c->nr) {
		cold = list_last_entry(&c->spans, struct estack_span, node);
		list_move(&cold->node, out);
		c->nr--;
		moved++;
	}
	if (!c->nr)
		estack_pcpu_untag(c);
	return moved;
}

static void estack_pcpu_to_pool(struct estack_allocator *a,
				struct list_head *spans)
{
	struct estack_span *span, *next;

	list_for_each_entry_safe(span, next, spans, node) {
		list_del_init(&span->node);
		estack_pool_put(a, span);
	}
}

/**
 * estack_pcpu_pop() - a free span of @memcg from this CPU's cache
 * @a: the allocator
 * @order: a small class
 * @memcg: the caller's cgroup
 *
 * Return: the span, or NULL on a miss.
 */
struct estack_span *estack_pcpu_pop(struct estack_allocator *a,
				    unsigned int order,
				    struct mem_cgroup *memcg)
{
	struct estack_span *span = NULL;
	struct estack_pcpu_class *c;
	struct estack_pcpu *pc;

	pc = raw_cpu_ptr(a->pcpu);
	spin_lock(&pc->lock);
	if (estack_pcpu_gone_locked(pc)) {
		spin_unlock(&pc->lock);
		return NULL;
	}
	c = &pc->cls[order];
	if (c->nr && c->memcg == memcg) {
		span = list_first_entry(&c->spans, struct estack_span, node);
		list_del_init(&span->node);
		if (!--c->nr)
			estack_pcpu_untag(c);
	}
	spin_unlock(&pc->lock);
	return span;
}

/**
 * estack_pcpu_refill() - refill this CPU's cache from the pool after a miss
 * @a: the allocator
 * @order: a small class
 * @memcg: the caller's cgroup
 *
 * Takes a batch of @memcg's spans from the pool in one walk, returns one
 * and caches the rest, as many as fit the budget. Spans of another cgroup
 * in the cache go back to the pool first. The walk takes no lock of the
 * cache, and the cache it fills may have been filled meanwhile: by another
 * task on this CPU, or on another CPU than the miss was on (the pool's
 * list_lru lock sleeps on PREEMPT_RT, and the task may move).
 *
 * Return: a span, or NULL when the pool has none for @memcg.
 */
struct estack_span *estack_pcpu_refill(struct estack_allocator *a,
				       unsigned int order,
				       struct mem_cgroup *memcg)
{
	unsigned int batch = max(1U, estack_pcpu_batch(a, order)), got;
	struct estack_pcpu_class *c;
	struct estack_span *span;
	struct estack_pcpu *pc;
	unsigned long fit;
	LIST_HEAD(foreign);
	LIST_HEAD(spans);

	got = estack_pool_take(a, order, memcg, &spans, batch);
	if (!got)
		return NULL;
	span = list_first_entry(&spans, struct estack_span, node);
	list_del_init(&span->node);
	if (got == 1 || !estack_pcpu_batch(a, order))
		goto out;

	pc = raw_cpu_ptr(a->pcpu);
	spin_lock(&pc->lock);
	if (estack_pcpu_gone_locked(pc)) {
		spin_unlock(&pc->lock);
		goto out;
	}
	c = &pc->cls[order];
	if (c->nr && c->memcg != memcg)
		estack_pcpu_cut_locked(pc, c, c->nr, &foreign);
	if (!c->nr)
		estack_pcpu_tag(c, memcg);
	c->nr += got - 1;
	list_splice_init(&spans, &c->spans);
	/* Over budget when filled meanwhile: the coldest go back. */
	fit = max(1UL, estack_tunable_get(&a->tun->cache_budget) >>
		       (order + PAGE_SHIFT));
	if (c->nr > fit)
		estack_pcpu_cut_cold_locked(pc, c, c->nr - fit, &spans);
	spin_unlock(&pc->lock);
	trace_estack_cache_refill(pc->cpu, order, got - 1);
	estack_stat_add(a, ESTACK_STAT_POOL_REFILLS, 1);
out:
	estack_pcpu_to_pool(a, &spans);
	estack_pcpu_to_pool(a, &foreign);
	return span;
}
EXPORT_SYMBOL_IF_KUNIT(estack_pcpu_refill);

/**
 * estack_pcpu_push() - cache a free span on this CPU
 * @a: the allocator
 * @span: a recyclable span on no list
 * @memcg: the cgroup it is charged to
 *
 * When the cache goes over budget, half of it goes back to the pool.
 *
 * Return: true if cached; false when the caches are off or this CPU's
 * class holds another cgroup's spans (the caller then uses the pool).
 */
bool estack_pcpu_push(struct estack_allocator *a, struct estack_span *span,
		      struct mem_cgroup *memcg)
{
	unsigned int order = span->order;
	unsigned int batch = estack_pcpu_batch(a, order);
	struct estack_pcpu_class *c;
	struct estack_pcpu *pc;
	unsigned int released = 0;
	bool cached = false;
	LIST_HEAD(release);

	if (!batch)
		return false;

	pc = raw_cpu_ptr(a->pcpu);
	spin_lock(&pc->lock);
	if (estack_pcpu_gone_locked(pc)) {
		spin_unlock(&pc->lock);
		return false;
	}
	c = &pc->cls[order];
	if (!c->nr || c->memcg == memcg) {
		if (!c->nr)
			estack_pcpu_tag(c, memcg);
		list_add(&span->node, &c->spans);
		c->nr++;
		cached = true;
		/* Release the coldest half: the tail of the list. */
		if (estack_pcpu_over_budget(a, c, order))
			released = estack_pcpu_cut_cold_locked(pc, c, batch,
							       &release);
	}
	spin_unlock(&pc->lock);
	if (released)
		trace_estack_cache_release(pc->cpu, order, released);

	if (!list_empty(&release)) {
		estack_stat_add(a, ESTACK_STAT_POOL_RELEASES, 1);
		estack_pcpu_to_pool(a, &release);
	}
	return cached;
}

/**
 * estack_pcpu_take() - empty a CPU's cache into @out
 * @a: the allocator
 * @cpu: whose cache
 * @memcg: only classes holding this cgroup's spans; NULL for all
 * @trylock: give up rather than wait for the lock (the shrinker)
 * @out: a private list
 *
 * Return: the number of pages moved.
 */
unsigned long estack_pcpu_take(struct estack_allocator *a, int cpu,
			       struct mem_cgroup *memcg, bool trylock,
			       struct list_head *out)
{
	struct estack_pcpu *pc = per_cpu_ptr(a->pcpu, cpu);
	unsigned long pages = 0;
	unsigned int order;

	if (trylock) {
		if (!spin_trylock(&pc->lock))
			return 0;
	} else {
		spin_lock(&pc->lock);
	}
	for (order = 0; order < ESTACK_NR_SMALL; order++) {
		struct estack_pcpu_class *c = &pc->cls[order];

		if (!c->nr || (memcg && c->memcg != memcg))
			continue;
		pages += (unsigned long)c->nr << order;
		estack_pcpu_cut_locked(pc, c, c->nr, out);
	}
	spin_unlock(&pc->lock);
	return pages;
}

/**
 * estack_pcpu_count() - spans cached for a class on all CPUs
 * @a: the allocator
 * @order: a small class
 * @memcg: only this cgroup's; NULL for all
 *
 * Lockless and so approximate: for statistics and the shrinker's count.
 *
 * Return: the count.
 */
unsigned long estack_pcpu_count(struct estack_allocator *a, unsigned int order,
				struct mem_cgroup *memcg)
{
	unsigned long nr = 0;
	int cpu;

	for_each_possible_cpu(cpu) {
		struct estack_pcpu_class *c = &per_cpu_ptr(a->pcpu, cpu)->cls[order];

		if (!memcg || READ_ONCE(c->memcg) == memcg)
			nr += READ_ONCE(c->nr);
	}
	return nr;
}
EXPORT_SYMBOL_IF_KUNIT(estack_pcpu_count);

/**
 * estack_pcpu_pages() - pages cached on one CPU, all small classes
 * @a: the allocator
 * @cpu: the CPU
 *
 * Lockless and so approximate: for statistics.
 *
 * Return: the count.
 */
unsigned long estack_pcpu_pages(struct estack_allocator *a, int cpu)
{
	struct estack_pcpu *pc = per_cpu_ptr(a->pcpu, cpu);
	unsigned long pages = 0;
	unsigned int order;

	for (order = 0; order < ESTACK_NR_SMALL; order++)
		pages += (unsigned long)READ_ONCE(pc->cls[order].nr) << order;
	return pages;
}

int estack_pcpu_init(struct estack_allocator *a)
{
	unsigned int order;
	int cpu;

	a->pcpu = alloc_percpu(struct estack_pcpu);
	if (!a->pcpu)
		return -ENOMEM;
	for_each_possible_cpu(cpu) {
		struct estack_pcpu *pc = per_cpu_ptr(a->pcpu, cpu);

		spin_lock_init(&pc->lock);
		pc->cpu = cpu;
		for (order = 0; order < ESTACK_NR_SMALL; order++)
			INIT_LIST_HEAD(&pc->cls[order].spans);
	}
	return 0;
}

/* Release every cached span; nobody allocates or frees any more. */
void estack_pcpu_destroy(struct estack_allocator *a)
{
	LIST_HEAD(spans);
	int cpu;

	for_each_possible_cpu(cpu)
		estack_pcpu_take(a, cpu, NULL, false, &spans);
	estack_span_release_list(a, &spans);
	free_percpu(a->pcpu);
}
