// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the estack allocator: per-CPU caches, pools, large stacks,
 * the shrinker, memcg keying and concurrency. Each case builds its own
 * allocator instance (struct estack_allocator) with its own tunables and
 * checks it gave every page back before it is destroyed.
 *
 * Cases that depend on which CPU's cache they touch run with migration
 * disabled. The memcg cases use two cgroups the test rig creates,
 * /sys/fs/cgroup/estack-kunit-a and -b.
 *
 * Copyright (C) 2026 The estack authors
 */

#include <kunit/test.h>
#include <linux/cgroup.h>
#include <linux/completion.h>
#include <linux/cpu.h>
#include <linux/highmem.h>
#include <linux/kthread.h>
#include <linux/memcontrol.h>
#include <linux/random.h>
#include <linux/sizes.h>

#include "../alloc-internal.h"

#define BUDGET	SZ_64K

struct alloc_test {
	struct estack_tunables tun;
	struct estack_allocator a;
};

static int alloc_test_init(struct kunit *test)
{
	struct alloc_test *t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, t);
	t->tun = estack_tunables;
	t->tun.cache_budget.val = BUDGET;
	t->tun.pool_reserve.val = SZ_128M;
	KUNIT_ASSERT_EQ(test, 0, estack_allocator_init(&t->a, "kunit", &t->tun));
	test->priv = t;
	return 0;
}

/* Every page the instance holds is in use or cached: none is lost. */
static void expect_conserved(struct kunit *test, struct estack_allocator *a)
{
	KUNIT_EXPECT_EQ(test, atomic_long_read(&a->pages),
			(long)(estack_pages_in_use(a) + estack_pages_cached(a, -1)));
}

static void alloc_test_exit(struct kunit *test)
{
	struct alloc_test *t = test->priv;
	int order;

	/*
	 * The raw counts, exact once quiet: stacks_in_use is clamped at 0
	 * for its readers, so a free counted twice would not show there.
	 */
	for (order = 0; order < ESTACK_NR_ORDERS; order++)
		KUNIT_EXPECT_EQ_MSG(test, estack_stat_allocs(&t->a, order),
				    estack_stat_frees(&t->a, order),
				    "order %d", order);
	KUNIT_EXPECT_EQ(test, 0UL, estack_stacks_in_use(&t->a));
	expect_conserved(test, &t->a);
	estack_allocator_destroy(&t->a);
	KUNIT_EXPECT_EQ(test, 0L, atomic_long_read(&t->a.pages));
}

static struct estack_allocator *test_alloc(struct kunit *test)
{
	return &((struct alloc_test *)test->priv)->a;
}

static struct estack_tunables *test_tun(struct kunit *test)
{
	return &((struct alloc_test *)test->priv)->tun;
}

static struct estack_span *get(struct kunit *test, unsigned int order,
			       struct mem_cgroup *memcg)
{
	struct estack_span *span = estack_span_alloc(test_alloc(test), order,
						     memcg, 0);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, span);
	KUNIT_EXPECT_EQ(test, (unsigned int)span->order, order);
	KUNIT_EXPECT_FALSE(test, span->dirty);
	return span;
}

static u64 stat(struct kunit *test, enum estack_stat item)
{
	return estack_stat_sum(test_alloc(test), item);
}

/* Spans of @order in this CPU's cache (call with migration disabled). */
static unsigned int this_cpu_cached(struct kunit *test, unsigned int order)
{
	return per_cpu_ptr(test_alloc(test)->pcpu,
			   raw_smp_processor_id())->cls[order].nr;
}

static unsigned int budget_spans(unsigned int order)
{
	return BUDGET >> (order + PAGE_SHIFT);
}

static const unsigned int small_orders[] = { 0, 1, 2, 3 };

static void order_desc(const unsigned int *order, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%luK", (PAGE_SIZE >> 10) << *order);
}

KUNIT_ARRAY_PARAM(small, small_orders, order_desc);

/* --- estack_pcpu --- */

static void estack_pcpu_hit_after_free(struct kunit *test)
{
	unsigned int order = *(const unsigned int *)test->param_value;
	struct estack_allocator *a = test_alloc(test);
	struct estack_span *s1, *s2;
	u64 hits, locks;

	migrate_disable();
	s1 = get(test, order, NULL);
	estack_span_free(a, s1, NULL);
	KUNIT_EXPECT_EQ(test, 1U, this_cpu_cached(test, order));

	hits = stat(test, ESTACK_STAT_CACHE_HITS);
	locks = stat(test, ESTACK_STAT_POOL_LOCKS);
	s2 = get(test, order, NULL);
	migrate_enable();

	KUNIT_EXPECT_PTR_EQ(test, s1, s2);
	KUNIT_EXPECT_EQ(test, hits + 1, stat(test, ESTACK_STAT_CACHE_HITS));
	/* A hit takes no pool lock. */
	KUNIT_EXPECT_EQ(test, locks, stat(test, ESTACK_STAT_POOL_LOCKS));
	estack_span_free(a, s2, NULL);
}

/* Over budget, a cache gives its coldest half back to the pool. */
static void estack_pcpu_release_half(struct kunit *test)
{
	unsigned int order = *(const unsigned int *)test->param_value;
	unsigned int n = budget_spans(order) + 1, batch, i;
	struct estack_allocator *a = test_alloc(test);
	struct estack_span **spans;
	u64 releases;

	spans = kunit_kcalloc(test, n, sizeof(*spans), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, spans);
	batch = estack_pcpu_batch(a, order);
	KUNIT_EXPECT_EQ(test, max(1U, budget_spans(order) / 2), batch);

	migrate_disable();
	for (i = 0; i < n; i++)
		spans[i] = get(test, order, NULL);
	releases = stat(test, ESTACK_STAT_POOL_RELEASES);
	for (i = 0; i < n - 1; i++)
		estack_span_free(a, spans[i], NULL);
	KUNIT_EXPECT_EQ(test, n - 1, this_cpu_cached(test, order));
	KUNIT_EXPECT_EQ(test, 0UL, estack_pool_count(a, order));
	estack_span_free(a, spans[n - 1], NULL);
	KUNIT_EXPECT_EQ(test, n - batch, this_cpu_cached(test, order));
	migrate_enable();

	KUNIT_EXPECT_EQ(test, (unsigned long)batch, estack_pool_count(a, order));
	KUNIT_EXPECT_EQ(test, releases + 1, stat(test, ESTACK_STAT_POOL_RELEASES));
}

