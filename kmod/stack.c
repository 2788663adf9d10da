// SPDX-License-Identifier: GPL-2.0
/*
 * estack stacks: ids, ALLOC, FREE and INFO for a context.
 *
 * A stack is a span from the allocator mapped into a slot of an arena, with
 * a per-file id. ALLOC charges the limits, takes a span (no lock held: it
 * may sleep, reclaim and zero), then under the mmap lock and ctx->lock finds
 * a slot (the arena's tree holds its range from when it is carved), records
 * the id and inserts every page, so that the first touch takes no fault and
 * the stack counts in the process's RSS at once. FREE undoes it in reverse.
 * Every step unwinds on error: a failed call leaves no id, no mapping and no
 * page behind.
 *
 * The mapped cache (mapped.c) is the fast path of both: FREE keeps a small
 * stack mapped there, and the next ALLOC of its size takes it back.
 *
 * Concurrency: ids, slots and the arenas' trees are protected by ctx->lock,
 * taken inside the mmap lock (read). A stack's struct lives until FREE or
 * until its arena is unmapped (->close), and munmap calls ->close after it
 * has downgraded the mmap lock to read (6.1 and 6.12 alike): holding the
 * mmap lock for reading does not keep a stack alive, only ctx->lock does.
 * A path that drops ctx->lock copies what it needs first, or looks the
 * stack up again. No user memory is touched while ctx->lock is held: a
 * fault on an estack page would need it.
 *
 * Copyright (C) 2026 The estack authors
 */

#include <linux/mm.h>
#include <linux/ptrace.h>
#include <linux/sched/task_stack.h>
#include <linux/xarray.h>

#include "compat.h"
#include "stack.h"
#include "trace.h"

/*
 * New arenas one ALLOC maps before it gives up with -ENOMEM: each is
 * unmapped before the ALLOC can use it only by another thread of the
 * caller that keeps doing so.
 */
#define ESTACK_ALLOC_ARENAS	16

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
 * ALLOC from the mapped cache. Return 1 when it has no stack of @order, or
 * when the file is at a limit (the caller takes the slow path, which
 * empties the cache and charges again), else 0 or a negative errno.
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
	/*
	 * Its bytes are charged already: it counts as a stack again. A file
	 * its own cache keeps above a limit (one lowered below what it
	 * holds) goes the slow way, which gives the cache up.
	 */
	if (estack_limits_charge_locked(ctx, 0, true)) {
		ret = 1;
		goto err_put_back;
	}
	ret = estack_id_assign_locked(ctx, stack);
	if (ret)
		goto err_uncharge;
	estack_span_reuse(ctx->alloc, stack->span);
	out->id = stack->id;
	out->lo = stack->lo;
	out->hi = stack->hi;
	goto out_unlock;

err_uncharge:
	estack_limits_release_locked(ctx, 0, true);
err_put_back:
	estack_mapped_put_back_locked(ctx, stack);
out_unlock:
	mutex_unlock(&ctx->lock);
	mmap_read_unlock(mm);
	estack_mapped_drop_spans(ctx, &spans);
	if (!ret)
		trace_estack_alloc(out->id, out->lo, out->hi);
	return ret;
}

/**
 * estack_stack_span_alloc() - pages for a new stack of @ctx
 * @ctx: the context
 * @order: log2 of the number of pages
 * @zeroed: cleared (else they may hold an earlier stack of the same cgroup)
 *
 * Never under ctx->lock: the allocation may reclaim, and clearing a large
 * stack takes long. Not under the mmap lock either, as a rule: ALLOC and
 * the moves take that lock after, with estack_mmap_trylock(). Only a
 * caller that found it contended allocates holding it for reading, as a
 * page fault does, so that it cannot find it contended again; a wait for
 * it holding the pages is the one thing that must not happen.
 *
 * Return: the span, or an ERR_PTR() (-ENOMEM, -EINTR).
 */
struct estack_span *estack_stack_span_alloc(struct estack_ctx *ctx,
					    unsigned int order, bool zeroed)
{
	might_sleep();
	lockdep_assert_not_held(&ctx->lock);
	if (zeroed)
		return estack_span_alloc(ctx->alloc, order, ctx->memcg,
					 ctx->serial);
	return estack_span_alloc_unzeroed(ctx->alloc, order, ctx->memcg,
					  ctx->serial);
}

/*
 * Find a slot for @span's stack and make it live: an id and every page
 * mapped. *@contended: the caller found the mmap lock contended before
 * and holds it for reading now; else it is taken here if it is free, and
 * *@contended set if it is not. The lock is released on return. On error
 * @span is the caller's again; -EAGAIN when no arena has room: the caller
 * maps one, with no lock held and holding nothing (estack_stack_create()),
 * and tries again; -EAGAIN with *@contended set when the lock is not free:
 * the caller gives @span back, and takes the lock before the next one.
 */
