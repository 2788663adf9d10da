// SPDX-License-Identifier: GPL-2.0
/*
 * estack relocation: copy a stack's live part into a new span and fix the
 * pointers into it (Go's copystack and adjustpointers).
 *
 * Everything here works on kernel mappings of the spans' pages, never on
 * the user mapping. Addresses are the user addresses of the old stack; a
 * word at old address A lands at A + delta, and a word's value is
 * rewritten only if it lies in the old [lo, hi), always to value + delta.
 *
 * The live pages above the one sp cuts are not copied but taken over
 * (take.c); relocation marks each word it rewrites in the move's log,
 * which undoes a failed move and keeps a word from being relocated twice.
 *
 * The slots a move rewrites outside the stack are read before and written
 * after, without faulting, and put back if the move cannot commit.
 *
 * Concurrency: the caller holds ctx->lock and owns the new span.
 *
 * Copyright (C) 2026 The estack authors
 */

#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sort.h>
#include <linux/uaccess.h>

#include "move.h"

/**
 * estack_move_copy() - copy the live bytes below the pages taken over
 * @m: the move: old and new span, ranges, sp, take_lo
 *
 * Copies [sp, take_lo): the part of the page sp cuts that is live.
 *
 * Return: 0, or -EINTR when a fatal signal stopped a long copy.
 */
int estack_move_copy(struct estack_move_plan *m)
{
	unsigned long addr = m->sp, n = 0;

	while (addr < m->take_lo) {
		unsigned long off = offset_in_page(addr);
		unsigned long len = min(PAGE_SIZE - off, m->take_lo - addr);
		struct page *to = estack_move_page(m->new_span, m->new_lo,
						   addr + m->delta);
		struct page *from = estack_move_page(m->old_span, m->old_lo,
						     addr);

		/* Whole pages with the architecture's page copy. */
		if (len == PAGE_SIZE)
			copy_highpage(to, from);
		else
			memcpy_page(to, off, from, off, len);
		/*
		 * Written behind the mapping's back: the PTE's dirty bit will
		 * not say so, and the mapped cache must clear it on reuse.
		 */
		SetPageDirty(to);
		addr += len;
		if (estack_resched_point(++n))
			return -EINTR;
	}
	m->copied = m->old_hi - m->sp;
	return 0;
}

static bool estack_in_old(const struct estack_move_plan *m, u64 v)
{
	return v >= m->old_lo && v < m->old_hi;
}

/* Is the 8-byte word at old address @addr in the copied range? */
static bool estack_in_copy(const struct estack_move_plan *m, u64 addr)
{
	return addr >= m->sp && addr <= m->old_hi - sizeof(u64) &&
	       IS_ALIGNED(addr, sizeof(u64));
}

/* The word the old address @addr was copied to, in the new span. */
static u64 estack_read_new(const struct estack_move_plan *m, u64 addr)
{
	u64 *p, v;

	p = kmap_local_page(estack_move_page(m->new_span, m->new_lo,
					     addr + m->delta));
	v = p[offset_in_page(addr) / sizeof(u64)];
	kunmap_local(p);
	return v;
}

static void estack_write_new(struct estack_move_plan *m, u64 addr, u64 v)
{
	u64 *p;

	p = kmap_local_page(estack_move_page(m->new_span, m->new_lo,
					     addr + m->delta));
	p[offset_in_page(addr) / sizeof(u64)] = v;
	kunmap_local(p);
}

/**
 * estack_move_adjust_word() - relocate one copied word if it points in
 * @m: the move
 * @addr: old address of the word, in the copied range and aligned
 *
 * Return: true if the word was rewritten.
 */
bool estack_move_adjust_word(struct estack_move_plan *m, u64 addr)
{
	u64 v = estack_read_new(m, addr);

	if (!estack_in_old(m, v) || !estack_move_log(m, addr))
		return false;
	estack_write_new(m, addr, v + m->delta);
	m->adjusted++;
	return true;
}

/**
 * estack_move_adjust_fp() - relocate the saved frame-pointer chain
 * @m: the move; @m->fp is the innermost frame pointer and comes back
 *	relocated when it pointed into the old stack
 *
 * Each frame's first word holds the caller's frame pointer. The walk goes
 * on while the next frame lies in the copied range and above the current
 * one (a loop or a jump out of the stack ends it), for at most
 * ESTACK_MAX_FRAMES frames.
 *
 * A deep stack has tens of frames per page: the walk keeps the kernel
 * mapping of the page it is in and maps another only when a frame lies on
 * one (delta is page-aligned, so a page of the old stack lands on one page
 * of the new span). The mapping is dropped before each resched point.
 *
 * Return: 0, or -EINTR when a fatal signal stopped a long walk.
 */
