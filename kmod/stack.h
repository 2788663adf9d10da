/* SPDX-License-Identifier: GPL-2.0 */
/*
 * estack stack layer (stack.c over mapped.c): ids, ALLOC, FREE and INFO,
 * and the per-file cache of freed stacks kept mapped.
 *
 * Copyright (C) 2026 The estack authors
 */
#ifndef _ESTACK_STACK_H
#define _ESTACK_STACK_H

#include "arena.h"

/**
 * struct estack_stack_info - what ALLOC and INFO report of a stack
 * @id: its id
 * @lo: lowest usable address
 * @hi: one past the highest
 * @resident: bytes mapped in the page tables now (INFO only)
 */
struct estack_stack_info {
	u32 id;
	u64 lo;
	u64 hi;
	u64 resident;
};

/* stack.c */
int estack_stack_create(struct estack_ctx *ctx, unsigned long size,
			struct estack_stack_info *out);
int estack_stack_destroy(struct estack_ctx *ctx, u32 id, u64 keep,
			 u64 keep_len);
int estack_stack_take_back(struct estack_ctx *ctx, u32 id);
int estack_stack_query(struct estack_ctx *ctx, u32 id,
		       struct estack_stack_info *out);
void estack_stack_release(struct estack_ctx *ctx, struct estack_stack *stack);
struct estack_span *estack_stack_span_alloc(struct estack_ctx *ctx,
					    unsigned int order, bool zeroed);
bool estack_stack_running(const struct estack_stack *stack);

/* mapped.c */
struct estack_stack *estack_mapped_take_locked(struct estack_ctx *ctx,
					       unsigned int order,
					       struct list_head *spans);
void estack_mapped_put_back_locked(struct estack_ctx *ctx,
				   struct estack_stack *stack);
void estack_mapped_drop_spans(struct estack_ctx *ctx, struct list_head *spans);
unsigned int estack_mapped_evict_all_locked(struct estack_ctx *ctx,
					    struct list_head *spans);
bool estack_mapped_flush(struct estack_ctx *ctx);
bool estack_mapped_keep_locked(struct estack_ctx *ctx,
			       struct estack_stack *stack);
void estack_mapped_unmapped_locked(struct estack_ctx *ctx,
				   struct estack_stack *stack);

#endif /* _ESTACK_STACK_H */