static int estack_stack_place(struct estack_ctx *ctx, unsigned int order,
			      struct estack_span *span, bool *contended,
			      struct estack_stack_info *out)
{
	struct mm_struct *mm = ctx->mm;
	struct vm_area_struct *vma = NULL;
	struct estack_stack *stack;
	int ret;

	if (!*contended && estack_mmap_trylock(mm)) {
		*contended = true;
		return -EAGAIN;
	}
	mutex_lock(&ctx->lock);
	for (;;) {
		stack = estack_arena_reserve_locked(ctx, order);
		if (IS_ERR_OR_NULL(stack)) {
			ret = stack ? PTR_ERR(stack) : -EAGAIN;
			goto out_unlock;
		}
		vma = estack_arena_vma_locked(stack->arena);
		if (vma)
			break;
		/* Being unmapped: the arena is dead now, the next one. */
		estack_arena_unreserve_locked(stack);
	}

	ret = estack_id_assign_locked(ctx, stack);
	if (ret)
		goto err_unreserve;
	stack->span = span;
	ret = estack_arena_map(vma, stack);
	if (ret)
		goto err_forget_span;
	out->id = stack->id;
	out->lo = stack->lo;
	out->hi = stack->hi;
	goto out_unlock;

err_forget_span:
	stack->span = NULL;
	xa_erase(&ctx->ids, stack->id);
err_unreserve:
	estack_arena_unreserve_locked(stack);
out_unlock:
	mutex_unlock(&ctx->lock);
	mmap_read_unlock(mm);
	return ret;
}

/* Charge a new stack of @size; *@room: an arena has a slot for it. */
static int estack_stack_charge(struct estack_ctx *ctx, unsigned long size,
			       unsigned int order, bool *room)
{
	int ret;

	mutex_lock(&ctx->lock);
	ret = estack_limits_charge_locked(ctx, size, true);
	*room = !ret && estack_arena_room_locked(ctx, order);
	mutex_unlock(&ctx->lock);
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
	unsigned int order = ilog2(size >> PAGE_SHIFT), tries;
	struct estack_span *span;
	bool room, contended = false;
	int ret;

	ret = estack_stack_create_mapped(ctx, order, out);
	if (ret <= 0)
		return ret;
	for (tries = 0;; tries++) {
		ret = estack_stack_charge(ctx, size, order, &room);
		/* Stacks the file keeps mapped count: give them up first. */
		if (ret == -ENOSPC && estack_mapped_flush(ctx))
			ret = estack_stack_charge(ctx, size, order, &room);
		if (ret)
			return ret;
		/*
		 * A new arena takes the mmap lock for writing, which anyone
		 * holding it for reading (a fault on a FUSE file that does
		 * not answer) can delay as long as they like: map it holding
		 * no charge and no pages (they would be mapped nowhere
		 * meanwhile, in no RSS), as a move does.
		 */
		if (!room) {
			estack_limits_uncharge(ctx, size);
			if (tries >= ESTACK_ALLOC_ARENAS)
				return -ENOMEM;
			ret = estack_arena_create(ctx, order);
			if (ret)
				return ret;
			continue;
		}
		/*
		 * The mmap lock was not free the last time: the pages are
		 * had holding it, so that they are placed without a wait.
		 * (The charge is held across that wait: it is a count, not
		 * memory.)
		 */
		if (contended && mmap_read_lock_killable(ctx->mm)) {
			ret = -EINTR;
			goto err_uncharge;
		}
		span = estack_stack_span_alloc(ctx, order, true);
		if (IS_ERR(span)) {
			if (contended)
				mmap_read_unlock(ctx->mm);
			ret = PTR_ERR(span);
			goto err_uncharge;
		}
		ret = estack_stack_place(ctx, order, span, &contended, out);
		if (ret != -EAGAIN)
			break;
		/*
		 * The room went meanwhile (unmapped), or the mmap lock is
		 * not free: no wait for it holding the pages (mapped
		 * nowhere, in no RSS), which anyone holding it for reading
		 * can make last as long as they like. All over again.
		 */
		estack_span_free(ctx->alloc, span, ctx->memcg);
		estack_limits_uncharge(ctx, size);
	}
	if (ret)
		goto err_free_span;
	trace_estack_alloc(out->id, out->lo, out->hi);
	return 0;

err_free_span:
	estack_span_free(ctx->alloc, span, ctx->memcg);
err_uncharge:
	estack_limits_uncharge(ctx, size);
	return ret;
}

/**
 * estack_stack_running() - does the calling thread run on @stack?
 * @stack: a live stack
 *
 * Return: true when the thread's user stack pointer is inside @stack.
 */
bool estack_stack_running(const struct estack_stack *stack)
{
	unsigned long sp = current_pt_regs()->sp;

	return sp >= stack->lo && sp <= stack->hi;
}

