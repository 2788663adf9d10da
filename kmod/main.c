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

#ifdef ESTACK_RIG
/*
 * make check-rig only (built with CONFIG_ESTACK_RIG): lose a span at load,
 * to prove that the page count at unload catches a page estack.ko itself
 * leaked (kmemleak does not see alloc_pages()).
 */
static bool rig_leak;
module_param(rig_leak, bool, 0444);
MODULE_PARM_DESC(rig_leak, "check-rig: leak one stack's page at load");

static void estack_rig_leak(void)
{
	if (rig_leak && !IS_ERR(estack_span_alloc(&estack_allocator, 0, NULL, 0)))
		pr_warn("check-rig: one span leaked on purpose\n");
}
#else
static void estack_rig_leak(void)
{
}
#endif

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
		goto err_exit_alloc_module;
	ret = estack_vma_init();
	if (ret)
		goto err_destroy_allocator;
	ret = estack_dev_init(&estack_allocator);
	if (ret)
		goto err_exit_vma;
	estack_debugfs_init(&estack_allocator);
	estack_rig_leak();

	pr_info("ABI version %u, max_stack %lu\n", ESTACK_API_VERSION,
		estack_tunable_get(&estack_tunables.max_stack));
	return 0;

err_exit_vma:
	estack_vma_exit();
err_destroy_allocator:
	estack_allocator_destroy(&estack_allocator);
err_exit_alloc_module:
	estack_alloc_module_exit();
	return ret;
}

static void __exit estack_exit(void)
{
	estack_debugfs_exit();
	estack_dev_exit();
	estack_vma_exit();
	estack_allocator_destroy(&estack_allocator);
	estack_alloc_module_exit();
}

module_init(estack_init);
module_exit(estack_exit);

MODULE_DESCRIPTION("Elastic copy-growable stacks for user-level fibers");
MODULE_AUTHOR("The estack authors");
MODULE_LICENSE("GPL");
