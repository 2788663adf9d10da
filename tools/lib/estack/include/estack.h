/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libestack: elastic stacks for fiber runtimes.
 *
 * Copyright (C) 2026 The estack authors
 *
 * A pool hands out stacks that grow down, each with a guard below lo that
 * faults on touch. With the estack module loaded the stacks come from
 * /dev/estack (many stacks per mapping, grown and shrunk by the kernel);
 * without it, and when asked (ESTACK_POOL_FALLBACK), from one large
 * anonymous mapping per pool with guard pages, grown and shrunk by copy in
 * user space with the same relocation rules. The API and its semantics are
 * the same in both modes. See libestack(3).
 *
 * Every function that can fail returns 0 (or a documented positive value)
 * on success and a negative errno on failure; none sets errno. The pool is
 * safe to use from many threads at once; a struct estack_stack is the
 * caller's and is used by one thread at a time.
 */
#ifndef ESTACK_H
#define ESTACK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ESTACK_LIB_MAJOR	1
#define ESTACK_LIB_MINOR	0

/* flags of estack_pool_open() */
/* use plain mmap when /dev/estack is absent or lacks a needed feature */
#define ESTACK_POOL_FALLBACK		(1u << 0)
/* always plain mmap, even with the module loaded */
#define ESTACK_POOL_FORCE_FALLBACK	(1u << 1)
/* no per-thread cache: every alloc and free goes to the backend */
#define ESTACK_POOL_NO_CACHE		(1u << 2)

/* what estack_pool_mode() returns */
#define ESTACK_MODE_KERNEL	1	/* stacks from /dev/estack */
#define ESTACK_MODE_FALLBACK	2	/* stacks from the library's mmap */

/* flags of estack_stack_grow() and estack_stack_shrink(): the uAPI's */
#ifndef ESTACK_MOVE_ADJUST_FP
#define ESTACK_MOVE_ADJUST_FP		0x1U
#define ESTACK_MOVE_ADJUST_CONSERVATIVE	0x2U
#endif

struct estack_pool;

/**
 * struct estack_stack - the caller's handle of one stack
 * @lo: lowest usable byte; the guard lies just below it
 * @hi: one past the highest usable byte: the initial stack pointer
 * @priv: private to the library (the stack's id and bookkeeping): do not
 *	read or change it
 */
struct estack_stack {
	void *lo;
	void *hi;
	uint64_t priv[2];
};

/* Pools */
int estack_pool_open(struct estack_pool **pool, unsigned int flags);
void estack_pool_close(struct estack_pool *pool);
int estack_pool_mode(const struct estack_pool *pool);
int estack_pool_trim(struct estack_pool *pool);
/* the process-wide pool, opened on first use with ESTACK_POOL_FALLBACK */
struct estack_pool *estack_pool_default(void);

/**
 * struct estack_pool_info - what estack_pool_query() reports
 * @mode: %ESTACK_MODE_KERNEL or %ESTACK_MODE_FALLBACK
 * @page_size: bytes of a page
 * @guard_size: bytes of the guard below each stack
 * @min_stack: smallest stack, in bytes
 * @max_stack: largest stack, in bytes
 * @live: stacks allocated and not freed
 * @cached: free stacks held in the per-thread caches and the pool
 * @cached_bytes: their usable bytes
 */
struct estack_pool_info {
	int mode;
	unsigned int page_size;
	size_t guard_size;
	size_t min_stack;
	size_t max_stack;
	size_t live;
	size_t cached;
	size_t cached_bytes;
};

int estack_pool_query(struct estack_pool *pool, struct estack_pool_info *info);

/* Stacks */
int estack_stack_alloc(struct estack_pool *pool, size_t bytes,
		       struct estack_stack *st);
int estack_stack_free(struct estack_pool *pool, struct estack_stack *st);

/*
 * *sp: the fiber's saved stack pointer, updated; *fp: its saved frame
 * pointer (NULL: no frame-chain walk), updated; slot_addrs: addresses of
 * pointer-sized words outside or inside the stack that are rewritten when
 * they point into it; flags: ESTACK_MOVE_ADJUST_*. bytes of grow: 0
 * doubles. Neither may be called on the stack being moved (-EBUSY).
 * estack_stack_shrink() halves a stack that uses less than a quarter and
 * otherwise returns 0 leaving it as it was (compare st->lo to tell).
 */
int estack_stack_grow(struct estack_pool *pool, struct estack_stack *st,
		      void **sp, void **fp, void *const *slot_addrs,
		      unsigned int nr_slots, unsigned int flags);
int estack_stack_grow_to(struct estack_pool *pool, struct estack_stack *st,
			 size_t bytes, void **sp, void **fp,
			 void *const *slot_addrs, unsigned int nr_slots,
			 unsigned int flags);
int estack_stack_shrink(struct estack_pool *pool, struct estack_stack *st,
			void **sp, void **fp, void *const *slot_addrs,
			unsigned int nr_slots, unsigned int flags);

/*
 * 1 when addr is in the guard of a live stack of the pool, filling *st
 * (st may be NULL); 0 otherwise. Async-signal-safe: no locks, no
 * allocation, so a SIGSEGV handler running on a sigaltstack may call it.
 */
int estack_guard_hit(struct estack_pool *pool, const void *addr,
		     struct estack_stack *st);

static inline size_t estack_stack_size(const struct estack_stack *st)
{
	return (size_t)((char *)st->hi - (char *)st->lo);
}

#ifdef __cplusplus
}
#endif

#endif /* ESTACK_H */