/* A miss refills half the budget from the pool in one walk. */
static void estack_pcpu_refill_batch(struct kunit *test)
{
	unsigned int order = *(const unsigned int *)test->param_value;
	struct estack_allocator *a = test_alloc(test);
	unsigned int n = budget_spans(order), batch, i;
	struct estack_span **spans;
	u64 refills, locks;

	spans = kunit_kcalloc(test, n, sizeof(*spans), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, spans);
	for (i = 0; i < n; i++)
		spans[i] = get(test, order, NULL);
	/* With the caches off, frees fill the pool. */
	WRITE_ONCE(test_tun(test)->cache_budget.val, 0);
	for (i = 0; i < n; i++)
		estack_span_free(a, spans[i], NULL);
	KUNIT_ASSERT_EQ(test, (unsigned long)n, estack_pool_count(a, order));
	WRITE_ONCE(test_tun(test)->cache_budget.val, BUDGET);
	batch = estack_pcpu_batch(a, order);

	migrate_disable();
	refills = stat(test, ESTACK_STAT_POOL_REFILLS);
	locks = stat(test, ESTACK_STAT_POOL_LOCKS);
	spans[0] = get(test, order, NULL);
	KUNIT_EXPECT_EQ(test, batch - 1, this_cpu_cached(test, order));
	migrate_enable();

	KUNIT_EXPECT_EQ(test, (unsigned long)(n - batch),
			estack_pool_count(a, order));
	KUNIT_EXPECT_EQ(test, refills + (batch > 1),
			stat(test, ESTACK_STAT_POOL_REFILLS));
	KUNIT_EXPECT_EQ(test, locks + 1, stat(test, ESTACK_STAT_POOL_LOCKS));
	/* The refilled span was recycled: it comes back zeroed. */
	KUNIT_EXPECT_FALSE(test, spans[0]->dirty);
	estack_span_free(a, spans[0], NULL);
}

/*
 * A refill takes its batch from the pool with no lock of the cache held,
 * and may find the cache filled meanwhile (another task on this CPU, or
 * this task moved to another CPU while the pool's list_lru lock slept on
 * PREEMPT_RT). Here the cache is full when the refill comes: it keeps
 * what fits, and the rest goes back to the pool.
 */
static void estack_pcpu_refill_into_a_full_cache(struct kunit *test)
{
	unsigned int order = *(const unsigned int *)test->param_value;
	struct estack_allocator *a = test_alloc(test);
	unsigned int n = budget_spans(order), i;
	struct estack_span **spans, *span;

	spans = kunit_kcalloc(test, 2 * n, sizeof(*spans), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, spans);
	for (i = 0; i < 2 * n; i++)
		spans[i] = get(test, order, NULL);
	/* n in the pool (caches off), then n in this CPU's cache. */
	WRITE_ONCE(test_tun(test)->cache_budget.val, 0);
	for (i = n; i < 2 * n; i++)
		estack_span_free(a, spans[i], NULL);
	WRITE_ONCE(test_tun(test)->cache_budget.val, BUDGET);
	migrate_disable();
	for (i = 0; i < n; i++)
		estack_span_free(a, spans[i], NULL);
	KUNIT_ASSERT_EQ(test, n, this_cpu_cached(test, order));
	span = estack_pcpu_refill(a, order, NULL);
	KUNIT_EXPECT_LE(test, this_cpu_cached(test, order), n);
	migrate_enable();
	KUNIT_ASSERT_NOT_NULL(test, span);
	KUNIT_EXPECT_EQ(test, (unsigned long)n - 1, estack_pool_count(a, order));
	/* Counted as estack_span_alloc() counts the span it returns. */
	this_cpu_inc(a->stats->allocs[order]);
	estack_span_free(a, span, NULL);
}

/* Whatever the sequence, a cache never holds more than its budget. */
static void estack_pcpu_budget_never_exceeded(struct kunit *test)
{
	struct estack_allocator *a = test_alloc(test);
	struct estack_span *live[64] = {};
	unsigned int i, slot, order;
	int cpu;

	for (i = 0; i < 4000; i++) {
		slot = get_random_u32() % ARRAY_SIZE(live);
		if (live[slot]) {
			estack_span_free(a, live[slot], NULL);
			live[slot] = NULL;
		} else {
			live[slot] = get(test, get_random_u32() % ESTACK_NR_SMALL,
					 NULL);
		}
		for_each_possible_cpu(cpu)
			for (order = 0; order < ESTACK_NR_SMALL; order++)
				KUNIT_ASSERT_LE(test,
						per_cpu_ptr(a->pcpu, cpu)->cls[order].nr,
						budget_spans(order));
	}
	for (slot = 0; slot < ARRAY_SIZE(live); slot++)
		if (live[slot])
			estack_span_free(a, live[slot], NULL);
}

static void estack_pcpu_off(struct kunit *test)
{
	struct estack_allocator *a = test_alloc(test);
	struct estack_span *s;
	u64 hits = stat(test, ESTACK_STAT_CACHE_HITS);

	WRITE_ONCE(test_tun(test)->cache_budget.val, 0);
	s = get(test, 0, NULL);
	estack_span_free(a, s, NULL);
	KUNIT_EXPECT_EQ(test, 0UL, estack_pcpu_count(a, 0, NULL));
	KUNIT_EXPECT_EQ(test, 1UL, estack_pool_count(a, 0));
	s = get(test, 0, NULL);
	KUNIT_EXPECT_EQ(test, hits, stat(test, ESTACK_STAT_CACHE_HITS));
	estack_span_free(a, s, NULL);
}

