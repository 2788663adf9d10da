// SPDX-License-Identifier: GPL-2.0
/*
 * estack arenas: the mappings of /dev/estack that stacks live in, their
 * slots, and the page-table operations on them.
 *
 * The module maps an arena into the caller's address space itself, with
 * vm_mmap() from inside ALLOC, the first time it needs room; stacks are
 * carved from it, each with a guard page below, so the number of VMAs does
 * not grow with the number of stacks. The mapping's callbacks (->mmap,
 * ->fault, ->close ...) are in vma.c, above the stack layer: this file
 * calls nothing above it.
 *
 * Mapping rules (Documentation/mm/estack/design.rst): pages are inserted
 * with vm_insert_pages(), each holding its own reference, and taken back
 * with estack_zap(). Every page of a live stack is mapped from the moment the
 * module allocates it, so that it counts in the RSS the OOM killer reads.
 * What is mapped where is read from the page tables with one walk per
 * stack, apply_to_existing_page_range().
 *
 * Concurrency: arena fields are protected by ctx->lock. arena->vma is set
 * in ->mmap (mmap lock held for writing) and cleared in ->close, which
 * munmap() calls after downgrading to the read lock: a reader checks the
 * VMA with estack_arena_vma_locked() before using it. Lock order: mmap_lock,
 * then ctx->lock. Neither is held across vm_mmap().
 *
 * Copyright (C) 2026 The estack authors
 */

#include <linux/compat.h>
#include <linux/maple_tree.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/random.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "arena.h"
#include "compat.h"
#include "params.h"

/*
 * vm_mmap() fails for reasons of the process, not of estack: the address
 * space limit or vm.max_map_count (ENOMEM), the mlock limit of a process
 * that called mlockall(MCL_FUTURE) (EAGAIN), a security module (EPERM).
 * The ABI has one errno for "no memory to be had here": ENOMEM. Only a
 * fatal signal keeps its own.
 */
static int estack_arena_errno(int err)
{
	return err == -EINTR ? -EINTR : -ENOMEM;
}

/**
 * estack_arena_create() - map a new arena into the caller's address space
 * @ctx: the context; the caller holds neither the mmap lock nor ctx->lock
 * @order: the stack it is for must fit
 *
 * An arena is ESTACK_ARENA_SIZE for a 64-bit caller; a 32-bit caller's
 * address space is too small for that, so its arenas are 64 MiB, or just
 * large enough for a bigger stack.
 *
 * Return: 0 (the arena is on ctx->arenas, unless another thread unmapped
 * it already), or a negative errno from vm_mmap().
 */
int estack_arena_create(struct estack_ctx *ctx, unsigned int order)
{
	unsigned long slot = (PAGE_SIZE << order) + PAGE_SIZE;
	unsigned long size = in_compat_syscall() ? SZ_64M : ESTACK_ARENA_SIZE;
	struct estack_arena *arena;
	unsigned long addr;
	unsigned int o;
	u32 cookie;
	int ret;

	arena = kzalloc(sizeof(*arena), GFP_KERNEL_ACCOUNT);
	if (!arena)
		return -ENOMEM;
	arena->ctx = ctx;
	arena->size = max(size, slot);
	/* Gaps tracked: a discarded slot's range is carved again. */
	mt_init_flags(&arena->stacks, MT_FLAGS_ALLOC_RANGE);
	for (o = 0; o < ESTACK_NR_ORDERS; o++)
		INIT_LIST_HEAD(&arena->free_slots[o]);

	/* The offset names the arena; an unguessable one keeps others out. */
	mutex_lock(&ctx->lock);
	do {
		cookie = get_random_u32() >> 1;
		ret = xa_insert(&ctx->pending, cookie, arena, GFP_KERNEL);
	} while (ret == -EBUSY);
	mutex_unlock(&ctx->lock);
	if (ret)
		goto err_free_arena;

	addr = vm_mmap(ctx->file, 0, arena->size, PROT_READ | PROT_WRITE,
		       MAP_SHARED, (unsigned long)cookie << PAGE_SHIFT);

	mutex_lock(&ctx->lock);
	/* Still pending: ->mmap never ran, and the arena is still ours. */
	if (xa_erase(&ctx->pending, cookie) == arena) {
		mutex_unlock(&ctx->lock);
		ret = IS_ERR_VALUE(addr) ? (int)addr : -EINVAL;
		goto err_free_arena;
	}
	mutex_unlock(&ctx->lock);
	return IS_ERR_VALUE(addr) ? estack_arena_errno((int)addr) : 0;

err_free_arena:
	kfree(arena);
	return estack_arena_errno(ret);
}