int estack_move_adjust_fp(struct estack_move_plan *m)
{
	/* In locals: a store through the page could alias any field of *m. */
	const u64 lo = m->old_lo, hi = m->old_hi, sp = m->sp, delta = m->delta;
	const u64 log_lo = m->log_lo;
	unsigned long *log = m->undo;
	u64 frame = m->fp, next, page = 0, adjusted = 0, *words = NULL;
	unsigned int depth = 0, i;
	int ret = 0;

	if (frame < lo || frame >= hi)
		return 0;
	m->fp = frame + delta;
	/* No log: sp is old_hi, and no word is copied. */
	if (!log)
		return 0;
	/* Each frame in the copied range, aligned, above the one before. */
	while (frame >= sp && frame <= hi - sizeof(u64) &&
	       IS_ALIGNED(frame, sizeof(u64)) && depth++ < ESTACK_MAX_FRAMES) {
		if (!words || (frame & PAGE_MASK) != page) {
			if (words)
				kunmap_local(words);
			page = frame & PAGE_MASK;
			words = kmap_local_page(estack_move_page(m->new_span,
								 m->new_lo,
								 page + delta));
		}
		i = offset_in_page(frame) / sizeof(u64);
		next = words[i];
		if (next < lo || next >= hi || next <= frame)
			break;
		if (estack_log_mark(log, (frame - log_lo) / sizeof(u64))) {
			words[i] = next + delta;
			adjusted++;
		}
		frame = next;
		if (!(depth % ESTACK_RESCHED_PAGES)) {
			kunmap_local(words);
			words = NULL;
			if (estack_resched_point(depth)) {
				ret = -EINTR;
				break;
			}
		}
	}
	if (words)
		kunmap_local(words);
	m->adjusted += adjusted;
	return ret;
}

/**
 * estack_move_adjust_conservative() - relocate every word that looks like
 *	a pointer into the old stack
 * @m: the move
 *
 * Scans every 8-byte-aligned word of the copied range. An integer that
 * happens to look like such an address is rewritten too: that is the
 * documented hazard of the mode.
 *
 * Return: 0, or -EINTR when a fatal signal stopped a long scan.
 */
int estack_move_adjust_conservative(struct estack_move_plan *m)
{
	u64 addr = ALIGN(m->sp, sizeof(u64));
	unsigned long n = 0;

	while (addr + sizeof(u64) <= m->old_hi) {
		u64 end = min_t(u64, m->old_hi, ALIGN(addr + 1, PAGE_SIZE));
		u64 *p = kmap_local_page(estack_move_page(m->new_span, m->new_lo,
							  addr + m->delta));
		u64 a;

		for (a = addr; a + sizeof(u64) <= end; a += sizeof(u64)) {
			u64 *w = &p[offset_in_page(a) / sizeof(u64)];

			if (estack_in_old(m, *w) && estack_move_log(m, a)) {
				*w += m->delta;
				m->adjusted++;
			}
		}
		kunmap_local(p);
		addr = end;
		if (estack_resched_point(++n))
			return -EINTR;
	}
	return 0;
}

/**
 * estack_move_adjust_inner_slot() - relocate a slot that lives in the stack
 * @m: the move
 * @slot: old address of the slot
 *
 * The slot is read and written at its new place. A slot in the old stack
 * but outside the copied range (below sp) holds nothing live and is left.
 */
void estack_move_adjust_inner_slot(struct estack_move_plan *m, u64 slot)
{
	if (estack_in_copy(m, slot))
		estack_move_adjust_word(m, slot);
}