struct cpu_fill {
	struct estack_allocator *a;
	unsigned int n;
	struct completion done;
};

static int cpu_fill_fn(void *data)
{
	struct cpu_fill *f = data;
	struct estack_span *spans[4];
	unsigned int i;

	for (i = 0; i < f->n; i++)
		spans[i] = estack_span_alloc(f->a, 0, NULL, 0);
	for (i = 0; i < f->n; i++)
		if (!IS_ERR(spans[i]))
			estack_span_free(f->a, spans[i], NULL);
	complete(&f->done);
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

/* A CPU going offline gives its cache to the pools. */
static void estack_pcpu_cpu_offline_drains(struct kunit *test)
{
	struct estack_allocator *a = test_alloc(test);
	struct cpu_fill f = { .a = a, .n = 4 };
	struct task_struct *t;
	int cpu;

	cpus_read_lock();
	cpu = cpumask_last(cpu_online_mask);
	cpus_read_unlock();
	if (cpu == 0 || num_online_cpus() < 2)
		kunit_skip(test, "needs a second CPU to take offline");

	init_completion(&f.done);
	t = kthread_create_on_cpu(cpu_fill_fn, &f, cpu, "estack-kunit/%u");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	wake_up_process(t);
	wait_for_completion(&f.done);
	kthread_stop(t);
	KUNIT_ASSERT_EQ(test, 4U, per_cpu_ptr(a->pcpu, cpu)->cls[0].nr);

	KUNIT_ASSERT_EQ(test, 0, remove_cpu(cpu));
	KUNIT_EXPECT_EQ(test, 0U, per_cpu_ptr(a->pcpu, cpu)->cls[0].nr);
	KUNIT_EXPECT_EQ(test, 4UL, estack_pool_count(a, 0));
	KUNIT_EXPECT_EQ(test, 0, add_cpu(cpu));
}

static struct kunit_case estack_pcpu_cases[] = {
	KUNIT_CASE_PARAM(estack_pcpu_hit_after_free, small_gen_params),
	KUNIT_CASE_PARAM(estack_pcpu_release_half, small_gen_params),
	KUNIT_CASE_PARAM(estack_pcpu_refill_batch, small_gen_params),
	KUNIT_CASE_PARAM(estack_pcpu_refill_into_a_full_cache, small_gen_params),
	KUNIT_CASE(estack_pcpu_budget_never_exceeded),
	KUNIT_CASE(estack_pcpu_off),
	KUNIT_CASE(estack_pcpu_cpu_offline_drains),
	{}
};

static struct kunit_suite estack_pcpu_suite = {
	.name = "estack_pcpu",
	.init = alloc_test_init,
	.exit = alloc_test_exit,
	.test_cases = estack_pcpu_cases,
};

/* --- estack_pool --- */

/* An empty pool: the stack comes from the page allocator, zeroed. */
static void estack_pool_empty_falls_back(struct kunit *test)
{
	struct estack_allocator *a = test_alloc(test);
	u64 pages = stat(test, ESTACK_STAT_PAGES_ALLOCATED);
	struct estack_span *s;

	s = get(test, 1, NULL);
	KUNIT_EXPECT_EQ(test, 1ULL, stat(test, ESTACK_STAT_CACHE_MISSES));
	KUNIT_EXPECT_EQ(test, 0ULL, stat(test, ESTACK_STAT_POOL_REFILLS));
	KUNIT_EXPECT_EQ(test, 0ULL, stat(test, ESTACK_STAT_POOL_HITS));
	KUNIT_EXPECT_EQ(test, pages + 2, stat(test, ESTACK_STAT_PAGES_ALLOCATED));
	estack_span_free(a, s, NULL);
}

static void fill_span(struct estack_span *s, u8 byte)
{
	unsigned long i;

	for (i = 0; i < estack_span_nr_pages(s); i++)
		memset_page(s->pages[i], 0, byte, PAGE_SIZE);
}

static bool span_is_zero(struct estack_span *s)
{
	unsigned long i;
	bool zero = true;

	for (i = 0; i < estack_span_nr_pages(s) && zero; i++) {
		void *p = kmap_local_page(s->pages[i]);

		zero = !memchr_inv(p, 0, PAGE_SIZE);
		kunmap_local(p);
	}
	return zero;
}

/*
 * A move asks for pages it will clear or copy over itself: fresh ones are
 * not cleared on the way (no __GFP_ZERO) but come marked dirty, so that
 * the move clears what it does not copy; a zeroed stack still comes zeroed.
 */
/*
 * Fresh pages for a move are not cleared on the way: each is marked, for
 * the move to clear what it does not copy over. Unless the page allocator
 * cleared them itself (init_on_alloc, as Debian's kernels boot): then the
 * span is clean, and nothing clears it a second time.
 */
static void estack_pool_fresh_unzeroed_marked(struct kunit *test)
{
	bool cleared = want_init_on_alloc(GFP_KERNEL_ACCOUNT);
	struct estack_allocator *a = test_alloc(test);
	u64 pages = stat(test, ESTACK_STAT_PAGES_ALLOCATED);
	u64 zeroed = stat(test, ESTACK_STAT_PAGES_ZEROED);
	struct estack_span *s;

	kunit_info(test, "init_on_alloc: %s\n", cleared ? "on" : "off");
	s = estack_span_alloc_unzeroed(a, 1, NULL, 0);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, s);
	KUNIT_EXPECT_EQ(test, pages + 2, stat(test, ESTACK_STAT_PAGES_ALLOCATED));
	KUNIT_EXPECT_EQ(test, !cleared, s->dirty);
	KUNIT_EXPECT_EQ(test, !cleared, !!PageDirty(s->pages[0]));
	KUNIT_EXPECT_EQ(test, !cleared, !!PageDirty(s->pages[1]));
	if (cleared)
		KUNIT_EXPECT_TRUE(test, span_is_zero(s));
	KUNIT_EXPECT_EQ(test, zeroed, stat(test, ESTACK_STAT_PAGES_ZEROED));
	estack_span_free(a, s, NULL);

	/* Fresh (no order 2 is cached) for a zeroed request: still zero. */
	s = get(test, 2, NULL);
	KUNIT_EXPECT_TRUE(test, span_is_zero(s));
	KUNIT_EXPECT_EQ(test, zeroed, stat(test, ESTACK_STAT_PAGES_ZEROED));
	estack_span_free(a, s, NULL);
}

