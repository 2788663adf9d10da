/* SPDX-License-Identifier: GPL-2.0 */
/*
 * estack move layer (move.c over relocate.c): GROW and SHRINK, the copy
 * and the relocation of pointers.
 *
 * Copyright (C) 2026 The estack authors
 */
#ifndef _ESTACK_MOVE_H
#define _ESTACK_MOVE_H

#include <linux/bitops.h>
#include <linux/bug.h>

#include "stack.h"

/* The longest frame-pointer chain GROW or SHRINK follows. */
#define ESTACK_MAX_FRAMES	1048576U

/**
 * struct estack_move_plan - one GROW or SHRINK being built
 * @old_span: the stack's pages
 * @new_span: the pages of the stack it moves to
 * @old_lo: old lowest usable address
 * @old_hi: old top
 * @new_lo: new lowest usable address
 * @new_hi: new top
 * @sp: start of the live range [sp, old_hi) that moves
 * @take_lo: old address of the lowest page the new stack takes over from
 *	the old one instead of copying it: the first page boundary at or
 *	above sp; [sp, take_lo) is copied
 * @log_lo: old address of the first word the log covers: the start of
 *	the page sp cuts
 * @clean: pages at the bottom of the new span known to be clear already
 * @delta: new_hi - old_hi (modulo 2^64): added to every relocated pointer
 * @fp: innermost frame pointer; relocated by the frame-pointer walk
 * @undo: the words of [log_lo, old_hi) relocated by this move: no word is
 *	relocated twice, and a failed move subtracts delta from each word
 *	marked (the pages taken over are the old stack's own); NULL when the
 *	move relocates nothing
 * @taken: pages taken over so far
 * @adjusted: words rewritten so far
 * @copied: live bytes the new stack holds (copied or taken with their page)
 * @cleared: pages of the new stack cleared
 */
struct estack_move_plan {
	struct estack_span *old_span;
	struct estack_span *new_span;
	u64 old_lo;
	u64 old_hi;
	u64 new_lo;
	u64 new_hi;
	u64 sp;
	u64 take_lo;
	u64 log_lo;
	unsigned long clean;
	u64 delta;
	u64 fp;
	struct estack_undo_log *undo;
	unsigned long taken;
	u64 adjusted;
	u64 copied;
	u64 cleared;
};

/* The page of @span holding user address @addr of a stack at @lo. */
static inline struct page *estack_move_page(const struct estack_span *span,
					    unsigned long lo,
					    unsigned long addr)
{
	return span->pages[(addr - lo) >> PAGE_SHIFT];
}

/* A user slot outside the stack being moved: its value, read before. */
struct estack_outer_slot {
	u64 addr;
	u64 old;
	bool written;
};

/**
 * estack_log_mark() - mark word @bit of a move's log, unless it is marked
 * @log: the log, reset for this attempt
 * @bit: the word's index from the log's start
 *
 * A map word is written whole the first time its summary bit is set, so
 * that nothing but the summary is cleared per attempt. Word operations,
 * not __test_and_set_bit(): on x86 that is a bts on memory, slow on
 * hardware and slower under emulation, once per frame of a walk.
 *
 * Return: true when the word was not marked yet.
 */
static inline bool estack_log_mark(struct estack_undo_log *log,
				   unsigned long bit)
{
	unsigned long w = BIT_WORD(bit), mask = BIT_MASK(bit);
	unsigned long *used = &log->used[BIT_WORD(w)], umask = BIT_MASK(w);

	if (!(*used & umask)) {
		*used |= umask;
		log->map[w] = mask;
		return true;
	}
	if (log->map[w] & mask)
		return false;
	log->map[w] |= mask;
	return true;
}

/**
 * estack_log_put() - mark words of one word of a move's log, none marked
 * @log: the log
 * @w: the index of the word of the map
 * @marks: the bits to set in it; none of them may be set already
 *
 * For a caller that knows the words are not marked yet and gathers the
 * marks of one map word before it stores them (the frame-chain walk).
 */
static inline void estack_log_put(struct estack_undo_log *log,
				  unsigned long w, unsigned long marks)
{
	unsigned long *used = &log->used[BIT_WORD(w)], umask = BIT_MASK(w);

	if (*used & umask) {
		WARN_ON_ONCE(log->map[w] & marks);
		log->map[w] |= marks;
	} else {
		*used |= umask;
		log->map[w] = marks;
	}
}

/**
 * estack_move_log() - mark a word relocated, unless it already is
 * @m: the move, which relocates (it has a log)
 * @addr: old address of the word, aligned, in [log_lo, old_hi)
 *
 * A word can be named several ways (a slot listed twice, a slot and the
 * conservative scan, the chain and the scan) and, when the new stack lies
 * less than the old size away, still point into the old stack after one
 * relocation: it is relocated once.
 *
 * Return: true when the caller is to rewrite the word.
 */
static inline bool estack_move_log(struct estack_move_plan *m, u64 addr)
{
	if (WARN_ON_ONCE(!m->undo || addr < m->log_lo))
		return false;
	return estack_log_mark(m->undo, (addr - m->log_lo) / sizeof(u64));
}

/* take.c */
int estack_move_take_pages(struct estack_move_plan *m);
void estack_move_undo(struct estack_move_plan *m);
int estack_move_clear_new(struct estack_move_plan *m);
long estack_move_clear_bottom(struct estack_allocator *a,
			      struct estack_span *span, unsigned long below);
struct estack_undo_log *estack_undo_log_reserve(struct estack_undo_log *log,
						unsigned long nbits);
unsigned long estack_undo_log_next(const struct estack_undo_log *log,
				   unsigned long nbits, unsigned long from);
void estack_undo_log_trim(struct estack_undo_log *log);

/* relocate.c */
int estack_move_copy(struct estack_move_plan *m);
bool estack_move_adjust_word(struct estack_move_plan *m, u64 addr);
int estack_move_adjust_fp(struct estack_move_plan *m);
int estack_move_adjust_conservative(struct estack_move_plan *m);
void estack_move_adjust_inner_slot(struct estack_move_plan *m, u64 slot);
int estack_move_read_outer(const struct estack_move_plan *m, const u64 *slots,
			   unsigned int nr, struct estack_outer_slot *outer,
			   unsigned int *nr_outer, u64 *fault);
int estack_move_write_outer(struct estack_move_plan *m,
			    struct estack_outer_slot *outer, unsigned int nr,
			    u64 *fault);
void estack_move_restore_outer(struct estack_outer_slot *outer,
			       unsigned int nr);

/* move.c */
int estack_stack_grow(struct estack_ctx *ctx, struct estack_move *req,
		      const u64 *slots, void __user *uarg);
int estack_stack_shrink(struct estack_ctx *ctx, struct estack_move *req,
			const u64 *slots, void __user *uarg);

#endif /* _ESTACK_MOVE_H */
