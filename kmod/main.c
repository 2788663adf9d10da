// SPDX-License-Identifier: GPL-2.0
/*
 * estack: elastic, copy-growable stacks for user-level fibers.
 *
 * Module init and exit: each area has an init/exit pair, called here in
 * order and undone in reverse.
 *
 * Copyright (C) 2026 The estack authors
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>

#include "estack.h"

/* The module's allocator; every open of /dev/estack uses it. */
static struct estack_allocator estack_allocator;

static int __init estack_init(void)
{
	int ret;

	estack_tunables_init();
	ret = estack_alloc_module_init();
	if (ret)
		return ret;
	ret = estack_allocator_init(&estack_allocator, "global",
				    &estack_tunables);
	if (ret)
		goto err_alloc_module;
	ret = estack_dev_init(&estack_allocator);
	if (ret)
		goto err_allocator;
	estack_debugfs_init(&estack_allocator);

	pr_info("ABI version %u, max_stack %lu\n", ESTACK_API_VERSION,
		estack_tunable_get(&estack_tunables.max_stack));
	return 0;

err_allocator:
	estack_allocator_destroy(&estack_allocator);
err_alloc_module:
	estack_alloc_module_exit();
	return ret;
}

static void __exit estack_exit(void)
{
	estack_debugfs_exit();
	estack_dev_exit();
	estack_allocator_destroy(&estack_allocator);
	estack_alloc_module_exit();
}

module_init(estack_init);
module_exit(estack_exit);

MODULE_DESCRIPTION("Elastic copy-growable stacks for user-level fibers");
MODULE_AUTHOR("The estack authors");
MODULE_LICENSE("GPL");
