// SPDX-License-Identifier: GPL-2.0
/*
 * estack moves: the pages a move takes over from the old stack, its undo
 * log, and the clearing of the new span.
 *
 * The live pages above the one sp cuts are not copied: the new span takes
 * them from the old one, giving it its own unused pages in exchange, so
 * both spans keep their size and their charge. Until the commit the old
 * stack still maps those pages, and the words relocated in them are
 * visible there: each is marked in the move's undo log, a bitmap of the
 * words of the pages taken, and a move that fails after the first such
 * write subtracts delta from every word marked and gives the pages back.
 * Everything else is built in pages the user cannot see.
 *
 * Concurrency: the caller holds ctx->lock and owns the new span, except
 * for estack_move_clear_bottom(), called without ctx->lock on a span no
 * one else has (with the mmap lock held for reading, or not: move.c).
 *
 * Copyright (C) 2026 The estack authors
 */

#include <linux/bitmap.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "move.h"

/* Index of the page at old address @addr in each span. */
static unsigned long estack_old_index(const struct estack_move_plan *m,
				      u64 addr)
{
	return (addr - m->old_lo) >> PAGE_SHIFT;
}

static unsigned long estack_new_index(const struct estack_move_plan *m,
				      u64 addr)
{
	return (addr + m->delta - m->new_lo) >> PAGE_SHIFT;
}

/* Exchange the i-th page taken (counted from take_lo) between the spans. */
static void estack_move_swap_page(struct estack_move_plan *m, unsigned long i)
{
	u64 addr = m->take_lo + (i << PAGE_SHIFT);

	swap(m->old_span->pages[estack_old_index(m, addr)],
	     m->new_span->pages[estack_new_index(m, addr)]);
}

/**
 * estack_move_take_pages() - give the new span the live pages above sp's
 * @m: the move; @m->taken counts the pages taken
 *
 * The pages of [take_lo, old_hi) change places with the new span's pages
 * that would have received their copy. They hold the user's data, written
 * through PTEs the new stack does not inherit: marked dirty, for the
 * mapped cache. estack_move_undo() puts them back.
 *
 * Return: 0, or -EINTR when a fatal signal stopped a long exchange.
 */
int estack_move_take_pages(struct estack_move_plan *m)
{
	unsigned long nr = (m->old_hi - m->take_lo) >> PAGE_SHIFT;

	u64 addr;

	while (m->taken < nr) {
		addr = m->take_lo + (m->taken << PAGE_SHIFT);
		estack_move_swap_page(m, m->taken);
		SetPageDirty(estack_move_page(m->new_span, m->new_lo,
					      addr + m->delta));
		if (estack_resched_point(++m->taken))
			return -EINTR;
	}
	return 0;
}

/**
 * estack_move_undo() - take back what a failed move did to the old stack
 * @m: the move, built up to any point
 *
 * Every word relocated gets its value back (the relocation added delta to
 * it once): this matters in the pages taken over, which the old stack
 * still maps; in the new span's own pages it is harmless. Then every page
 * taken goes back to the old span. It cannot stop halfway, and a
 * conservative move of a large stack full of pointers logs millions of
 * words: it yields the CPU every page's worth.
 *
 * Context: may sleep (ctx->lock and the mmap lock held).
 */
void estack_move_undo(struct estack_move_plan *m)
{
	unsigned long nbits = (m->old_hi - m->log_lo) / sizeof(u64), bit, i;
	unsigned long n = 0;
	u64 addr, *p;

	if (m->undo) {
		for_each_set_bit(bit, m->undo, nbits) {
			if (!(++n % (PAGE_SIZE / sizeof(u64))))
				cond_resched();
			addr = m->log_lo + bit * sizeof(u64);
			p = kmap_local_page(estack_move_page(m->new_span,
							     m->new_lo,
							     addr + m->delta));
			p[offset_in_page(addr) / sizeof(u64)] -= m->delta;
			kunmap_local(p);
		}
		bitmap_zero(m->undo, nbits);
	}
	for (i = 0; i < m->taken; i++)
		estack_move_swap_page(m, i);
	m->taken = 0;
}

