// SPDX-License-Identifier: GPL-2.0
/*
 * estack moves: GROW and SHRINK (Go's newstack/copystack and shrinkstack).
 *
 * The new stack is built completely while the old one stays as it is;
 * nothing the user sees changes before the commit, and a failure before it
 * leaves nothing changed. A move is a loop of attempts, each under the
 * mmap lock (read) and ctx->lock, in five phases with their own unwind:
 * check the request, reserve (limits, pages, a slot), build (copy and
 * relocate on the kernel's mapping of the new pages), install (map the new
 * stack, write the slots and results without faulting), commit (switch the
 * id, unmap the old stack). What cannot be had under those locks (pages,
 * an arena, user memory faulted in) ends the attempt with -EAGAIN; the
 * loop gets it with no lock held and tries again, %ESTACK_MOVE_TRIES times
 * at most.
 *
 * Copyright (C) 2026 The estack authors
 */

#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "move.h"
#include "trace.h"

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
 * @stack: the stack that moves (checked in this attempt)
 * @to: the slot it moves to (reserved in this attempt)
 * @vma_old: @stack's arena's VMA
 * @vma_new: @to's arena's VMA
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
	struct estack_stack *stack;
	struct estack_stack *to;
	struct vm_area_struct *vma_old;
	struct vm_area_struct *vma_new;
	struct estack_move_plan m;
};

#define ESTACK_MOVE_TRIES	8	/* times a move drops its locks to get things */

/* End an attempt: @need must be done with no lock held first. */
static int estack_move_need(struct estack_move_op *op,
			    enum estack_move_need need, u64 fault)
{
	op->need = need;
	op->fault = fault;
	return -EAGAIN;
}

/*
 * Check: the request against the stack, in the ABI's order; the new size.
 * Return 0, 1 when a SHRINK has nothing to do (the results are in op->req),
 * or a negative errno.
 */
static int estack_move_check_locked(struct estack_ctx *ctx,
				    struct estack_move_op *op)
{
	u64 max = estack_tunable_get(&estack_tunables.max_stack);
	struct estack_move *req = op->req;
	struct estack_stack *stack;
	int ret;

	lockdep_assert_held(&ctx->lock);
	stack = xa_load(&ctx->ids, req->id);
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
	op->vma_old = estack_arena_vma_locked(stack->arena);
	if (!op->vma_old)	/* its arena is being unmapped */
		return -ENOENT;
	op->stack = stack;
	return 0;
}

/*
 * Reserve: the limits' charge for the growth, pages of the right order and
 * a slot in a mapped arena. The charge is taken before the pages are
 * allocated, with no lock held, and kept until the move ends: threads
 * growing at once each see the headroom the others left.
 */
static int estack_move_reserve_locked(struct estack_ctx *ctx,
				      struct estack_move_op *op)
{
	u64 more = op->size > op->cur ? op->size - op->cur : 0;
	int ret;

	lockdep_assert_held(&ctx->lock);
	if (op->charged != more) {
		estack_limits_release_locked(ctx, op->charged, false);
		op->charged = 0;
		ret = estack_limits_charge_locked(ctx, more, false);
		/* Stacks the file keeps mapped count: give them up first. */
		if (ret == -ENOSPC &&
		    estack_mapped_evict_all_locked(ctx, &op->spans))
			ret = estack_limits_charge_locked(ctx, more, false);
		if (ret)
			return ret;
		op->charged = more;
	}
	if (!op->span || op->span->order != op->order)
		return estack_move_need(op, ESTACK_MOVE_NEED_SPAN, 0);
	op->to = estack_arena_reserve_locked(ctx, op->order);
	if (IS_ERR(op->to))
		return PTR_ERR(op->to);
	if (!op->to)
		return estack_move_need(op, ESTACK_MOVE_NEED_ARENA, 0);
	op->vma_new = estack_arena_vma_locked(op->to->arena);
	if (!op->vma_new) {
		estack_arena_unreserve_locked(op->to);
		return estack_move_need(op, ESTACK_MOVE_NEED_RETRY, 0);
	}
	return 0;
}

/*
 * Build: the new stack in op->to's place, the live part copied and its
 * pointers relocated, all on the kernel's mappings of the new pages; the
 * user sees nothing. Undoing it needs nothing: the pages are marked dirty.
 */
