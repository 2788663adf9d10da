// SPDX-License-Identifier: GPL-2.0
/*
 * estack stacks: ALLOC, FREE and INFO for a context.
 *
 * A stack is a span from the allocator mapped into a slot of an arena, with
 * a per-file id. ALLOC charges the limits, takes a span (no lock held: it
 * may sleep, reclaim and zero), then under the mmap lock and ctx->lock finds
 * a slot, records the id and the address range and inserts every page, so
 * that the first touch takes no fault and the stack counts in the process's
 * RSS at once. FREE undoes it in reverse. Every step unwinds on error: a
 * failed call leaves no id, no mapping and no page behind.
 *
 * The mapped cache is the fast path of both. A small stack freed while its
 * file keeps fewer than mapped_cache bytes of its class stays where it is,
 * mapped, with its pages and its tree entry, and loses only its id; the
 * next ALLOC of that size takes it back and allocates, inserts, zaps and
 * flushes nothing. Such a stack must read as zero again, and only the pages
 * written since they were last cleared are cleared: a write through the
 * mapping sets the PTE's dirty bit (which nothing here ever clears), a
 * write by any other path sets PG_dirty (GUP for ptrace, O_DIRECT and
 * process_vm_writev, zap after MADV_DONTNEED, and GROW's own copy), and a
 * page with neither still holds the zeroes it was mapped with. A page that
 * someone else also holds (pinned for I/O, or mapped in a child after
 * MADV_DOFORK) makes its stack leave the cache the slow way, unmapped.
 *
 * Concurrency: ids, slots and the arenas' trees are protected by ctx->lock,
 * taken inside the mmap lock (read). A stack's struct lives until FREE or
 * until its arena is unmapped (->close, mmap lock held for writing), so
 * holding the mmap lock for reading keeps any stack found under ctx->lock
 * alive. No user memory is touched while ctx->lock is held: a fault on an
 * estack page would need it.
 *
 * Copyright (C) 2026 The estack authors
 */

#include <linux/maple_tree.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/ptrace.h>
#include <linux/sched/task_stack.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "compat.h"
#include "estack.h"
#include "trace.h"

/*
 * Charge the file's and the user's limits for @size more bytes, and for a
 * new stack if @new_stack (a GROW charges only the bytes it adds).
 */
static int estack_limits_charge_locked(struct estack_ctx *ctx,
				       unsigned long size, bool new_stack)
{
	const struct estack_tunables *t = &estack_tunables;
	long user_bytes;

	lockdep_assert_held(&ctx->lock);
	if (ctx->nr_stacks + new_stack >
	    estack_tunable_get(&t->max_stacks_per_fd) ||
	    ctx->bytes + size > estack_tunable_get(&t->max_bytes_per_fd))
		return -ENOSPC;
	user_bytes = atomic_long_add_return(size, &ctx->user->bytes);
	if (user_bytes > estack_tunable_get(&t->max_bytes_per_user)) {
		atomic_long_sub(size, &ctx->user->bytes);
		return -ENOSPC;
	}
	ctx->nr_stacks += new_stack;
	ctx->bytes += size;
	return 0;
}

static int estack_limits_charge(struct estack_ctx *ctx, unsigned long size)
{
	int ret;

	mutex_lock(&ctx->lock);
	ret = estack_limits_charge_locked(ctx, size, true);
	mutex_unlock(&ctx->lock);
	return ret;
}

/* Give back @size bytes; a whole stack's bytes also give back the stack. */
static void estack_limits_release_locked(struct estack_ctx *ctx,
					 unsigned long size, bool stack)
{
	lockdep_assert_held(&ctx->lock);
	ctx->nr_stacks -= stack;
	ctx->bytes -= size;
	atomic_long_sub(size, &ctx->user->bytes);
}

static void estack_limits_uncharge_locked(struct estack_ctx *ctx,
					  unsigned long size)
{
	estack_limits_release_locked(ctx, size, true);
}

static void estack_limits_uncharge(struct estack_ctx *ctx, unsigned long size)
{
	mutex_lock(&ctx->lock);
	estack_limits_uncharge_locked(ctx, size);
	mutex_unlock(&ctx->lock);
}

/**
 * estack_stack_release() - give back the span and limits of a dead stack
 * @ctx: the context
 * @stack: unmapped, in no tree and under no id
 *
 * Context: no lock held.
 */
