// SPDX-License-Identifier: GPL-2.0
/*
 * estack moves: GROW and SHRINK (Go's newstack/copystack and shrinkstack).
 *
 * The new stack is built while the old one stays where it is; a failure
 * before the commit leaves nothing changed. A move is a loop of attempts,
 * each under the mmap lock (read) and ctx->lock (attempt.c). What cannot be
 * had under those locks (pages, an arena, user memory faulted in) ends the
 * attempt with -EAGAIN; the loop here gets it with no lock held and tries
 * again, %ESTACK_MOVE_TRIES times at most. The one exception: once the
 * mmap lock was found contended, pages are had holding it for reading
 * (op->mm_locked), as a page fault has them, never held across a wait
 * for it.
 *
 * Copyright (C) 2026 The estack authors
 */

#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "move-internal.h"
#include "trace.h"

/*
 * Before a wait on user memory, for the mmap lock or for a new arena
 * (which takes it for writing): give back the new stack, its charge and
 * the undo log. The wait can last as long as the user likes (a slot on a
 * userfaultfd page, or a fault on a file of their own FUSE mount that
 * holds the mmap lock): a stack held across it would be mapped nowhere,
 * so in no process's RSS, and the OOM killer could pin it on no one, and
 * every thread of the user could hold one. The next attempt charges and
 * allocates again.
 */
static void estack_move_let_go(struct estack_ctx *ctx,
			       struct estack_move_op *op)
{
	if (op->span) {
		estack_span_free(ctx->alloc, op->span, ctx->memcg);
		op->span = NULL;
		op->clean = 0;
	}
	if (op->charged) {
		mutex_lock(&ctx->lock);
		estack_limits_release_locked(ctx, op->charged, false);
		mutex_unlock(&ctx->lock);
		op->charged = 0;
	}
	estack_undo_log_free(&op->undo);
}

/*
 * Fault in the user memory the last attempt could not touch without a
 * fault: the word at op->fault, which must be had (-EFAULT if not), and
 * with it what the next attempt touches besides: every slot outside the
 * stack, which it reads, writable when its value points into the stack
 * (the move rewrites it), and the results, which it writes. Slots on many
 * pages not yet touched, or write-protected by a fork(), then cost one
 * round, not one each: a move has ESTACK_MOVE_TRIES rounds. Those others
 * are only a hint: one that cannot be had fails the next attempt, which
 * comes back here with its address. Nothing is written: a slot the move
 * will not rewrite is only read, as the attempt would.
 */
static int estack_move_fault_in(const struct estack_move_op *op)
{
	const struct estack_move_plan *m = &op->m;
	void __user *addr = u64_to_user_ptr(op->fault);
	unsigned int i;
	size_t len;
	u64 v;

	len = op->fault == (unsigned long)op->uarg ? op->out_size : sizeof(u64);
	if (op->need == ESTACK_MOVE_NEED_WRITE ?
	    fault_in_safe_writeable(addr, len) : fault_in_readable(addr, len))
		return -EFAULT;
	for (i = 0; i < op->req->nr_slots; i++) {
		if (op->slots[i] >= m->old_lo && op->slots[i] < m->old_hi)
			continue;
		if (fatal_signal_pending(current))
			return -EINTR;
		addr = u64_to_user_ptr(op->slots[i]);
		if (!get_user(v, (u64 __user *)addr) &&
		    v >= m->old_lo && v < m->old_hi)
			fault_in_safe_writeable(addr, sizeof(u64));
	}
	fault_in_safe_writeable(op->uarg, op->out_size);
	return 0;
}

/*
 * Do what the last attempt needed, with no lock held (but the mmap lock
 * for pages asked for once it was contended: op->mm_locked).
 */
static int estack_move_step(struct estack_ctx *ctx, struct estack_move_op *op,
			    unsigned int tries)
{
	struct estack_span *span;
	long clean;
	bool fault = op->need == ESTACK_MOVE_NEED_READ ||
		     op->need == ESTACK_MOVE_NEED_WRITE;

	/* Something keeps undoing the work: unmapped arenas or slots. */
	if (tries > ESTACK_MOVE_TRIES)
		return fault ? -EFAULT : -ENOMEM;
	switch (op->need) {
	case ESTACK_MOVE_NEED_SPAN:
		if (op->span)
			estack_span_free(ctx->alloc, op->span, ctx->memcg);
		op->clean = 0;
		/* Uncleared: the live part is taken over or copied over. */
		span = estack_stack_span_alloc(ctx, op->order, false);
		op->span = IS_ERR(span) ? NULL : span;
		if (IS_ERR(span))
			return PTR_ERR(span);
		/* A large one has the part below the live one cleared here. */
		if (op->order >= ESTACK_NR_SMALL) {
			clean = estack_move_clear_bottom(ctx->alloc, span,
							 (op->size - op->live) >>
							 PAGE_SHIFT);
			if (clean < 0)
				return clean;
			op->clean = clean;
		}
		return 0;
	case ESTACK_MOVE_NEED_ARENA:
		estack_move_let_go(ctx, op);
		return estack_arena_create(ctx, op->order);
	case ESTACK_MOVE_NEED_LOCK:
		/*
		 * The next attempt waits for the lock holding nothing, and
		 * keeps it while the pages are had again.
		 */
		estack_move_let_go(ctx, op);
		op->lock_first = true;
		return 0;
	case ESTACK_MOVE_NEED_READ:
	case ESTACK_MOVE_NEED_WRITE:
		estack_move_let_go(ctx, op);
		return estack_move_fault_in(op);
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
	/* What a successful commit did not take: as before a wait. */
	estack_move_let_go(ctx, op);
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
	/* Charged, as the kernel's copy of the slot array is (dev.c). */
	op.outer = kvcalloc(req->nr_slots, sizeof(*op.outer),
			    GFP_KERNEL_ACCOUNT);
	if (!op.outer)
		return -ENOMEM;
	do {
		op.need = ESTACK_MOVE_NEED_NOTHING;
		ret = estack_move_attempt(ctx, &op);
		estack_mapped_drop_spans(ctx, &op.spans);
		if (ret != -EAGAIN)
			break;
		ret = estack_move_step(ctx, &op, ++tries);
		if (op.mm_locked && ret) {
			mmap_read_unlock(ctx->mm);
			op.mm_locked = false;
		}
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
