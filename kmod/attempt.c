// SPDX-License-Identifier: GPL-2.0
/*
 * estack moves: one attempt of a GROW or SHRINK, under the mmap lock (read)
 * and ctx->lock, in five phases with their own unwind: check the request,
 * reserve (limits, pages, a slot), build (take the old stack's whole live
 * pages, copy the rest of the live part, relocate, all on the kernel's
 * mappings), install (map the new stack, write the slots and results
 * without faulting), commit (switch the id, unmap the old stack). The
 * words relocated in the pages taken are the only change the user could
 * see before the commit: the build logs them, and every failure after it
 * undoes them and gives the pages back (take.c). What cannot be had under
 * the locks ends the attempt with -EAGAIN and op->need set (move.c).
 *
 * Copyright (C) 2026 The estack authors
 */

#include <linux/mm.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "move-internal.h"

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
	op->vma_old = estack_arena_vma_locked(stack->arena);
	if (!op->vma_old)	/* its arena is being unmapped */
		return -ENOENT;
	op->cur = stack->hi - stack->lo;
	op->live = stack->hi - req->sp;
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
			/*
			 * As given: an earlier attempt whose write of its
			 * results faulted left the relocated fp here.
			 */
			req->fp = op->orig.fp;
			return 1;
		}
	}
	op->order = ilog2(op->size >> PAGE_SHIFT);
	op->stack = stack;
	return 0;
}

/*
 * Reserve: the limits' charge for the new stack, pages of the right order
 * and a slot in a mapped arena. The new stack is charged whole, next to
 * the old one, before its pages are allocated (with no lock held), and the
 * charge is kept while the move holds them: a move holds both stacks until
 * it commits, and each of any number of moves in flight holds a new stack.
 * Before a wait on user memory, which can last as long as the user likes,
 * the move gives the new stack and its charge back (move.c).
 */
static int estack_move_reserve_locked(struct estack_ctx *ctx,
				      struct estack_move_op *op)
{
	int ret;

	lockdep_assert_held(&ctx->lock);
	if (op->charged != op->size) {
		estack_limits_release_locked(ctx, op->charged, false);
		op->charged = 0;
		ret = estack_limits_charge_locked(ctx, op->size, false);
		/* Stacks the file keeps mapped count: give them up first. */
		if (ret == -ENOSPC &&
		    estack_mapped_evict_all_locked(ctx, &op->spans))
			ret = estack_limits_charge_locked(ctx, op->size, false);
		if (ret)
			return ret;
		op->charged = op->size;
	}
	/*
	 * No pages before there is room for them: a new arena is mapped
	 * holding none (move.c).
	 */
	if (!op->span || op->span->order != op->order)
		return estack_move_need(op, estack_arena_room_locked(ctx,
								     op->order) ?
					ESTACK_MOVE_NEED_SPAN :
					ESTACK_MOVE_NEED_ARENA, 0);
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
 * Build: the new stack in op->to's place, the live part taken over or
 * copied and its pointers relocated, all on the kernel's mappings of the
 * pages. On failure the caller calls estack_move_undo().
 */
static int estack_move_build_locked(struct estack_ctx *ctx,
				    struct estack_move_op *op)
{
	const struct estack_stack *stack = op->stack, *to = op->to;
	struct estack_move_plan *m = &op->m;
	bool relocates;
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
	m->take_lo = min_t(u64, round_up(m->sp, PAGE_SIZE), m->old_hi);
	m->log_lo = round_down(m->sp, PAGE_SIZE);
	m->clean = op->clean;
	/*
	 * fp is an input and a result: an attempt whose publish failed left
	 * its relocated fp in op->req. Each attempt starts from the caller's.
	 */
	m->fp = op->orig.fp;

	ret = estack_move_read_outer(m, op->slots, op->req->nr_slots, op->outer,
				     &op->nr_outer, &op->fault);
	if (ret)
		return estack_move_need(op, ESTACK_MOVE_NEED_READ, op->fault);
	/* A log of the words relocated, when the move relocates any. */
	relocates = op->req->nr_slots ||
		    (op->req->flags & (ESTACK_MOVE_ADJUST_FP |
				       ESTACK_MOVE_ADJUST_CONSERVATIVE));
	if (relocates && m->log_lo < m->old_hi) {
		m->undo = estack_undo_log_reserve(&op->undo,
						  (m->old_hi - m->log_lo) /
						  sizeof(u64));
		if (!m->undo)
			return -ENOMEM;
	}
	ret = estack_move_clear_new(m);
	estack_stat_add(ctx->alloc, ESTACK_STAT_PAGES_ZEROED, m->cleared);
	if (ret) {
		op->clean = 0;
		return ret;
	}
	/* Below sp all clear; from here on the pages hold this stack's data. */
	op->clean = (m->sp + m->delta - m->new_lo) >> PAGE_SHIFT;
	op->span->dirty = true;
	ret = estack_move_take_pages(m);
	if (ret)
		return ret;
	ret = estack_move_copy(m);
	if (ret)
		return ret;
	/* The chain first; the log keeps any word from moving twice. */
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
	bool torn;

