// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * libestack's fallback backend: stacks from the library's own anonymous
 * mapping when /dev/estack is absent (or not wanted).
 *
 * Copyright (C) 2026 The estack authors
 *
 * A pool reserves one large MAP_NORESERVE, PROT_NONE mapping (64 GiB of
 * address space on 64-bit, more reservations when it fills) and carves it
 * into slots: a guard of pool->guard bytes, then the stack, made
 * read/write as they are carved. The guard is
 * installed with MADV_GUARD_INSTALL (Linux 6.13+), which costs no VMA,
 * else with mprotect(PROT_NONE), which splits the mapping: two VMAs per
 * stack, against vm.max_map_count. A freed slot keeps its guard and goes
 * on a free list of its size after MADV_DONTNEED, so it reads as zero when
 * handed out again. The mapping is MADV_DONTFORK: a child of fork() has
 * none of it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL	102
#endif
#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED	24
#endif

#define ES_FB_REGION_MAX	(sizeof(void *) == 8 ? (64UL << 30) : (256UL << 20))
#define ES_FB_REGION_MIN	(64UL << 20)

static unsigned int es_log2(size_t v)
{
	return (unsigned int)(8 * sizeof(unsigned long) - 1 -
			      __builtin_clzl((unsigned long)v));
}

int es_fb_init(struct estack_pool *pool)
{
	const char *guard = getenv("ESTACK_FALLBACK_GUARD");

	memset(&pool->fb, 0, sizeof(pool->fb));
	pool->fb.region_size = ES_FB_REGION_MAX;
	pool->fb.mprotect_guards = guard && !strcmp(guard, "mprotect");
	return 0;
}

/*
 * Unmap a reservation, its used part in steps: with mprotect() guards that
 * part is two VMAs per stack, and the kernel frees the page tables of one
 * munmap() without rescheduling (a 6.12 debug kernel under emulation
 * reported a soft lockup of 23 s for a pool of ten thousand fibers).
 */
#define ES_FB_UNMAP_STEP	(8UL << 20)

static void es_fb_unmap(const struct es_region *r)
{
	size_t off = 0, n;

	while (off < r->used) {
		n = r->used - off;
		if (n > ES_FB_UNMAP_STEP)
			n = ES_FB_UNMAP_STEP;
		munmap((void *)(r->base + off), n);
		off += n;
	}
	if (off < r->len)
		munmap((void *)(r->base + off), r->len - off);
}

/* Unmap every reservation and forget every slot. */
void es_fb_destroy(struct estack_pool *pool)
{
	struct es_fallback *fb = &pool->fb;
	unsigned int i;

	for (i = 0; i < fb->nr_regions; i++)
		es_fb_unmap(&fb->regions[i]);
	for (i = 0; i < ES_FB_ORDERS; i++)
		free(fb->free[i]);
	fb->nr_regions = 0;
	memset(fb->free, 0, sizeof(fb->free));
	memset(fb->nr_free, 0, sizeof(fb->nr_free));
	memset(fb->cap_free, 0, sizeof(fb->cap_free));
}

/*
 * After fork: the reservations are MADV_DONTFORK, not in the child. Forget
 * them without munmap (nothing of ours is mapped there now).
 */
void es_fb_fork_reset(struct estack_pool *pool)
{
	struct es_fallback *fb = &pool->fb;
	unsigned int i;

	fb->nr_regions = 0;
	for (i = 0; i < ES_FB_ORDERS; i++)
		fb->nr_free[i] = 0;
}

/* A new reservation with room for @need bytes. pool->lock. */
static int es_fb_region_add(struct estack_pool *pool, size_t need)
{
	struct es_fallback *fb = &pool->fb;
	size_t len = fb->region_size;
	void *p = MAP_FAILED;

	if (fb->nr_regions == ES_FB_MAX_REGIONS)
		return -ENOMEM;
	while (len < need)
		len *= 2;
	for (;;) {
		p = mmap(NULL, len, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p != MAP_FAILED)
			break;
		/* Under RLIMIT_AS, say, or valgrind: try less. */
		if (len / 2 < need || len / 2 < ES_FB_REGION_MIN)
			return -ENOMEM;
		len /= 2;
		fb->region_size = len;
	}
	madvise(p, len, MADV_DONTFORK);
	fb->regions[fb->nr_regions].base = (uintptr_t)p;
	fb->regions[fb->nr_regions].len = len;
	fb->regions[fb->nr_regions].used = 0;
	fb->nr_regions++;
	return 0;
}

