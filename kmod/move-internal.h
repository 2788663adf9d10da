/* SPDX-License-Identifier: GPL-2.0 */
/*
 * estack move internals, between move.c (a move across its attempts) and
 * attempt.c (one attempt under the locks).
 *
 * Copyright (C) 2026 The estack authors
 */
#ifndef _ESTACK_MOVE_INTERNAL_H
#define _ESTACK_MOVE_INTERNAL_H

#include "move.h"

/* What a move attempt needs done with no lock held before the next one. */
enum estack_move_need {
	ESTACK_MOVE_NEED_NOTHING,
	ESTACK_MOVE_NEED_SPAN,		/* pages for the new stack */
	ESTACK_MOVE_NEED_ARENA,		/* room for it in an arena */
	ESTACK_MOVE_NEED_READ,		/* a user word, faulted in to read */
	ESTACK_MOVE_NEED_WRITE,		/* user memory, faulted in to write */
	ESTACK_MOVE_NEED_RETRY,		/* the new slot's arena went away */
	ESTACK_MOVE_NEED_LOCK,		/* the mmap lock, not free */
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
 * @clean: pages at the bottom of @span known to be clear
 * @undo: the undo log's storage, kept across the attempts
 * @cur: size of the stack now
 * @live: bytes of it from sp up
 * @size: size it moves to
 * @order: log2 of @size in pages
 * @need: why the last attempt stopped with -EAGAIN
 * @lock_first: the mmap lock was found not free once: from then on the
 *	attempt that asks for pages keeps it, and they are had holding it
 *	(as a page fault has them), never held across a wait for it
 * @mm_locked: the mmap lock is held, by the last attempt for the next
 * @fault: the user address for %ESTACK_MOVE_NEED_READ and _WRITE
 * @spans: spans evicted from the mapped cache, freed with no lock held
 * @charged: bytes charged to the limits for the new stack (@size, next
 *	to the old stack's own charge); held across the attempts, so that
 *	the pages allocated between them are always covered, and given
 *	back only if the move fails (at the commit, the old stack's are)
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
	unsigned long clean;
	struct estack_undo_log undo;
	u64 cur;
	u64 live;
	u64 size;
	unsigned int order;
	enum estack_move_need need;
	bool lock_first;
	bool mm_locked;
	u64 fault;
	struct list_head spans;
	u64 charged;
	struct estack_stack *stack;
	struct estack_stack *to;
	struct vm_area_struct *vma_old;
	struct vm_area_struct *vma_new;
	struct estack_move_plan m;
};

/*
 * Times a move drops its locks to get things. A wait on user memory costs
 * two: the fault, and then the new stack again, given back before it; so
 * does the one wait for a contended mmap lock with the new stack in hand.
 */
#define ESTACK_MOVE_TRIES	16

/* End an attempt: @need must be done with no lock held first. */
static inline int estack_move_need(struct estack_move_op *op,
				   enum estack_move_need need, u64 fault)
{
	op->need = need;
	op->fault = fault;
	return -EAGAIN;
}

/* attempt.c */
int estack_move_attempt(struct estack_ctx *ctx, struct estack_move_op *op);

#endif /* _ESTACK_MOVE_INTERNAL_H */
