/* SPDX-License-Identifier: GPL-2.0 */
/*
 * estack device layer (main.c, debugfs.c, sysfs.c, dev.c): /dev/estack,
 * its ioctls, its statistics files, the module's init and exit.
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

/* sysfs.c */
extern const struct attribute_group estack_stats_group;

/* debugfs.c */
void estack_debugfs_init(struct estack_allocator *a);
void estack_debugfs_exit(void);

#endif /* _ESTACK_DEV_H */
