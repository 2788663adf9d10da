// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * libestack's kernel backend: stacks from /dev/estack.
 *
 * Copyright (C) 2026 The estack authors
 *
 * The file is opened O_CLOEXEC and checked with ESTACK_IOC_API: a module
 * without ALLOC/FREE (ESTACK_FEATURE_STACKS) and GROW/SHRINK
 * (ESTACK_FEATURE_MOVE) is not used. Batches of stacks go through
 * ESTACK_IOC_ALLOC_BATCH and FREE_BATCH when the module has
 * ESTACK_FEATURE_BATCH, else one ioctl each. After fork() the child's pool
 * has no file (pool->fd is -1) until the next call that needs one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/estack.h>

#include "internal.h"

#define ES_DEV		"/dev/estack"
#define ES_KERN_BATCH	16	/* items per batch ioctl: small on the stack */

static int es_ioctl(int fd, unsigned long cmd, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, cmd, arg);
	} while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : 0;
}

/* Open and check the device into @pool; pool->lock or not yet shared. */
static int es_kern_open_locked(struct estack_pool *pool)
{
	struct estack_api api;
	int fd, ret;

	fd = open(ES_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&api, 0, sizeof(api));
	api.size = sizeof(api);
	ret = es_ioctl(fd, ESTACK_IOC_API, &api);
	if (!ret && (api.version < 1 ||
		     (api.features & (ESTACK_FEATURE_STACKS | ESTACK_FEATURE_MOVE)) !=
		     (ESTACK_FEATURE_STACKS | ESTACK_FEATURE_MOVE)))
		ret = -EOPNOTSUPP;
	if (ret) {
		close(fd);
		return ret;
	}
	pool->features = api.features;
	pool->page = api.page_size;
	pool->guard = api.page_size;
	pool->min_stack = api.min_stack;
	pool->max_stack = api.max_stack;
	__atomic_store_n(&pool->fd, fd, __ATOMIC_RELEASE);
	return 0;
}

int es_kern_open(struct estack_pool *pool)
{
	return es_kern_open_locked(pool);
}

/* The file, opened again after a fork. */
int es_kern_fd(struct estack_pool *pool)
{
	int fd = __atomic_load_n(&pool->fd, __ATOMIC_ACQUIRE), ret = 0;

	if (fd >= 0)
		return fd;
	es_lock(pool);
	if (pool->fd < 0)
		ret = es_kern_open_locked(pool);
	fd = pool->fd;
	es_unlock(pool);
	return ret ? ret : fd;
}

static int es_kern_alloc_one(int fd, size_t size, struct es_raw *raw)
{
	struct estack_alloc a;
	int ret;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.bytes = size;
	ret = es_ioctl(fd, ESTACK_IOC_ALLOC, &a);
	if (ret)
		return ret;
	raw->lo = (uintptr_t)a.lo;
	raw->hi = (uintptr_t)a.hi;
	raw->kid = a.id;
	return 0;
}

/* Up to @nr stacks of @size: how many were had, or -errno for none. */
int es_kern_alloc(struct estack_pool *pool, size_t size, struct es_raw *raw,
		  unsigned int nr)
{
	struct estack_alloc items[ES_KERN_BATCH];
	struct estack_batch b;
	unsigned int got = 0, n, i;
	int fd = es_kern_fd(pool), ret = 0;

	if (fd < 0)
		return fd;
	while (got < nr) {
		n = nr - got;
		if (n == 1 || !(pool->features & ESTACK_FEATURE_BATCH)) {
			ret = es_kern_alloc_one(fd, size, &raw[got]);
			if (ret)
				break;
			got++;
			continue;
		}
		if (n > ES_KERN_BATCH)
			n = ES_KERN_BATCH;
		memset(items, 0, n * sizeof(items[0]));
		for (i = 0; i < n; i++) {
			items[i].size = sizeof(items[i]);
			items[i].bytes = size;
		}
		memset(&b, 0, sizeof(b));
		b.size = sizeof(b);
		b.nr = n;
		b.items = (uintptr_t)items;
		ret = es_ioctl(fd, ESTACK_IOC_ALLOC_BATCH, &b);
		/* The items before the one that failed are ours either way. */
		if (b.done > n)
			b.done = ret ? 0 : n;
		for (i = 0; i < b.done; i++) {
			raw[got + i].lo = (uintptr_t)items[i].lo;
			raw[got + i].hi = (uintptr_t)items[i].hi;
			raw[got + i].kid = items[i].id;
		}
		got += b.done;
		if (ret)
			break;
	}
	return got ? (int)got : ret;
}

