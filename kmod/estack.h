/* SPDX-License-Identifier: GPL-2.0 */
/*
 * estack internal interfaces.
 *
 * Layers, top to bottom; a request goes down one layer at a time and the
 * lock order follows the same direction (a layer may take its own locks
 * while holding the locks of the layers above it, never the reverse):
 *
 *   dev.c      ioctl dispatch: copy in, validate, copy out   (no locks)
 *   context.c  per-open-file context: the owner mm            (no locks yet)
 *   params.c   module tunables, read with READ_ONCE()         (no locks)
 *   size.c     size arithmetic of the ABI, pure functions     (no locks)
 *
 * Copyright (C) 2026 The estack authors
 */
#ifndef _ESTACK_H
#define _ESTACK_H

#include <linux/types.h>
#include <linux/sched.h>
#include <kunit/visibility.h>

#include <linux/estack.h>

/**
 * struct estack_tunable - a module parameter with bounds
 * @val: current value; written by the parameter setter only, read with
 *	READ_ONCE() by everyone else (a reader sees the old or the new value)
 * @min: smallest accepted value
 * @max: largest accepted value
 * @pow2: value must be a power of two
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
};

/**
 * struct estack_tunables - every tunable of the module, in one place
 * @max_stack: largest stack, bytes (Go's maxstacksize); GROW past it and
 *	ALLOC above it fail with EFBIG
 * @max_stacks_per_fd: most live stacks one open file may hold (ENOSPC)
 * @max_bytes_per_fd: most usable bytes of live stacks per open file
 *	(ENOSPC)
 * @max_bytes_per_user: most usable bytes of live stacks per user, across
 *	all of that user's files (ENOSPC)
 */
struct estack_tunables {
	struct estack_tunable max_stack;
	struct estack_tunable max_stacks_per_fd;
	struct estack_tunable max_bytes_per_fd;
	struct estack_tunable max_bytes_per_user;
};

extern struct estack_tunables estack_tunables;

static inline unsigned long estack_tunable_get(const struct estack_tunable *t)
{
	return READ_ONCE(t->val);
}

int estack_tunable_check(const struct estack_tunable *t, unsigned long val);

/**
 * struct estack_ctx - state of one open of /dev/estack
 * @mm: the address space that opened the file, pinned with mmgrab(); only
 *	callers whose current->mm is @mm may use the file. Set at open,
 *	never changed, dropped at release.
 */
struct estack_ctx {
	struct mm_struct *mm;
};

struct estack_ctx *estack_ctx_create(void);
void estack_ctx_destroy(struct estack_ctx *ctx);

/**
 * estack_ctx_owned_by_current() - may the calling task use @ctx?
 * @ctx: the context of the file
 *
 * Return: true when the caller runs in the mm that opened the file.
 */
static inline bool estack_ctx_owned_by_current(const struct estack_ctx *ctx)
{
	return ctx->mm == current->mm;
}

/*
 * A struct longer than a page cannot be a future version of ours; refusing
 * it bounds the zero check of its tail.
 */
#define ESTACK_ARGS_MAX_SIZE	PAGE_SIZE

int estack_args_size_check(u32 usize, size_t ver0);
int estack_size_alloc(u64 bytes, u64 max, u64 *size);
int estack_size_grow(u64 cur, u64 bytes, u64 max, u64 *size);
u64 estack_size_shrink(u64 cur, u64 used);

int estack_copy_args_in(void *karg, size_t ksize, size_t ver0,
			const void __user *uarg);
int estack_copy_args_out(void __user *uarg, const void *karg, size_t ksize,
			 u32 usize);

int estack_dev_init(void);
void estack_dev_exit(void);

#endif /* _ESTACK_H */