static int estack_move_build_locked(struct estack_ctx *ctx,
				    struct estack_move_op *op)
{
	const struct estack_stack *stack = op->stack, *to = op->to;
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

	ret = estack_move_read_outer(m, op->slots, op->req->nr_slots, op->outer,
				     &op->nr_outer, &op->fault);
	if (ret)
		return estack_move_need(op, ESTACK_MOVE_NEED_READ, op->fault);
	ret = estack_move_clear_new(m);
	estack_stat_add(ctx->alloc, ESTACK_STAT_PAGES_ZEROED, m->cleared);
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
 * caller's struct, without faulting (a fault on an arena needs ctx->lock).
 * On failure every slot written is put back and the loop faults the
 * address in.
 */
static int estack_move_publish_locked(struct estack_ctx *ctx,
				      struct estack_move_op *op)
{
	struct estack_move_plan *m = &op->m;
	struct estack_move *req = op->req;

	lockdep_assert_held(&ctx->lock);
	if (estack_move_write_outer(m, op->outer, op->nr_outer, &op->fault))
		return estack_move_need(op, ESTACK_MOVE_NEED_WRITE, op->fault);
	req->lo = m->new_lo;
	req->hi = m->new_hi;
	req->delta = m->delta;
	req->adjusted = m->adjusted;
	if (req->flags & ESTACK_MOVE_ADJUST_FP)
		req->fp = m->fp;
	if (copy_to_user_nofault(op->uarg, req, op->out_size)) {
		if (copy_to_user_nofault(op->uarg, &op->orig, op->out_size))
			pr_warn_ratelimited("estack: could not restore a move's arguments\n");
		estack_move_restore_outer(op->outer, op->nr_outer);
		return estack_move_need(op, ESTACK_MOVE_NEED_WRITE,
					(unsigned long)op->uarg);
	}
	return 0;
}

/*
 * Install: the new stack in its arena's tree and page tables, then the
 * slots and results written. Unwinds all of it on failure.
 */
static int estack_move_install_locked(struct estack_ctx *ctx,
				      struct estack_move_op *op)
{
	struct estack_stack *to = op->to;
	int ret;

	lockdep_assert_held(&ctx->lock);
	to->span = op->span;
	to->id = op->req->id;
	ret = mtree_store_range(&to->arena->stacks, to->lo, to->hi - 1, to,
				GFP_KERNEL_ACCOUNT);
	if (ret)
		goto err_forget_span;
	ret = estack_arena_map(op->vma_new, to);
	if (ret)
		goto err_erase_range;
	ret = estack_move_publish_locked(ctx, op);
	if (ret)
		goto err_zap;
	return 0;

err_zap:
	estack_zap(op->vma_new, to->lo, op->size);
err_erase_range:
	mtree_erase(&to->arena->stacks, to->lo);
err_forget_span:
	to->span = NULL;
	to->id = 0;
	return ret;
}

/* Commit: the id names the new stack from now on; the old one goes. */
static void estack_move_commit_locked(struct estack_ctx *ctx,
				      struct estack_move_op *op)
{
	struct estack_stack *stack = op->stack;

	lockdep_assert_held(&ctx->lock);
	/* Replaces an entry: allocates nothing, cannot fail. */
	xa_store(&ctx->ids, op->req->id, op->to, GFP_KERNEL);
	mtree_erase(&stack->arena->stacks, stack->lo);
	estack_zap(op->vma_old, stack->lo, op->cur);
	stack->span = NULL;
	estack_arena_unreserve_locked(stack);
	if (op->size < op->cur)
		estack_limits_release_locked(ctx, op->cur - op->size, false);
	op->charged = 0;	/* the new stack's bytes now */
	op->span = NULL;	/* and its pages */

	estack_stat_add(ctx->alloc, op->grow ? ESTACK_STAT_GROWS :
			ESTACK_STAT_SHRINKS, 1);
	estack_stat_add(ctx->alloc, ESTACK_STAT_BYTES_COPIED, op->m.copied);
	estack_stat_add(ctx->alloc, ESTACK_STAT_WORDS_RELOCATED,
			op->m.adjusted);
}

/*
 * One attempt under the mmap lock and ctx->lock. Return 0 when committed,
 * 1 when there is nothing to do, -EAGAIN with op->need set when something
 * must be done with no lock held first, or a negative errno. Anything but
 * 0 leaves the stack as it was.
 */
static int estack_move_attempt(struct estack_ctx *ctx,
			       struct estack_move_op *op)
{
	int ret;

