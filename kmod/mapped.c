// SPDX-License-Identifier: GPL-2.0
/*
 * estack mapped cache: freed small stacks a file keeps mapped.
 *
 * A small stack freed while its file keeps fewer than mapped_cache bytes
 * of its class stays where it is, mapped, with its pages and its tree
 * entry, and loses only its id; the next ALLOC of that size takes it back
 * and allocates, inserts, zaps and flushes nothing (Go's stackcache, one
 * level closer to the user). Such a stack must read as zero again, and
 * only the pages written since they were last cleared are cleared: a write
 * through the mapping sets the PTE's dirty bit (which nothing here ever
 * clears), a write by any other path sets PG_dirty (GUP for ptrace,
 * O_DIRECT and process_vm_writev, zap after MADV_DONTNEED, and GROW's own
 * copy), and a page with neither still holds the zeroes it was mapped
 * with.
 *
 * That reasoning holds only for a page the module knows to be mapped at
 * the stack's own address in the owner mm and nowhere else, or nowhere:
 * so an arena ever copied into a child by fork() (after MADV_DOFORK) never
 * serves the cache, and a page whose reference count is not exactly the
 * module's plus the owner's PTE (pinned for I/O, held by a debugger) makes
 * its stack leave the cache the slow way, unmapped.
 *
 * A stack in the mapped cache is memory the file holds: its bytes stay
 * charged to the file's and the user's limits until it leaves the cache,
 * and a file that hits a limit empties its own cache before it gives up.
 *
 * Concurrency: the cache lists are protected by ctx->lock, taken inside
 * the mmap lock (read); spans that leave the cache are freed after both
 * are dropped.
 *
 * Copyright (C) 2026 The estack authors
 */

#include <linux/bitmap.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/page-flags.h>

#include "compat.h"
#include "stack.h"

/*
 * Clear the pages of @stack, taken from the mapped cache, that may have
 * been written. Return false, clearing nothing, unless every page is
 * known to be mapped at its own address in the owner mm and nowhere else,
 * or mapped nowhere, and held by no one but the module: a second mapping
 * or a pin could see the next user's data. *@present: a bit per page
 * mapped now.
 */
static bool estack_mapped_clean_locked(struct estack_ctx *ctx,
				       struct estack_stack *stack,
				       unsigned long *present)
{
	struct estack_span *span = stack->span;
	unsigned long nr = estack_span_nr_pages(span), i, n = 0, dirty;
	struct estack_pte_scan scan;

	lockdep_assert_held(&ctx->lock);
	if (stack->arena->forked || WARN_ON_ONCE(nr > ARRAY_SIZE(span->inline_pages)))
		return false;
	if (estack_arena_scan(ctx->mm, stack, &scan) || scan.foreign)
		return false;
	dirty = scan.dirty;
	*present = scan.present;
	for (i = 0; i < nr; i++) {
		if (page_ref_count(span->pages[i]) !=
		    1 + test_bit(i, &scan.present))
			return false;
		if (PageDirty(span->pages[i]))
			__set_bit(i, &dirty);
	}
	for_each_set_bit(i, &dirty, nr) {
		clear_user_highpage(span->pages[i], stack->lo + (i << PAGE_SHIFT));
		ClearPageDirty(span->pages[i]);
		n++;
	}
	estack_stat_add(ctx->alloc, ESTACK_STAT_PAGES_ZEROED, n);
	return true;
}

/* Take @stack off its list; its bytes are no longer the cache's. */
static void estack_mapped_del_locked(struct estack_ctx *ctx,
				     struct estack_stack *stack)
{
	lockdep_assert_held(&ctx->lock);
	list_del_init(&stack->slot);
	ctx->nr_mapped[stack->order]--;
	estack_limits_release_locked(ctx, stack->hi - stack->lo, false);
}

/*
 * Take @stack out of the mapped cache the slow way: unmap it and free the
 * slot. Its span goes on @spans for estack_mapped_drop_spans() once the
 * locks are dropped.
 */
static void estack_mapped_evict_locked(struct estack_ctx *ctx,
				       struct estack_stack *stack,
				       struct vm_area_struct *vma,
				       struct list_head *spans)
{
	lockdep_assert_held(&ctx->lock);
	estack_mapped_del_locked(ctx, stack);
	estack_zap(vma, stack->lo, stack->hi - stack->lo);
	list_add(&stack->span->node, spans);
	stack->span = NULL;
	estack_arena_unreserve_locked(stack);
}

/*
 * Map again the pages of a cached @stack that MADV_DONTNEED took out of
 * the page tables (the module kept them): a new stack is mapped whole, in
 * its process's RSS, so that the OOM killer sees who holds it.
 * Return: 0, or a negative errno (its stack then leaves the cache).
 */
static int estack_mapped_map_missing(struct vm_area_struct *vma,
				     struct estack_stack *stack,
				     unsigned long present)
{
	unsigned long nr = estack_span_nr_pages(stack->span), i;
	int ret = 0;

	for (i = 0; i < nr && !ret; i++) {
		if (test_bit(i, &present))
			continue;
		ret = vm_insert_page(vma, stack->lo + (i << PAGE_SHIFT),
				     stack->span->pages[i]);
	}
	estack_sync_rss(vma->vm_mm);
	return ret;
}