void estack_stack_release(struct estack_ctx *ctx, struct estack_stack *stack)
{
	estack_limits_uncharge(ctx, stack->hi - stack->lo);
	estack_span_free(ctx->alloc, stack->span, ctx->memcg);
	stack->span = NULL;
}

/* Map the stack's populated pages; on error none of them stays mapped. */
static int estack_stack_map_locked(struct vm_area_struct *vma,
				   struct estack_stack *stack)
{
	unsigned long first = (stack->populated - stack->lo) >> PAGE_SHIFT;
	unsigned long nr = (stack->hi - stack->populated) >> PAGE_SHIFT;
	unsigned long left = nr;
	int ret;

	if (!nr)
		return 0;
	ret = vm_insert_pages(vma, stack->populated,
			      stack->span->pages + first, &left);
	estack_sync_rss(vma->vm_mm);
	if (ret)
		estack_zap(vma, stack->populated, (nr - left) << PAGE_SHIFT);
	return ret;
}

/**
 * estack_stack_populate_locked() - clear the unpopulated part down to @addr
 * @ctx: the context
 * @stack: a live stack
 * @addr: a page-aligned address in [lo, populated)
 *
 * Clears the pages from @stack->populated down to @addr, top first, so
 * that ->fault may map them. Progress is kept if a fatal signal stops a
 * long clear.
 *
 * Context: ctx->lock held.
 * Return: 0, or -EINTR.
 */
int estack_stack_populate_locked(struct estack_ctx *ctx,
				 struct estack_stack *stack, unsigned long addr)
{
	unsigned long n = 0;

	lockdep_assert_held(&ctx->lock);
	while (stack->populated > addr) {
		unsigned long vaddr = stack->populated - PAGE_SIZE;
		struct page *page = stack->span->pages[(vaddr - stack->lo) >>
						       PAGE_SHIFT];

		clear_user_highpage(page, vaddr);
		ClearPageDirty(page);
		stack->populated = vaddr;
		if (!(++n % ESTACK_RESCHED_PAGES)) {
			if (fatal_signal_pending(current))
				break;
			cond_resched();
		}
	}
	estack_stat_add(ctx->alloc, ESTACK_STAT_PAGES_ZEROED, n);
	return stack->populated > addr ? -EINTR : 0;
}

/*
 * Give @stack the file's next id. Ids are never reused: once all 2^32 - 1
 * were handed out, ALLOC fails with ENOSPC. The id after it is reserved
 * in the xarray at once, so that a file that allocates and frees one stack
 * after another does not allocate and free an xarray node each time (it
 * does once every 64 ids). A reserved id reads as absent (ENOENT).
 */
static int estack_id_assign_locked(struct estack_ctx *ctx,
				   struct estack_stack *stack)
{
	u32 id = ctx->next_id;
	void *old;
	int ret;

	lockdep_assert_held(&ctx->lock);
	if (!id)
		return -ENOSPC;
	if (id + 1) {
		ret = xa_reserve(&ctx->ids, id + 1, GFP_KERNEL_ACCOUNT);
		if (ret)
			return ret;
	}
	/* Reserved by the previous call, or allocates here. */
	old = xa_store(&ctx->ids, id, stack, GFP_KERNEL_ACCOUNT);
	if (xa_is_err(old)) {
		xa_release(&ctx->ids, id + 1);
		return xa_err(old);
	}
	stack->id = id;
	ctx->next_id = id + 1;
	return 0;
}

/*
 * Clear the pages of @stack, taken from the mapped cache, that may have
 * been written. Return false, clearing nothing, when a page is also held
 * by someone else: a pin or a second mapping could see the next user's
 * data.
 */
static bool estack_stack_clean_locked(struct estack_ctx *ctx,
				      struct estack_stack *stack)
{
	struct estack_span *span = stack->span;
	unsigned long nr = estack_span_nr_pages(span), i, n = 0;
	spinlock_t *ptl;	/* the PTE's, from follow_pte() */
	struct page *page;
	pte_t *ptep;
	bool dirty;
	int mapped;

