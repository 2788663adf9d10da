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
 * Concurrency: ids, slots and the arenas' trees are protected by ctx->lock,
 * taken inside the mmap lock (read). A stack's struct lives until FREE or
 * until its arena is unmapped (->close, mmap lock held for writing), so
 * holding the mmap lock for reading keeps any stack found under ctx->lock
 * alive. No user memory is touched while ctx->lock is held: a fault on an
 * estack page would need it.
 *
 * Copyright (C) 2026 The estack authors
 */

#include <linux/maple_tree.h>
#include <linux/mm.h>
#include <linux/ptrace.h>
#include <linux/sched/task_stack.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "compat.h"
#include "estack.h"

/* Charge the file's and the user's limits for one stack of @size bytes. */
static int estack_limits_charge(struct estack_ctx *ctx, unsigned long size)
{
	const struct estack_tunables *t = &estack_tunables;
	long user_bytes;

	mutex_lock(&ctx->lock);
	if (ctx->nr_stacks + 1 > estack_tunable_get(&t->max_stacks_per_fd) ||
	    ctx->bytes + size > estack_tunable_get(&t->max_bytes_per_fd)) {
		mutex_unlock(&ctx->lock);
		return -ENOSPC;
	}
	user_bytes = atomic_long_add_return(size, &ctx->user->bytes);
	if (user_bytes > estack_tunable_get(&t->max_bytes_per_user)) {
		atomic_long_sub(size, &ctx->user->bytes);
		mutex_unlock(&ctx->lock);
		return -ENOSPC;
	}
	ctx->nr_stacks++;
	ctx->bytes += size;
	mutex_unlock(&ctx->lock);
	return 0;
}

static void estack_limits_uncharge_locked(struct estack_ctx *ctx,
					  unsigned long size)
{
	lockdep_assert_held(&ctx->lock);
	ctx->nr_stacks--;
	ctx->bytes -= size;
	atomic_long_sub(size, &ctx->user->bytes);
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

/* Map the stack's pages; on error nothing of it stays mapped. */
static int estack_stack_map_locked(struct vm_area_struct *vma,
				   struct estack_stack *stack)
{
	unsigned long nr = estack_span_nr_pages(stack->span), left = nr;
	int ret;

	ret = vm_insert_pages(vma, stack->lo, stack->span->pages, &left);
	if (ret)
		estack_zap(vma, stack->lo, (nr - left) << PAGE_SHIFT);
	return ret;
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

	ret = estack_limits_charge(ctx, size);
	if (ret)
		return ret;
	span = estack_span_alloc(ctx->alloc, order, ctx->memcg);
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

	if (!ctx->next_id) {	/* ids are never reused: all 2^32 - 1 used */
		ret = -ENOSPC;
		goto err_unreserve;
	}
	ret = xa_insert(&ctx->ids, ctx->next_id, stack, GFP_KERNEL_ACCOUNT);
	if (ret)
		goto err_unreserve;
	stack->id = ctx->next_id++;
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
	unsigned long size;

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
	size = stack->hi - stack->lo;
	xa_erase(&ctx->ids, id);
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
	estack_limits_uncharge_locked(ctx, size);
	mutex_unlock(&ctx->lock);
	mmap_read_unlock(mm);

	estack_span_free(ctx->alloc, span, ctx->memcg);
	return 0;
}

/* Pages of [lo, hi) mapped in the page tables now. */
static unsigned long estack_stack_resident_locked(struct mm_struct *mm,
						  const struct estack_stack *stack)
{
	unsigned long addr, n = 0;
	spinlock_t *ptl;	/* the PTE's, from follow_pte() */
	pte_t *ptep;

	for (addr = stack->lo; addr < stack->hi; addr += PAGE_SIZE) {
		if (!((addr - stack->lo) & (SZ_4M - 1)))
			cond_resched();
		if (follow_pte(mm, addr, &ptep, &ptl))
			continue;
		/* follow_pte() returned with the PTE lock held. */
		__acquire(ptl);
		n += pte_present(*ptep);
		pte_unmap_unlock(ptep, ptl);
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
	if (stack) {
		out->id = id;
		out->lo = stack->lo;
		out->hi = stack->hi;
		out->resident = estack_stack_resident_locked(mm, stack) <<
				PAGE_SHIFT;
	}
	mutex_unlock(&ctx->lock);
	mmap_read_unlock(mm);
	return stack ? 0 : -ENOENT;
}
