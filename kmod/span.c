// SPDX-License-Identifier: GPL-2.0
/*
 * estack spans: the pages of a stack, to and from the page allocator.
 *
 * A span is 2^order individually refcounted pages. They are taken in blocks
 * of up to ESTACK_CHUNK_ORDER and split at once with split_page(), falling
 * back to single pages when no block is free: physical contiguity is an
 * optimisation, never a requirement, so a 64 MiB stack succeeds on a
 * fragmented machine. Pages come zeroed (__GFP_ZERO, or init_on_alloc)
 * unless the caller will clear or copy over every byte itself (a move), and
 * are charged with GFP_KERNEL_ACCOUNT to the memcg the caller names, by
 * making it the active memcg for the allocation.
 *
 * Concurrency: no locks; a span being built, zeroed or released belongs to
 * the caller alone.
 *
 * Copyright (C) 2026 The estack authors
 */

#include <linux/error-injection.h>
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "alloc-internal.h"

/**
 * estack_should_stop() - may long work go on?
 *
 * Reschedules and says stop when a fatal signal is pending; called by
 * estack_resched_point() every %ESTACK_RESCHED_PAGES steps. Error
 * injection (fail_function) can make it say stop, which is how the tests
 * reach every -EINTR exit of a long copy, clear or walk.
 *
 * Return: true when the caller must undo its work and return -EINTR.
 */
noinline bool estack_should_stop(void)
{
	if (fatal_signal_pending(current))
		return true;
	cond_resched();
	return false;
}

/* For the fail_function sweeps of the tests. */
ALLOW_ERROR_INJECTION(estack_should_stop, TRUE);

static struct kmem_cache *estack_span_cache;

int estack_span_cache_init(void)
{
	estack_span_cache = KMEM_CACHE(estack_span, SLAB_ACCOUNT);
	return estack_span_cache ? 0 : -ENOMEM;
}

void estack_span_cache_exit(void)
{
	kmem_cache_destroy(estack_span_cache);
}

static void estack_span_free_desc(struct estack_span *span)
{
	if (span->pages != span->inline_pages)
		kvfree(span->pages);
	kmem_cache_free(estack_span_cache, span);
}

/* Put the first @nr pages of @span, which the caller holds only once. */
static void estack_span_put_pages(struct estack_allocator *a,
				  struct estack_span *span, unsigned long nr)
{
	unsigned long i;

	for (i = 0; i < nr; i++)
		put_page(span->pages[i]);
	atomic_long_sub(nr, &a->pages);
	estack_stat_add(a, ESTACK_STAT_PAGES_FREED, nr);
}

/*
 * Fill @span with pages from the page allocator, with @gfp; those it did
 * not clear (@cleared false) are marked. -ENOMEM or -EINTR leave it empty.
 */
static int estack_span_fill(struct estack_allocator *a,
			    struct estack_span *span, gfp_t gfp, bool cleared)
{
	unsigned long nr = estack_span_nr_pages(span), i = 0, j;
	unsigned int chunk = min_t(unsigned int, span->order,
				   ESTACK_CHUNK_ORDER);
	struct page *page;
	int ret = -ENOMEM;

	while (i < nr) {
		page = NULL;
		if (chunk) {
			page = alloc_pages(gfp | __GFP_NORETRY | __GFP_NOWARN,
					   chunk);
			if (page)
				split_page(page, chunk);
			else
				chunk = 0;	/* fragmented: go page by page */
		}
		if (!page)
			page = alloc_page(gfp);
		if (!page)
			goto err_put_pages;
		for (j = 0; j < (1UL << chunk); j++) {
			/* Whatever the last user left: marked, to be cleared. */
			if (!cleared)
				SetPageDirty(page + j);
			span->pages[i++] = page + j;
		}
		atomic_long_add(1UL << chunk, &a->pages);

		if (nr > ESTACK_RESCHED_PAGES && estack_resched_point(i)) {
			ret = -EINTR;
			goto err_put_pages;
		}
	}
	estack_stat_add(a, ESTACK_STAT_PAGES_ALLOCATED, nr);
	return 0;

err_put_pages:
	estack_stat_add(a, ESTACK_STAT_PAGES_ALLOCATED, i);
	estack_span_put_pages(a, span, i);
	return ret;
}