	for (i = 0; i < nr; i++) {
		page = span->pages[i];
		mapped = page_mapcount(page);
		if (mapped > 1 || page_ref_count(page) != 1 + mapped)
			return false;
	}
	for (i = 0; i < nr; i++) {
		page = span->pages[i];
		dirty = PageDirty(page);
		if (!dirty && !follow_pte(ctx->mm, stack->lo + (i << PAGE_SHIFT),
					  &ptep, &ptl)) {
			/* follow_pte() returned with the PTE lock held. */
			__acquire(ptl);
			dirty = pte_dirty(*ptep);
			pte_unmap_unlock(ptep, ptl);
		}
		if (dirty) {
			clear_user_highpage(page, stack->lo + (i << PAGE_SHIFT));
			ClearPageDirty(page);
			n++;
		}
	}
	estack_stat_add(ctx->alloc, ESTACK_STAT_PAGES_ZEROED, n);
	return true;
}

/*
 * Take @stack out of the mapped cache the slow way: unmap it and free the
 * slot. Its span goes on @spans for estack_span_drop() once the locks are
 * dropped.
 */
static void estack_mapped_evict_locked(struct estack_ctx *ctx,
				       struct estack_stack *stack,
				       struct vm_area_struct *vma,
				       struct list_head *spans)
{
	list_del_init(&stack->slot);
	ctx->nr_mapped[stack->order]--;
	mtree_erase(&stack->arena->stacks, stack->lo);
	estack_zap(vma, stack->lo, stack->hi - stack->lo);
	list_add(&stack->span->node, spans);
	stack->span = NULL;
	estack_arena_unreserve_locked(stack);
}

/*
 * The most recently freed stack of @order that the file keeps mapped,
 * cleared and ready, or NULL. Stacks of an arena being unmapped are left
 * for its ->close; stacks that cannot be cleared are evicted to @spans.
 */
static struct estack_stack *estack_mapped_take_locked(struct estack_ctx *ctx,
						      unsigned int order,
						      struct list_head *spans)
{
	struct estack_stack *stack, *next;
	struct vm_area_struct *vma;

	lockdep_assert_held(&ctx->lock);
	list_for_each_entry_safe(stack, next, &ctx->mapped[order], slot) {
		vma = estack_arena_vma_locked(stack->arena);
		if (!vma)
			continue;
		if (!estack_stack_clean_locked(ctx, stack)) {
			estack_mapped_evict_locked(ctx, stack, vma, spans);
			continue;
		}
		list_del_init(&stack->slot);
		ctx->nr_mapped[order]--;
		return stack;
	}
	return NULL;
}

static void estack_mapped_drop_spans(struct estack_ctx *ctx,
				     struct list_head *spans)
{
	struct estack_span *span, *next;

	list_for_each_entry_safe(span, next, spans, node) {
		list_del_init(&span->node);
		estack_span_drop(ctx->alloc, span, ctx->memcg);
	}
}

/*
 * ALLOC from the mapped cache. Return 1 when it has no stack of @order
 * (the caller takes the slow path), else 0 or a negative errno.
 */
static int estack_stack_create_mapped(struct estack_ctx *ctx,
				      unsigned int order,
				      struct estack_stack_info *out)
{
	struct mm_struct *mm = ctx->mm;
	struct estack_stack *stack;
	LIST_HEAD(spans);
	int ret = 1;

	if (order >= ESTACK_NR_SMALL || !READ_ONCE(ctx->nr_mapped[order]))
		return 1;
	if (mmap_read_lock_killable(mm))
		return -EINTR;
	mutex_lock(&ctx->lock);
	stack = estack_mapped_take_locked(ctx, order, &spans);
	if (!stack)
		goto out_unlock;
	ret = estack_limits_charge_locked(ctx, PAGE_SIZE << order, true);
	if (ret)
		goto err_put_back;
	ret = estack_id_assign_locked(ctx, stack);
	if (ret)
		goto err_uncharge;
	estack_span_reuse(ctx->alloc, stack->span);
	out->id = stack->id;
	out->lo = stack->lo;
	out->hi = stack->hi;
	goto out_unlock;

err_uncharge:
	estack_limits_uncharge_locked(ctx, PAGE_SIZE << order);
err_put_back:
	/* Cleared already; it goes back as it was, at the head. */
	list_add(&stack->slot, &ctx->mapped[order]);
	ctx->nr_mapped[order]++;
out_unlock:
	mutex_unlock(&ctx->lock);
	mmap_read_unlock(mm);
	estack_mapped_drop_spans(ctx, &spans);
	if (!ret)
		trace_estack_alloc(out->id, out->lo, out->hi);
	return ret;
}

