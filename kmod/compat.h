/* SPDX-License-Identifier: GPL-2.0 */
/*
 * estack compatibility: every difference between kernel versions lives
 * here. The module targets Debian 12's 6.1; a port to a newer kernel starts
 * with this file.
 *
 * Copyright (C) 2026 The estack authors
 */
#ifndef _ESTACK_COMPAT_H
#define _ESTACK_COMPAT_H

#include <linux/mm.h>
#include <linux/version.h>

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
 * VM_MIXEDMAP mappings, so 6.1 needs zap_page_range(), which 6.3 removed;
 * a port must find the exported replacement of its kernel.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
#error "estack: port estack_zap() (zap_page_range() is gone since 6.3)"
#endif
static inline void estack_zap(struct vm_area_struct *vma, unsigned long addr,
			      unsigned long size)
{
	if (size)
		zap_page_range(vma, addr, size);
}

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
