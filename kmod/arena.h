/* SPDX-License-Identifier: GPL-2.0 */
/*
 * estack arena layer (arena.c): the mappings stacks live in, their slots,
 * and every page-table operation on them (insert, zap, look up).
 *
 * Copyright (C) 2026 The estack authors
 */
#ifndef _ESTACK_ARENA_H
#define _ESTACK_ARENA_H

#include <linux/maple_tree.h>
#include <linux/mm.h>

#include "context.h"

/*
 * Address space of one arena. Virtual space is cheap and page tables are
 * only built for pages in use: 64 GiB holds a million 4 KiB stacks with
 * their guard pages several times over, and a 1 GiB stack besides.
 */
#define ESTACK_ARENA_SIZE	(64UL << 30)

/**
 * struct estack_arena - one mapping of /dev/estack that holds stacks
 * @node: in ctx->arenas
 * @ctx: the owning context
 * @vma: the mapping; set in ->mmap, cleared in ->close (under ctx->lock);
 *	check it with estack_arena_vma_locked() before use
 * @start: first address of the mapping
 * @end: one past its last address
 * @size: @end - @start
 * @bump: lowest address never handed out; slots are carved upwards
 * @dead: being or been unmapped: no new stacks
 * @forked: fork() copied the arena into a child (after MADV_DOFORK), so
 *	its pages may be mapped there too: none of them is ever reused
 *	without being unmapped and freed first. Set under the owner's mmap
 *	lock held for writing, read under it held for reading
 * @free_slots: per order, slots whose stack was freed, for reuse
 * @holes: pages of the slots discarded below @bump (each with its guard
 *	page), where new slots are carved first
 * @stacks: every slot of the arena, by the range of its guard page and
 *	its stack, [lo - PAGE_SIZE, hi - 1]; an entry without a span is a
 *	free slot, a gap below @bump a discarded one (an allocation-range
 *	tree, searched for gaps)
 *
 * All but @vma, @start, @end and @size are protected by ctx->lock.
 */
struct estack_arena {
	struct list_head node;
	struct estack_ctx *ctx;
	struct vm_area_struct *vma;
	unsigned long start;
	unsigned long end;
	unsigned long size;
	unsigned long bump;
	bool dead;
	bool forked;
	struct list_head free_slots[ESTACK_NR_ORDERS];
	unsigned long holes;
	struct maple_tree stacks;
};

/**
 * struct estack_stack - a stack, or a free slot of an arena
 * @slot: in the arena's free_slots while free, in the context's mapped
 *	cache while freed but still mapped
 * @arena: the arena of the slot, for its whole life
 * @span: the stack's pages; NULL while the slot is free
 * @lo: lowest usable address; the guard page is just below
 * @hi: one past the highest usable address
 * @id: the stack's id in its file; 0 while in the mapped cache
 * @order: log2 of the number of pages
 *
 * A slot is in one of three states: live (an id, a span, mapped), cached
 * (no id; span and mapping kept) or free (no id, no span). Its entry in
 * the arena's tree, made when the slot is carved, stays while the slot
 * does: every reader of the tree takes an entry without a span for a
 * free slot. Reusing a slot thus stores nothing, and freeing one erases
 * nothing (a maple tree erase may rebalance, and allocate), unless the
 * free slot is discarded (estack_arena_unreserve_locked()).
 *
 * Protected by ctx->lock; lives until its arena is unmapped or the slot
 * is discarded.
 */
struct estack_stack {
	struct list_head slot;
	struct estack_arena *arena;
	struct estack_span *span;
	unsigned long lo;
	unsigned long hi;
	u32 id;
	u8 order;
};

/**
 * struct estack_pte_scan - what the page tables map over a stack
 * @stack: the stack
 * @resident: PTEs that map the stack's own page at its address
 * @foreign: present PTEs that map any other page
 * @present: bit i: page i is mapped at its address (first %BITS_PER_LONG
 *	pages; the mapped cache's stacks have at most 8)
 * @dirty: bit i: and its PTE is dirty
 */
struct estack_pte_scan {
	const struct estack_stack *stack;
	unsigned long resident;
	unsigned long foreign;
	unsigned long present;
	unsigned long dirty;
};

/* arena.c */
int estack_arena_create(struct estack_ctx *ctx, unsigned int order);
bool estack_arena_room_locked(struct estack_ctx *ctx, unsigned int order);
struct estack_stack *estack_arena_reserve_locked(struct estack_ctx *ctx,
						 unsigned int order);
void estack_arena_unreserve_locked(struct estack_stack *stack);
void estack_slots_unkeep(struct estack_ctx *ctx, unsigned long nr);
struct vm_area_struct *estack_arena_vma_locked(struct estack_arena *arena);
int estack_arena_map(struct vm_area_struct *vma, struct estack_stack *stack);
int estack_arena_scan(struct mm_struct *mm, const struct estack_stack *stack,
		      struct estack_pte_scan *scan);

#endif /* _ESTACK_ARENA_H */