/*
 * FREE into the mapped cache, if the file has room for one more stack of
 * this class: the stack keeps its pages, mapping and tree entry.
 */
static bool estack_mapped_keep_locked(struct estack_ctx *ctx,
				      struct estack_stack *stack)
{
	unsigned long budget = estack_tunable_get(&estack_tunables.mapped_cache);
	unsigned int order = stack->order;

	lockdep_assert_held(&ctx->lock);
	if (order >= ESTACK_NR_SMALL ||
	    ((unsigned long)ctx->nr_mapped[order] + 1) << (order + PAGE_SHIFT) >
	    budget)
		return false;
	stack->id = 0;
	list_add(&stack->slot, &ctx->mapped[order]);
	ctx->nr_mapped[order]++;
	estack_span_keep(ctx->alloc, stack->span);
	return true;
}

/**
 * estack_mapped_unmapped_locked() - the arena of a cached stack is gone
 * @ctx: the context
 * @stack: a stack of the mapped cache, its arena being unmapped
 *
 * Takes @stack out of the cache; the caller gives its span back with
 * estack_span_drop() once the pages are unmapped and ctx->lock dropped.
 *
 * Context: ctx->lock held.
 */
void estack_mapped_unmapped_locked(struct estack_ctx *ctx,
				   struct estack_stack *stack)
{
	lockdep_assert_held(&ctx->lock);
	list_del_init(&stack->slot);
	ctx->nr_mapped[stack->order]--;
}

/**
 * estack_stack_create() - a new stack of @size bytes in the caller's mm
 * @ctx: the context of the caller's file
 * @size: a power of two from a page to max_stack
 * @out: the stack's id, lo and hi
 *
 * Return: 0; -ENOSPC past a limit or out of ids; -ENOMEM; -EINTR.
 */
int estack_stack_create(struct estack_ctx *ctx, unsigned long size,
			struct estack_stack_info *out)
{
	unsigned int order = ilog2(size >> PAGE_SHIFT);
	struct mm_struct *mm = ctx->mm;
	struct vm_area_struct *vma;
	struct estack_stack *stack;
	struct estack_span *span;
	int ret;

	ret = estack_stack_create_mapped(ctx, order, out);
	if (ret <= 0)
		return ret;
	ret = estack_limits_charge(ctx, size);
	if (ret)
		return ret;
	span = estack_span_alloc(ctx->alloc, order, ctx->memcg);
	if (IS_ERR(span)) {
		ret = PTR_ERR(span);
		goto err_uncharge;
	}

	for (;;) {
		if (mmap_read_lock_killable(mm)) {
			ret = -EINTR;
			goto err_free_span;
		}
		mutex_lock(&ctx->lock);
		stack = estack_arena_reserve_locked(ctx, order);
		if (IS_ERR(stack)) {
			ret = PTR_ERR(stack);
			goto err_unlock;
		}
		if (stack) {
			vma = estack_arena_vma_locked(stack->arena);
			if (vma)
				break;
			/* Being unmapped: the arena is dead now, try again. */
			estack_arena_unreserve_locked(stack);
			mutex_unlock(&ctx->lock);
			mmap_read_unlock(mm);
			continue;
		}
		mutex_unlock(&ctx->lock);
		mmap_read_unlock(mm);
		ret = estack_arena_create(ctx, order);
		if (ret)
			goto err_free_span;
	}

	ret = estack_id_assign_locked(ctx, stack);
	if (ret)
		goto err_unreserve;
	ret = mtree_store_range(&stack->arena->stacks, stack->lo, stack->hi - 1,
				stack, GFP_KERNEL_ACCOUNT);
	if (ret)
		goto err_erase_id;
	stack->span = span;
	stack->populated = stack->lo;
	ret = estack_stack_map_locked(vma, stack);
	if (ret)
		goto err_erase_range;

	out->id = stack->id;
	out->lo = stack->lo;
	out->hi = stack->hi;
	mutex_unlock(&ctx->lock);
	mmap_read_unlock(mm);
	trace_estack_alloc(out->id, out->lo, out->hi);
	return 0;

err_erase_range:
	stack->span = NULL;
	mtree_erase(&stack->arena->stacks, stack->lo);
err_erase_id:
	xa_erase(&ctx->ids, stack->id);
err_unreserve:
	estack_arena_unreserve_locked(stack);
err_unlock:
	mutex_unlock(&ctx->lock);
	mmap_read_unlock(mm);
err_free_span:
	estack_span_free(ctx->alloc, span, ctx->memcg);
err_uncharge:
	estack_limits_uncharge(ctx, size);
	return ret;
}