static const unsigned int reuse_orders[] = { 0, 1, 3, 4, 6 };

KUNIT_ARRAY_PARAM(reuse, reuse_orders, order_desc);

/* A recycled stack never shows its previous user's data. */
static void estack_pool_zero_before_reuse(struct kunit *test)
{
	unsigned int order = *(const unsigned int *)test->param_value;
	struct estack_allocator *a = test_alloc(test);
	struct estack_span *s1, *s2;
	u64 zeroed;

	migrate_disable();
	s1 = get(test, order, NULL);
	KUNIT_EXPECT_TRUE(test, span_is_zero(s1));
	fill_span(s1, 0xa5);
	estack_span_free(a, s1, NULL);
	zeroed = stat(test, ESTACK_STAT_PAGES_ZEROED);
	s2 = get(test, order, NULL);
	migrate_enable();

	KUNIT_EXPECT_PTR_EQ(test, s1, s2);
	KUNIT_EXPECT_TRUE(test, span_is_zero(s2));
	KUNIT_EXPECT_EQ(test, zeroed + (1U << order),
			stat(test, ESTACK_STAT_PAGES_ZEROED));
	estack_span_free(a, s2, NULL);
}

/* A store through the mapping, once the zap moved its mark to PG_dirty. */
static void write_page_marked(struct page *page, u8 byte)
{
	memset_page(page, 0, byte, PAGE_SIZE);
	SetPageDirty(page);
}

/*
 * Of a span the same owner held last, only the pages it wrote (marked
 * PG_dirty) are cleared. Another owner gets every page cleared, even one
 * written with no mark: the marks are never trusted across files.
 */
static void estack_pool_owner_trusts_marks(struct kunit *test)
{
	unsigned int order = *(const unsigned int *)test->param_value;
	struct estack_allocator *a = test_alloc(test);
	unsigned long nr = 1UL << order;
	struct estack_span *s1, *s2, *s3;
	u64 zeroed;

	migrate_disable();
	s1 = estack_span_alloc(a, order, NULL, 7);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, s1);
	KUNIT_EXPECT_TRUE(test, span_is_zero(s1));
	write_page_marked(s1->pages[nr - 1], 0xa5);
	estack_span_free(a, s1, NULL);
	zeroed = stat(test, ESTACK_STAT_PAGES_ZEROED);
	s2 = estack_span_alloc(a, order, NULL, 7);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, s2);
	KUNIT_EXPECT_PTR_EQ(test, s1, s2);
	KUNIT_EXPECT_TRUE(test, span_is_zero(s2));
	KUNIT_EXPECT_EQ(test, zeroed + 1, stat(test, ESTACK_STAT_PAGES_ZEROED));

	/* A write that left no mark, then another owner. */
	memset_page(s2->pages[0], 0, 0x5a, PAGE_SIZE);
	estack_span_free(a, s2, NULL);
	zeroed = stat(test, ESTACK_STAT_PAGES_ZEROED);
	s3 = estack_span_alloc(a, order, NULL, 8);
	migrate_enable();
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, s3);
	KUNIT_EXPECT_PTR_EQ(test, s1, s3);
	KUNIT_EXPECT_TRUE(test, span_is_zero(s3));
	KUNIT_EXPECT_EQ(test, zeroed + nr, stat(test, ESTACK_STAT_PAGES_ZEROED));
	estack_span_free(a, s3, NULL);
}

/*
 * A span for a move is not cleared on the way: its pages come marked as
 * they are, for the move to clear. For the owner that held it, only what
 * it wrote; for any other, or none, all of it.
 */
static void estack_pool_unzeroed_marks_by_owner(struct kunit *test)
{
	unsigned int order = *(const unsigned int *)test->param_value;
	struct estack_allocator *a = test_alloc(test);
	unsigned long nr = 1UL << order, i, marked;
	struct estack_span *s1, *s2;

	migrate_disable();
	s1 = estack_span_alloc(a, order, NULL, 7);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, s1);
	write_page_marked(s1->pages[nr - 1], 0xa5);
	estack_span_free(a, s1, NULL);
	s2 = estack_span_alloc_unzeroed(a, order, NULL, 7);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, s2);
	KUNIT_EXPECT_PTR_EQ(test, s1, s2);
	KUNIT_EXPECT_TRUE(test, s2->dirty);
	for (i = 0, marked = 0; i < nr; i++)
		marked += PageDirty(s2->pages[i]);
	KUNIT_EXPECT_EQ(test, 1UL, marked);
	KUNIT_EXPECT_TRUE(test, PageDirty(s2->pages[nr - 1]));
	estack_span_free(a, s2, NULL);

	s2 = estack_span_alloc_unzeroed(a, order, NULL, 0);
	migrate_enable();
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, s2);
	KUNIT_EXPECT_PTR_EQ(test, s1, s2);
	for (i = 0, marked = 0; i < nr; i++)
		marked += PageDirty(s2->pages[i]);
	KUNIT_EXPECT_EQ(test, nr, marked);
	estack_span_free(a, s2, NULL);
}

/* A page someone else holds a reference to is never recycled. */
static void estack_pool_pinned_not_recycled(struct kunit *test)
{
	struct estack_allocator *a = test_alloc(test);
	struct estack_span *s = get(test, 2, NULL);
	struct page *pinned = s->pages[3];
	long pages = atomic_long_read(&a->pages);

	get_page(pinned);
	estack_span_free(a, s, NULL);
	KUNIT_EXPECT_EQ(test, 1ULL, stat(test, ESTACK_STAT_PINNED_RELEASED));
	KUNIT_EXPECT_EQ(test, 0UL, estack_pages_cached(a, -1));
	KUNIT_EXPECT_EQ(test, pages - 4, atomic_long_read(&a->pages));
	/* The page outlived the span: ours is now the only reference. */
	KUNIT_EXPECT_EQ(test, 1, page_ref_count(pinned));
	put_page(pinned);
}