/*
 * Open a new slot at @addr for a stack of @size: the reservation is
 * PROT_NONE until carved (nothing reads it, Valgrind's leak check
 * included). With guard markers the whole slot becomes read/write, one
 * VMA with the slots before it, and the guard a marker; else only the
 * stack does, and the guard stays PROT_NONE.
 */
static int es_fb_open_slot(struct estack_pool *pool, uintptr_t addr,
			   size_t size)
{
	struct es_fallback *fb = &pool->fb;
	const int rw = PROT_READ | PROT_WRITE;

	if (!fb->mprotect_guards) {
		if (mprotect((void *)addr, pool->guard + size, rw))
			return -ENOMEM;
		if (!madvise((void *)addr, pool->guard, MADV_GUARD_INSTALL))
			return 0;
		if (errno == ENOMEM)
			return -ENOMEM;
		/*
		 * A kernel before 6.13 (EINVAL), a mapping it will not guard
		 * (locked by mlockall(): EINVAL too), or a sandbox that
		 * refuses the call (EPERM, ENOSYS): guards by mprotect().
		 */
		fb->mprotect_guards = true;
		if (mprotect((void *)addr, pool->guard, PROT_NONE))
			return -ENOMEM;
		return 0;
	}
	return mprotect((void *)(addr + pool->guard), size, rw) ? -ENOMEM : 0;
}

/* A new slot for a stack of @size bytes, carved out. pool->lock. */
static int es_fb_carve(struct estack_pool *pool, size_t size, uintptr_t *lo)
{
	struct es_fallback *fb = &pool->fb;
	size_t need = pool->guard + size;
	struct es_region *r;
	int ret;

	r = fb->nr_regions ? &fb->regions[fb->nr_regions - 1] : NULL;
	if (!r || r->len - r->used < need) {
		ret = es_fb_region_add(pool, need);
		if (ret)
			return ret;
		r = &fb->regions[fb->nr_regions - 1];
	}
	ret = es_fb_open_slot(pool, r->base + r->used, size);
	if (ret)
		return ret;
	*lo = r->base + r->used + pool->guard;
	r->used += need;
	return 0;
}

int es_fb_alloc(struct estack_pool *pool, size_t size, struct es_raw *raw,
		unsigned int nr)
{
	unsigned int order = es_log2(size), i;
	struct es_fallback *fb = &pool->fb;
	uintptr_t lo;
	int ret = 0;

	es_lock(pool);
	for (i = 0; i < nr; i++) {
		if (fb->nr_free[order]) {
			lo = fb->free[order][--fb->nr_free[order]];
		} else {
			ret = es_fb_carve(pool, size, &lo);
			if (ret)
				break;
		}
		raw[i].lo = lo;
		raw[i].hi = lo + size;
		raw[i].kid = 0;
	}
	es_unlock(pool);
	return i ? (int)i : ret;
}

void es_fb_free(struct estack_pool *pool, const struct es_raw *raw,
		unsigned int nr)
{
	struct es_fallback *fb = &pool->fb;
	unsigned int i, order;
	size_t size;

	for (i = 0; i < nr; i++) {
		size = raw[i].hi - raw[i].lo;
		es_san_unpoison(raw[i].lo, size);
		/*
		 * Zero on the next touch, and the pages go back now. Memory
		 * the process locked (mlockall(MCL_FUTURE) locks the mapping
		 * too) refuses MADV_DONTNEED: MADV_DONTNEED_LOCKED (5.18)
		 * drops it, swapped-out pages included. Before it (or where
		 * a sandbox refuses that advice), clear every byte: slow,
		 * and it faults in what was never touched, but no page of
		 * the stack can be known to read as zero otherwise.
		 */
		if (madvise((void *)raw[i].lo, size, MADV_DONTNEED) &&
		    madvise((void *)raw[i].lo, size, MADV_DONTNEED_LOCKED))
			memset((void *)raw[i].lo, 0, size);
	}
	es_lock(pool);
	for (i = 0; i < nr; i++) {
		size = raw[i].hi - raw[i].lo;
		order = es_log2(size);
		if (fb->nr_free[order] == fb->cap_free[order]) {
			size_t cap = fb->cap_free[order] ?
				     2 * fb->cap_free[order] : 64;
			uintptr_t *p = realloc(fb->free[order],
					       cap * sizeof(*p));

			/*
			 * No memory for the list: the slot is lost to this
			 * pool (its address space stays reserved), never
			 * handed out twice.
			 */
			if (!p)
				continue;
			fb->free[order] = p;
			fb->cap_free[order] = cap;
		}
		fb->free[order][fb->nr_free[order]++] = raw[i].lo;
	}
	es_unlock(pool);
}