/* Is the calling thread's user stack pointer inside @stack? */
static bool estack_stack_running(const struct estack_stack *stack)
{
	unsigned long sp = current_pt_regs()->sp;

	return sp >= stack->lo && sp <= stack->hi;
}

/**
 * estack_stack_destroy() - FREE
 * @ctx: the context
 * @id: the stack
 * @check_running: refuse the caller's running stack (false only to undo an
 *	ALLOC whose result could not be copied out)
 *
 * Return: 0; -ENOENT; -EBUSY for the stack the caller runs on; -EINTR.
 */
int estack_stack_destroy(struct estack_ctx *ctx, u32 id, bool check_running)
{
	struct mm_struct *mm = ctx->mm;
	struct estack_stack *stack;
	struct vm_area_struct *vma;
	struct estack_span *span;
	unsigned long lo, size;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	mutex_lock(&ctx->lock);
	stack = xa_load(&ctx->ids, id);
	if (!stack) {
		mutex_unlock(&ctx->lock);
		mmap_read_unlock(mm);
		return -ENOENT;
	}
	if (check_running && estack_stack_running(stack)) {
		mutex_unlock(&ctx->lock);
		mmap_read_unlock(mm);
		return -EBUSY;
	}
	vma = estack_arena_vma_locked(stack->arena);
	lo = stack->lo;
	size = stack->hi - stack->lo;
	xa_erase(&ctx->ids, id);
	estack_limits_uncharge_locked(ctx, size);
	if (vma && estack_mapped_keep_locked(ctx, stack)) {
		mutex_unlock(&ctx->lock);
		mmap_read_unlock(mm);
		trace_estack_free(id, lo, lo + size);
		return 0;
	}
	mtree_erase(&stack->arena->stacks, stack->lo);
	/*
	 * No fault can put a page back: they need ctx->lock and the tree.
	 * Without a VMA the arena is being unmapped and munmap() zaps the
	 * pages; one still mapped makes the span not recyclable, so it is
	 * released, never handed to another stack.
	 */
	if (vma)
		estack_zap(vma, stack->lo, size);
	span = stack->span;
	stack->span = NULL;
	estack_arena_unreserve_locked(stack);
	mutex_unlock(&ctx->lock);
	mmap_read_unlock(mm);

	trace_estack_free(id, lo, lo + size);
	estack_span_free(ctx->alloc, span, ctx->memcg);
	return 0;
}

/* Pages of [lo, hi) mapped in the page tables now. */
static unsigned long estack_stack_resident_locked(struct mm_struct *mm,
						  const struct estack_stack *stack)
{
	unsigned long addr, n = 0;
	spinlock_t *ptl;	/* the PTE's, from follow_pte() */
	pte_t *ptep;

	for (addr = stack->lo; addr < stack->hi; addr += PAGE_SIZE) {
		if (!((addr - stack->lo) & (SZ_4M - 1)))
			cond_resched();
		if (follow_pte(mm, addr, &ptep, &ptl))
			continue;
		/* follow_pte() returned with the PTE lock held. */
		__acquire(ptl);
		n += pte_present(*ptep);
		pte_unmap_unlock(ptep, ptl);
	}
	return n;
}

/**
 * estack_stack_query() - INFO
 * @ctx: the context
 * @id: the stack
 * @out: lo, hi and the bytes populated now
 *
 * Return: 0, -ENOENT or -EINTR.
 */
int estack_stack_query(struct estack_ctx *ctx, u32 id,
		       struct estack_stack_info *out)
{
	struct mm_struct *mm = ctx->mm;
	struct estack_stack *stack;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	mutex_lock(&ctx->lock);
	stack = xa_load(&ctx->ids, id);
	if (stack) {
		out->id = id;
		out->lo = stack->lo;
		out->hi = stack->hi;
		out->resident = estack_stack_resident_locked(mm, stack) <<
				PAGE_SHIFT;
	}
	mutex_unlock(&ctx->lock);
	mmap_read_unlock(mm);
	return stack ? 0 : -ENOENT;
}

/* A user slot outside the stack being moved: its value, read before. */
struct estack_outer_slot {
	u64 addr;
	u64 old;
	bool write;
};

