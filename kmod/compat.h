/* SPDX-License-Identifier: GPL-2.0 */
/*
 * estack compatibility: every difference between kernel versions lives
 * here, each shim naming the version and the upstream change it follows.
 * The module is built and tested on Debian's 6.1 and 6.12 (and their
 * PREEMPT_RT flavours); dkms.conf refuses any other series.
 *
 * Copyright (C) 2026 The estack authors
 */
#ifndef _ESTACK_COMPAT_H
#define _ESTACK_COMPAT_H

#include <linux/list_lru.h>
#include <linux/mm.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/version.h>

/*
 * The series estack is built and tested on. 6.13 changes the list_lru walk
 * callbacks; a kernel outside these needs a port, starting here.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0) || \
	LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
#error "estack: supported kernels are 6.1 and 6.12 (see compat.h)"
#endif

/* 6.3 made vm_flags read-only and added vm_flags_set()/vm_flags_clear(). */
static inline void estack_vm_flags_set(struct vm_area_struct *vma,
				       vm_flags_t flags)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

static inline void estack_vm_flags_clear(struct vm_area_struct *vma,
					 vm_flags_t flags)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_clear(vma, flags);
#else
	vma->vm_flags &= ~flags;
#endif
}

/*
 * Take a stack's pages out of the page tables. zap_vma_ptes() refuses
 * VM_MIXEDMAP mappings; 6.1 has zap_page_range(), which 6.3 removed
 * ("mm: remove zap_page_range and create zap_page_range_single", 6.3),
 * leaving zap_page_range_single(), exported since.
 */
static inline void estack_zap(struct vm_area_struct *vma, unsigned long addr,
			      unsigned long size)
{
	if (!size)
		return;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	zap_page_range_single(vma, addr, size, NULL);
#else
	zap_page_range(vma, addr, size);
#endif
}

/*
 * Put a free span on a pool's list_lru, under the memcg and node its
 * descriptor was allocated in. 6.8 gave list_lru_add() explicit nid and
 * memcg arguments and kept the old behaviour as list_lru_add_obj()
 * ("list_lru: allow explicit memcg and NUMA node selection", 6.8).
 */
static inline bool estack_list_lru_add(struct list_lru *lru,
				       struct list_head *item)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	return list_lru_add_obj(lru, item);
#else
	return list_lru_add(lru, item);
#endif
}

/*
 * ->llseek of a device that cannot seek. 6.12 removed no_llseek ("fs:
 * remove no_llseek", 6.12): a NULL ->llseek after nonseekable_open() gives
 * the same ESPIPE.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#define ESTACK_NO_LLSEEK	NULL
#else
#define ESTACK_NO_LLSEEK	no_llseek
#endif

/*
 * Shrinkers. 6.7 made them dynamically allocated ("mm: shrinker: add
 * infrastructure for dynamically allocating shrinker", 6.7):
 * shrinker_alloc() assigns the id that memcg-aware list_lrus need and
 * shrinker_register() makes it live, once the lists exist. 6.1 has only
 * register_shrinker() (prealloc_shrinker() is not exported), which does
 * both at once: there the shrinker is live before the lists, and its
 * callbacks must cope. The owner comes back through
 * estack_shrinker_owner() on both.
 *
 *   estack_shrinker_alloc()    the shrinker, with an id (6.1: live)
 *   estack_shrinker_register() live (6.1: it was already)
 *   estack_shrinker_free()     unregistered, freed
 */
typedef unsigned long (*estack_shrink_fn)(struct shrinker *s,
					  struct shrink_control *sc);

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
static inline struct shrinker *
estack_shrinker_alloc(unsigned int flags, estack_shrink_fn count,
		      estack_shrink_fn scan, void *owner, const char *name)
{
	struct shrinker *s = shrinker_alloc(flags, "estack-%s", name);

	if (!s)
		return ERR_PTR(-ENOMEM);
	s->count_objects = count;
	s->scan_objects = scan;
	s->private_data = owner;
	return s;
}

static inline void estack_shrinker_register(struct shrinker *s)
{
	shrinker_register(s);
}

static inline void *estack_shrinker_owner(struct shrinker *s)
{
	return s->private_data;
}

static inline void estack_shrinker_free(struct shrinker *s)
{
	shrinker_free(s);
}
#else
struct estack_compat_shrinker {
	struct shrinker s;
	void *owner;
};

static inline struct shrinker *
estack_shrinker_alloc(unsigned int flags, estack_shrink_fn count,
		      estack_shrink_fn scan, void *owner, const char *name)
{
	struct estack_compat_shrinker *cs = kzalloc(sizeof(*cs), GFP_KERNEL);
	int ret;

	if (!cs)
		return ERR_PTR(-ENOMEM);
	cs->s.flags = flags;
	cs->s.seeks = DEFAULT_SEEKS;
	cs->s.count_objects = count;
	cs->s.scan_objects = scan;
	cs->owner = owner;
	ret = register_shrinker(&cs->s, "estack-%s", name);
	if (ret) {
		kfree(cs);
		return ERR_PTR(ret);
	}
	return &cs->s;
}

static inline void estack_shrinker_register(struct shrinker *s)
{
}

static inline void *estack_shrinker_owner(struct shrinker *s)
{
	return container_of(s, struct estack_compat_shrinker, s)->owner;
}

static inline void estack_shrinker_free(struct shrinker *s)
{
	unregister_shrinker(s);
	kfree(container_of(s, struct estack_compat_shrinker, s));
}
#endif

/*
 * Make pages just inserted by this task show in its mm's RSS. In 6.1 the
 * task caches RSS deltas (SPLIT_RSS_COUNTING) and folds them into the mm
 * only every 64 page faults, so the pages an ioctl inserts would stay
 * invisible to /proc and the OOM killer. This is sync_mm_rss(), which is
 * not exported, without its rss_stat tracepoint (add_mm_counter() needs
 * an unexported symbol for that); 6.2 replaced the cache with per-CPU
 * counters.
 */
static inline void estack_sync_rss(struct mm_struct *mm)
{
#if defined(SPLIT_RSS_COUNTING)
	int i;

	if (current->mm != mm)
		return;
	for (i = 0; i < NR_MM_COUNTERS; i++) {
		if (current->rss_stat.count[i]) {
			atomic_long_add(current->rss_stat.count[i],
					&mm->rss_stat.count[i]);
			current->rss_stat.count[i] = 0;
		}
	}
#endif
}

#endif /* _ESTACK_COMPAT_H */
