// SPDX-License-Identifier: GPL-2.0
/*
 * estack arenas: the mappings of /dev/estack that stacks live in.
 *
 * The module maps an arena into the caller's address space itself, with
 * vm_mmap() from inside ALLOC, the first time it needs room; stacks are
 * carved from it, each with a guard page below, so the number of VMAs does
 * not grow with the number of stacks. A mapping request that the module did
 * not start is refused: ->mmap only accepts an offset that names an arena
 * the context is waiting for.
 *
 * Mapping rules (Documentation/design.rst): MAP_SHARED with VM_MIXEDMAP,
 * VM_DONTEXPAND and VM_DONTCOPY, never executable; pages are inserted one by
 * one with vm_insert_pages(), each holding its own reference, and taken back
 * with zap_page_range(). The VMA may not be split (->may_split: partial
 * munmap or mprotect fail with EINVAL) or moved (->mremap). ->fault gives
 * SIGSEGV for guard pages, free slots and freed stacks, puts a live
 * stack's own page back after MADV_DONTNEED (the old data comes back,
 * unlike anonymous memory). Every page of a live stack is mapped from the
 * moment the module allocates it, so that it counts in the RSS the OOM
 * killer reads.
 *
 * Core dumps leave arenas out (VM_DONTDUMP, and no ->name, which would
 * make the dump take every VMA whole): the core dump code dumps a VMA whole
 * or not at all, and asks ->fault for every page it finds unmapped, so
 * a 64 GiB arena would cost 16 M faults and, through a pipe, 64 GiB of
 * zeroes. VM_DONTDUMP on a VM_SPECIAL VMA cannot be cleared with
 * MADV_DODUMP.
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

#include "compat.h"
#include "estack.h"

static struct estack_arena *estack_vma_arena(struct vm_area_struct *vma)
{
	struct estack_arena *arena = vma->vm_private_data;

	/* A copy made by fork() or by a refused mremap() is not the arena. */
	return arena && arena->vma == vma ? arena : NULL;
}

static vm_fault_t estack_vm_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct estack_arena *arena = estack_vma_arena(vma);
	unsigned long addr = vmf->address & PAGE_MASK;
	struct estack_stack *stack;
	struct estack_ctx *ctx;
	vm_fault_t ret = VM_FAULT_SIGSEGV;
	int err;

	if (!arena)
		return VM_FAULT_SIGSEGV;
	ctx = arena->ctx;
	/*
	 * Only a fatal signal stops the wait: the task is being killed, and
	 * SIGBUS (EFAULT for an access from the kernel) goes nowhere.
	 */
	if (mutex_lock_killable(&ctx->lock))
		return VM_FAULT_SIGBUS;
	stack = mtree_load(&arena->stacks, addr);
	/* A stack in the mapped cache (no id) gets no page back. */
	if (stack && stack->span && stack->id) {
		err = vm_insert_page(vma, addr,
				     stack->span->pages[(addr - stack->lo) >>
							PAGE_SHIFT]);
		estack_sync_rss(vma->vm_mm);
		ret = err && err != -EBUSY ? vmf_error(err) : VM_FAULT_NOPAGE;
	}
	mutex_unlock(&ctx->lock);
	return ret;
}

static void estack_vm_open(struct vm_area_struct *vma)
{
	struct estack_arena *arena = vma->vm_private_data;

	/*
	 * fork() after MADV_DOFORK: the child's copy belongs to no arena. Its
	 * faults get SIGSEGV and its ->close frees nothing of the parent's.
	 * The pages it shares keep their own references, and the arena is
	 * marked so that the parent's mapped cache never reuses one of them
	 * in place: the child could read what the parent writes there next.
	 * dup_mmap() holds the parent's mmap lock for writing.
	 */
	if (arena && vma->vm_mm != arena->ctx->mm) {
		arena->forked = true;
		vma->vm_private_data = NULL;
	}
}

static void estack_vm_close(struct vm_area_struct *vma)
{
	struct estack_arena *arena = estack_vma_arena(vma);

	if (arena)
		estack_arena_unmapped(arena);
}

static int estack_vm_may_split(struct vm_area_struct *vma, unsigned long addr)
{
	return -EINVAL;
}

static int estack_vm_mremap(struct vm_area_struct *vma)
{
	return -EINVAL;
}

static const struct vm_operations_struct estack_vm_ops = {
	.open		= estack_vm_open,
	.close		= estack_vm_close,
	.may_split	= estack_vm_may_split,
	.mremap		= estack_vm_mremap,
	.fault		= estack_vm_fault,
};

/**
 * estack_arena_mmap() - ->mmap of /dev/estack
 * @ctx: the file's context
 * @vma: the new mapping
 *
 * Context: mmap lock held for writing.
 * Return: 0 for a mapping the module asked for; -EINVAL for any other.
 */