/**
 * estack_mapped_take_locked() - a cached stack for ALLOC
 * @ctx: the context
 * @order: the size class
 * @spans: where the spans of stacks that cannot be cleared go
 *
 * Stacks of an arena being unmapped are left for its ->close; stacks that
 * cannot be cleared are evicted to @spans. The stack taken stays charged
 * for its bytes; it counts as a stack again once it has an id.
 *
 * Context: mmap lock held for reading, ctx->lock held.
 * Return: the most recently freed stack of @order, cleared and ready, or
 * NULL.
 */
struct estack_stack *estack_mapped_take_locked(struct estack_ctx *ctx,
					       unsigned int order,
					       struct list_head *spans)
{
	struct estack_stack *stack, *next;
	struct vm_area_struct *vma;

	unsigned long present;

	lockdep_assert_held(&ctx->lock);
	list_for_each_entry_safe(stack, next, &ctx->mapped[order], slot) {
		vma = estack_arena_vma_locked(stack->arena);
		if (!vma)
			continue;
		if (!estack_mapped_clean_locked(ctx, stack, &present) ||
		    estack_mapped_map_missing(vma, stack, present)) {
			estack_mapped_evict_locked(ctx, stack, vma, spans);
			continue;
		}
		list_del_init(&stack->slot);
		ctx->nr_mapped[order]--;
		return stack;
	}
	return NULL;
}

/**
 * estack_mapped_put_back_locked() - undo estack_mapped_take_locked()
 * @ctx: the context
 * @stack: the stack taken, cleared already; it goes back at the head
 *
 * Context: ctx->lock held.
 */
void estack_mapped_put_back_locked(struct estack_ctx *ctx,
				   struct estack_stack *stack)
{
	lockdep_assert_held(&ctx->lock);
	list_add(&stack->slot, &ctx->mapped[stack->order]);
	ctx->nr_mapped[stack->order]++;
}

/**
 * estack_mapped_drop_spans() - give back the spans of evicted stacks
 * @ctx: the context
 * @spans: spans from the _locked functions here; empty on return
 *
 * Context: not under ctx->lock (the mmap lock may be held).
 */
void estack_mapped_drop_spans(struct estack_ctx *ctx, struct list_head *spans)
{
	struct estack_span *span, *next;

	list_for_each_entry_safe(span, next, spans, node) {
		list_del_init(&span->node);
		estack_span_drop(ctx->alloc, span, ctx->memcg);
	}
}

/**
 * estack_mapped_evict_all_locked() - empty the file's mapped cache
 * @ctx: the context, at one of its limits
 * @spans: where the spans go
 *
 * Stacks of an arena being unmapped are left for its ->close.
 *
 * Context: mmap lock held for reading, ctx->lock held.
 * Return: how many stacks left the cache.
 */
unsigned int estack_mapped_evict_all_locked(struct estack_ctx *ctx,
					    struct list_head *spans)
{
	struct estack_stack *stack, *next;
	struct vm_area_struct *vma;
	unsigned int order, n = 0;

	lockdep_assert_held(&ctx->lock);
	for (order = 0; order < ESTACK_NR_SMALL; order++) {
		list_for_each_entry_safe(stack, next, &ctx->mapped[order],
					 slot) {
			vma = estack_arena_vma_locked(stack->arena);
			if (!vma)
				continue;
			estack_mapped_evict_locked(ctx, stack, vma, spans);
			n++;
		}
	}
	return n;
}

/**
 * estack_mapped_flush() - empty the file's mapped cache, no lock held
 * @ctx: the context
 *
 * Return: true when a stack left the cache.
 */
bool estack_mapped_flush(struct estack_ctx *ctx)
{
	LIST_HEAD(spans);
	unsigned int n;

	if (mmap_read_lock_killable(ctx->mm))
		return false;
	mutex_lock(&ctx->lock);
	n = estack_mapped_evict_all_locked(ctx, &spans);
	mutex_unlock(&ctx->lock);
	mmap_read_unlock(ctx->mm);
	estack_mapped_drop_spans(ctx, &spans);
	return n;
}

/**
 * estack_mapped_keep_locked() - FREE into the mapped cache
 * @ctx: the context
 * @stack: a live stack whose id was just erased, its arena mapped
 *
 * Keeps @stack, with its pages, mapping, tree entry and the bytes it is
 * charged, if the file has room for one more stack of its class.
 *
 * Context: mmap lock held for reading, ctx->lock held.
 * Return: true when kept.
 */
bool estack_mapped_keep_locked(struct estack_ctx *ctx,
			       struct estack_stack *stack)
{
	unsigned long budget = estack_tunable_get(&estack_tunables.mapped_cache);
	unsigned int order = stack->order;

	lockdep_assert_held(&ctx->lock);
	if (order >= ESTACK_NR_SMALL || stack->arena->forked ||
	    ((unsigned long)ctx->nr_mapped[order] + 1) << (order + PAGE_SHIFT) >
	    budget)
		return false;
	stack->id = 0;
	list_add(&stack->slot, &ctx->mapped[order]);
	ctx->nr_mapped[order]++;
	estack_span_keep(ctx->alloc, stack->span);
	return true;
}

/**
 * estack_mapped_unmapped_locked() - the arena of a cached stack is gone
 * @ctx: the context
 * @stack: a stack of the mapped cache, its arena being unmapped
 *
 * Takes @stack out of the cache and gives back the bytes it was charged;
 * the caller gives its span back with estack_span_drop() once the pages
 * are unmapped and ctx->lock dropped.
 *
 * Context: ctx->lock held.
 */
void estack_mapped_unmapped_locked(struct estack_ctx *ctx,
				   struct estack_stack *stack)
{
	lockdep_assert_held(&ctx->lock);
	estack_mapped_del_locked(ctx, stack);
}