/*
 * Read every slot outside the old stack, and prove it writable by writing
 * its value back, without taking a page fault: a fault on an arena needs
 * ctx->lock, which the caller holds. Return 0, or -EFAULT with *@fault
 * set to the address to fault in with no lock held.
 */
static int estack_outer_read_locked(const u64 *slots, unsigned int nr,
				    const struct estack_move_plan *m,
				    struct estack_outer_slot *out,
				    unsigned int *nr_out, u64 *fault)
{
	unsigned int i, n = 0;
	u64 v;

	for (i = 0; i < nr; i++) {
		if (slots[i] >= m->old_lo && slots[i] < m->old_hi)
			continue;
		if (copy_from_user_nofault(&v, u64_to_user_ptr(slots[i]),
					   sizeof(v)) ||
		    copy_to_user_nofault(u64_to_user_ptr(slots[i]), &v,
					 sizeof(v))) {
			*fault = slots[i];
			return -EFAULT;
		}
		out[n].addr = slots[i];
		out[n].old = v;
		out[n].write = false;
		n++;
	}
	*nr_out = n;
	return 0;
}

/* Write the relocated values; on failure put back what was written. */
static int estack_outer_write_locked(struct estack_outer_slot *s,
				     unsigned int nr,
				     struct estack_move_plan *m, u64 *fault)
{
	unsigned int i;
	u64 v;

	for (i = 0; i < nr; i++) {
		if (s[i].old < m->old_lo || s[i].old >= m->old_hi)
			continue;
		v = s[i].old + m->delta;
		if (copy_to_user_nofault(u64_to_user_ptr(s[i].addr), &v,
					 sizeof(v)))
			goto err_restore;
		s[i].write = true;
		m->adjusted++;
	}
	return 0;

err_restore:
	*fault = s[i].addr;
	while (i--) {
		if (s[i].write &&
		    copy_to_user_nofault(u64_to_user_ptr(s[i].addr),
					 &s[i].old, sizeof(s[i].old)))
			pr_warn_ratelimited("estack: could not restore a slot\n");
	}
	return -EFAULT;
}

/* How often a move retries after faulting a slot in. */
#define ESTACK_MOVE_TRIES	4

/*
 * The new stack of a move comes uncleared: the copy overwrites the top of
 * it, and clearing those pages first would be wasted. A small new stack
 * (up to 32 KiB, what fibers live on) is then populated whole, as ALLOC
 * does it, since a fault per page costs more than clearing it; only the
 * pages below the copy, and the part of the lowest copied page below sp,
 * are cleared. A large one is populated only where the copy lands; the
 * rest is cleared and mapped on first touch, so that a GROW costs the
 * copy of the live bytes, not the clearing of the new half.
 *
 * Returns where the populated part of the new stack starts.
 */
static unsigned long estack_move_prepare_new(struct estack_ctx *ctx,
					     struct estack_move_plan *m)
{
	struct estack_span *span = m->new_span;
	u64 new_sp = m->sp + m->delta;
	u64 first = round_down(new_sp, PAGE_SIZE);
	unsigned long i, n = 0;

	if (span->dirty) {
		if (span->order < ESTACK_NR_SMALL) {
			for (i = 0; m->new_lo + (i << PAGE_SHIFT) < first; i++)
				clear_user_highpage(span->pages[i], m->new_lo +
						    (i << PAGE_SHIFT));
			n = i;
		}
		if (offset_in_page(new_sp)) {
			clear_user_highpage(span->pages[(first - m->new_lo) >>
							PAGE_SHIFT], first);
			n++;
		}
		estack_stat_add(ctx->alloc, ESTACK_STAT_PAGES_ZEROED, n);
	}
	return span->order < ESTACK_NR_SMALL ? m->new_lo : first;
}

/**
 * estack_stack_move() - GROW or SHRINK (Go's newstack/copystack and
 *	shrinkstack)
 * @ctx: the context
 * @req: the request, validated as a struct; lo, hi, delta, fp and
 *	adjusted are filled in on success
 * @grow: GROW, else SHRINK
 * @slots: req->nr_slots slot addresses, copied in
 *
 * The new stack is built completely (pages, copy, relocation, mapping)
 * while the old one stays as it is; only then are the id and the slots
 * switched over and the old stack unmapped. Any failure before that point
 * leaves nothing changed. Everything happens under the mmap read lock and
 * ctx->lock; user slots are accessed without faulting, and a slot that is
 * not present makes the call drop the locks, fault it in and start over.
 *
 * Return: 0; -ENOENT; -EINVAL for an sp or bytes that do not fit; -EBUSY
 * for the running stack; -EFBIG; -ENOSPC; -ENOMEM; -EFAULT for a slot
 * that cannot be read or written; -EINTR.
 */
