// SPDX-License-Identifier: GPL-2.0
/*
 * estack stacks: ALLOC, FREE and INFO for a context.
 *
 * A stack is a span from the allocator mapped into a slot of an arena, with
 * a per-file id. ALLOC charges the limits, takes a span (no lock held: it
 * may sleep, reclaim and zero), then under the mmap lock and ctx->lock finds
 * a slot, records the id and the address range and inserts every page, so
 * that the first touch takes no fault and the stack counts in the process's
 * RSS at once. FREE undoes it in reverse. Every step unwinds on error: a
 * failed call leaves no id, no mapping and no page behind.
 *
 * The mapped cache is the fast path of both. A small stack freed while its
 * file keeps fewer than mapped_cache bytes of its class stays where it is,
 * mapped, with its pages and its tree entry, and loses only its id; the
 * next ALLOC of that size takes it back and allocates, inserts, zaps and
 * flushes nothing. Such a stack must read as zero again, and only the pages
 * written since they were last cleared are cleared: a write through the
 * mapping sets the PTE's dirty bit (which nothing here ever clears), a
 * write by any other path sets PG_dirty (GUP for ptrace, O_DIRECT and
 * process_vm_writev, zap after MADV_DONTNEED, and GROW's own copy), and a
 * page with neither still holds the zeroes it was mapped with.
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
 * Concurrency: ids, slots and the arenas' trees are protected by ctx->lock,
 * taken inside the mmap lock (read). A stack's struct lives until FREE or
 * until its arena is unmapped (->close, mmap lock held for writing), so
 * holding the mmap lock for reading keeps any stack found under ctx->lock
 * alive. No user memory is touched while ctx->lock is held: a fault on an
 * estack page would need it.
 *
 * Copyright (C) 2026 The estack authors
 */

#include <linux/error-injection.h>
#include <linux/maple_tree.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/ptrace.h>
#include <linux/sched/task_stack.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "compat.h"
#include "estack.h"
#include "trace.h"

/*
 * Charge the file's and the user's limits for @size more bytes, and for a
 * new stack if @new_stack (a GROW charges only the bytes it adds). Error
 * injection can make it fail, to test every -ENOSPC exit.
 */
static noinline int estack_limits_charge_locked(struct estack_ctx *ctx,
						unsigned long size,
						bool new_stack)
{
	const struct estack_tunables *t = &estack_tunables;
	long user_bytes;

	lockdep_assert_held(&ctx->lock);
	if (ctx->nr_stacks + new_stack >
	    estack_tunable_get(&t->max_stacks_per_fd) ||
	    ctx->bytes + size > estack_tunable_get(&t->max_bytes_per_fd))
		return -ENOSPC;
	user_bytes = atomic_long_add_return(size, &ctx->user->bytes);
	if (user_bytes > estack_tunable_get(&t->max_bytes_per_user)) {
		atomic_long_sub(size, &ctx->user->bytes);
		return -ENOSPC;
	}
	ctx->nr_stacks += new_stack;
	ctx->bytes += size;
	return 0;
}

/* For the fail_function sweeps of the tests. */
ALLOW_ERROR_INJECTION(estack_limits_charge_locked, ERRNO);

static int estack_limits_charge(struct estack_ctx *ctx, unsigned long size)
{
	int ret;

	mutex_lock(&ctx->lock);
	ret = estack_limits_charge_locked(ctx, size, true);
	mutex_unlock(&ctx->lock);
	return ret;
}

/* Give back @size bytes; a whole stack's bytes also give back the stack. */
static void estack_limits_release_locked(struct estack_ctx *ctx,
					 unsigned long size, bool stack)
{
	lockdep_assert_held(&ctx->lock);
	ctx->nr_stacks -= stack;
	ctx->bytes -= size;
	atomic_long_sub(size, &ctx->user->bytes);
}

static void estack_limits_uncharge_locked(struct estack_ctx *ctx,
					  unsigned long size)
{
	estack_limits_release_locked(ctx, size, true);
}

/* Charge or release the bytes of the file's cached and moved stacks. */
static int estack_limits_charge_bytes_locked(struct estack_ctx *ctx,
					     unsigned long size)
{
	return estack_limits_charge_locked(ctx, size, false);
}

static void estack_limits_release_bytes_locked(struct estack_ctx *ctx,
					       unsigned long size)
{
	estack_limits_release_locked(ctx, size, false);
}

static void estack_limits_uncharge(struct estack_ctx *ctx, unsigned long size)
{
	mutex_lock(&ctx->lock);
	estack_limits_uncharge_locked(ctx, size);
	mutex_unlock(&ctx->lock);
}

/**
 * estack_stack_release() - give back the span and limits of a dead stack
 * @ctx: the context
 * @stack: unmapped, in no tree and under no id
 *
 * Context: no lock held.
 */
void estack_stack_release(struct estack_ctx *ctx, struct estack_stack *stack)
{
	estack_limits_uncharge(ctx, stack->hi - stack->lo);
	estack_span_free(ctx->alloc, stack->span, ctx->memcg);
	stack->span = NULL;
}

/* Map every page of the stack; on error none of them stays mapped. */
static int estack_stack_map_locked(struct vm_area_struct *vma,
				   struct estack_stack *stack)
{
	unsigned long nr = estack_span_nr_pages(stack->span);
	unsigned long left = nr;
	int ret;