/*
 * A gap that discarded slots left below @arena's bump, large enough for a
 * slot of @order and its guard page: its start in *@base.
 */
static bool estack_arena_hole_locked(struct estack_arena *arena,
				     unsigned int order, unsigned long *base)
{
	MA_STATE(mas, &arena->stacks, 0, 0);
	unsigned long len = (PAGE_SIZE << order) + PAGE_SIZE;
	bool found;

	if (arena->holes < len >> PAGE_SHIFT || arena->bump - arena->start < len)
		return false;
	mtree_lock(&arena->stacks);
	found = !mas_empty_area(&mas, arena->start, arena->bump - 1, len);
	mtree_unlock(&arena->stacks);
	*base = mas.index;
	return found;
}

/*
 * A new slot for 2^@order pages at @base: its guard page there, its stack
 * right above; at @arena's bump, or in a gap below it.
 */
static struct estack_stack *estack_arena_carve_locked(struct estack_arena *arena,
						      unsigned int order,
						      unsigned long base)
{
	unsigned long size = PAGE_SIZE << order;
	struct estack_stack *stack;

	stack = kzalloc(sizeof(*stack), GFP_KERNEL_ACCOUNT);
	if (!stack)
		return ERR_PTR(-ENOMEM);
	INIT_LIST_HEAD(&stack->slot);
	stack->arena = arena;
	stack->order = order;
	stack->lo = base + PAGE_SIZE;
	stack->hi = stack->lo + size;
	/*
	 * The slot's entry, guard page included, while the slot lasts:
	 * whoever looks a range up takes an entry without a span for a free
	 * slot. Nothing stores it again when the slot is reused: ->close
	 * finds stacks only through the tree.
	 */
	if (mtree_store_range(&arena->stacks, base, stack->hi - 1, stack,
			      GFP_KERNEL_ACCOUNT)) {
		kfree(stack);
		return ERR_PTR(-ENOMEM);
	}
	if (base == arena->bump)
		arena->bump = stack->hi;
	else
		arena->holes -= (size >> PAGE_SHIFT) + 1;
	return stack;
}

/**
 * estack_arena_room_locked() - has an arena a slot for 2^@order pages?
 * @ctx: the context
 * @order: the stack's order
 *
 * For ALLOC, before it takes pages: a new arena takes the mmap lock for
 * writing, a wait that no stack may be held across. The answer can be
 * stale by the time the stack is placed; estack_stack_place() then says
 * -EAGAIN.
 *
 * Context: ctx->lock held.
 * Return: true when a live arena has a free slot of @order or room for one.
 */
bool estack_arena_room_locked(struct estack_ctx *ctx, unsigned int order)
{
	unsigned long size = PAGE_SIZE << order, base;
	struct estack_arena *arena;

	lockdep_assert_held(&ctx->lock);
	list_for_each_entry(arena, &ctx->arenas, node) {
		if (arena->dead)
			continue;
		if (!list_empty(&arena->free_slots[order]) ||
		    arena->end - arena->bump >= size + PAGE_SIZE ||
		    estack_arena_hole_locked(arena, order, &base))
			return true;
	}
	return false;
}

/**
 * estack_arena_reserve_locked() - a slot for a stack of 2^@order pages
 * @ctx: the context
 * @order: the stack's order
 *
 * Reuses a slot freed in one of the live arenas, else carves a new one,
 * [guard page][2^order pages], in a gap that discarded slots left, or
 * above the arena's high-water mark, and stores its range in the arena's
 * tree, where the fault handler and ->close find stacks by address.
 *
 * Context: mmap lock held for reading, ctx->lock held.
 * Return: the slot, its ->span NULL; NULL when no arena has room;
 * ERR_PTR(-ENOMEM).
 */
