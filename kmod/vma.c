// SPDX-License-Identifier: GPL-2.0
/*
 * estack arena VMAs: the callbacks of the mappings of /dev/estack.
 *
 * ->mmap only accepts a mapping the module started itself (arena.c's
 * vm_mmap() from inside ALLOC): its offset must name an arena the context
 * is waiting for. The mapping is MAP_SHARED with VM_MIXEDMAP, VM_DONTEXPAND
 * and VM_DONTCOPY, never executable. It may not be split (->may_split:
 * partial munmap or mprotect fail with EINVAL) or moved (->mremap). ->fault
 * gives SIGSEGV for guard pages, free slots and freed stacks, and puts a
 * live stack's own page back after MADV_DONTNEED (the old data comes back,
 * unlike anonymous memory). ->close frees every stack of the arena. ->open
 * keeps the copy a child gets from fork() after MADV_DOFORK empty.
 *
 * Core dumps leave arenas out (VM_DONTDUMP, and no ->name, which would
 * make the dump take every VMA whole): the core dump code dumps a VMA whole
 * or not at all, and asks ->fault for every page it finds unmapped, so
 * a 64 GiB arena would cost 16 M faults and, through a pipe, 64 GiB of
 * zeroes. VM_DONTDUMP on a VM_SPECIAL VMA cannot be cleared with
 * MADV_DODUMP.
 *
 * This file sits above the stack layer: ->close gives the stacks of an
 * unmapped arena back through it.
 *
 * Concurrency: ->mmap runs with the mmap lock held for writing, ->fault
 * with it held for reading, ->close after munmap() downgraded it (or while
 * the mm exits); each takes ctx->lock inside it.
 *
 * Copyright (C) 2026 The estack authors
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ktime.h>
#include <linux/maple_tree.h>
#include <linux/mm.h>
#include <linux/oom.h>
#include <linux/personality.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "compat.h"
#include "vma.h"

/*
 * estack_vma_arena_unmapped() - the arena's VMA is going away: free its stacks
 * @arena: the arena
 *
 * Every stack in it is freed and its id forgotten (ENOENT from now on).
 * The pages were unmapped with the VMA; they go back to the allocator.
 *
 * Context: ->close: the mmap lock held, for reading only when munmap()
 * downgraded it (6.1 and 6.12 both call ->close after the downgrade), or
 * the mm is exiting. Nothing here relies on the lock being exclusive:
 * readers recheck the VMA under ctx->lock (estack_arena_vma_locked()).
 */
static void estack_vma_arena_unmapped(struct estack_arena *arena)
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
		 * A free slot keeps its entry; only an entry with pages is a
		 * stack. The slot itself is on free_slots.
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
					 slot) {
			estack_slots_unkeep(ctx, 1);
			kfree(stack);
		}
	kfree(arena);
}

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

	/*
	 * Since 6.4 a fault may run under the VMA's own lock instead of the
	 * mmap lock, but ->fault only when the VMA has ->map_pages
	 * (vmf_can_call_fault()); ours has none, so the fault is retried
	 * under the mmap lock, which keeps arena->vma and the stacks alive.
	 */
	lockdep_assert_held(&vma->vm_mm->mmap_lock);
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
	/* A guard page, or a stack in the mapped cache (no id), gets none. */
	if (stack && addr >= stack->lo && stack->span && stack->id) {
		err = vm_insert_page(vma, addr,
				     stack->span->pages[(addr - stack->lo) >>
							PAGE_SHIFT]);
		estack_sync_rss(vma->vm_mm);
		ret = err && err != -EBUSY ? vmf_error(err) : VM_FAULT_NOPAGE;
	}
	mutex_unlock(&ctx->lock);
	return ret;
}

/*
 * Steps (a page, a stack) between two reschedule points of the OOM
 * notifier's walk.
 */
#define ESTACK_MAP_BACK_BATCH	256

/**
 * struct estack_map_back - what one run of the OOM notifier did
 * @mapped: pages mapped back
 * @done: steps since the last reschedule point
 * @arena: the arena of the last stack visited in the current file
 * @vma: its VMA, or NULL if it is no longer mapped
 *
 * The file's mmap lock is held for reading across its whole walk, so an
 * arena's VMA found once stays what it was until the walk leaves the
 * file: a file's stacks are looked up once per run of one arena, not once
 * each.
 */
struct estack_map_back {
	unsigned long mapped;
	unsigned long done;
	struct estack_arena *arena;
	struct vm_area_struct *vma;
};

static void estack_map_back_step(struct estack_map_back *mb)
{
	if (++mb->done >= ESTACK_MAP_BACK_BATCH) {
		mb->done = 0;
		cond_resched();
	}
}