int estack_stack_move(struct estack_ctx *ctx, struct estack_move *req,
		      bool grow, const u64 *slots)
{
	u64 max = estack_tunable_get(&estack_tunables.max_stack);
	struct estack_outer_slot *outer = NULL;
	struct estack_stack *stack, *to = NULL;
	struct estack_span *span = NULL;
	struct vm_area_struct *vma_old, *vma_new;
	struct mm_struct *mm = ctx->mm;
	struct estack_move_plan m;
	unsigned int nr_outer = 0, tries = 0, i;
	u64 cur, size = 0, fault = 0;
	int ret;

	if (req->nr_slots) {
		outer = kvcalloc(req->nr_slots, sizeof(*outer), GFP_KERNEL);
		if (!outer)
			return -ENOMEM;
	}
retry:
	if (mmap_read_lock_killable(mm)) {
		ret = -EINTR;
		goto out_free;
	}
	mutex_lock(&ctx->lock);
	stack = xa_load(&ctx->ids, req->id);
	if (!stack) {
		ret = -ENOENT;
		goto out_unlock;
	}
	cur = stack->hi - stack->lo;
	if (req->sp < stack->lo || req->sp > stack->hi ||
	    (grow && req->bytes && req->bytes <= cur)) {
		ret = -EINVAL;
		goto out_unlock;
	}
	if (estack_stack_running(stack)) {
		ret = -EBUSY;
		goto out_unlock;
	}
	if (grow) {
		ret = estack_size_grow(cur, req->bytes, max, &size);
		if (ret)
			goto out_unlock;
	} else {
		size = estack_size_shrink(cur, stack->hi - req->sp);
		if (size == cur) {	/* nothing to do: Go's "not worth it" */
			req->lo = stack->lo;
			req->hi = stack->hi;
			req->delta = 0;
			req->adjusted = 0;
			ret = 0;
			goto out_unlock;
		}
	}
	vma_old = estack_arena_vma_locked(stack->arena);
	if (!vma_old) {		/* its arena is being unmapped */
		ret = -ENOENT;
		goto out_unlock;
	}

	memset(&m, 0, sizeof(m));
	m.old_span = stack->span;
	m.old_lo = stack->lo;
	m.old_hi = stack->hi;
	m.sp = req->sp;
	m.fp = req->fp;
	ret = estack_outer_read_locked(slots, req->nr_slots, &m, outer,
				       &nr_outer, &fault);
	if (ret)
		goto out_fault_in;

	/* Limits first (only growth needs more), then the pages. */
	if (size > cur) {
		ret = estack_limits_charge_locked(ctx, size - cur, false);
		if (ret)
			goto out_unlock;
	}
	/* A retry may find the stack resized by another thread meanwhile. */
	if (span && span->order != ilog2(size >> PAGE_SHIFT)) {
		estack_span_free(ctx->alloc, span, ctx->memcg);
		span = NULL;
	}
	if (!span) {
		span = estack_span_alloc_unzeroed(ctx->alloc,
						  ilog2(size >> PAGE_SHIFT),
						  ctx->memcg);
		if (IS_ERR(span)) {
			ret = PTR_ERR(span);
			span = NULL;
			goto out_uncharge;
		}
	}
	to = estack_arena_reserve_locked(ctx, ilog2(size >> PAGE_SHIFT));
	if (IS_ERR(to)) {
		ret = PTR_ERR(to);
		to = NULL;
		goto out_uncharge;
	}
	if (!to) {		/* no room: map another arena, then again */
		if (size > cur)
			estack_limits_release_locked(ctx, size - cur, false);
		mutex_unlock(&ctx->lock);
		mmap_read_unlock(mm);
		ret = estack_arena_create(ctx, ilog2(size >> PAGE_SHIFT));
		if (ret)
			goto out_free;
		goto retry;
	}
	vma_new = estack_arena_vma_locked(to->arena);
	if (!vma_new) {
		ret = -EAGAIN;
		goto out_unreserve;
	}

	m.new_span = span;
	m.new_lo = to->lo;
	m.new_hi = to->hi;
	m.delta = m.new_hi - m.old_hi;
	/* Below the old stack's populated part nothing was ever written. */
	m.sp = max_t(u64, m.sp, stack->populated);
	to->populated = estack_move_prepare_new(ctx, &m);
	ret = estack_move_copy(&m);
	if (ret)
		goto out_unreserve;
	/* The chain first: words it rewrote no longer point into the old stack. */
	if (req->flags & ESTACK_MOVE_ADJUST_FP)
		estack_move_adjust_fp(&m);
	for (i = 0; i < req->nr_slots; i++)
		estack_move_adjust_inner_slot(&m, slots[i]);
	if (req->flags & ESTACK_MOVE_ADJUST_CONSERVATIVE) {
		ret = estack_move_adjust_conservative(&m);
		if (ret)
			goto out_unreserve;
	}

	/* Make the new stack whole; nothing the user sees has changed yet. */
	to->span = span;
	to->id = req->id;
	ret = mtree_store_range(&to->arena->stacks, to->lo, to->hi - 1, to,
				GFP_KERNEL_ACCOUNT);
	if (ret)
		goto out_unreserve;
	ret = estack_stack_map_locked(vma_new, to);
	if (ret)
		goto out_erase_new;
	ret = estack_outer_write_locked(outer, nr_outer, &m, &fault);
	if (ret) {
		estack_zap(vma_new, to->lo, size);
		mtree_erase(&to->arena->stacks, to->lo);
		to->span = NULL;
		estack_arena_unreserve_locked(to);
		to = NULL;
		if (size > cur)
			estack_limits_release_locked(ctx, size - cur, false);
		goto out_fault_in;
	}

	/* Commit: the id now names the new stack; the old one goes. */
	xa_store(&ctx->ids, req->id, to, GFP_KERNEL);
	mtree_erase(&stack->arena->stacks, stack->lo);
	estack_zap(vma_old, stack->lo, cur);
	stack->span = NULL;
	estack_arena_unreserve_locked(stack);
	if (size < cur)
		estack_limits_release_locked(ctx, cur - size, false);

	estack_stat_add(ctx->alloc, grow ? ESTACK_STAT_GROWS :
			ESTACK_STAT_SHRINKS, 1);
	estack_stat_add(ctx->alloc, ESTACK_STAT_BYTES_COPIED, m.copied);
	estack_stat_add(ctx->alloc, ESTACK_STAT_WORDS_RELOCATED, m.adjusted);
	req->lo = m.new_lo;
	req->hi = m.new_hi;
	req->delta = m.delta;
	req->adjusted = m.adjusted;
	if (req->flags & ESTACK_MOVE_ADJUST_FP)
		req->fp = m.fp;
	mutex_unlock(&ctx->lock);
	mmap_read_unlock(mm);
	if (grow)
		trace_estack_grow(req->id, cur, size, m.new_lo, m.new_hi,
				  m.delta, m.copied, m.adjusted);
	else
		trace_estack_shrink(req->id, cur, size, m.new_lo, m.new_hi,
				    m.delta, m.copied, m.adjusted);
	estack_span_free(ctx->alloc, m.old_span, ctx->memcg);
	kvfree(outer);
	return 0;

out_erase_new:
	mtree_erase(&to->arena->stacks, to->lo);
out_unreserve:
	to->span = NULL;
	estack_arena_unreserve_locked(to);
out_uncharge:
	if (size > cur)
		estack_limits_release_locked(ctx, size - cur, false);
out_unlock:
	mutex_unlock(&ctx->lock);
	mmap_read_unlock(mm);
	if (ret == -EAGAIN && ++tries < ESTACK_MOVE_TRIES)
		goto retry;
	goto out_free;

out_fault_in:
	mutex_unlock(&ctx->lock);
	mmap_read_unlock(mm);
	/* With no lock held the fault can be served, arenas included. */
	if (++tries < ESTACK_MOVE_TRIES &&
	    !fault_in_writeable(u64_to_user_ptr(fault), sizeof(u64)))
		goto retry;
	ret = -EFAULT;
out_free:
	if (ret && grow)
		estack_stat_add(ctx->alloc, ESTACK_STAT_GROW_FAILURES, 1);
	if (span)
		estack_span_free(ctx->alloc, span, ctx->memcg);
	kvfree(outer);
	return ret;
}
