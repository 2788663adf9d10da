/* SPDX-License-Identifier: GPL-2.0 */
/*
 * estack parameters layer (params.c, size.c): the module's tunables, the
 * stack classes and the size arithmetic of the ABI. Pure data and pure
 * functions; includes no other estack header.
 *
 * Copyright (C) 2026 The estack authors
 */
#ifndef _ESTACK_PARAMS_H
#define _ESTACK_PARAMS_H

#include <linux/jump_label.h>
#include <linux/mm.h>
#include <linux/types.h>
#include <kunit/visibility.h>

#include <linux/estack.h>

/**
 * struct estack_tunable - a module parameter with bounds
 * @val: current value; written by the parameter setter only, read with
 *	READ_ONCE() by everyone else (a reader sees the old or the new value)
 * @min: smallest accepted value
 * @max: largest accepted value
 * @pow2: value must be a power of two
 * @set: given at insmod time or written since; a default that depends on
 *	the machine is computed at init only when it was not
 *
 * All estack module parameters go through estack_tunable_ops so that a
 * value outside [@min, @max] is refused with -EINVAL both at insmod time and
 * when root writes /sys/module/estack/parameters/<name>.
 */
struct estack_tunable {
	unsigned long val;
	unsigned long min;
	unsigned long max;
	bool pow2;
	bool set;
};

/**
 * struct estack_tunables - every tunable of the module, in one place
 * @max_stack: largest stack, bytes (Go's maxstacksize); GROW past it and
 *	ALLOC above it fail with EFBIG
 * @max_stacks_per_fd: most live stacks one open file may hold (ENOSPC)
 * @max_bytes_per_fd: most usable bytes of stacks one open file holds,
 *	live or kept mapped in its mapped cache (ENOSPC); default 1/4 of RAM
 * @max_bytes_per_user: the same per user, across all of that user's files
 *	(ENOSPC); default 1/4 of RAM
 * @cache_budget: bytes each per-CPU cache may hold per small class (Go's
 *	_StackCacheSize); 0 turns the caches off
 * @pool_reserve: bytes of free stacks the global pools keep before they
 *	return freed stacks to the page allocator; default 1/16 of RAM, at
 *	most 256 MiB
 * @mapped_cache: bytes of freed stacks each open file keeps mapped per
 *	small class, for its next ALLOC of that size; 0 turns it off
 */
struct estack_tunables {
	struct estack_tunable max_stack;
	struct estack_tunable max_stacks_per_fd;
	struct estack_tunable max_bytes_per_fd;
	struct estack_tunable max_bytes_per_user;
	struct estack_tunable cache_budget;
	struct estack_tunable pool_reserve;
	struct estack_tunable mapped_cache;
};

extern struct estack_tunables estack_tunables;

/*
 * The event counters can be switched off (module parameter "stats") to
 * measure what they cost; allocs and frees are always counted, since the
 * in-use figures and the unload check derive from them.
 */
DECLARE_STATIC_KEY_TRUE(estack_stats_enabled);

static inline unsigned long estack_tunable_get(const struct estack_tunable *t)
{
	return READ_ONCE(t->val);
}

int estack_tunable_check(const struct estack_tunable *t, unsigned long val);
unsigned long estack_default_user_bytes(unsigned long ram);
unsigned long estack_default_pool_reserve(unsigned long ram);
void estack_tunables_init(void);

/* Stack classes: a stack of order o is 2^o pages. */
#define ESTACK_NR_SMALL		4	/* 4, 8, 16, 32 KiB: per-CPU cached */
#define ESTACK_MAX_ORDER	(30 - PAGE_SHIFT)	/* 1 GiB */
#define ESTACK_NR_ORDERS	(ESTACK_MAX_ORDER + 1)
/*
 * Largest block a span asks the page allocator for; it is split at once
 * into individually refcounted pages. Larger blocks buy little for stacks
 * and fail first on a fragmented machine.
 */
#define ESTACK_CHUNK_ORDER	3

/* Stack classes: a stack of order o is 2^o pages. */
#define ESTACK_NR_SMALL		4	/* 4, 8, 16, 32 KiB: per-CPU cached */
#define ESTACK_MAX_ORDER	(30 - PAGE_SHIFT)	/* 1 GiB */
#define ESTACK_NR_ORDERS	(ESTACK_MAX_ORDER + 1)
/*
 * Largest block a span asks the page allocator for; it is split at once
 * into individually refcounted pages. Larger blocks buy little for stacks
 * and fail first on a fragmented machine.
 */
#define ESTACK_CHUNK_ORDER	3

/*
 * A struct longer than a page cannot be a future version of ours; refusing
 * it bounds the zero check of its tail.
 */
#define ESTACK_ARGS_MAX_SIZE	PAGE_SIZE

int estack_args_size_check(u32 usize, size_t ver0);
int estack_size_alloc(u64 bytes, u64 max, u64 *size);
int estack_size_grow(u64 cur, u64 bytes, u64 max, u64 *size);
u64 estack_size_shrink(u64 cur, u64 used);
bool estack_range_meets(u64 addr, u64 len, u64 lo, u64 hi);

#endif /* _ESTACK_PARAMS_H */