/* Map back the pages of @stack that are not mapped. */
static void estack_map_back_stack(struct estack_stack *stack,
				  struct estack_map_back *mb)
{
	struct vm_area_struct *vma;
	struct page *page;
	unsigned long i;

	estack_map_back_step(mb);
	if (stack->arena != mb->arena) {
		mb->arena = stack->arena;
		mb->vma = estack_arena_vma_locked(stack->arena);
	}
	vma = mb->vma;
	if (!vma || !stack->span)
		return;
	for (i = 0; i < estack_span_nr_pages(stack->span); i++) {
		page = stack->span->pages[i];
		/* A racing insert makes this -EBUSY: fine. */
		if (!page_mapped(page) &&
		    !vm_insert_page(vma, stack->lo + (i << PAGE_SHIFT), page))
			mb->mapped++;
		estack_map_back_step(mb);
	}
}

/*
 * Map back, at their own addresses, the pages of @ctx's stacks that are
 * not mapped: MADV_DONTNEED unmapped them, and the module kept them. A
 * live stack's would come back on the next touch anyway (->fault); a
 * stack in the mapped cache is mapped whole while it is there. Page
 * tables that vm_insert_page() may need are charged to the owner's
 * cgroup, not to the task that ran out of memory.
 *
 * The walk visits the file's stacks, live (its ids) and in its mapped
 * cache, and nothing else: the free slots of its arenas, of which a user
 * keeps as many as it could have small stacks live (arena.c), would
 * lengthen every walk, and with it the wait after it.
 *
 * Context: mmap lock held for reading, ctx->lock held.
 */
static void estack_vma_map_back_locked(struct estack_ctx *ctx, void *arg)
{
	struct estack_map_back *mb = arg;
	struct estack_stack *stack;
	struct mem_cgroup *old;
	unsigned long id;
	unsigned int order;

	lockdep_assert_held(&ctx->lock);
	mb->arena = NULL;
	old = set_active_memcg(ctx->memcg);
	xa_for_each(&ctx->ids, id, stack)
		estack_map_back_stack(stack, mb);
	for (order = 0; order < ESTACK_NR_SMALL; order++)
		list_for_each_entry(stack, &ctx->mapped[order], slot)
			estack_map_back_stack(stack, mb);
	set_active_memcg(old);
	estack_sync_rss(ctx->mm);
}

/* When the OOM notifier may walk again (jiffies); under oom_lock. */
static unsigned long estack_vma_oom_next;

/*
 * Every page the module holds for a stack is mapped in the process that
 * holds the stack, so that the OOM killer, which reads RSS, picks that
 * process and not a bystander. MADV_DONTNEED undoes it: it unmaps the
 * pages, which the module keeps (the next touch of a live stack brings its
 * data back), so a process that drops its stacks' pages that way, to trim
 * its RSS or on purpose, would hide up to its byte limit from the OOM
 * killer. out_of_memory() calls this notifier before it picks a victim:
 * every such page is mapped back, which is what the next touch would have
 * done, and counts in its process's RSS again.
 *
 * This narrows the gap; it does not close it against a process that works
 * at it. The notifier runs in the task that ran out of memory (or sysrq's
 * worker), with oom_lock held, so it only tries the locks: a context whose
 * mmap lock or ctx->lock is held at that moment is skipped (and counted),
 * and a thread that keeps calling MADV_DONTNEED unmaps pages again while
 * the walk goes on. Closing it needs MADV_DONTNEED to free the pages, as
 * it does for anonymous memory, instead of keeping them.
 *
 * What it allocates (vm_insert_page() may need a page table, which
 * MADV_DONTNEED does not free) may dip into the reserves but never enters
 * reclaim, which could come back to the OOM killer. out_of_memory() runs
 * the notifiers on each of its calls, before it checks for a victim still
 * exiting: after a walk, the next waits twice its length, so that at
 * most a third of the time goes to walks, however many pages a process
 * keeps dropping for them to find. There is no floor: a process that
 * drops its pages again as soon as it sees the OOM killer's choice is
 * blind to no more than twice a walk, and a walk is as long as the
 * stacks the limits let every user hold. A list found busy holds off
 * nothing. The memory cgroup's OOM killer calls no notifier: within one
 * cgroup at its limit, the pages stay out of the RSS until they are
 * touched or freed (the cgroup is charged for them, and the limits bound
 * them).
 */