/* Beyond pool_reserve, freed stacks go back to the page allocator. */
static void estack_pool_reserve_bounds(struct kunit *test)
{
	struct estack_allocator *a = test_alloc(test);
	struct estack_span *spans[12];
	u64 freed;
	int i;

	WRITE_ONCE(test_tun(test)->cache_budget.val, 0);
	WRITE_ONCE(test_tun(test)->pool_reserve.val, 8 * PAGE_SIZE);
	for (i = 0; i < 12; i++)
		spans[i] = get(test, 0, NULL);
	freed = stat(test, ESTACK_STAT_PAGES_FREED);
	for (i = 0; i < 12; i++)
		estack_span_free(a, spans[i], NULL);
	KUNIT_EXPECT_EQ(test, 8UL, estack_pool_count(a, 0));
	KUNIT_EXPECT_EQ(test, freed + 4, stat(test, ESTACK_STAT_PAGES_FREED));
}

/* Each page of a span is its own order-0 page with one reference. */
static void estack_pool_pages_refcounted(struct kunit *test)
{
	struct estack_span *s = get(test, 3, NULL);
	unsigned long i, j;

	for (i = 0; i < 8; i++) {
		KUNIT_EXPECT_EQ(test, 1, page_ref_count(s->pages[i]));
		KUNIT_EXPECT_FALSE(test, PageCompound(s->pages[i]));
		for (j = 0; j < i; j++)
			KUNIT_EXPECT_PTR_NE(test, s->pages[i], s->pages[j]);
	}
	estack_span_free(test_alloc(test), s, NULL);
}

/*
 * A free summed before its alloc, as a reader of the statistics can see
 * it when a stack is allocated and freed between its two sums, reads as
 * no stack in use, not as 2^64 - 1 of them.
 */
static void estack_pool_in_use_never_negative(struct kunit *test)
{
	struct estack_allocator *a = test_alloc(test);

	this_cpu_inc(a->stats->frees[2]);
	KUNIT_EXPECT_EQ(test, 0ULL, estack_stat_in_use(a, 2));
	KUNIT_EXPECT_EQ(test, 0UL, estack_stacks_in_use(a));
	KUNIT_EXPECT_EQ(test, 0UL, estack_pages_in_use(a));
	this_cpu_dec(a->stats->frees[2]);
}

/*
 * A stack a file keeps mapped counts as freed and cached; taken back it
 * counts as in use again; dropped, it goes to the caches like any other.
 */
static void estack_pool_mapped_cache_accounting(struct kunit *test)
{
	struct estack_allocator *a = test_alloc(test);
	struct estack_span *s = get(test, 1, NULL);
	unsigned long cached = estack_pages_cached(a, 1);

	KUNIT_EXPECT_EQ(test, 1UL, estack_stacks_in_use(a));
	estack_span_keep(a, s);
	KUNIT_EXPECT_EQ(test, 0UL, estack_stacks_in_use(a));
	KUNIT_EXPECT_EQ(test, cached + 2, estack_pages_cached(a, 1));
	expect_conserved(test, a);
	estack_span_reuse(a, s);
	KUNIT_EXPECT_EQ(test, 1UL, estack_stacks_in_use(a));
	KUNIT_EXPECT_EQ(test, cached, estack_pages_cached(a, 1));
	estack_span_keep(a, s);
	estack_span_drop(a, s, NULL);
	KUNIT_EXPECT_EQ(test, 0UL, estack_stacks_in_use(a));
	KUNIT_EXPECT_EQ(test, cached + 2, estack_pages_cached(a, 1));
	KUNIT_EXPECT_EQ(test, 0L, atomic_long_read(&a->mapped[1]));
	KUNIT_EXPECT_EQ(test, 2ULL, stat(test, ESTACK_STAT_MAPPED_ADDS));
	KUNIT_EXPECT_EQ(test, 1ULL, stat(test, ESTACK_STAT_MAPPED_HITS));
	/* Dropped, it is dirty: the next user gets it cleared. */
	s = get(test, 1, NULL);
	estack_span_free(a, s, NULL);
}

static struct kunit_case estack_pool_cases[] = {
	KUNIT_CASE(estack_pool_empty_falls_back),
	KUNIT_CASE(estack_pool_fresh_unzeroed_marked),
	KUNIT_CASE_PARAM(estack_pool_zero_before_reuse, reuse_gen_params),
	KUNIT_CASE_PARAM(estack_pool_owner_trusts_marks, reuse_gen_params),
	KUNIT_CASE_PARAM(estack_pool_unzeroed_marks_by_owner, reuse_gen_params),
	KUNIT_CASE(estack_pool_pinned_not_recycled),
	KUNIT_CASE(estack_pool_reserve_bounds),
	KUNIT_CASE(estack_pool_pages_refcounted),
	KUNIT_CASE(estack_pool_mapped_cache_accounting),
	KUNIT_CASE(estack_pool_in_use_never_negative),
	{}
};

static struct kunit_suite estack_pool_suite = {
	.name = "estack_pool",
	.init = alloc_test_init,
	.exit = alloc_test_exit,
	.test_cases = estack_pool_cases,
};

/* --- estack_large --- */

static void estack_large_reuse(struct kunit *test)
{
	struct estack_allocator *a = test_alloc(test);
	struct estack_span *s1, *s2;
	u64 hits;

	s1 = get(test, 6, NULL);
	estack_span_free(a, s1, NULL);
	KUNIT_EXPECT_EQ(test, 1UL, estack_pool_count(a, 6));
	hits = stat(test, ESTACK_STAT_POOL_HITS);
	s2 = get(test, 6, NULL);
	KUNIT_EXPECT_PTR_EQ(test, s1, s2);
	KUNIT_EXPECT_EQ(test, hits + 1, stat(test, ESTACK_STAT_POOL_HITS));
	KUNIT_EXPECT_EQ(test, 0UL, estack_pool_count(a, 6));
	/* Another order's list is not consulted. */
	s1 = get(test, 7, NULL);
	KUNIT_EXPECT_PTR_NE(test, s1, s2);
	estack_span_free(a, s1, NULL);
	estack_span_free(a, s2, NULL);
}