static int estack_outer_cmp(const void *a, const void *b)
{
	const struct estack_outer_slot *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/**
 * estack_move_read_outer() - read the slots that lie outside the old stack
 * @m: the move
 * @slots: the slot addresses
 * @nr: how many
 * @outer: filled with the slots outside the old stack and their values
 * @nr_outer: set to the number of entries of @outer filled
 * @fault: set to the address that could not be read
 *
 * Nothing is written here: a slot is only ever written with its relocated
 * value. Reads without taking a page fault (a fault on an arena needs
 * ctx->lock, which the caller holds). A slot listed more than once is kept
 * once, as a word inside the stack is relocated once however many ways
 * name it: @outer comes back sorted by address, without duplicates.
 *
 * Return: 0, or -EFAULT with @fault set.
 */
int estack_move_read_outer(const struct estack_move_plan *m, const u64 *slots,
			   unsigned int nr, struct estack_outer_slot *outer,
			   unsigned int *nr_outer, u64 *fault)
{
	unsigned int i, n = 0;
	u64 v;

	for (i = 0; i < nr; i++) {
		if (slots[i] >= m->old_lo && slots[i] < m->old_hi)
			continue;
		if (copy_from_user_nofault(&v, u64_to_user_ptr(slots[i]),
					   sizeof(v))) {
			*fault = slots[i];
			return -EFAULT;
		}
		outer[n].addr = slots[i];
		outer[n].old = v;
		outer[n].written = false;
		n++;
	}
	sort(outer, n, sizeof(*outer), estack_outer_cmp, NULL);
	for (i = 0, *nr_outer = 0; i < n; i++)
		if (!i || outer[i].addr != outer[i - 1].addr)
			outer[(*nr_outer)++] = outer[i];
	return 0;
}

/**
 * estack_put_user_or_undo() - write user memory without faulting, or not at all
 * @dst: the user address
 * @val: what to write there
 * @old: what is there now, to put back
 * @len: bytes
 * @torn: set when a write that failed part-way could not be undone
 *
 * A copy that faults part-way has written the bytes before the first page
 * it could not write: the generic contract only promises that nothing past
 * the count it returns is touched, and x86-64's copies (the only
 * architecture estack builds for) end in a byte-exact tail, so the count
 * is exact. The copy of @old stops at that same byte and puts back exactly
 * those bytes; only if it stops sooner (the page went in between: reclaim,
 * MADV_DONTNEED or MADV_PAGEOUT from another thread, NUMA hinting,
 * migration) do bytes stay changed, and @torn says so.
 *
 * Return: 0, or -EFAULT with @dst as it was unless *@torn.
 */
int estack_put_user_or_undo(void __user *dst, const void *val,
			    const void *old, size_t len, bool *torn)
{
	unsigned long left, back = 0;

	*torn = false;
	if (!access_ok(dst, len))
		return -EFAULT;
	pagefault_disable();
	left = __copy_to_user_inatomic(dst, val, len);
	if (left && left < len)
		back = __copy_to_user_inatomic(dst, old, len);
	pagefault_enable();
	if (!left)
		return 0;
	*torn = back > left;
	return -EFAULT;
}

/**
 * estack_move_restore_outer() - put back the slots written
 * @outer: the slots of estack_move_read_outer()
 * @nr: how many
 *
 * What was written lay in pages that were present a moment ago: the writes
 * back do not fault unless one went since (the same races as
 * estack_put_user_or_undo()'s), which the warning reports.
 */
void estack_move_restore_outer(struct estack_outer_slot *outer,
			       unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		if (outer[i].written &&
		    copy_to_user_nofault(u64_to_user_ptr(outer[i].addr),
					 &outer[i].old, sizeof(outer[i].old)))
			pr_warn_ratelimited("estack: could not restore a slot\n");
		outer[i].written = false;
	}
}

/**
 * estack_move_write_outer() - relocate the slots outside the old stack
 * @m: the move; @m->adjusted counts the words rewritten
 * @outer: the slots of estack_move_read_outer()
 * @nr: how many
 * @fault: set to the address that could not be written
 *
 * Writes without taking a page fault.
 *
 * Return: 0, or -EFAULT with every slot put back and @fault set.
 */
int estack_move_write_outer(struct estack_move_plan *m,
			    struct estack_outer_slot *outer, unsigned int nr,
			    u64 *fault)
{
	unsigned int i;
	bool torn;
	u64 v;

	for (i = 0; i < nr; i++) {
		if (outer[i].old < m->old_lo || outer[i].old >= m->old_hi)
			continue;
		v = outer[i].old + m->delta;
		/* A slot is any 8 bytes: it may run into a page it cannot write. */
		if (estack_put_user_or_undo(u64_to_user_ptr(outer[i].addr), &v,
					    &outer[i].old, sizeof(v), &torn)) {
			if (torn)
				pr_warn_ratelimited("estack: could not restore a slot\n");
			*fault = outer[i].addr;
			estack_move_restore_outer(outer, nr);
			return -EFAULT;
		}
		outer[i].written = true;
		m->adjusted++;
	}
	return 0;
}
