// SPDX-License-Identifier: GPL-2.0
/*
 * estack module parameters.
 *
 * Owns every tunable of the module (struct estack_tunables). Values are
 * plain words: the setter validates and publishes with WRITE_ONCE(), readers
 * use estack_tunable_get(). A limit lowered at run time applies to the next
 * request; nothing already allocated is taken back.
 *
 * Copyright (C) 2026 The estack authors
 */

#include <linux/jump_label.h>
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/sizes.h>
#include <linux/sysfs.h>

#include "params.h"

struct estack_tunables estack_tunables = {
	.max_stack = {
		.val = SZ_1G, .min = PAGE_SIZE, .max = SZ_1G, .pow2 = true,
	},
	.max_stacks_per_fd = {
		.val = 1UL << 21, .min = 1, .max = 1UL << 24,
	},
	/* These two and pool_reserve follow the machine's RAM, at init. */
	.max_bytes_per_fd = {
		.min = PAGE_SIZE, .max = 1UL << 40,
	},
	.max_bytes_per_user = {
		.min = PAGE_SIZE, .max = 1UL << 40,
	},
	.cache_budget = {
		.val = SZ_128K, .min = 0, .max = SZ_4M,
	},
	.pool_reserve = {
		.min = 0, .max = 1UL << 40,
	},
	.mapped_cache = {
		.val = SZ_128K, .min = 0, .max = SZ_16M,
	},
};
EXPORT_SYMBOL_IF_KUNIT(estack_tunables);

/**
 * estack_tunable_check() - is @val acceptable for @t?
 * @t: the tunable
 * @val: the proposed value
 *
 * Return: 0, or -EINVAL when @val is outside [min, max] or, for a tunable
 * that must be a power of two, is not one.
 */