/* 64 MiB from order-0 pages and small blocks: no high-order allocation. */
static void estack_large_64m(struct kunit *test)
{
	struct estack_allocator *a = test_alloc(test);
	struct estack_span *s = get(test, 14, NULL);
	unsigned long i, nr = estack_span_nr_pages(s);

	KUNIT_EXPECT_EQ(test, 16384UL, nr);
	for (i = 0; i < nr; i++) {
		KUNIT_ASSERT_EQ(test, 1, page_ref_count(s->pages[i]));
		KUNIT_ASSERT_FALSE(test, PageCompound(s->pages[i]));
	}
	KUNIT_EXPECT_TRUE(test, span_is_zero(s));
	KUNIT_EXPECT_EQ(test, (long)nr, atomic_long_read(&a->pages));
	estack_span_free(a, s, NULL);
}

static const unsigned int sweep_orders[] = { 0, 3, 5 };

KUNIT_ARRAY_PARAM(sweep, sweep_orders, order_desc);

/*
 * Every allocation on the way to a new stack fails once, in turn (the
 * rig sets fail_page_alloc and failslab to consider sleeping and order-0
 * allocations): each failure is -ENOMEM or a fallback that still works,
 * and the counters stay consistent.
 */
static void estack_large_fault_sweep(struct kunit *test)
{
#ifdef CONFIG_FAULT_INJECTION
	unsigned int order = *(const unsigned int *)test->param_value;
	struct estack_allocator *a = test_alloc(test);
	unsigned int n, left, failures = 0, fallbacks = 0;
	struct estack_span *s;

	WRITE_ONCE(test_tun(test)->cache_budget.val, 0);
	WRITE_ONCE(test_tun(test)->pool_reserve.val, 0);
	for (n = 1; n < 100; n++) {
		current->fail_nth = n;
		s = estack_span_alloc(a, order, NULL, 0);
		left = current->fail_nth;
		current->fail_nth = 0;
		if (IS_ERR(s)) {
			KUNIT_EXPECT_EQ(test, -ENOMEM, PTR_ERR(s));
			failures++;
		} else {
			/* A failed block was made up with single pages. */
			fallbacks += !left;
			KUNIT_EXPECT_TRUE(test, span_is_zero(s));
			estack_span_free(a, s, NULL);
		}
		KUNIT_EXPECT_EQ(test, 0L, atomic_long_read(&a->pages));
		KUNIT_EXPECT_EQ(test, 0UL, estack_stacks_in_use(a));
		if (left)	/* the n-th site was never reached */
			break;
	}
	KUNIT_EXPECT_LT(test, n, 100U);
	/* The descriptor and the first block or page were reached. */
	KUNIT_EXPECT_LE(test, 1U, failures);
	KUNIT_EXPECT_LE(test, 2U, failures + fallbacks);
	if (order)
		KUNIT_EXPECT_LE(test, 1U, fallbacks);
#else
	kunit_skip(test, "needs CONFIG_FAULT_INJECTION");
#endif
}

static struct kunit_case estack_large_cases[] = {
	KUNIT_CASE(estack_large_reuse),
	KUNIT_CASE(estack_large_64m),
	KUNIT_CASE_PARAM(estack_large_fault_sweep, sweep_gen_params),
	{}
};

static struct kunit_suite estack_large_suite = {
	.name = "estack_large",
	.init = alloc_test_init,
	.exit = alloc_test_exit,
	.test_cases = estack_large_cases,
};

/* --- estack_shrinker --- */

static struct shrink_control shrink_sc(unsigned long nr, struct mem_cgroup *memcg)
{
	struct shrink_control sc = {
		.gfp_mask = GFP_KERNEL,
		.nid = first_memory_node,
		.memcg = memcg,
		.nr_to_scan = nr,
	};
	return sc;
}

static void estack_shrinker_counts_and_frees_exactly(struct kunit *test)
{
	struct estack_allocator *a = test_alloc(test);
	struct estack_span *spans[12];
	struct shrink_control sc;
	long pages;
	int i;

	WRITE_ONCE(test_tun(test)->cache_budget.val, 0);
	for (i = 0; i < 12; i++)
		spans[i] = get(test, i < 10 ? 0 : 4, NULL);
	for (i = 0; i < 12; i++)
		estack_span_free(a, spans[i], NULL);

	sc = shrink_sc(0, NULL);
	KUNIT_EXPECT_EQ(test, 12UL, estack_shrink_count(a->shrinker, &sc));
	pages = atomic_long_read(&a->pages);

	/* Largest first: both 64 KiB stacks, then one page. */
	sc = shrink_sc(3, NULL);
	KUNIT_EXPECT_EQ(test, 3UL, estack_shrink_scan(a->shrinker, &sc));
	KUNIT_EXPECT_EQ(test, 33ULL, stat(test, ESTACK_STAT_SHRINKER_FREED));
	KUNIT_EXPECT_EQ(test, pages - 33, atomic_long_read(&a->pages));
	sc = shrink_sc(0, NULL);
	KUNIT_EXPECT_EQ(test, 9UL, estack_shrink_count(a->shrinker, &sc));

	sc = shrink_sc(100, NULL);
	KUNIT_EXPECT_EQ(test, 9UL, estack_shrink_scan(a->shrinker, &sc));
	sc = shrink_sc(0, NULL);
	KUNIT_EXPECT_EQ(test, (unsigned long)SHRINK_EMPTY,
			estack_shrink_count(a->shrinker, &sc));
	KUNIT_EXPECT_EQ(test, 0L, atomic_long_read(&a->pages));
}