	lockdep_assert_held(&ctx->lock);
	if (estack_move_write_outer(m, op->outer, op->nr_outer, &op->fault))
		return estack_move_need(op, ESTACK_MOVE_NEED_WRITE, op->fault);
	req->lo = m->new_lo;
	req->hi = m->new_hi;
	req->delta = m->delta;
	req->adjusted = m->adjusted;
	if (req->flags & ESTACK_MOVE_ADJUST_FP)
		req->fp = m->fp;
	if (estack_put_user_or_undo(op->uarg, req, &op->orig, op->out_size,
				    &torn)) {
		if (torn)
			pr_warn_ratelimited("estack: could not restore a move's arguments\n");
		estack_move_restore_outer(op->outer, op->nr_outer);
		return estack_move_need(op, ESTACK_MOVE_NEED_WRITE,
					(unsigned long)op->uarg);
	}
	return 0;
}

/*
 * Install: the new stack in its slot's page tables, then the
 * slots and results written. Unwinds all of it on failure.
 */
static int estack_move_install_locked(struct estack_ctx *ctx,
				      struct estack_move_op *op)
{
	struct estack_stack *to = op->to;
	int ret;

	lockdep_assert_held(&ctx->lock);
	/*
	 * Nor may the struct lie in the new stack: that was a free slot when
	 * the move was checked, but another thread may have freed the stack
	 * that held the struct since, and publish would write into the pages
	 * taken over.
	 */
	if (estack_range_meets((unsigned long)op->uarg, op->out_size, to->lo,
			       to->hi))
		return -EINVAL;
	to->span = op->span;
	to->id = op->req->id;
	ret = estack_arena_map(op->vma_new, to);
	if (ret)
		goto err_forget_span;
	ret = estack_move_publish_locked(ctx, op);
	if (ret)
		goto err_zap;
	return 0;

err_zap:
	estack_zap(op->vma_new, to->lo, op->size);
	/* The user could write below sp while it was mapped: clear it again. */
	op->clean = 0;
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
	estack_zap(op->vma_old, stack->lo, op->cur);
	stack->span = NULL;
	estack_arena_unreserve_locked(stack);
	/* The old stack's bytes go with it; the charge is the new one's. */
	estack_limits_release_locked(ctx, op->cur, false);
	op->charged = 0;
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
int estack_move_attempt(struct estack_ctx *ctx, struct estack_move_op *op)
{
	int ret;

	if (op->mm_locked) {
		op->mm_locked = false;	/* the last attempt's, kept */
	} else if (estack_mmap_trylock(ctx->mm)) {
		/* Not a wait holding the new stack: it goes back first. */
		if (op->span || op->charged || op->undo.map)
			return estack_move_need(op, ESTACK_MOVE_NEED_LOCK, 0);
		op->lock_first = true;
		if (mmap_read_lock_killable(ctx->mm))
			return -EINTR;
	}
	mutex_lock(&ctx->lock);
	ret = estack_move_check_locked(ctx, op);
	if (!ret)
		ret = estack_move_reserve_locked(ctx, op);
	if (ret)
		goto out;
	ret = estack_move_build_locked(ctx, op);
	if (!ret)
		ret = estack_move_install_locked(ctx, op);
	if (ret) {
		estack_move_undo(&op->m);
		estack_arena_unreserve_locked(op->to);
	} else {
		estack_move_commit_locked(ctx, op);
	}
out:
	mutex_unlock(&ctx->lock);
	/*
	 * Once the lock was contended, it is kept for pages asked for (had
	 * holding it) and for a retry, which holds them still.
	 */
	if (ret == -EAGAIN && op->lock_first &&
	    (op->need == ESTACK_MOVE_NEED_SPAN ||
	     op->need == ESTACK_MOVE_NEED_RETRY))
		op->mm_locked = true;
	else
		mmap_read_unlock(ctx->mm);
	return ret;
}