struct estack_stack *estack_arena_reserve_locked(struct estack_ctx *ctx,
						 unsigned int order)
{
	unsigned long size = PAGE_SIZE << order, base;
	struct estack_arena *arena;
	struct estack_stack *stack;

	lockdep_assert_held(&ctx->lock);
	list_for_each_entry(arena, &ctx->arenas, node) {
		if (arena->dead)
			continue;
		stack = list_first_entry_or_null(&arena->free_slots[order],
						 struct estack_stack, slot);
		if (stack) {
			list_del_init(&stack->slot);
			estack_slots_unkeep(ctx, 1);
			return stack;
		}
	}
	list_for_each_entry(arena, &ctx->arenas, node) {
		if (!arena->dead && estack_arena_hole_locked(arena, order, &base))
			return estack_arena_carve_locked(arena, order, base);
	}
	list_for_each_entry(arena, &ctx->arenas, node) {
		if (arena->dead || arena->end - arena->bump < size + PAGE_SIZE)
			continue;
		return estack_arena_carve_locked(arena, order, arena->bump);
	}
	return NULL;
}

/*
 * Count one more free slot against the user (and the account of its
 * namespace) within @max; @max ULONG_MAX always does. Return: whether
 * it was counted.
 */
static bool estack_slots_keep(struct estack_ctx *ctx, unsigned long max)
{
	if (atomic_long_inc_return(&ctx->user->free_slots) > max) {
		atomic_long_dec(&ctx->user->free_slots);
		return false;
	}
	if (ctx->owner &&
	    atomic_long_inc_return(&ctx->owner->free_slots) > max) {
		atomic_long_dec(&ctx->owner->free_slots);
		atomic_long_dec(&ctx->user->free_slots);
		return false;
	}
	atomic_long_inc(&ctx->alloc->free_slots);
	return true;
}

/**
 * estack_slots_unkeep() - @nr free slots of @ctx are reused or gone
 * @ctx: the context
 * @nr: how many
 */
void estack_slots_unkeep(struct estack_ctx *ctx, unsigned long nr)
{
	atomic_long_sub(nr, &ctx->user->free_slots);
	if (ctx->owner)
		atomic_long_sub(nr, &ctx->owner->free_slots);
	atomic_long_sub(nr, &ctx->alloc->free_slots);
}

/**
 * estack_arena_unreserve_locked() - return a slot that holds no stack
 * @stack: the slot, ->span NULL
 *
 * The slot is kept for the next stack of its order, its tree entry with
 * it. A kept slot costs kernel memory (its struct and its range in the
 * tree, some hundred bytes) that no limit counts and no RSS shows, and a
 * user can fill a file, empty it and go on to the next: a user keeps at
 * most as many as it could have stacks of two pages live under
 * max_bytes_per_user (as many as a file leaves whose smallest stacks all
 * grew once). A slot past that is discarded: its range becomes a gap in
 * the tree, which faults as a guard page does until a new slot is carved
 * there (before the arena's bump moves), so that neither address space
 * nor page tables grow with the FREEs.
 *
 * Context: ctx->lock held.
 */
void estack_arena_unreserve_locked(struct estack_stack *stack)
{
	struct estack_arena *arena = stack->arena;
	struct estack_ctx *ctx = arena->ctx;
	unsigned long max;

	lockdep_assert_held(&ctx->lock);
	stack->id = 0;
	max = estack_tunable_get(&estack_tunables.max_bytes_per_user) >>
	      (PAGE_SHIFT + 1);
	if (!estack_slots_keep(ctx, max)) {
		mtree_erase(&arena->stacks, stack->lo);
		if (!mtree_load(&arena->stacks, stack->lo)) {
			arena->holes += (1UL << stack->order) + 1;
			kfree(stack);
			return;
		}
		/* The tree had no memory for its nodes: kept after all. */
		estack_slots_keep(ctx, ULONG_MAX);
	}
	list_add(&stack->slot, &arena->free_slots[stack->order]);
}

