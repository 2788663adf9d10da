// SPDX-License-Identifier: GPL-2.0
/*
 * estack_rig: a test-only module that breaks the kernel on purpose, so that
 * `make check-rig` can prove the test rig notices. Never installed; built
 * only with CONFIG_ESTACK_RIG=m.
 *
 * fault=warn  trigger a WARN_ON() at load
 *
 * Copyright (C) 2026 The estack authors
 */

#include <linux/bug.h>
#include <linux/module.h>
#include <linux/string.h>

static char *fault = "";
module_param(fault, charp, 0444);
MODULE_PARM_DESC(fault, "what to break at load: warn");

static int __init estack_rig_init(void)
{
	if (!strcmp(fault, "warn")) {
		WARN_ON(1);
		return 0;
	}
	pr_err("estack_rig: unknown fault '%s'\n", fault);
	return -EINVAL;
}

static void __exit estack_rig_exit(void)
{
}

module_init(estack_rig_init);
module_exit(estack_rig_exit);

MODULE_DESCRIPTION("estack test rig: deliberate kernel faults");
MODULE_LICENSE("GPL");
