/* SPDX-License-Identifier: GPL-2.0 */
/*
 * estack move layer (move.c over relocate.c): GROW and SHRINK, the copy
 * and the relocation of pointers.
 *
 * Copyright (C) 2026 The estack authors
 */
#ifndef _ESTACK_MOVE_H
#define _ESTACK_MOVE_H

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
 * @sp: start of the live range [sp, old_hi) that is copied
 * @delta: new_hi - old_hi (modulo 2^64): added to every relocated pointer
 * @fp: innermost frame pointer; relocated by the frame-pointer walk
 * @adjusted: words rewritten so far
 * @copied: bytes copied
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
	u64 delta;
	u64 fp;
	u64 adjusted;
	u64 copied;
	u64 cleared;
};

/* A user slot outside the stack being moved: its value, read before. */
struct estack_outer_slot {
	u64 addr;
	u64 old;
	bool written;
};

/* relocate.c */
int estack_move_copy(struct estack_move_plan *m);
bool estack_move_adjust_word(struct estack_move_plan *m, u64 addr);
int estack_move_adjust_fp(struct estack_move_plan *m);
int estack_move_adjust_conservative(struct estack_move_plan *m);
void estack_move_adjust_inner_slot(struct estack_move_plan *m, u64 slot);
int estack_move_clear_new(struct estack_move_plan *m);
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