	ret = vm_insert_pages(vma, stack->lo, stack->span->pages, &left);
	estack_sync_rss(vma->vm_mm);
	if (ret)
		estack_zap(vma, stack->lo, (nr - left) << PAGE_SHIFT);
	return ret;
}

/*
 * Give @stack the file's next id. Ids are never reused: once all 2^32 - 1
 * were handed out, ALLOC fails with ENOSPC. The id after it is reserved
 * in the xarray at once, so that a file that allocates and frees one stack
 * after another does not allocate and free an xarray node each time (it
 * does once every 64 ids). A reserved id reads as absent (ENOENT).
 */
static int estack_id_assign_locked(struct estack_ctx *ctx,
				   struct estack_stack *stack)
{
	u32 id = ctx->next_id;
	void *old;
	int ret;

	lockdep_assert_held(&ctx->lock);
	if (!id)
		return -ENOSPC;
	if (id + 1) {
		ret = xa_reserve(&ctx->ids, id + 1, GFP_KERNEL_ACCOUNT);
		if (ret)
			return ret;
	}
	/* Reserved by the previous call, or allocates here. */
	old = xa_store(&ctx->ids, id, stack, GFP_KERNEL_ACCOUNT);
	if (xa_is_err(old)) {
		xa_release(&ctx->ids, id + 1);
		return xa_err(old);
	}
	stack->id = id;
	ctx->next_id = id + 1;
	return 0;
}

/*
 * Is @page mapped at @addr in @mm, and dirty there? The arena's VMA was
 * checked under the locks the caller holds, so its page tables are live.
 * Return: 1 mapped, 0 not mapped, -1 mapped to another page.
 */
static int estack_pte_state(struct mm_struct *mm, unsigned long addr,
			    struct page *page, bool *dirty)
{
	spinlock_t *ptl;	/* the PTE's, from follow_pte() */
	pte_t *ptep, pte;

	if (follow_pte(mm, addr, &ptep, &ptl))
		return 0;
	/* follow_pte() returned with the PTE lock held. */
	__acquire(ptl);
	pte = *ptep;
	pte_unmap_unlock(ptep, ptl);
	if (!pte_present(pte))
		return 0;
	if (pte_pfn(pte) != page_to_pfn(page))
		return -1;
	*dirty = pte_dirty(pte);
	return 1;
}

/*
 * Clear the pages of @stack, taken from the mapped cache, that may have
 * been written. Return false, clearing nothing, unless every page is
 * known to be mapped at its own address in the owner mm and nowhere else,
 * or mapped nowhere, and held by no one but the module: a second mapping
 * or a pin could see the next user's data.
 */
static bool estack_stack_clean_locked(struct estack_ctx *ctx,
				      struct estack_stack *stack)
{
	struct estack_span *span = stack->span;
	unsigned long nr = estack_span_nr_pages(span), i, n = 0;
	DECLARE_BITMAP(dirty, 1 << (ESTACK_NR_SMALL - 1));
	struct page *page;
	bool pte_dirty;
	int mapped;

	lockdep_assert_held(&ctx->lock);
	if (stack->arena->forked || WARN_ON_ONCE(nr > ARRAY_SIZE(span->inline_pages)))
		return false;
	bitmap_zero(dirty, ARRAY_SIZE(span->inline_pages));
	for (i = 0; i < nr; i++) {
		page = span->pages[i];
		pte_dirty = false;
		mapped = estack_pte_state(ctx->mm, stack->lo + (i << PAGE_SHIFT),
					  page, &pte_dirty);
		if (mapped < 0 || page_ref_count(page) != 1 + mapped)
			return false;
		if (pte_dirty || PageDirty(page))
			__set_bit(i, dirty);
	}
	for_each_set_bit(i, dirty, nr) {
		clear_user_highpage(span->pages[i], stack->lo + (i << PAGE_SHIFT));
		ClearPageDirty(span->pages[i]);
		n++;
	}
	estack_stat_add(ctx->alloc, ESTACK_STAT_PAGES_ZEROED, n);
	return true;
}

/*
 * Take @stack out of the mapped cache the slow way: unmap it and free the
 * slot. Its span goes on @spans for estack_span_drop() once the locks are
 * dropped.
 */
static void estack_mapped_evict_locked(struct estack_ctx *ctx,
				       struct estack_stack *stack,
				       struct vm_area_struct *vma,
				       struct list_head *spans)
{
	lockdep_assert_held(&ctx->lock);
	list_del_init(&stack->slot);
	ctx->nr_mapped[stack->order]--;
	estack_limits_release_bytes_locked(ctx, stack->hi - stack->lo);
	mtree_erase(&stack->arena->stacks, stack->lo);
	estack_zap(vma, stack->lo, stack->hi - stack->lo);
	list_add(&stack->span->node, spans);
	stack->span = NULL;
	estack_arena_unreserve_locked(stack);
}

/*
 * The most recently freed stack of @order that the file keeps mapped,
 * cleared and ready, or NULL. Stacks of an arena being unmapped are left
 * for its ->close; stacks that cannot be cleared are evicted to @spans.
 */