/*
 * FREE of @id, entered with mmap_lock held for read and leaving it
 * dropped. @check: refuse the caller's running stack (EBUSY) and a stack
 * that meets [@keep, @keep + @keep_len) (EINVAL), in that order.
 */
static int estack_stack_destroy_mmap_held(struct estack_ctx *ctx, u32 id,
					  bool check, u64 keep, u64 keep_len)
{
	XA_STATE(xas, &ctx->ids, id);
	struct mm_struct *mm = ctx->mm;
	struct estack_stack *stack;
	struct vm_area_struct *vma;
	struct estack_span *span;
	unsigned long lo, size;
	int ret = 0;

	mutex_lock(&ctx->lock);
	/*
	 * One walk of the id tree finds the stack and takes its id away:
	 * with a million ids it is four levels deep and cold, and FREE's
	 * lookup and erase used to walk it twice. The id reserved for the
	 * next ALLOC reads as absent.
	 */
	xas_lock(&xas);
	stack = xas_load(&xas);
	vma = stack && !xa_is_zero(stack) ?
	      estack_arena_vma_locked(stack->arena) : NULL;
	if (!vma)	/* no such stack, or being unmapped: ->close frees it */
		ret = -ENOENT;
	else if (check && estack_stack_running(stack))
		ret = -EBUSY;
	else if (check && estack_range_meets(keep, keep_len, stack->lo,
					     stack->hi))
		ret = -EINVAL;
	else
		xas_store(&xas, NULL);
	xas_unlock(&xas);
	if (ret) {
		mutex_unlock(&ctx->lock);
		mmap_read_unlock(mm);
		return ret;
	}
	lo = stack->lo;
	size = stack->hi - stack->lo;
	if (estack_mapped_keep_locked(ctx, stack)) {
		/* Not a stack any more, but its bytes stay charged. */
		estack_limits_release_locked(ctx, 0, true);
		mutex_unlock(&ctx->lock);
		mmap_read_unlock(mm);
		trace_estack_free(id, lo, lo + size);
		return 0;
	}
	estack_limits_release_locked(ctx, size, true);
	/* No fault can put a page back: they need ctx->lock and a span. */
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

/**
 * estack_stack_destroy() - FREE
 * @ctx: the context
 * @id: the stack
 * @keep: start of user memory the stack may not hold (a batch's header,
 *	whose done is written after the FREE)
 * @keep_len: its length; 0 for none
 *
 * Return: 0; -ENOENT; -EBUSY for the stack the caller runs on; -EINVAL
 * when the stack meets [@keep, @keep + @keep_len); -EINTR.
 */
int estack_stack_destroy(struct estack_ctx *ctx, u32 id, u64 keep,
			 u64 keep_len)
{
	if (mmap_read_lock_killable(ctx->mm))
		return -EINTR;
	return estack_stack_destroy_mmap_held(ctx, id, true, keep, keep_len);
}

/**
 * estack_stack_take_back() - undo an ALLOC whose result was not delivered
 * @ctx: the context
 * @id: the stack ALLOC made
 *
 * FREE without its checks, waiting for mmap_lock even with a fatal signal
 * pending: the caller was told nothing of the stack, so it may not stay.
 * It is found by id: if another thread guessed the id and moved the stack
 * in between, the moved stack is the one taken back.
 *
 * Return: 0, or -ENOENT when another thread freed it first.
 */
int estack_stack_take_back(struct estack_ctx *ctx, u32 id)
{
	mmap_read_lock(ctx->mm);
	return estack_stack_destroy_mmap_held(ctx, id, false, 0, 0);
}

/*
 * Bytes of the stack mapped in the page tables now, or -EINTR. The caller
 * checked the arena's VMA under the locks it holds.
 */
static long estack_stack_resident_locked(struct estack_ctx *ctx,
					 const struct estack_stack *stack)
{
	struct estack_pte_scan scan;
	int ret;

	lockdep_assert_held(&ctx->lock);
	ret = estack_arena_scan(ctx->mm, stack, &scan);
	return ret ? ret : scan.resident << PAGE_SHIFT;
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
	long ret = -ENOENT;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	mutex_lock(&ctx->lock);
	stack = xa_load(&ctx->ids, id);
	/*
	 * munmap() frees the page tables after it detached the VMA and let
	 * go of the write lock: walk them only while the arena is mapped.
	 */
	if (stack && estack_arena_vma_locked(stack->arena)) {
		out->id = id;
		out->lo = stack->lo;
		out->hi = stack->hi;
		ret = estack_stack_resident_locked(ctx, stack);
		out->resident = ret;
	}
	mutex_unlock(&ctx->lock);
	mmap_read_unlock(mm);
	return ret < 0 ? ret : 0;
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