/**
 * estack_move_clear_new() - clear what the copy will not overwrite
 * @m: the move; @m->cleared counts the pages cleared
 *
 * Only the pages below the live part, and the part of the page sp cuts
 * below sp, are cleared: the rest is copied over or taken from the old
 * stack. The lowest @m->clean pages are clear already (a large span has
 * them cleared with no lock held, before the move takes its locks), a
 * span that is not dirty needs nothing, and of a dirty one only the pages
 * marked PG_dirty (the span is claimed: see struct estack_span).
 *
 * Return: 0, or -EINTR when a fatal signal stopped a long clear.
 */
int estack_move_clear_new(struct estack_move_plan *m)
{
	struct estack_span *span = m->new_span;
	u64 new_sp = m->sp + m->delta;
	unsigned long first = (new_sp - m->new_lo) >> PAGE_SHIFT, i, n = 0;
	int ret = 0;

	if (!span->dirty)
		return 0;
	for (i = m->clean; i < first; i++) {
		if (estack_resched_point(i - m->clean + 1)) {
			ret = -EINTR;
			break;
		}
		if (!PageDirty(span->pages[i]))
			continue;
		clear_user_highpage(span->pages[i], m->new_lo + (i << PAGE_SHIFT));
		ClearPageDirty(span->pages[i]);
		n++;
	}
	/*
	 * The page sp cuts, unless it lies in the clean part: the copy marks
	 * it again when it writes the part above sp.
	 */
	if (!ret && offset_in_page(new_sp) && first >= m->clean &&
	    PageDirty(span->pages[first])) {
		clear_user_highpage(span->pages[first],
				    m->new_lo + (first << PAGE_SHIFT));
		ClearPageDirty(span->pages[first]);
		n++;
	}
	m->cleared += n;
	return ret;
}

/**
 * estack_move_clear_bottom() - clear the lowest pages of a new span
 * @a: the allocator, for the statistics
 * @span: a span for a move, uncleared, that no one else has
 * @below: how many pages, from the bottom: those that will lie wholly
 *	below the live part
 *
 * Called without ctx->lock: under it, clearing megabytes would stall every
 * other call on the file (the mmap lock may be held for reading: move.c).
 * Of a dirty span, claimed, only the pages marked PG_dirty are cleared:
 * the bottom of a stack that grew is seldom written, and its span comes
 * back to the file that grows next.
 *
 * Return: how many of the lowest pages are clear (all of them when the
 * span was not dirty), or -EINTR when a fatal signal stopped the clear.
 */
long estack_move_clear_bottom(struct estack_allocator *a,
			      struct estack_span *span, unsigned long below)
{
	unsigned long i, n = 0;

	might_sleep();
	if (!span->dirty)
		return estack_span_nr_pages(span);
	for (i = 0; i < below; i++) {
		n += estack_page_clear(span->pages[i]);
		if (estack_resched_point(i + 1)) {
			estack_stat_add(a, ESTACK_STAT_PAGES_ZEROED, n);
			return -EINTR;
		}
	}
	estack_stat_add(a, ESTACK_STAT_PAGES_ZEROED, n);
	return below;
}

/**
 * estack_undo_log_reserve() - room in the undo log for @nbits words
 * @log: the log's storage, kept across a move's attempts
 * @nbits: words of the pages taken over
 *
 * Up to two pages fit in @log itself (the common small GROW); more are
 * allocated, under the caller's locks like the trees' nodes.
 *
 * Return: the bitmap, all clear, or NULL when it could not be allocated.
 */
unsigned long *estack_undo_log_reserve(struct estack_undo_log *log,
				       unsigned long nbits)
{
	if (!log->map) {
		log->map = log->inline_map;
		log->bits = sizeof(log->inline_map) * BITS_PER_BYTE;
	}
	if (nbits > log->bits) {
		estack_undo_log_free(log);
		log->map = kvcalloc(BITS_TO_LONGS(nbits), sizeof(long),
				    GFP_KERNEL_ACCOUNT);
		if (!log->map)
			return NULL;
		log->bits = nbits;
	}
	/* Zeroed when allocated; estack_move_undo() clears what it used. */
	return log->map;
}
EXPORT_SYMBOL_IF_KUNIT(estack_undo_log_reserve);

/**
 * estack_undo_log_free() - free the undo log's storage
 * @log: the log, reserved or not
 */
void estack_undo_log_free(struct estack_undo_log *log)
{
	if (log->map != log->inline_map)
		kvfree(log->map);
	log->map = NULL;
	log->bits = 0;
}
EXPORT_SYMBOL_IF_KUNIT(estack_undo_log_free);
