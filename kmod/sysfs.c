// SPDX-License-Identifier: GPL-2.0
/*
 * estack statistics files: /sys/class/misc/estack/stats/, one value per
 * file; the class_* files add a per-class split after the total, in
 * SLUB's "total C0=n" style. Documented in
 * Documentation/ABI/testing/sysfs-class-misc-estack.
 *
 * Concurrency: the counters are read without locks (stats.c); a value
 * read while stacks come and go is a snapshot.
 *
 * Copyright (C) 2026 The estack authors
 */

#include <linux/device.h>
#include <linux/miscdevice.h>
#include <linux/sysfs.h>

#include "dev.h"

static struct estack_allocator *estack_stats_allocator(struct device *dev)
{
	struct miscdevice *misc = dev_get_drvdata(dev);

	return container_of(misc, struct estack_device, misc)->alloc;
}

#define ESTACK_STAT_ATTR(_name, _expr)					\
static ssize_t _name##_show(struct device *dev,				\
			    struct device_attribute *attr, char *buf)	\
{									\
	struct estack_allocator *a = estack_stats_allocator(dev);	\
									\
	return sysfs_emit(buf, "%llu\n", (unsigned long long)(_expr));	\
}									\
static DEVICE_ATTR_RO(_name)

#define ESTACK_EVENT_ATTR(_name, _item)					\
	ESTACK_STAT_ATTR(_name, estack_stat_sum(a, _item))

static u64 estack_sum_orders(struct estack_allocator *a,
			     u64 (*value)(struct estack_allocator *, int))
{
	u64 sum = 0;
	int order;

	for (order = 0; order < ESTACK_NR_ORDERS; order++)
		sum += value(a, order);
	return sum;
}

ESTACK_STAT_ATTR(allocs, estack_sum_orders(a, estack_stat_allocs));
ESTACK_STAT_ATTR(frees, estack_sum_orders(a, estack_stat_frees));
ESTACK_STAT_ATTR(stacks_in_use, estack_stacks_in_use(a));
ESTACK_STAT_ATTR(bytes_in_use, (u64)estack_pages_in_use(a) << PAGE_SHIFT);
ESTACK_STAT_ATTR(bytes_cached, (u64)estack_pages_cached(a, -1) << PAGE_SHIFT);
ESTACK_STAT_ATTR(pages_held, atomic_long_read(&a->pages));
ESTACK_STAT_ATTR(free_slots, atomic_long_read(&a->free_slots));
ESTACK_EVENT_ATTR(cache_hits, ESTACK_STAT_CACHE_HITS);
ESTACK_EVENT_ATTR(cache_misses, ESTACK_STAT_CACHE_MISSES);
ESTACK_EVENT_ATTR(pool_refills, ESTACK_STAT_POOL_REFILLS);
ESTACK_EVENT_ATTR(pool_releases, ESTACK_STAT_POOL_RELEASES);
ESTACK_EVENT_ATTR(pool_hits, ESTACK_STAT_POOL_HITS);
ESTACK_EVENT_ATTR(pages_allocated, ESTACK_STAT_PAGES_ALLOCATED);
ESTACK_EVENT_ATTR(pages_freed, ESTACK_STAT_PAGES_FREED);
ESTACK_EVENT_ATTR(pages_zeroed, ESTACK_STAT_PAGES_ZEROED);
ESTACK_EVENT_ATTR(pinned_released, ESTACK_STAT_PINNED_RELEASED);
ESTACK_EVENT_ATTR(shrinker_scans, ESTACK_STAT_SHRINKER_SCANS);
ESTACK_EVENT_ATTR(shrinker_freed, ESTACK_STAT_SHRINKER_FREED);
ESTACK_EVENT_ATTR(grows, ESTACK_STAT_GROWS);
ESTACK_EVENT_ATTR(shrinks, ESTACK_STAT_SHRINKS);
ESTACK_EVENT_ATTR(grow_failures, ESTACK_STAT_GROW_FAILURES);
ESTACK_EVENT_ATTR(bytes_copied, ESTACK_STAT_BYTES_COPIED);
ESTACK_EVENT_ATTR(words_relocated, ESTACK_STAT_WORDS_RELOCATED);
ESTACK_EVENT_ATTR(mapped_cache_adds, ESTACK_STAT_MAPPED_ADDS);
ESTACK_EVENT_ATTR(mapped_cache_hits, ESTACK_STAT_MAPPED_HITS);