int estack_tunable_check(const struct estack_tunable *t, unsigned long val)
{
	if (val < t->min || val > t->max)
		return -EINVAL;
	if (t->pow2 && !is_power_of_2(val))
		return -EINVAL;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(estack_tunable_check);

static int estack_tunable_set(const char *buf, const struct kernel_param *kp)
{
	struct estack_tunable *t = kp->arg;
	unsigned long val;
	int ret;

	ret = kstrtoul(buf, 0, &val);
	if (ret)
		return ret;
	ret = estack_tunable_check(t, val);
	if (ret)
		return ret;
	WRITE_ONCE(t->val, val);
	t->set = true;
	return 0;
}

/**
 * estack_default_user_bytes() - the default of the byte limits for @ram
 * @ram: bytes of RAM the machine has
 *
 * Stack pages are not swappable, and a stack's pages are mapped (and so
 * in the RSS the OOM killer reads) only while they are in use; the limits
 * are what keeps one user from pinning the machine. A user's stacks, and
 * one file's, may take a quarter of RAM by default: 512 MiB on a 2 GiB
 * machine, 16 GiB on a 64 GiB one, room for 64 k fibers of 8 KiB per GiB.
 *
 * Return: @ram / 4, page-aligned, within the bounds of the tunables.
 */
unsigned long estack_default_user_bytes(unsigned long ram)
{
	return clamp_t(unsigned long, round_down(ram / 4, PAGE_SIZE),
		       PAGE_SIZE, 1UL << 40);
}
EXPORT_SYMBOL_IF_KUNIT(estack_default_user_bytes);

/**
 * estack_default_pool_reserve() - the default of pool_reserve for @ram
 * @ram: bytes of RAM the machine has
 *
 * Free stacks the pools keep are reclaimable (the shrinker gives them
 * back), but they are nobody's RSS: 1/16 of RAM, at most 256 MiB.
 *
 * Return: the default in bytes.
 */
unsigned long estack_default_pool_reserve(unsigned long ram)
{
	return min_t(unsigned long, round_down(ram / 16, PAGE_SIZE), SZ_256M);
}
EXPORT_SYMBOL_IF_KUNIT(estack_default_pool_reserve);

static void estack_tunable_default(struct estack_tunable *t,
				   unsigned long val)
{
	if (!t->set)
		WRITE_ONCE(t->val, val);
}

/**
 * estack_tunables_init() - defaults that depend on the machine
 *
 * Values given at insmod time stay as given.
 */
void estack_tunables_init(void)
{
	unsigned long ram = totalram_pages() << PAGE_SHIFT;
	struct estack_tunables *t = &estack_tunables;

	estack_tunable_default(&t->max_bytes_per_user,
			       estack_default_user_bytes(ram));
	estack_tunable_default(&t->max_bytes_per_fd,
			       estack_default_user_bytes(ram));
	estack_tunable_default(&t->pool_reserve,
			       estack_default_pool_reserve(ram));
}

static int estack_tunable_show(char *buf, const struct kernel_param *kp)
{
	const struct estack_tunable *t = kp->arg;

	return sysfs_emit(buf, "%lu\n", estack_tunable_get(t));
}

static const struct kernel_param_ops estack_tunable_ops = {
	.set = estack_tunable_set,
	.get = estack_tunable_show,
};

module_param_cb(max_stack, &estack_tunable_ops,
		&estack_tunables.max_stack, 0644);
MODULE_PARM_DESC(max_stack,
		 "Largest stack in bytes, a power of two (default and maximum 1 GiB)");

module_param_cb(max_stacks_per_fd, &estack_tunable_ops,
		&estack_tunables.max_stacks_per_fd, 0644);
MODULE_PARM_DESC(max_stacks_per_fd,
		 "Most live stacks per open file (default 2097152, 1..16777216)");

module_param_cb(max_bytes_per_fd, &estack_tunable_ops,
		&estack_tunables.max_bytes_per_fd, 0644);
MODULE_PARM_DESC(max_bytes_per_fd,
		 "Most stack bytes per open file, live or kept mapped (default 1/4 of RAM, up to 1 TiB)");

module_param_cb(max_bytes_per_user, &estack_tunable_ops,
		&estack_tunables.max_bytes_per_user, 0644);
MODULE_PARM_DESC(max_bytes_per_user,
		 "Most stack bytes per user, live or kept mapped (default 1/4 of RAM, up to 1 TiB)");

module_param_cb(cache_budget, &estack_tunable_ops,
		&estack_tunables.cache_budget, 0644);
MODULE_PARM_DESC(cache_budget,
		 "Bytes of free stacks each CPU caches per small class (default 128 KiB, 0 = off, up to 4 MiB)");

module_param_cb(pool_reserve, &estack_tunable_ops,
		&estack_tunables.pool_reserve, 0644);
MODULE_PARM_DESC(pool_reserve,
		 "Bytes of free stacks the global pools keep before freeing to the page allocator (default 1/16 of RAM, at most 256 MiB; up to 1 TiB)");

module_param_cb(mapped_cache, &estack_tunable_ops,
		&estack_tunables.mapped_cache, 0644);
MODULE_PARM_DESC(mapped_cache,
		 "Bytes of freed stacks each open file keeps mapped per small class for its next ALLOC (default 128 KiB, 0 = off, up to 16 MiB)");

DEFINE_STATIC_KEY_TRUE(estack_stats_enabled);

static int estack_stats_set(const char *buf, const struct kernel_param *kp)
{
	bool on;
	int ret;

	ret = kstrtobool(buf, &on);
	if (ret)
		return ret;
	if (on)
		static_branch_enable(&estack_stats_enabled);
	else
		static_branch_disable(&estack_stats_enabled);
	return 0;
}

static int estack_stats_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%c\n",
			  static_key_enabled(&estack_stats_enabled) ? 'Y' : 'N');
}

static const struct kernel_param_ops estack_stats_ops = {
	.set = estack_stats_set,
	.get = estack_stats_get,
};

module_param_cb(stats, &estack_stats_ops, NULL, 0644);
MODULE_PARM_DESC(stats,
		 "Count events (hits, misses, refills, moves...) (default Y)");