static int estack_vma_oom_notify(struct notifier_block *nb,
				 unsigned long unused, void *freed)
{
	struct estack_map_back mb = {};
	unsigned long start = jiffies;
	unsigned int noreclaim;
	ktime_t t0;
	int skipped;

	if (time_before(start, READ_ONCE(estack_vma_oom_next)))
		return NOTIFY_OK;
	t0 = ktime_get();
	noreclaim = memalloc_noreclaim_save();
	skipped = estack_ctx_try_each(estack_vma_map_back_locked, &mb);
	memalloc_noreclaim_restore(noreclaim);
	if (skipped >= 0)
		WRITE_ONCE(estack_vma_oom_next,
			   jiffies + 2 * (jiffies - start));
	if (skipped < 0)
		pr_info_ratelimited("OOM: file list busy, no stack page mapped back\n");
	else if (mb.mapped || skipped)
		pr_info_ratelimited("OOM: mapped back %lu stack pages dropped by MADV_DONTNEED in %lld us; %d busy files skipped\n",
				    mb.mapped,
				    ktime_us_delta(ktime_get(), t0), skipped);
	/* Nothing was freed: the OOM killer goes on, and now sees them. */
	return NOTIFY_OK;
}

static struct notifier_block estack_vma_oom_nb = {
	.notifier_call = estack_vma_oom_notify,
};

/**
 * estack_vma_init() - register the OOM notifier
 *
 * Return: 0, or the errno of register_oom_notifier().
 */
int estack_vma_init(void)
{
	return register_oom_notifier(&estack_vma_oom_nb);
}

/**
 * estack_vma_exit() - unregister the OOM notifier
 *
 * Waits for a call in progress to return.
 */
void estack_vma_exit(void)
{
	unregister_oom_notifier(&estack_vma_oom_nb);
}

static void estack_vm_open(struct vm_area_struct *vma)
{
	struct estack_arena *arena = vma->vm_private_data;

	/*
	 * Arenas cannot be split, and the copy mremap() makes before ->mremap
	 * refuses the move is in the same mm: nothing to do. In another mm,
	 * @vma is a child's copy, made by fork() after MADV_DOFORK (or a copy
	 * of such a copy). It belongs to no arena: its faults get SIGSEGV and
	 * its ->close frees nothing of the parent's.
	 *
	 * VM_WIPEONFORK, set here before dup_mmap() calls copy_page_range()
	 * (it calls ->open first, on 6.1 as on 6.12), keeps the parent's page
	 * table entries out of the copy: with them the child would read the
	 * parent's stacks, and keep their pages after the parent's FREE,
	 * outside the limits. MADV_KEEPONFORK in the child brings nothing
	 * back: its copy has no entries to pass on.
	 *
	 * The arena is still marked, so that its mapped cache stops reusing
	 * stacks in place: should a kernel copy the entries anyway, no page a
	 * child maps is recycled.
	 *
	 * Context: dup_mmap(), both mmap locks held for writing.
	 */
	if (arena && vma->vm_mm == arena->ctx->mm)
		return;
	estack_vm_flags_set(vma, VM_WIPEONFORK);
	if (arena) {
		arena->forked = true;
		vma->vm_private_data = NULL;
	}
}

static void estack_vm_close(struct vm_area_struct *vma)
{
	struct estack_arena *arena = estack_vma_arena(vma);

	if (arena)
		estack_vma_arena_unmapped(arena);
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
 * estack_vma_mmap() - ->mmap of /dev/estack
 * @ctx: the file's context
 * @vma: the new mapping
 *
 * The module maps its arenas PROT_READ | PROT_WRITE; under the
 * READ_IMPLIES_EXEC personality (setarch -X, or a binary that asks for an
 * executable stack) do_mmap() adds PROT_EXEC to that, which an arena
 * drops again. Stacks are never executable.
 *
 * Context: mmap lock held for writing.
 * Return: 0 for a mapping the module asked for; -EINVAL for any other.
 */
int estack_vma_mmap(struct estack_ctx *ctx, struct vm_area_struct *vma)
{
	struct estack_arena *arena;
	int ret = -EINVAL;

	if (vma->vm_mm != ctx->mm || !(vma->vm_flags & VM_SHARED) ||
	    ((vma->vm_flags & VM_EXEC) &&
	     !(current->personality & READ_IMPLIES_EXEC)))
		return -EINVAL;

	mutex_lock(&ctx->lock);
	arena = xa_load(&ctx->pending, vma->vm_pgoff);
	if (arena && vma->vm_end - vma->vm_start == arena->size) {
		xa_erase(&ctx->pending, vma->vm_pgoff);
		estack_vm_flags_set(vma, VM_MIXEDMAP | VM_DONTEXPAND |
				    VM_DONTCOPY | VM_DONTDUMP);
		estack_vm_flags_clear(vma, VM_EXEC | VM_MAYEXEC);
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