static void estack_shrinker_drains_pcpu(struct kunit *test)
{
	struct estack_allocator *a = test_alloc(test);
	struct estack_span *spans[4];
	struct shrink_control sc;
	int i;

	migrate_disable();
	for (i = 0; i < 4; i++)
		spans[i] = get(test, 1, NULL);
	for (i = 0; i < 4; i++)
		estack_span_free(a, spans[i], NULL);
	KUNIT_EXPECT_EQ(test, 4U, this_cpu_cached(test, 1));
	migrate_enable();

	sc = shrink_sc(0, NULL);
	KUNIT_EXPECT_EQ(test, 4UL, estack_shrink_count(a->shrinker, &sc));
	sc = shrink_sc(10, NULL);
	KUNIT_EXPECT_EQ(test, 4UL, estack_shrink_scan(a->shrinker, &sc));
	KUNIT_EXPECT_EQ(test, 0UL, estack_pcpu_count(a, 1, NULL));
	KUNIT_EXPECT_EQ(test, 8ULL, stat(test, ESTACK_STAT_SHRINKER_FREED));
}

static struct kunit_case estack_shrinker_cases[] = {
	KUNIT_CASE(estack_shrinker_counts_and_frees_exactly),
	KUNIT_CASE(estack_shrinker_drains_pcpu),
	{}
};

static struct kunit_suite estack_shrinker_suite = {
	.name = "estack_shrinker",
	.init = alloc_test_init,
	.exit = alloc_test_exit,
	.test_cases = estack_shrinker_cases,
};

/* --- estack_memcg --- */

struct memcg_test {
	struct alloc_test base;		/* first: test->priv is both */
	struct cgroup *cg[2];
	struct mem_cgroup *memcg[2];
};

static int memcg_test_init(struct kunit *test)
{
	static const char *const paths[2] = {
		"/estack-kunit-a", "/estack-kunit-b",
	};
	struct memcg_test *t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);
	struct cgroup_subsys_state *css;
	int i;

	KUNIT_ASSERT_NOT_NULL(test, t);
	t->base.tun = estack_tunables;
	t->base.tun.cache_budget.val = BUDGET;
	t->base.tun.pool_reserve.val = SZ_128M;
	KUNIT_ASSERT_EQ(test, 0, estack_allocator_init(&t->base.a, "kunit-memcg",
						       &t->base.tun));
	test->priv = t;
	for (i = 0; i < 2; i++) {
		t->cg[i] = cgroup_get_from_path(paths[i]);
		if (IS_ERR(t->cg[i])) {
			t->cg[i] = NULL;
			continue;
		}
		css = cgroup_get_e_css(t->cg[i], &memory_cgrp_subsys);
		t->memcg[i] = css ? mem_cgroup_from_css(css) : NULL;
	}
	return 0;
}

static void memcg_test_exit(struct kunit *test)
{
	struct memcg_test *t = test->priv;
	int i;

	alloc_test_exit(test);
	for (i = 0; i < 2; i++) {
		if (t->memcg[i])
			css_put(&t->memcg[i]->css);
		if (t->cg[i])
			cgroup_put(t->cg[i]);
	}
}

static struct mem_cgroup **test_memcgs(struct kunit *test)
{
	struct memcg_test *t = test->priv;

	if (!t->memcg[0] || !t->memcg[1] || t->memcg[0] == t->memcg[1])
		kunit_skip(test, "needs cgroups /estack-kunit-a and -b with memory");
	return t->memcg;
}

/*
 * The memcg a page is charged to. Only compared with memcgs the test holds,
 * so it may be used after the RCU section (KUnit's failure reports sleep).
 */
static struct mem_cgroup *page_memcg_of(struct page *page)
{
	struct mem_cgroup *memcg;

	rcu_read_lock();
	memcg = folio_memcg(page_folio(page));
	rcu_read_unlock();
	return memcg;
}

/* Pages and descriptor of a span are charged to the cgroup it was for. */
static void estack_memcg_charged(struct kunit *test)
{
	struct mem_cgroup **m = test_memcgs(test);
	struct estack_span *s = get(test, 2, m[0]);
	int i;

	for (i = 0; i < 4; i++)
		KUNIT_EXPECT_PTR_EQ(test, m[0], page_memcg_of(s->pages[i]));
	estack_span_free(test_alloc(test), s, m[0]);
}

/* A per-CPU cache holding A's stacks does not serve B. */
static void estack_memcg_cache_keyed(struct kunit *test)
{
	struct mem_cgroup **m = test_memcgs(test);
	struct estack_allocator *a = test_alloc(test);
	struct estack_span *sa, *sb, *again;

	migrate_disable();
	sa = get(test, 0, m[0]);
	estack_span_free(a, sa, m[0]);
	sb = get(test, 0, m[1]);
	KUNIT_EXPECT_PTR_NE(test, sa, sb);
	KUNIT_EXPECT_PTR_EQ(test, m[1], page_memcg_of(sb->pages[0]));
	estack_span_free(a, sb, m[1]);
	again = get(test, 0, m[0]);
	migrate_enable();

	KUNIT_EXPECT_PTR_EQ(test, sa, again);
	estack_span_free(a, again, m[0]);
}

/* A's stacks in the pool are on A's list only. */
static void estack_memcg_pool_keyed(struct kunit *test)
{
	struct mem_cgroup **m = test_memcgs(test);
	struct estack_allocator *a = test_alloc(test);
	struct estack_span *sa, *sb, *again;
	struct shrink_control sc;

	WRITE_ONCE(test_tun(test)->cache_budget.val, 0);
	sa = get(test, 5, m[0]);
	estack_span_free(a, sa, m[0]);
	sb = get(test, 5, m[1]);
	KUNIT_EXPECT_PTR_NE(test, sa, sb);

	/* Reclaim in B does not see A's stack. */
	sc = shrink_sc(0, m[1]);
	KUNIT_EXPECT_EQ(test, (unsigned long)SHRINK_EMPTY,
			estack_shrink_count(a->shrinker, &sc));
	sc = shrink_sc(0, m[0]);
	KUNIT_EXPECT_EQ(test, 1UL, estack_shrink_count(a->shrinker, &sc));

	again = get(test, 5, m[0]);
	KUNIT_EXPECT_PTR_EQ(test, sa, again);
	estack_span_free(a, sb, m[1]);
	estack_span_free(a, again, m[0]);
}