/**
 * estack_arena_vma_locked() - the arena's VMA, checked to still be ours
 * @arena: the arena
 *
 * munmap() takes the VMA out of the tree, then downgrades the mmap lock to
 * read before it zaps the pages and calls ->close; in that window the
 * arena's VMA is no longer in the address space. The arena is then marked
 * dead (no new stacks), and ->close frees what it holds.
 *
 * Context: mmap lock held for reading, ctx->lock held.
 * Return: the VMA, or NULL if the arena is no longer mapped.
 */
struct vm_area_struct *estack_arena_vma_locked(struct estack_arena *arena)
{
	struct vm_area_struct *vma = arena->vma;

	lockdep_assert_held(&arena->ctx->mm->mmap_lock);
	lockdep_assert_held(&arena->ctx->lock);
	if (!vma || vma_lookup(arena->ctx->mm, arena->start) != vma ||
	    vma->vm_private_data != arena) {
		arena->dead = true;
		return NULL;
	}
	return vma;
}

/**
 * estack_arena_map() - map every page of @stack
 * @vma: the VMA of the stack's arena, checked with estack_arena_vma_locked()
 * @stack: a reserved slot with its span
 *
 * Context: mmap lock held for reading, ctx->lock held.
 * Return: 0, or a negative errno with none of the pages left mapped.
 */
int estack_arena_map(struct vm_area_struct *vma, struct estack_stack *stack)
{
	unsigned long nr = estack_span_nr_pages(stack->span);
	unsigned long left = nr;
	int ret;

	lockdep_assert_held(&vma->vm_mm->mmap_lock);
	ret = vm_insert_pages(vma, stack->lo, stack->span->pages, &left);
	estack_sync_rss(vma->vm_mm);
	if (ret)
		estack_zap(vma, stack->lo, (nr - left) << PAGE_SHIFT);
	return ret;
}

/* One PTE of a stack's range, from apply_to_existing_page_range(). */
static int estack_arena_scan_pte(pte_t *ptep, unsigned long addr, void *data)
{
	struct estack_pte_scan *scan = data;
	const struct estack_stack *stack = scan->stack;
	unsigned long i = (addr - stack->lo) >> PAGE_SHIFT;
	pte_t pte = ptep_get(ptep);

	if (!pte_present(pte))
		return 0;
	if (pte_pfn(pte) != page_to_pfn(stack->span->pages[i])) {
		scan->foreign++;
		return 0;
	}
	scan->resident++;
	if (i < BITS_PER_LONG) {
		__set_bit(i, &scan->present);
		if (pte_dirty(pte))
			__set_bit(i, &scan->dirty);
	}
	return 0;
}

/**
 * estack_arena_scan() - what the page tables map over a stack
 * @mm: the arena's mm
 * @stack: a stack whose arena's VMA the caller checked with
 *	estack_arena_vma_locked(), so that its page tables are live
 * @scan: the result; zeroed here
 *
 * One walk of the existing page tables over the stack, with
 * apply_to_existing_page_range() (exported on every kernel estack
 * supports; it takes each PTE page's lock and creates nothing), in steps
 * of %ESTACK_RESCHED_PAGES pages with a resched point between them.
 *
 * Context: mmap lock held for reading.
 * Return: 0, -EINTR for a fatal signal, or the walk's error.
 */
int estack_arena_scan(struct mm_struct *mm, const struct estack_stack *stack,
		      struct estack_pte_scan *scan)
{
	unsigned long addr, end = stack->hi, step;
	int ret;

	lockdep_assert_held(&mm->mmap_lock);
	memset(scan, 0, sizeof(*scan));
	scan->stack = stack;
	step = (unsigned long)ESTACK_RESCHED_PAGES << PAGE_SHIFT;
	for (addr = stack->lo; addr < end; addr += step) {
		ret = apply_to_existing_page_range(mm, addr,
						   min(step, end - addr),
						   estack_arena_scan_pte, scan);
		if (ret)
			return ret;
		if (addr + step < end && estack_should_stop())
			return -EINTR;
	}
	return 0;
}