static struct estack_stack *estack_mapped_take_locked(struct estack_ctx *ctx,
						      unsigned int order,
						      struct list_head *spans)
{
	struct estack_stack *stack, *next;
	struct vm_area_struct *vma;

	lockdep_assert_held(&ctx->lock);
	list_for_each_entry_safe(stack, next, &ctx->mapped[order], slot) {
		vma = estack_arena_vma_locked(stack->arena);
		if (!vma)
			continue;
		if (!estack_stack_clean_locked(ctx, stack)) {
			estack_mapped_evict_locked(ctx, stack, vma, spans);
			continue;
		}
		list_del_init(&stack->slot);
		ctx->nr_mapped[order]--;
		return stack;
	}
	return NULL;
}

static void estack_mapped_drop_spans(struct estack_ctx *ctx,
				     struct list_head *spans)
{
	struct estack_span *span, *next;

	list_for_each_entry_safe(span, next, spans, node) {
		list_del_init(&span->node);
		estack_span_drop(ctx->alloc, span, ctx->memcg);
	}
}

/*
 * Empty the file's mapped cache, for a file at one of its limits: the
 * spans go on @spans. Stacks of an arena being unmapped are left for its
 * ->close. Return how many stacks left the cache.
 */
static unsigned int estack_mapped_evict_all_locked(struct estack_ctx *ctx,
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

/* The same with no lock held: true when a stack left the cache. */
static bool estack_mapped_flush(struct estack_ctx *ctx)
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

/*
 * ALLOC from the mapped cache. Return 1 when it has no stack of @order
 * (the caller takes the slow path), else 0 or a negative errno.
 */
static int estack_stack_create_mapped(struct estack_ctx *ctx,
				      unsigned int order,
				      struct estack_stack_info *out)
{
	struct mm_struct *mm = ctx->mm;
	struct estack_stack *stack;
	LIST_HEAD(spans);
	int ret = 1;

	if (order >= ESTACK_NR_SMALL || !READ_ONCE(ctx->nr_mapped[order]))
		return 1;
	if (mmap_read_lock_killable(mm))
		return -EINTR;
	mutex_lock(&ctx->lock);
	stack = estack_mapped_take_locked(ctx, order, &spans);
	if (!stack)
		goto out_unlock;
	/* Its bytes are charged already: it counts as a stack again. */
	ret = estack_limits_charge_locked(ctx, 0, true);
	if (ret)
		goto err_put_back;
	ret = estack_id_assign_locked(ctx, stack);
	if (ret)
		goto err_uncharge;
	estack_span_reuse(ctx->alloc, stack->span);
	out->id = stack->id;
	out->lo = stack->lo;
	out->hi = stack->hi;
	goto out_unlock;

err_uncharge:
	estack_limits_uncharge_locked(ctx, 0);
err_put_back:
	/* Cleared already; it goes back as it was, at the head. */
	list_add(&stack->slot, &ctx->mapped[order]);
	ctx->nr_mapped[order]++;
out_unlock:
	mutex_unlock(&ctx->lock);
	mmap_read_unlock(mm);
	estack_mapped_drop_spans(ctx, &spans);
	if (!ret)
		trace_estack_alloc(out->id, out->lo, out->hi);
	return ret;
}

/*
 * FREE into the mapped cache, if the file has room for one more stack of
 * this class: the stack keeps its pages, mapping and tree entry.
 */
static bool estack_mapped_keep_locked(struct estack_ctx *ctx,
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
	list_del_init(&stack->slot);
	ctx->nr_mapped[stack->order]--;
	estack_limits_release_bytes_locked(ctx, stack->hi - stack->lo);
}

/*
 * Pages for a new stack of @ctx. Never under ctx->lock or the mmap lock:
 * the allocation may reclaim, and clearing a large stack takes long.
 */
static struct estack_span *estack_ctx_span_alloc(struct estack_ctx *ctx,
						 unsigned int order,
						 bool zeroed)
{
	might_sleep();
	lockdep_assert_not_held(&ctx->lock);
	lockdep_assert_not_held(&ctx->mm->mmap_lock);
	if (zeroed)
		return estack_span_alloc(ctx->alloc, order, ctx->memcg);
	return estack_span_alloc_unzeroed(ctx->alloc, order, ctx->memcg);
}

/**
 * estack_stack_create() - a new stack of @size bytes in the caller's mm
 * @ctx: the context of the caller's file
 * @size: a power of two from a page to max_stack
 * @out: the stack's id, lo and hi
 *
 * Return: 0; -ENOSPC past a limit or out of ids; -ENOMEM; -EINTR.
 */
int estack_stack_create(struct estack_ctx *ctx, unsigned long size,
			struct estack_stack_info *out)
{
	unsigned int order = ilog2(size >> PAGE_SHIFT);
	struct mm_struct *mm = ctx->mm;
	struct vm_area_struct *vma;
	struct estack_stack *stack;
	struct estack_span *span;
	int ret;

	ret = estack_stack_create_mapped(ctx, order, out);
	if (ret <= 0)
		return ret;
	ret = estack_limits_charge(ctx, size);
	/* Stacks the file keeps mapped count: give them up first. */
	if (ret == -ENOSPC && estack_mapped_flush(ctx))
		ret = estack_limits_charge(ctx, size);
	if (ret)
		return ret;
	span = estack_ctx_span_alloc(ctx, order, true);
	if (IS_ERR(span)) {
		ret = PTR_ERR(span);
		goto err_uncharge;
	}

	for (;;) {
		if (mmap_read_lock_killable(mm)) {
			ret = -EINTR;
			goto err_free_span;
		}
		mutex_lock(&ctx->lock);
		stack = estack_arena_reserve_locked(ctx, order);
		if (IS_ERR(stack)) {
			ret = PTR_ERR(stack);
			goto err_unlock;
		}
		if (stack) {
			vma = estack_arena_vma_locked(stack->arena);
			if (vma)
				break;
			/* Being unmapped: the arena is dead now, try again. */
			estack_arena_unreserve_locked(stack);
			mutex_unlock(&ctx->lock);
			mmap_read_unlock(mm);
			continue;
		}
		mutex_unlock(&ctx->lock);
		mmap_read_unlock(mm);
		ret = estack_arena_create(ctx, order);
		if (ret)
			goto err_free_span;
	}

	ret = estack_id_assign_locked(ctx, stack);
	if (ret)
		goto err_unreserve;
	ret = mtree_store_range(&stack->arena->stacks, stack->lo, stack->hi - 1,
				stack, GFP_KERNEL_ACCOUNT);
	if (ret)
		goto err_erase_id;
	stack->span = span;
	ret = estack_stack_map_locked(vma, stack);
	if (ret)
		goto err_erase_range;

	out->id = stack->id;
	out->lo = stack->lo;
	out->hi = stack->hi;
	mutex_unlock(&ctx->lock);
	mmap_read_unlock(mm);
	trace_estack_alloc(out->id, out->lo, out->hi);
	return 0;

err_erase_range:
	stack->span = NULL;
	mtree_erase(&stack->arena->stacks, stack->lo);
err_erase_id:
	xa_erase(&ctx->ids, stack->id);
err_unreserve:
	estack_arena_unreserve_locked(stack);
err_unlock:
	mutex_unlock(&ctx->lock);
	mmap_read_unlock(mm);
err_free_span:
	estack_span_free(ctx->alloc, span, ctx->memcg);
err_uncharge:
	estack_limits_uncharge(ctx, size);
	return ret;
}

/* Is the calling thread's user stack pointer inside @stack? */
static bool estack_stack_running(const struct estack_stack *stack)
{
	unsigned long sp = current_pt_regs()->sp;

	return sp >= stack->lo && sp <= stack->hi;
}

/**
 * estack_stack_destroy() - FREE
 * @ctx: the context
 * @id: the stack
 * @check_running: refuse the caller's running stack (false only to undo an
 *	ALLOC whose result could not be copied out)
 *
 * Return: 0; -ENOENT; -EBUSY for the stack the caller runs on; -EINTR.
 */
int estack_stack_destroy(struct estack_ctx *ctx, u32 id, bool check_running)
{
	struct mm_struct *mm = ctx->mm;
	struct estack_stack *stack;
	struct vm_area_struct *vma;
	struct estack_span *span;
	unsigned long lo, size;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	mutex_lock(&ctx->lock);
	stack = xa_load(&ctx->ids, id);
	if (!stack) {
		mutex_unlock(&ctx->lock);
		mmap_read_unlock(mm);
		return -ENOENT;
	}
	if (check_running && estack_stack_running(stack)) {
		mutex_unlock(&ctx->lock);
		mmap_read_unlock(mm);
		return -EBUSY;
	}
	vma = estack_arena_vma_locked(stack->arena);
	lo = stack->lo;
	size = stack->hi - stack->lo;
	xa_erase(&ctx->ids, id);
	if (vma && estack_mapped_keep_locked(ctx, stack)) {
		/* Not a stack any more, but its bytes stay charged. */
		estack_limits_uncharge_locked(ctx, 0);
		mutex_unlock(&ctx->lock);
		mmap_read_unlock(mm);
		trace_estack_free(id, lo, lo + size);
		return 0;
	}
	estack_limits_uncharge_locked(ctx, size);
	mtree_erase(&stack->arena->stacks, stack->lo);
	/*
	 * No fault can put a page back: they need ctx->lock and the tree.
	 * Without a VMA the arena is being unmapped and munmap() zaps the
	 * pages; one still mapped makes the span not recyclable, so it is
	 * released, never handed to another stack.
	 */
	if (vma)
		estack_zap(vma, stack->lo, size);
	span = stack->span;
	stack->span = NULL;
	estack_arena_unreserve_locked(stack);
	mutex_unlock(&ctx->lock);
	mmap_read_unlock(mm);

	trace_estack_free(id, lo, lo + size);
	estack_span_free(ctx->alloc, span, ctx->memcg);
	return 0;
}

/*
 * Pages of the stack mapped in the page tables now. The caller checked
 * the arena's VMA under the locks it holds.
 */
static unsigned long estack_stack_resident_locked(struct estack_ctx *ctx,
						  const struct estack_stack *stack)
{
	unsigned long i, n = 0, nr = estack_span_nr_pages(stack->span);
	bool dirty;

	lockdep_assert_held(&ctx->lock);
	for (i = 0; i < nr; i++) {
		if (!((i + 1) % ESTACK_RESCHED_PAGES))
			cond_resched();
		n += estack_pte_state(ctx->mm, stack->lo + (i << PAGE_SHIFT),
				      stack->span->pages[i], &dirty) == 1;
	}
	return n;
}

/**
 * estack_stack_query() - INFO
 * @ctx: the context
 * @id: the stack
 * @out: lo, hi and the bytes populated now
 *
 * Return: 0, -ENOENT or -EINTR.
 */
int estack_stack_query(struct estack_ctx *ctx, u32 id,
		       struct estack_stack_info *out)
{
	struct mm_struct *mm = ctx->mm;
	struct estack_stack *stack;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	mutex_lock(&ctx->lock);
	stack = xa_load(&ctx->ids, id);
	/*
	 * munmap() frees the page tables after it detached the VMA and let
	 * go of the write lock: walk them only while the arena is mapped.
	 */
	if (stack && !estack_arena_vma_locked(stack->arena))
		stack = NULL;
	if (stack) {
		out->id = id;
		out->lo = stack->lo;
		out->hi = stack->hi;
		out->resident = estack_stack_resident_locked(ctx, stack) <<
				PAGE_SHIFT;
	}
	mutex_unlock(&ctx->lock);
	mmap_read_unlock(mm);
	return stack ? 0 : -ENOENT;
}

/* A user slot outside the stack being moved: its value, read before. */
struct estack_outer_slot {
	u64 addr;
	u64 old;
	bool written;
};

/* What a move attempt needs done with no lock held before the next one. */
enum estack_move_need {
	ESTACK_MOVE_NEED_NOTHING,
	ESTACK_MOVE_NEED_SPAN,		/* pages for the new stack */
	ESTACK_MOVE_NEED_ARENA,		/* room for it in an arena */
	ESTACK_MOVE_NEED_READ,		/* a user word, faulted in to read */
	ESTACK_MOVE_NEED_WRITE,		/* user memory, faulted in to write */
	ESTACK_MOVE_NEED_RETRY,		/* the new slot's arena went away */
};

/**
 * struct estack_move_op - one GROW or SHRINK, across its attempts
 * @req: the request, validated as a struct; the results are filled in
 * @orig: the request as the caller passed it, to put back on failure
 * @uarg: the caller's struct, where the results go before the commit
 * @out_size: bytes of it written: min(its size, ours)
 * @slots: req->nr_slots slot addresses, copied in
 * @grow: GROW, else SHRINK
 * @outer: the slots outside the old stack, their old values
 * @nr_outer: entries of @outer in use
 * @span: pages for the new stack, allocated with no lock held
 * @cur: size of the stack now
 * @size: size it moves to
 * @order: log2 of @size in pages
 * @need: why the last attempt stopped with -EAGAIN
 * @fault: the user address for %ESTACK_MOVE_NEED_READ and _WRITE
 * @spans: spans evicted from the mapped cache, freed with no lock held
 * @charged: bytes charged to the limits for the growth; held across the
 *	attempts, so that the pages allocated between them are always
 *	covered, and given back only if the move fails
 * @m: the plan of the current attempt
 */
struct estack_move_op {
	struct estack_move *req;
	struct estack_move orig;
	void __user *uarg;
	size_t out_size;
	const u64 *slots;
	bool grow;
	struct estack_outer_slot *outer;
	unsigned int nr_outer;
	struct estack_span *span;
	u64 cur;
	u64 size;
	unsigned int order;
	enum estack_move_need need;
	u64 fault;
	struct list_head spans;
	u64 charged;
	struct estack_move_plan m;
};

/* How many times a move drops its locks to get something done. */
#define ESTACK_MOVE_TRIES	8

/* Does [addr, addr + len) meet [lo, hi)? */
static bool estack_range_meets(u64 addr, u64 len, u64 lo, u64 hi)
{
	return len && addr < hi && (addr >= lo || lo - addr < len);
}

/*
 * Validate the request against @stack, in the ABI's order, and work out
 * the new size. Return 0, 1 when a SHRINK has nothing to do (the results
 * are in op->req), or a negative errno.
 */
static int estack_move_check_locked(struct estack_ctx *ctx,
				    struct estack_move_op *op,
				    const struct estack_stack *stack)
{
	u64 max = estack_tunable_get(&estack_tunables.max_stack);
	struct estack_move *req = op->req;
	int ret;

	lockdep_assert_held(&ctx->lock);
	if (!stack)
		return -ENOENT;
	op->cur = stack->hi - stack->lo;
	if (req->sp < stack->lo || req->sp > stack->hi ||
	    (op->grow && req->bytes && req->bytes <= op->cur))
		return -EINVAL;
	if (estack_stack_running(stack))
		return -EBUSY;
	/*
	 * The struct and the slot array may not lie in the stack that moves:
	 * after the move that memory is gone, and the results could not be
	 * written (the move cannot be taken back by then). After EBUSY, which
	 * tells a fiber that calls GROW on its own stack what it did wrong.
	 */
	if (estack_range_meets((unsigned long)op->uarg, req->size, stack->lo,
			       stack->hi) ||
	    estack_range_meets(req->slots, (u64)req->nr_slots * sizeof(u64),
			       stack->lo, stack->hi))
		return -EINVAL;
	if (op->grow) {
		ret = estack_size_grow(op->cur, req->bytes, max, &op->size);
		if (ret)
			return ret;
	} else {
		op->size = estack_size_shrink(op->cur, stack->hi - req->sp);
		if (op->size == op->cur) {	/* Go's "not worth it" */
			req->lo = stack->lo;
			req->hi = stack->hi;
			req->delta = 0;
			req->adjusted = 0;
			return 1;
		}
	}
	op->order = ilog2(op->size >> PAGE_SHIFT);
	return 0;
}

/*
 * Read every slot outside the old stack without taking a page fault (a
 * fault on an arena needs ctx->lock, which the caller holds). Nothing is
 * written here: a slot is only ever written with its relocated value.
 */
static int estack_outer_read_locked(struct estack_move_op *op)
{
	const struct estack_move_plan *m = &op->m;
	unsigned int i, n = 0;
	u64 v;

	for (i = 0; i < op->req->nr_slots; i++) {
		if (op->slots[i] >= m->old_lo && op->slots[i] < m->old_hi)
			continue;
		if (copy_from_user_nofault(&v, u64_to_user_ptr(op->slots[i]),
					   sizeof(v))) {
			op->need = ESTACK_MOVE_NEED_READ;
			op->fault = op->slots[i];
			return -EAGAIN;
		}
		op->outer[n].addr = op->slots[i];
		op->outer[n].old = v;
		op->outer[n].written = false;
		n++;
	}
	op->nr_outer = n;
	return 0;
}

/*
 * A small new stack comes uncleared: the copy overwrites the top of it,
 * and clearing those pages first would be wasted; only the pages below the
 * copy, and the part of the lowest copied page below sp, are cleared. A
 * large one was cleared when it was allocated, with no lock held, unless
 * an earlier attempt wrote to it.
 */
static int estack_move_prepare_new(struct estack_ctx *ctx,
				   struct estack_move_plan *m)
{
	struct estack_span *span = m->new_span;
	u64 new_sp = m->sp + m->delta;
	u64 first = round_down(new_sp, PAGE_SIZE);
	unsigned long i;
	int ret = 0;

	if (!span->dirty)
		return 0;
	for (i = 0; m->new_lo + (i << PAGE_SHIFT) < first; i++) {
		clear_user_highpage(span->pages[i], m->new_lo + (i << PAGE_SHIFT));
		if (estack_resched_point(i + 1)) {
			ret = -EINTR;
			i++;
			break;
		}
	}
	if (!ret && offset_in_page(new_sp)) {
		clear_user_highpage(span->pages[i], first);
		i++;
	}
	estack_stat_add(ctx->alloc, ESTACK_STAT_PAGES_ZEROED, i);
	return ret;
}

/*
 * Build the new stack in @to's place: copy the live part and relocate,
 * all on the kernel's mappings of the new pages; the user sees nothing.
 */
static int estack_move_build_locked(struct estack_ctx *ctx,
				    struct estack_move_op *op,
				    const struct estack_stack *stack,
				    const struct estack_stack *to)
{
	struct estack_move_plan *m = &op->m;
	unsigned int i;
	int ret;

	lockdep_assert_held(&ctx->lock);
	memset(m, 0, sizeof(*m));
	m->old_span = stack->span;
	m->old_lo = stack->lo;
	m->old_hi = stack->hi;
	m->new_span = op->span;
	m->new_lo = to->lo;
	m->new_hi = to->hi;
	m->delta = m->new_hi - m->old_hi;
	m->sp = op->req->sp;
	m->fp = op->req->fp;

	ret = estack_outer_read_locked(op);
	if (ret)
		return ret;
	ret = estack_move_prepare_new(ctx, m);
	if (ret)
		return ret;
	/* From here on the pages hold this stack's data, if this fails too. */
	op->span->dirty = true;
	ret = estack_move_copy(m);
	if (ret)
		return ret;
	/* The chain first: words it rewrote no longer point into the old stack. */
	if (op->req->flags & ESTACK_MOVE_ADJUST_FP) {
		ret = estack_move_adjust_fp(m);
		if (ret)
			return ret;
	}
	for (i = 0; i < op->req->nr_slots; i++)
		estack_move_adjust_inner_slot(m, op->slots[i]);
	if (op->req->flags & ESTACK_MOVE_ADJUST_CONSERVATIVE)
		return estack_move_adjust_conservative(m);
	return 0;
}

/*
 * Write the relocated slots outside the stack, then the results into the
 * caller's struct, without faulting. This is the last step that can fail:
 * on failure every word written is put back (what was written lies in
 * pages that are present) and the caller faults the address in and tries
 * again.
 */
static int estack_move_publish_locked(struct estack_move_op *op)
{
	struct estack_move_plan *m = &op->m;
	struct estack_move *req = op->req;
	struct estack_outer_slot *s;
	unsigned int i;
	u64 v;

	for (i = 0; i < op->nr_outer; i++) {
		s = &op->outer[i];
		if (s->old < m->old_lo || s->old >= m->old_hi)
			continue;
		v = s->old + m->delta;
		if (copy_to_user_nofault(u64_to_user_ptr(s->addr), &v,
					 sizeof(v))) {
			op->fault = s->addr;
			goto err_restore;
		}
		s->written = true;
		m->adjusted++;
	}

	req->lo = m->new_lo;
	req->hi = m->new_hi;
	req->delta = m->delta;
	req->adjusted = m->adjusted;
	if (req->flags & ESTACK_MOVE_ADJUST_FP)
		req->fp = m->fp;
	if (copy_to_user_nofault(op->uarg, req, op->out_size)) {
		if (copy_to_user_nofault(op->uarg, &op->orig, op->out_size))
			pr_warn_ratelimited("estack: could not restore a move's arguments\n");
		op->fault = (unsigned long)op->uarg;
		goto err_restore;
	}
	return 0;

err_restore:
	for (i = 0; i < op->nr_outer; i++) {
		s = &op->outer[i];
		if (s->written &&
		    copy_to_user_nofault(u64_to_user_ptr(s->addr), &s->old,
					 sizeof(s->old)))
			pr_warn_ratelimited("estack: could not restore a slot\n");
		s->written = false;
	}
	op->need = ESTACK_MOVE_NEED_WRITE;
	return -EAGAIN;
}

/* The id names the new stack from now on; the old one goes. */
static void estack_move_commit_locked(struct estack_ctx *ctx,
				      struct estack_move_op *op,
				      struct estack_stack *stack,
				      struct estack_stack *to,
				      struct vm_area_struct *vma_old)
{
	lockdep_assert_held(&ctx->lock);
	/* Replaces an entry: allocates nothing, cannot fail. */
	xa_store(&ctx->ids, op->req->id, to, GFP_KERNEL);
	mtree_erase(&stack->arena->stacks, stack->lo);
	estack_zap(vma_old, stack->lo, op->cur);
	stack->span = NULL;
	estack_arena_unreserve_locked(stack);
	if (op->size < op->cur)
		estack_limits_release_bytes_locked(ctx, op->cur - op->size);
	op->charged = 0;	/* the new stack's bytes now */
	op->span = NULL;	/* and its pages */

	estack_stat_add(ctx->alloc, op->grow ? ESTACK_STAT_GROWS :
			ESTACK_STAT_SHRINKS, 1);
	estack_stat_add(ctx->alloc, ESTACK_STAT_BYTES_COPIED, op->m.copied);
	estack_stat_add(ctx->alloc, ESTACK_STAT_WORDS_RELOCATED,
			op->m.adjusted);
}

/*
 * One attempt under the mmap lock and ctx->lock: check, reserve (limits,
 * a slot), build, install (map the new stack, write slots and results),
 * commit. Return 0 when committed, 1 when there is nothing to do, -EAGAIN
 * with op->need set when something must be done with no lock held first,
 * or a negative errno. Anything but 0 leaves the stack as it was.
 */
static int estack_move_attempt(struct estack_ctx *ctx,
			       struct estack_move_op *op)
{
	struct vm_area_struct *vma_old, *vma_new;
	struct estack_stack *stack, *to;
	struct mm_struct *mm = ctx->mm;
	u64 more;
	int ret;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	mutex_lock(&ctx->lock);
	stack = xa_load(&ctx->ids, op->req->id);
	ret = estack_move_check_locked(ctx, op, stack);
	if (ret)
		goto out_unlock;
	vma_old = estack_arena_vma_locked(stack->arena);
	if (!vma_old) {		/* its arena is being unmapped */
		ret = -ENOENT;
		goto out_unlock;
	}

	/*
	 * The charge is taken before the pages are allocated, with no lock
	 * held, and kept until the move ends: threads growing at once each
	 * see the headroom the others left.
	 */
	more = op->size > op->cur ? op->size - op->cur : 0;
	if (op->charged != more) {
		estack_limits_release_bytes_locked(ctx, op->charged);
		op->charged = 0;
		ret = estack_limits_charge_bytes_locked(ctx, more);
		/* Stacks the file keeps mapped count: give them up first. */
		if (ret == -ENOSPC &&
		    estack_mapped_evict_all_locked(ctx, &op->spans))
			ret = estack_limits_charge_bytes_locked(ctx, more);
		if (ret)
			goto out_unlock;
		op->charged = more;
	}
	if (!op->span || op->span->order != op->order) {
		op->need = ESTACK_MOVE_NEED_SPAN;
		ret = -EAGAIN;
		goto out_unlock;
	}
	to = estack_arena_reserve_locked(ctx, op->order);
	if (IS_ERR(to)) {
		ret = PTR_ERR(to);
		goto out_unlock;
	}
	if (!to) {
		op->need = ESTACK_MOVE_NEED_ARENA;
		ret = -EAGAIN;
		goto out_unlock;
	}
	vma_new = estack_arena_vma_locked(to->arena);
	if (!vma_new) {
		op->need = ESTACK_MOVE_NEED_RETRY;
		ret = -EAGAIN;
		goto out_unreserve;
	}

	ret = estack_move_build_locked(ctx, op, stack, to);
	if (ret)
		goto out_unreserve;

	to->span = op->span;
	to->id = op->req->id;
	ret = mtree_store_range(&to->arena->stacks, to->lo, to->hi - 1, to,
				GFP_KERNEL_ACCOUNT);
	if (ret)
		goto out_unreserve;
	ret = estack_stack_map_locked(vma_new, to);
	if (ret)
		goto out_erase_new;
	ret = estack_move_publish_locked(op);
	if (ret)
		goto out_unmap_new;

	estack_move_commit_locked(ctx, op, stack, to, vma_old);
	goto out_unlock;

out_unmap_new:
	estack_zap(vma_new, to->lo, op->size);
out_erase_new:
	mtree_erase(&to->arena->stacks, to->lo);
out_unreserve:
	to->span = NULL;
	estack_arena_unreserve_locked(to);
out_unlock:
	mutex_unlock(&ctx->lock);
	mmap_read_unlock(mm);
	return ret;
}

/* Do what the last attempt needed, with no lock held. */
static int estack_move_step(struct estack_ctx *ctx, struct estack_move_op *op,
			    unsigned int tries)
{
	struct estack_span *span;
	bool fault = op->need == ESTACK_MOVE_NEED_READ ||
		     op->need == ESTACK_MOVE_NEED_WRITE;

	/* Something keeps undoing the work: unmapped arenas or slots. */
	if (tries > ESTACK_MOVE_TRIES)
		return fault ? -EFAULT : -ENOMEM;
	switch (op->need) {
	case ESTACK_MOVE_NEED_SPAN:
		if (op->span)
			estack_span_free(ctx->alloc, op->span, ctx->memcg);
		/* Large stacks are cleared here, small ones below the copy. */
		span = estack_ctx_span_alloc(ctx, op->order,
					     op->order >= ESTACK_NR_SMALL);
		op->span = IS_ERR(span) ? NULL : span;
		return PTR_ERR_OR_ZERO(span);
	case ESTACK_MOVE_NEED_ARENA:
		return estack_arena_create(ctx, op->order);
	case ESTACK_MOVE_NEED_READ:
		return fault_in_readable(u64_to_user_ptr(op->fault),
					 sizeof(u64)) ? -EFAULT : 0;
	case ESTACK_MOVE_NEED_WRITE:
		/* Faults the memory in without writing to it. */
		return fault_in_safe_writeable(u64_to_user_ptr(op->fault),
					       op->fault ==
					       (unsigned long)op->uarg ?
					       op->out_size : sizeof(u64)) ?
		       -EFAULT : 0;
	default:
		return 0;
	}
}

/**
 * estack_stack_move() - GROW or SHRINK (Go's newstack/copystack and
 *	shrinkstack)
 * @ctx: the context
 * @req: the request, validated as a struct; lo, hi, delta, fp and
 *	adjusted are filled in on success
 * @grow: GROW, else SHRINK
 * @slots: req->nr_slots slot addresses, copied in
 * @uarg: the caller's struct: the results are written there before the
 *	move commits, so that nothing can fail after it
 *
 * The new stack is built completely (pages, copy, relocation, mapping)
 * while the old one stays as it is; the slots and the results are written
 * next, and only then are the id switched over and the old stack unmapped.
 * Any failure before that point leaves nothing changed. Pages are
 * allocated, arenas mapped and user memory faulted in with no lock held,
 * between attempts.
 *
 * Return: 0; -ENOENT; -EINVAL for an sp or bytes that do not fit, or a
 * struct or slot array inside the stack; -EBUSY for the running stack;
 * -EFBIG; -ENOSPC; -ENOMEM (also when no arena could be had, or another
 * thread kept unmapping the new one); -EFAULT for a slot or a struct that
 * cannot be read or written; -EINTR.
 */
int estack_stack_move(struct estack_ctx *ctx, struct estack_move *req,
		      bool grow, const u64 *slots, void __user *uarg)
{
	struct estack_move_op op = {
		.req = req,
		.orig = *req,
		.uarg = uarg,
		.out_size = min_t(size_t, req->size, sizeof(*req)),
		.slots = slots,
		.grow = grow,
	};
	unsigned int tries = 0;
	int ret;

	INIT_LIST_HEAD(&op.spans);
	if (req->nr_slots) {
		op.outer = kvcalloc(req->nr_slots, sizeof(*op.outer),
				    GFP_KERNEL);
		if (!op.outer)
			return -ENOMEM;
	}
	do {
		op.need = ESTACK_MOVE_NEED_NOTHING;
		ret = estack_move_attempt(ctx, &op);
		estack_mapped_drop_spans(ctx, &op.spans);
		if (ret != -EAGAIN)
			break;
		ret = estack_move_step(ctx, &op, ++tries);
	} while (!ret);

	if (ret == 1) {
		/* Nothing moved: a failed copy-out changes nothing either. */
		ret = estack_copy_args_out(uarg, req, sizeof(*req), req->size);
	} else if (!ret) {
		if (grow)
			trace_estack_grow(req->id, op.cur, op.size, req->lo,
					  req->hi, req->delta, op.m.copied,
					  req->adjusted);
		else
			trace_estack_shrink(req->id, op.cur, op.size, req->lo,
					    req->hi, req->delta, op.m.copied,
					    req->adjusted);
		estack_span_free(ctx->alloc, op.m.old_span, ctx->memcg);
	} else if (grow) {
		estack_stat_add(ctx->alloc, ESTACK_STAT_GROW_FAILURES, 1);
	}
	if (op.charged) {
		mutex_lock(&ctx->lock);
		estack_limits_release_bytes_locked(ctx, op.charged);
		mutex_unlock(&ctx->lock);
	}
	if (op.span)
		estack_span_free(ctx->alloc, op.span, ctx->memcg);
	kvfree(op.outer);
	return ret;
}
