// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * libestack's moves by copy in user space: GROW and SHRINK into another
 * stack of the pool and relocation here, with the rules of the module
 * (kmod/relocate.c): a word is rewritten only if its value lies in the old
 * [lo, hi), by adding delta = new hi - old hi; the frame-pointer chain
 * first (each frame's first word is the caller's frame pointer; the walk
 * stops when the next frame leaves the copied range or does not strictly
 * increase, or after ES_MAX_FRAMES frames), then the slots inside the
 * stack (read and written at their new place), then with
 * ESTACK_MOVE_ADJUST_CONSERVATIVE every 8-byte-aligned word of the copied
 * range; last the slots outside the stack. Each word is rewritten at most
 * once, however many ways name it: a word of the new stack is computed
 * from its value in the old one, which the move leaves as it was, and the
 * slots outside are all read before any is written. (A rewritten value
 * can point into the old stack again: a SHRINK's new stack often lies
 * less than the old size above it, and a stale pointer below sp moves by
 * delta into the old range.)
 *
 * Everything is built in the new stack before anything the caller sees
 * changes; the only failure (no new stack) comes first.
 *
 * Every move of the fallback comes here, and in kernel mode the moves
 * between two sizes the per-thread caches hold: both stacks are then the
 * module's, mapped in this process, and the copy costs no system call.
 *
 * Copyright (C) 2026 The estack authors
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct es_plan {
	uintptr_t old_lo, old_hi;
	uintptr_t sp;
	intptr_t delta;
};

static bool es_in_old(const struct es_plan *m, uintptr_t v)
{
	return v >= m->old_lo && v < m->old_hi;
}

/* Is the word at old address @addr in the copied range, and aligned? */
static bool es_in_copy(const struct es_plan *m, uintptr_t addr)
{
	return addr >= m->sp && addr + sizeof(uint64_t) <= m->old_hi &&
	       !(addr & (sizeof(uint64_t) - 1));
}

/* The copy of the word at old address @addr. */
static uintptr_t *es_new_word(const struct es_plan *m, uintptr_t addr)
{
	return (uintptr_t *)(addr + m->delta);
}

/* The word at old address @addr as it was: the old stack is not written. */
static uintptr_t es_old_word(uintptr_t addr)
{
	return *(const uintptr_t *)addr;
}

static unsigned long es_adjust_word(const struct es_plan *m, uintptr_t addr)
{
	uintptr_t v = es_old_word(addr);

	if (!es_in_old(m, v))
		return 0;
	*es_new_word(m, addr) = v + m->delta;
	return 1;
}

static unsigned long es_adjust_fp(const struct es_plan *m, uintptr_t *fp)
{
	uintptr_t frame = *fp, next;
	unsigned long adjusted = 0;
	unsigned int depth = 0;

	if (!es_in_old(m, frame))
		return 0;
	*fp = frame + m->delta;
	while (es_in_copy(m, frame) && depth++ < ES_MAX_FRAMES) {
		next = es_old_word(frame);
		if (!es_in_old(m, next) || next <= frame)
			break;
		*es_new_word(m, frame) = next + m->delta;
		adjusted++;
		frame = next;
	}
	return adjusted;
}

static unsigned long es_adjust_conservative(const struct es_plan *m)
{
	uintptr_t a = (m->sp + sizeof(uint64_t) - 1) & ~(sizeof(uint64_t) - 1);
	unsigned long adjusted = 0;

	for (; a + sizeof(uint64_t) <= m->old_hi; a += sizeof(uint64_t))
		adjusted += es_adjust_word(m, a);
	return adjusted;
}

/* A slot's address and, outside the stack, its value before the move. */
struct es_slot {
	uintptr_t addr;
	uintptr_t val;
};

/* Slots a move keeps without malloc(). */
#define ES_SLOTS_INLINE	16