int estack_arena_mmap(struct estack_ctx *ctx, struct vm_area_struct *vma)
{
	struct estack_arena *arena;
	int ret = -EINVAL;

	if (vma->vm_mm != ctx->mm || !(vma->vm_flags & VM_SHARED) ||
	    (vma->vm_flags & VM_EXEC))
		return -EINVAL;

	mutex_lock(&ctx->lock);
	arena = xa_load(&ctx->pending, vma->vm_pgoff);
	if (arena && vma->vm_end - vma->vm_start == arena->size) {
		xa_erase(&ctx->pending, vma->vm_pgoff);
		estack_vm_flags_set(vma, VM_MIXEDMAP | VM_DONTEXPAND |
				    VM_DONTCOPY | VM_DONTDUMP);
		estack_vm_flags_clear(vma, VM_MAYEXEC);
		vma->vm_ops = &estack_vm_ops;
		vma->vm_private_data = arena;
		arena->vma = vma;
		arena->start = vma->vm_start;
		arena->end = vma->vm_end;
		arena->bump = vma->vm_start;
		list_add(&arena->node, &ctx->arenas);
		ret = 0;
	}
	mutex_unlock(&ctx->lock);
	return ret;
}

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
	mt_init(&arena->stacks);
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

/**
 * estack_arena_reserve_locked() - a slot for a stack of 2^@order pages
 * @ctx: the context
 * @order: the stack's order
 *
 * Reuses a slot freed in one of the live arenas, else carves a new one
 * above the arena's high-water mark: [guard page][2^order pages].
 *
 * Context: mmap lock held for reading, ctx->lock held.
 * Return: the slot, its ->span NULL; NULL when no arena has room;
 * ERR_PTR(-ENOMEM).
 */
struct estack_stack *estack_arena_reserve_locked(struct estack_ctx *ctx,
						 unsigned int order)
{
	unsigned long size = PAGE_SIZE << order;
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
			return stack;
		}
	}
	list_for_each_entry(arena, &ctx->arenas, node) {
		if (arena->dead || arena->end - arena->bump < size + PAGE_SIZE)
			continue;
		stack = kzalloc(sizeof(*stack), GFP_KERNEL_ACCOUNT);
		if (!stack)
			return ERR_PTR(-ENOMEM);
		INIT_LIST_HEAD(&stack->slot);
		stack->arena = arena;
		stack->order = order;
		stack->lo = arena->bump + PAGE_SIZE;
		stack->hi = stack->lo + size;
		arena->bump = stack->hi;
		return stack;
	}
	return NULL;
}

/**
 * estack_arena_unreserve_locked() - return a slot that holds no stack
 * @stack: the slot, ->span NULL, not in the arena's tree (or left there by
 *	an mtree_erase() that could not allocate: an entry without pages is
 *	a free slot to every reader of the tree)
 *
 * Context: ctx->lock held.
 */
void estack_arena_unreserve_locked(struct estack_stack *stack)
{
	lockdep_assert_held(&stack->arena->ctx->lock);
	stack->id = 0;
	list_add(&stack->slot, &stack->arena->free_slots[stack->order]);
}

/**
 * estack_arena_unmapped() - the arena's VMA is going away: free its stacks
 * @arena: the arena
 *
 * Every stack in it is freed and its id forgotten (ENOENT from now on).
 * The pages were unmapped with the VMA; they go back to the allocator.
 *
 * Context: ->close, mmap lock held for writing (or the mm is exiting).
 */
void estack_arena_unmapped(struct estack_arena *arena)
{
	struct estack_ctx *ctx = arena->ctx;
	struct estack_stack *stack, *next;
	unsigned long index = 0;
	unsigned int order;
	LIST_HEAD(cached);
	LIST_HEAD(dead);

	mutex_lock(&ctx->lock);
	arena->vma = NULL;
	arena->dead = true;
	mt_for_each(&arena->stacks, stack, index, ULONG_MAX) {
		/*
		 * A free slot: mtree_erase() gives up, leaving the entry, when
		 * it cannot allocate a node. Only an entry with pages is a
		 * stack; the slot itself is on free_slots.
		 */
		if (!stack->span)
			continue;
		if (stack->id) {
			xa_erase(&ctx->ids, stack->id);
			list_add(&stack->slot, &dead);
		} else {
			estack_mapped_unmapped_locked(ctx, stack);
			list_add(&stack->slot, &cached);
		}
	}
	mtree_destroy(&arena->stacks);
	list_del(&arena->node);
	mutex_unlock(&ctx->lock);

	list_for_each_entry_safe(stack, next, &dead, slot) {
		estack_stack_release(ctx, stack);
		kfree(stack);
	}
	list_for_each_entry_safe(stack, next, &cached, slot) {
		estack_span_drop(ctx->alloc, stack->span, ctx->memcg);
		kfree(stack);
	}
	for (order = 0; order < ESTACK_NR_ORDERS; order++)
		list_for_each_entry_safe(stack, next, &arena->free_slots[order],
					 slot)
			kfree(stack);
	kfree(arena);
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
	    vma->vm_ops != &estack_vm_ops || vma->vm_private_data != arena) {
		arena->dead = true;
		return NULL;
	}
	return vma;
}
