// SPDX-License-Identifier: GPL-2.0
/*
 * estack_rig: a test-only module that breaks the kernel on purpose, so that
 * `make check-rig` can prove the test rig notices. Never installed; built
 * only with CONFIG_ESTACK_RIG=m.
 *
 *   fault=warn     WARN_ON() at load
 *   fault=kasan    a heap out-of-bounds read at load (KASAN report)
 *   fault=lockdep  take two locks in both orders at load (lockdep splat)
 *   fault=leak     keep a page at unload and report it the way estack.ko
 *                  reports pages left allocated
 *   fault=kmemleak lose a kmalloc'ed object at load (kmemleak report)
 *   fault=panic    panic at load
 *   fault=freeze   20 s after load, every CPU spins with interrupts off:
 *                  the guest stops answering and says nothing, as a
 *                  guest that froze in the emulator did (vm-cpus.py)
 *
 * Copyright (C) 2026 The estack authors
 */

#include <linux/bug.h>
#include <linux/compiler.h>
#include <linux/delay.h>
#include <linux/gfp.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/string.h>
#include <linux/workqueue.h>

static char *fault = "";
module_param(fault, charp, 0444);
MODULE_PARM_DESC(fault,
		 "what to break: warn, kasan, lockdep, leak, kmemleak, panic, freeze");

static struct page *rig_page;
static DEFINE_MUTEX(rig_lock_a);
static DEFINE_MUTEX(rig_lock_b);

static noinline void rig_kasan(void)
{
	char *p = kmalloc(16, GFP_KERNEL);
	size_t i = 16;

	if (!p)
		return;
	/*
	 * The compiler must neither see that the index is past the end nor
	 * drop the read: READ_ONCE() and a use of the value keep it.
	 */
	OPTIMIZER_HIDE_VAR(i);
	pr_info("estack_rig: read %d past the end\n", READ_ONCE(p[i]));
	kfree(p);
}

static void rig_lockdep(void)
{
	mutex_lock(&rig_lock_a);
	mutex_lock(&rig_lock_b);
	mutex_unlock(&rig_lock_b);
	mutex_unlock(&rig_lock_a);

	mutex_lock(&rig_lock_b);
	mutex_lock(&rig_lock_a);
	mutex_unlock(&rig_lock_a);
	mutex_unlock(&rig_lock_b);
}

/*
 * Called on every CPU at once, with interrupts off. mdelay() keeps the
 * CPU in the kernel's own text (the delay loop), which is what vm-cpus.py
 * must name from the kernel's symbols.
 */
static void rig_freeze_cpu(void *unused)
{
	for (;;)
		mdelay(100);
}

/* Late enough for the stage to be running its programs, as in a real freeze. */
static void rig_freeze(struct work_struct *work)
{
	on_each_cpu(rig_freeze_cpu, NULL, true);
}

static DECLARE_DELAYED_WORK(rig_freeze_work, rig_freeze);

static int __init estack_rig_init(void)
{
	if (!strcmp(fault, "warn")) {
		WARN_ON(1);
	} else if (!strcmp(fault, "kasan")) {
		rig_kasan();
	} else if (!strcmp(fault, "lockdep")) {
		rig_lockdep();
	} else if (!strcmp(fault, "leak")) {
		rig_page = alloc_page(GFP_KERNEL);
		if (!rig_page)
			return -ENOMEM;
	} else if (!strcmp(fault, "kmemleak")) {
		/* The only pointer to it is lost when this returns. */
		void *p = kmalloc(64, GFP_KERNEL);

		OPTIMIZER_HIDE_VAR(p);
		if (!p)
			return -ENOMEM;
	} else if (!strcmp(fault, "panic")) {
		panic("estack_rig: a deliberate panic");
	} else if (!strcmp(fault, "freeze")) {
		/* The work never returns: the module must never go. */
		__module_get(THIS_MODULE);
		schedule_delayed_work(&rig_freeze_work, 20 * HZ);
	} else {
		pr_err("estack_rig: unknown fault '%s'\n", fault);
		return -EINVAL;
	}
	return 0;
}

static void __exit estack_rig_exit(void)
{
	/*
	 * kmemleak does not track alloc_pages(), so estack.ko counts its
	 * pages and reports any left at unload; this is that report, for a
	 * page that really is left behind.
	 */
	if (rig_page)
		pr_err("estack_rig: 1 pages left allocated at unload\n");
}

module_init(estack_rig_init);
module_exit(estack_rig_exit);

MODULE_DESCRIPTION("estack test rig: deliberate kernel faults");
MODULE_LICENSE("GPL");