int es_copy_move(struct estack_pool *pool, uint32_t idx, size_t new_size,
		 void **sp, void **fp, void *const *slots,
		 unsigned int nr_slots, unsigned int flags)
{
	struct es_entry *e = es_dir_get(pool, idx), *n;
	struct es_slot sl_inline[ES_SLOTS_INLINE], *sl = sl_inline;
	uintptr_t new_lo, new_hi, new_sp, nfp;
	struct es_plan m;
	uint32_t nidx, kid;
	unsigned int i;
	bool fresh;
	int ret;

	if (nr_slots > ES_SLOTS_INLINE) {
		sl = malloc(nr_slots * sizeof(*sl));
		if (!sl)
			return -ENOMEM;
	}
	ret = es_alloc_entry(pool, new_size, &nidx);
	if (ret)
		goto out;
	n = es_dir_get(pool, nidx);
	new_lo = n->lo;
	new_hi = n->hi;
	fresh = n->fresh;

	m.old_lo = e->lo;
	m.old_hi = e->hi;
	m.sp = (uintptr_t)*sp;
	m.delta = (intptr_t)(new_hi - m.old_hi);
	new_sp = m.sp + m.delta;

	/*
	 * The live part is copied whole, the redzones ASan poisoned around
	 * the fiber's locals too; the rest reads as zero, as the module's
	 * new stacks do.
	 */
	es_san_unpoison(m.sp, m.old_hi - m.sp);
	es_san_unpoison(new_lo, new_hi - new_lo);
	es_vg_mem(new_lo, new_hi - new_lo, true);
	es_vg_mem(m.sp, m.old_hi - m.sp, true);
	if (!fresh)
		memset((void *)new_lo, 0, new_sp - new_lo);
	memcpy((void *)new_sp, (void *)m.sp, m.old_hi - m.sp);

	/*
	 * The slot array, then the slots outside, all read before anything
	 * is written, as the module copies them in first: a slot listed
	 * twice, or naming *fp, *sp or a word of the array itself, is
	 * written alike each time, and no address is read after a write.
	 */
	for (i = 0; i < nr_slots; i++)
		sl[i].addr = (uintptr_t)slots[i];
	for (i = 0; i < nr_slots; i++)
		if (!es_in_old(&m, sl[i].addr))
			sl[i].val = *(const uintptr_t *)sl[i].addr;
	nfp = fp ? (uintptr_t)*fp : 0;
	if (fp && (flags & ESTACK_MOVE_ADJUST_FP))
		es_adjust_fp(&m, &nfp);
	else if (fp && es_in_old(&m, nfp))
		nfp += m.delta;
	for (i = 0; i < nr_slots; i++)
		if (es_in_old(&m, sl[i].addr) && es_in_copy(&m, sl[i].addr))
			es_adjust_word(&m, sl[i].addr);
	if (flags & ESTACK_MOVE_ADJUST_CONSERVATIVE)
		es_adjust_conservative(&m);
	for (i = 0; i < nr_slots; i++)
		if (!es_in_old(&m, sl[i].addr) && es_in_old(&m, sl[i].val))
			*(uintptr_t *)sl[i].addr = sl[i].val + m.delta;
	if (fp)
		*fp = (void *)nfp;
	*sp = (void *)new_sp;

	/*
	 * The handle's entry takes the new stack (and its kernel id); the
	 * other entry, the old one, goes where freed stacks go. Only the
	 * holder of an entry reads its kid: no sequence count needed.
	 */
	kid = n->kid;
	es_entry_set(n, ES_CACHED, m.old_lo, m.old_hi, 0);
	n->kid = e->kid;
	n->fresh = false;
	es_entry_set(e, e->state, new_lo, new_hi, e->key);
	e->kid = kid;
	e->fresh = false;
	es_san_unpoison(m.old_lo, m.old_hi - m.old_lo);
	es_release_entry(pool, nidx);
out:
	if (sl != sl_inline)
		free(sl);
	return ret;
}
