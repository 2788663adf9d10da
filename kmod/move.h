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
 * @undo: one bit per word of [log_lo, old_hi) relocated by this move: no
 *	word is relocated twice, and a failed move subtracts delta from each
 *	word marked (the pages taken over are the old stack's own); NULL
 *	when the move relocates nothing
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
	unsigned long *undo;
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

/**
 * struct estack_undo_log - storage of a move's undo log
 * @map: the bitmap in use: @inline_map, or allocated for larger moves
 * @bits: its size in bits
 * @inline_map: room for two pages taken over (the common small GROW)
 */
struct estack_undo_log {
	unsigned long *map;
	unsigned long bits;
	unsigned long inline_map[BITS_TO_LONGS(2 * PAGE_SIZE / sizeof(u64))];
};

/* A user slot outside the stack being moved: its value, read before. */
struct estack_outer_slot {
	u64 addr;
	u64 old;
	bool written;
};

/*
 * Mark bit @bit of @log, unless it is set: true when it was clear. Word
 * operations, not __test_and_set_bit(): on x86 that is a bts on memory,
 * slow on hardware and slower under emulation, once per frame of a walk.
 */
static inline bool estack_log_mark(unsigned long *log, unsigned long bit)
{
	unsigned long *word = &log[BIT_WORD(bit)], mask = BIT_MASK(bit);

	if (*word & mask)
		return false;
	*word |= mask;
	return true;
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
unsigned long *estack_undo_log_reserve(struct estack_undo_log *log,
				       unsigned long nbits);
void estack_undo_log_free(struct estack_undo_log *log);

/* relocate.c */
int estack_put_user_or_undo(void __user *dst, const void *val,
			    const void *old, size_t len, bool *torn);
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
