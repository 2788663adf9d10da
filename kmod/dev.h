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
 * struct estack_batch_ops - the single command a batch repeats (dev.c)
 * @item: runs the single command on the item struct at @uitem, exactly as
 *	its own ioctl does (copy in, checks, action, copy out); on success
 *	sets *@usize to the item's size as checked (where the next item
 *	starts) and *@id to the stack's id
 * @undo: takes a completed item back (ALLOC: frees the new stack); NULL
 *	when a completed item cannot be undone (FREE)
 *
 * dev.c owns the single commands and hands them to batch.c, below it.
 */
struct estack_batch_ops {
	int (*item)(struct estack_ctx *ctx, void __user *uitem, u32 *usize,
		    u32 *id);
	void (*undo)(struct estack_ctx *ctx, u32 id);
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
