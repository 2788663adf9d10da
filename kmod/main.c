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

static int __init estack_init(void)
{
	int ret;

	ret = estack_dev_init();
	if (ret)
		return ret;

	pr_info("ABI version %u, max_stack %lu\n", ESTACK_API_VERSION,
		estack_tunable_get(&estack_tunables.max_stack));
	return 0;
}

static void __exit estack_exit(void)
{
	estack_dev_exit();
}

module_init(estack_init);
module_exit(estack_exit);

MODULE_DESCRIPTION("Elastic copy-growable stacks for user-level fibers");
MODULE_AUTHOR("The estack authors");
MODULE_LICENSE("GPL");