static void es_kern_free_one(int fd, uint32_t kid)
{
	struct estack_free f;

	memset(&f, 0, sizeof(f));
	f.size = sizeof(f);
	f.id = kid;
	es_ioctl(fd, ESTACK_IOC_FREE, &f);
}

/*
 * Give stacks back. A stack the module refuses is no longer ours either
 * (the module lost it: its arena was unmapped): skipped.
 */
void es_kern_free(struct estack_pool *pool, const struct es_raw *raw,
		  unsigned int nr)
{
	struct estack_free items[ES_KERN_BATCH];
	struct estack_batch b;
	unsigned int done = 0, n, i;
	int fd = es_kern_fd(pool), ret;

	if (fd < 0)
		return;
	while (done < nr) {
		n = nr - done;
		if (n == 1 || !(pool->features & ESTACK_FEATURE_BATCH)) {
			es_kern_free_one(fd, raw[done].kid);
			done++;
			continue;
		}
		if (n > ES_KERN_BATCH)
			n = ES_KERN_BATCH;
		memset(items, 0, n * sizeof(items[0]));
		for (i = 0; i < n; i++) {
			items[i].size = sizeof(items[i]);
			items[i].id = raw[done + i].kid;
		}
		memset(&b, 0, sizeof(b));
		b.size = sizeof(b);
		b.nr = n;
		b.items = (uintptr_t)items;
		ret = es_ioctl(fd, ESTACK_IOC_FREE_BATCH, &b);
		if (!ret || b.done >= n) {
			done += n;
			continue;
		}
		/* Stopped at item b.done: skip it, go on after it. */
		done += b.done + 1;
	}
}

/* GROW (@grow) or SHRINK of @e through the module; updates @e on success. */
/*
 * What a kernel-mode pool can move, whichever side copies: a relocation
 * the module lacks is EOPNOTSUPP for every size, and so are slots where
 * the uAPI's 64-bit words are not pointers.
 */
int es_kern_move_check(const struct estack_pool *pool, unsigned int flags,
		       unsigned int nr_slots)
{
	if (((flags & ESTACK_MOVE_ADJUST_FP) &&
	     !(pool->features & ESTACK_FEATURE_ADJUST_FP)) ||
	    ((flags & ESTACK_MOVE_ADJUST_CONSERVATIVE) &&
	     !(pool->features & ESTACK_FEATURE_ADJUST_CONSERVATIVE)))
		return -EOPNOTSUPP;
	if (sizeof(void *) != sizeof(uint64_t) && nr_slots)
		return -EOPNOTSUPP;
	return 0;
}

int es_kern_move(struct estack_pool *pool, struct es_entry *e, bool grow,
		 size_t bytes, void **sp, void **fp, void *const *slots,
		 unsigned int nr_slots, unsigned int flags)
{
	struct estack_move m;
	uintptr_t old_lo = e->lo, old_hi = e->hi;
	uintptr_t ofp = fp ? (uintptr_t)*fp : 0;
	int fd = es_kern_fd(pool), ret;

	if (fd < 0)
		return fd;
	memset(&m, 0, sizeof(m));
	m.size = sizeof(m);
	m.flags = flags;
	m.id = e->kid;
	m.nr_slots = nr_slots;
	m.sp = (uintptr_t)*sp;
	m.bytes = bytes;
	m.fp = (flags & ESTACK_MOVE_ADJUST_FP) ? (uintptr_t)*fp : 0;
	m.slots = (uintptr_t)slots;
	ret = es_ioctl(fd, grow ? ESTACK_IOC_GROW : ESTACK_IOC_SHRINK, &m);
	if (ret)
		return ret;
	if (m.lo == old_lo && m.hi == old_hi)
		return 0;
	/*
	 * From the values before the move: the module may have rewritten
	 * *sp or *fp already, when a slot names them too.
	 */
	*sp = (void *)(uintptr_t)(m.sp + m.delta);
	if (fp && (flags & ESTACK_MOVE_ADJUST_FP))
		*fp = (void *)(uintptr_t)m.fp;
	else if (fp && ofp >= old_lo && ofp < old_hi)
		*fp = (void *)(uintptr_t)(ofp + m.delta);
	es_san_unpoison(old_lo, old_hi - old_lo);
	es_entry_set(e, e->state, (uintptr_t)m.lo, (uintptr_t)m.hi, e->key);
	e->fresh = false;
	return 0;
}