/**
 * estack_span_new() - a span of fresh pages charged to @memcg
 * @a: the allocator
 * @order: log2 of the number of pages
 * @memcg: the cgroup to charge (NULL: the caller's)
 * @zero: clear the pages; else they may hold whatever the page allocator's
 *	last user left, and the span is marked dirty
 *
 * With init_on_alloc (CONFIG_INIT_ON_ALLOC_DEFAULT_ON, which Debian's
 * kernels set, or the boot option) every page the page allocator hands out
 * is clear (cleared then, or when it was freed if init_on_free is on too):
 * the span is then clean, @zero or not, and nothing clears it again.
 *
 * Return: the span, ERR_PTR(-ENOMEM), or ERR_PTR(-EINTR) when a fatal
 * signal stopped a large allocation.
 */
struct estack_span *estack_span_new(struct estack_allocator *a,
				    unsigned int order,
				    struct mem_cgroup *memcg, bool zero)
{
	const gfp_t gfp = GFP_KERNEL_ACCOUNT | (zero ? __GFP_ZERO : 0);
	bool cleared = want_init_on_alloc(gfp);
	struct mem_cgroup *old = set_active_memcg(memcg);
	struct estack_span *span;
	int ret = -ENOMEM;

	span = kmem_cache_alloc_lru(estack_span_cache, &a->pools[order].lru,
				    GFP_KERNEL_ACCOUNT);
	if (!span)
		goto err_restore_memcg;
	INIT_LIST_HEAD(&span->node);
	span->order = order;
	span->dirty = !cleared;
	span->owner = 0;
	if (order < ESTACK_NR_SMALL) {
		span->pages = span->inline_pages;
	} else {
		span->pages = kvmalloc_array(1UL << order, sizeof(*span->pages),
					     GFP_KERNEL_ACCOUNT);
		if (!span->pages)
			goto err_free_span;
	}
	ret = estack_span_fill(a, span, gfp, cleared);
	if (ret)
		goto err_free_pages_array;
	set_active_memcg(old);
	return span;

err_free_pages_array:
	if (span->pages != span->inline_pages)
		kvfree(span->pages);
err_free_span:
	kmem_cache_free(estack_span_cache, span);
err_restore_memcg:
	set_active_memcg(old);
	return ERR_PTR(ret);
}

/**
 * estack_span_release() - give a span's pages back to the page allocator
 * @a: the allocator
 * @span: a span on no list
 *
 * A page someone else still holds (pinned for I/O, say) is freed when that
 * reference goes, not here.
 */
void estack_span_release(struct estack_allocator *a, struct estack_span *span)
{
	estack_span_put_pages(a, span, estack_span_nr_pages(span));
	estack_span_free_desc(span);
}

/**
 * estack_span_release_list() - estack_span_release() every span of a list
 * @a: the allocator
 * @spans: a private list, empty on return
 *
 * Return: the number of spans released.
 */
unsigned long estack_span_release_list(struct estack_allocator *a,
				       struct list_head *spans)
{
	struct estack_span *span, *next;
	unsigned long n = 0;

	list_for_each_entry_safe(span, next, spans, node) {
		list_del(&span->node);
		estack_span_release(a, span);
		cond_resched();
		n++;
	}
	return n;
}

/**
 * estack_span_zero() - clear a dirty span before it is handed out again
 * @a: the allocator
 * @span: the span, claimed (estack_span_claim()): its pages that may hold
 *	data are the ones marked PG_dirty
 *
 * Return: 0, or -EINTR when a fatal signal stopped a large clear (the span
 * stays dirty).
 */
int estack_span_zero(struct estack_allocator *a, struct estack_span *span)
{
	unsigned long nr = estack_span_nr_pages(span), i, n = 0;

	for (i = 0; i < nr; i++) {
		n += estack_page_clear(span->pages[i]);
		if (nr > ESTACK_RESCHED_PAGES && estack_resched_point(i + 1)) {
			estack_stat_add(a, ESTACK_STAT_PAGES_ZEROED, n);
			return -EINTR;
		}
	}
	span->dirty = false;
	estack_stat_add(a, ESTACK_STAT_PAGES_ZEROED, n);
	return 0;
}

/**
 * estack_span_recyclable() - may @span's pages serve another stack?
 * @span: a span its last user has unmapped
 *
 * Return: true when the allocator holds the only reference to every page:
 * a page pinned elsewhere (O_DIRECT, vmsplice, a debugger) could still be
 * read or written through that reference after a new owner got it.
 */
bool estack_span_recyclable(const struct estack_span *span)
{
	unsigned long nr = estack_span_nr_pages(span), i;

	for (i = 0; i < nr; i++)
		if (page_ref_count(span->pages[i]) != 1 ||
		    page_mapped(span->pages[i]))
			return false;
	return true;
}