/*
 * The root cgroup's call, which global reclaim and drop_caches make with
 * every shrinker, empties A's per-CPU class too: reclaim calls the
 * shrinker for A itself only once A has something on the pools' lists,
 * and here it has not. A's own call takes it as well; B's does not.
 */
static void estack_memcg_root_call_takes_cpu_caches(struct kunit *test)
{
	struct mem_cgroup **m = test_memcgs(test);
	struct estack_allocator *a = test_alloc(test);
	struct mem_cgroup *root;
	struct shrink_control sc;
	struct estack_span *sa;
	int round;

	root = mem_cgroup_from_css(m[0]->css.parent);
	KUNIT_ASSERT_NOT_NULL(test, root);
	KUNIT_ASSERT_NULL(test, root->css.parent);
	for (round = 0; round < 2; round++) {
		sa = get(test, 0, m[0]);
		estack_span_free(a, sa, m[0]);
		KUNIT_ASSERT_EQ(test, 1UL, estack_pcpu_count(a, 0, m[0]));
		KUNIT_ASSERT_EQ(test, 0UL, estack_pool_count(a, 0));

		sc = shrink_sc(16, m[1]);
		KUNIT_EXPECT_EQ(test, (unsigned long)SHRINK_EMPTY,
				estack_shrink_count(a->shrinker, &sc));
		sc = shrink_sc(16, round ? m[0] : root);
		KUNIT_EXPECT_EQ(test, 1UL,
				estack_shrink_count(a->shrinker, &sc));
		KUNIT_EXPECT_EQ(test, 1UL,
				estack_shrink_scan(a->shrinker, &sc));
		KUNIT_EXPECT_EQ(test, 0UL, estack_pcpu_count(a, 0, NULL));
	}
}

static struct kunit_case estack_memcg_cases[] = {
	KUNIT_CASE(estack_memcg_charged),
	KUNIT_CASE(estack_memcg_cache_keyed),
	KUNIT_CASE(estack_memcg_pool_keyed),
	KUNIT_CASE(estack_memcg_root_call_takes_cpu_caches),
	{}
};

static struct kunit_suite estack_memcg_suite = {
	.name = "estack_memcg",
	.init = memcg_test_init,
	.exit = memcg_test_exit,
	.test_cases = estack_memcg_cases,
};

/* --- estack_concurrency --- */

struct churn {
	struct estack_allocator *a;
	atomic_t *running;
	struct completion *done;
	int errors;
};

static int churn_fn(void *data)
{
	struct churn *c = data;
	struct estack_span *live[16] = {};
	unsigned int i, slot;

	for (i = 0; i < 3000; i++) {
		slot = get_random_u32() % ARRAY_SIZE(live);
		if (live[slot]) {
			estack_span_free(c->a, live[slot], NULL);
			live[slot] = NULL;
			continue;
		}
		live[slot] = estack_span_alloc(c->a, get_random_u32() % 6,
					       NULL, 0);
		if (IS_ERR(live[slot])) {
			live[slot] = NULL;
			c->errors++;
		}
		if (!(i % 64))
			cond_resched();
	}
	for (slot = 0; slot < ARRAY_SIZE(live); slot++)
		if (live[slot])
			estack_span_free(c->a, live[slot], NULL);
	if (atomic_dec_and_test(c->running))
		complete(c->done);
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

/* Allocate and free on every CPU at once: every page accounted for. */
static void estack_concurrency_all_cpus(struct kunit *test)
{
	struct estack_allocator *a = test_alloc(test);
	DECLARE_COMPLETION_ONSTACK(done);
	struct task_struct **tasks;
	struct churn *churns;
	atomic_t running;
	int cpu, n = 0, order;

	tasks = kunit_kcalloc(test, nr_cpu_ids, sizeof(*tasks), GFP_KERNEL);
	churns = kunit_kcalloc(test, nr_cpu_ids, sizeof(*churns), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, tasks);
	KUNIT_ASSERT_NOT_NULL(test, churns);

	cpus_read_lock();
	atomic_set(&running, num_online_cpus());
	for_each_online_cpu(cpu) {
		churns[cpu] = (struct churn){ a, &running, &done, 0 };
		tasks[cpu] = kthread_create_on_cpu(churn_fn, &churns[cpu], cpu,
						   "estack-churn/%u");
		if (IS_ERR(tasks[cpu])) {
			tasks[cpu] = NULL;
			atomic_dec(&running);
			continue;
		}
		wake_up_process(tasks[cpu]);
		n++;
	}
	cpus_read_unlock();
	KUNIT_ASSERT_LE(test, 2, n);
	if (atomic_read(&running))
		wait_for_completion(&done);
	for_each_possible_cpu(cpu) {
		if (!tasks[cpu])
			continue;
		kthread_stop(tasks[cpu]);
		KUNIT_EXPECT_EQ(test, 0, churns[cpu].errors);
	}

	KUNIT_EXPECT_EQ(test, 0UL, estack_stacks_in_use(a));
	for (order = 0; order < ESTACK_NR_ORDERS; order++)
		KUNIT_EXPECT_EQ(test, estack_stat_allocs(a, order),
				estack_stat_frees(a, order));
	expect_conserved(test, a);
}

static struct kunit_case estack_concurrency_cases[] = {
	KUNIT_CASE(estack_concurrency_all_cpus),
	{}
};

static struct kunit_suite estack_concurrency_suite = {
	.name = "estack_concurrency",
	.init = alloc_test_init,
	.exit = alloc_test_exit,
	.test_cases = estack_concurrency_cases,
};

kunit_test_suites(&estack_pcpu_suite, &estack_pool_suite, &estack_large_suite,
		  &estack_shrinker_suite, &estack_memcg_suite,
		  &estack_concurrency_suite);