	if (mmap_read_lock_killable(ctx->mm))
		return -EINTR;
	mutex_lock(&ctx->lock);
	ret = estack_move_check_locked(ctx, op);
	if (!ret)
		ret = estack_move_reserve_locked(ctx, op);
	if (ret)
		goto out;
	ret = estack_move_build_locked(ctx, op);
	if (!ret)
		ret = estack_move_install_locked(ctx, op);
	if (ret)
		estack_arena_unreserve_locked(op->to);
	else
		estack_move_commit_locked(ctx, op);
out:
	mutex_unlock(&ctx->lock);
	mmap_read_unlock(ctx->mm);
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
		span = estack_stack_span_alloc(ctx, op->order,
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

/* The move's outcome: trace it, count it, free what is left. */
static void estack_move_finish(struct estack_ctx *ctx,
			       struct estack_move_op *op, int ret)
{
	struct estack_move *req = op->req;

	if (!ret && op->grow)
		trace_estack_grow(req->id, op->cur, op->size, req->lo, req->hi,
				  req->delta, op->m.copied, req->adjusted);
	else if (!ret)
		trace_estack_shrink(req->id, op->cur, op->size, req->lo,
				    req->hi, req->delta, op->m.copied,
				    req->adjusted);
	else if (ret < 0 && op->grow)
		estack_stat_add(ctx->alloc, ESTACK_STAT_GROW_FAILURES, 1);
	if (!ret)
		estack_span_free(ctx->alloc, op->m.old_span, ctx->memcg);
	if (op->charged) {
		mutex_lock(&ctx->lock);
		estack_limits_release_locked(ctx, op->charged, false);
		mutex_unlock(&ctx->lock);
	}
	if (op->span)
		estack_span_free(ctx->alloc, op->span, ctx->memcg);
	kvfree(op->outer);
}

static int estack_stack_move(struct estack_ctx *ctx, struct estack_move *req,
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
	op.outer = kvcalloc(req->nr_slots, sizeof(*op.outer), GFP_KERNEL);
	if (!op.outer)
		return -ENOMEM;
	do {
		op.need = ESTACK_MOVE_NEED_NOTHING;
		ret = estack_move_attempt(ctx, &op);
		estack_mapped_drop_spans(ctx, &op.spans);
		if (ret != -EAGAIN)
			break;
		ret = estack_move_step(ctx, &op, ++tries);
	} while (!ret);
	estack_move_finish(ctx, &op, ret);
	return ret;
}

/**
 * estack_stack_grow() - GROW: move a stack to a larger one
 * @ctx: the context
 * @req: the request, validated as a struct; lo, hi, delta, fp and
 *	adjusted are filled in on success
 * @slots: req->nr_slots slot addresses, copied in
 * @uarg: the caller's struct: the results are written there before the
 *	move commits, so that nothing can fail after it
 *
 * Return: 0, with the results written to @uarg; -ENOENT; -EINVAL for an
 * sp or bytes that do not fit, or a struct or slot array inside the stack;
 * -EBUSY for the running stack; -EFBIG; -ENOSPC; -ENOMEM (also when no
 * arena could be had, or another thread kept unmapping the new one);
 * -EFAULT for a slot or a struct that cannot be read or written; -EINTR.
 */
int estack_stack_grow(struct estack_ctx *ctx, struct estack_move *req,
		      const u64 *slots, void __user *uarg)
{
	return estack_stack_move(ctx, req, true, slots, uarg);
}

/**
 * estack_stack_shrink() - SHRINK: move a stack to a smaller one
 * @ctx: the context
 * @req: as for estack_stack_grow()
 * @slots: as for estack_stack_grow()
 * @uarg: as for estack_stack_grow()
 *
 * Return: as estack_stack_grow() (but no -EFBIG), and 1 when the stack
 * stays as it is (Go's "not worth it"): the results are then in @req, for
 * the caller to copy out.
 */
int estack_stack_shrink(struct estack_ctx *ctx, struct estack_move *req,
			const u64 *slots, void __user *uarg)
{
	return estack_stack_move(ctx, req, false, slots, uarg);
}
