/* SPDX-License-Identifier: GPL-2.0 */
/*
 * estack device layer (main.c, debugfs.c, sysfs.c, dev.c, batch.c):
 * /dev/estack, its ioctls, its statistics files, the module's init and
 * exit.
 *
 * Copyright (C) 2026 The estack authors
 */
#ifndef _ESTACK_DEV_H
#define _ESTACK_DEV_H

#include <linux/miscdevice.h>

#include "vma.h"

/**
 * struct estack_device - the /dev/estack device
 * @misc: the misc device; its struct device's drvdata points here
 * @alloc: the allocator every open of the device uses
 */
struct estack_device {
	struct miscdevice misc;
	struct estack_allocator *alloc;
};

int estack_copy_args_in(void *karg, size_t ksize, size_t ver0,
			const void __user *uarg);
int estack_copy_args_out(void __user *uarg, const void *karg, size_t ksize,
			 u32 usize);

int estack_dev_init(struct estack_allocator *a);
void estack_dev_exit(void);

/**
 * struct estack_batch_item - one item of a batch, from batch.c to dev.c
 * @uitem: (in) the item's struct in user space
 * @hdr: (in) the batch's header in user space, whose done is written after
 *	the item: a FREE item may not free a stack that holds any of it
 * @hdr_size: (in) the header's size bytes as checked; 0 outside a batch
 * @usize: (out) the item's size as checked: the next item starts there
 * @id: (out) the stack's id
 */
struct estack_batch_item {
	void __user *uitem;
	u64 hdr;
	u32 hdr_size;
	u32 usize;
	u32 id;
};

/**
 * struct estack_batch_ops - the single command a batch repeats (dev.c)
 * @item: runs the single command on @it->uitem exactly as its own ioctl
 *	does (copy in, checks, action, copy out); on success fills @it's
 *	outputs
 * @undo: takes a completed item back (ALLOC: frees the new stack), or
 *	returns -ENOENT when another thread freed it first; NULL when a
 *	completed item cannot be undone (FREE)
 *
 * A callback from the lower file into the upper one: dev.c owns the
 * single commands and hands them to batch.c, below it in the device
 * layer, which calls back into them for each item. The same pattern as
 * estack_ctx_for_each(), through which context.c calls debugfs.c's
 * printer; batch.c never names a function of dev.c.
 */
struct estack_batch_ops {
	int (*item)(struct estack_ctx *ctx, struct estack_batch_item *it);
	int (*undo)(struct estack_ctx *ctx, u32 id);
};

/* batch.c */
int estack_batch_run(struct estack_ctx *ctx, const struct estack_batch *hdr,
		     struct estack_batch __user *uhdr,
		     const struct estack_batch_ops *ops);

/* sysfs.c */
extern const struct attribute_group estack_stats_group;

/* debugfs.c */
void estack_debugfs_init(struct estack_allocator *a);
void estack_debugfs_exit(void);

#endif /* _ESTACK_DEV_H */