/* "total 4K=n 8K=m ...": the classes with a non-zero value only. */
static ssize_t estack_emit_classes(struct estack_allocator *a, char *buf,
				   u64 (*value)(struct estack_allocator *, int))
{
	u64 v[ESTACK_NR_ORDERS], total = 0;
	int order, len;

	for (order = 0; order < ESTACK_NR_ORDERS; order++) {
		v[order] = value(a, order);
		total += v[order];
	}
	len = sysfs_emit(buf, "%llu", total);
	for (order = 0; order < ESTACK_NR_ORDERS; order++) {
		unsigned long kib = (PAGE_SIZE >> 10) << order;

		if (!v[order])
			continue;
		if (kib >= 1024)
			len += sysfs_emit_at(buf, len, " %luM=%llu", kib >> 10,
					     v[order]);
		else
			len += sysfs_emit_at(buf, len, " %luK=%llu", kib,
					     v[order]);
	}
	return len + sysfs_emit_at(buf, len, "\n");
}

static u64 estack_class_cached(struct estack_allocator *a, int order)
{
	return estack_pages_cached(a, order) >> order;
}

#define ESTACK_CLASS_ATTR(_name, _fn)					\
static ssize_t _name##_show(struct device *dev,				\
			    struct device_attribute *attr, char *buf)	\
{									\
	return estack_emit_classes(estack_stats_allocator(dev), buf, _fn); \
}									\
static DEVICE_ATTR_RO(_name)

ESTACK_CLASS_ATTR(class_allocs, estack_stat_allocs);
ESTACK_CLASS_ATTR(class_frees, estack_stat_frees);
ESTACK_CLASS_ATTR(class_in_use, estack_stat_in_use);
ESTACK_CLASS_ATTR(class_cached, estack_class_cached);

/* "total C0=n C1=m": pages in each CPU's cache, SLUB style. */
static ssize_t cpu_cached_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	struct estack_allocator *a = estack_stats_allocator(dev);
	unsigned long total = 0;
	int cpu, len;

	for_each_possible_cpu(cpu)
		total += estack_pages_cached_cpu(a, cpu);
	len = sysfs_emit(buf, "%lu", total);
	for_each_online_cpu(cpu)
		len += sysfs_emit_at(buf, len, " C%d=%lu", cpu,
				     estack_pages_cached_cpu(a, cpu));
	return len + sysfs_emit_at(buf, len, "\n");
}
static DEVICE_ATTR_RO(cpu_cached);

static struct attribute *estack_stats_attrs[] = {
	&dev_attr_allocs.attr,
	&dev_attr_frees.attr,
	&dev_attr_cpu_cached.attr,
	&dev_attr_stacks_in_use.attr,
	&dev_attr_bytes_in_use.attr,
	&dev_attr_bytes_cached.attr,
	&dev_attr_pages_held.attr,
	&dev_attr_free_slots.attr,
	&dev_attr_cache_hits.attr,
	&dev_attr_cache_misses.attr,
	&dev_attr_pool_refills.attr,
	&dev_attr_pool_releases.attr,
	&dev_attr_pool_hits.attr,
	&dev_attr_pages_allocated.attr,
	&dev_attr_pages_freed.attr,
	&dev_attr_pages_zeroed.attr,
	&dev_attr_pinned_released.attr,
	&dev_attr_shrinker_scans.attr,
	&dev_attr_shrinker_freed.attr,
	&dev_attr_grows.attr,
	&dev_attr_shrinks.attr,
	&dev_attr_grow_failures.attr,
	&dev_attr_bytes_copied.attr,
	&dev_attr_words_relocated.attr,
	&dev_attr_mapped_cache_adds.attr,
	&dev_attr_mapped_cache_hits.attr,
	&dev_attr_class_allocs.attr,
	&dev_attr_class_frees.attr,
	&dev_attr_class_in_use.attr,
	&dev_attr_class_cached.attr,
	NULL
};

const struct attribute_group estack_stats_group = {
	.name = "stats",
	.attrs = estack_stats_attrs,
};
