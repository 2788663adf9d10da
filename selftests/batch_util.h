/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What batch_test and batch_fault_test share: a batch call, items for it,
 * and the states an item's stack can be in.
 */
#ifndef ESTACK_BATCH_UTIL_H
#define ESTACK_BATCH_UTIL_H

#include <stdint.h>
#include <string.h>

#include "estack_util.h"

/* done as the test leaves it: a header the kernel did not write */
#define NOT_WRITTEN	0xdeadbeefU

/* A batch of @nr items at @items; its errno, and done in *@done. */
static inline int batch(int fd, unsigned long cmd, const void *items,
			__u32 nr, __u32 *done)
{
	struct estack_batch b = {
		.size = sizeof(b),
		.nr = nr,
		.done = NOT_WRITTEN,
		.items = (uintptr_t)items,
	};
	int err = es_ioctl(fd, cmd, &b);

	if (done)
		*done = b.done;
	return err;
}

/* @nr ALLOC items of @bytes each, ready for a batch. */
static inline void alloc_items(struct estack_alloc *a, unsigned int nr,
			       __u64 bytes)
{
	unsigned int i;

	memset(a, 0, nr * sizeof(*a));
	for (i = 0; i < nr; i++) {
		a[i].size = sizeof(*a);
		a[i].bytes = bytes;
	}
}

/* FREE items for the ids of @a. */
static inline void free_items(struct estack_free *f,
			      const struct estack_alloc *a, unsigned int nr)
{
	unsigned int i;

	memset(f, 0, nr * sizeof(*f));
	for (i = 0; i < nr; i++) {
		f[i].size = sizeof(*f);
		f[i].id = a[i].id;
	}
}

/* The stack of @a is live with @a's range, all of it mapped. */
static inline int live(int fd, const struct estack_alloc *a)
{
	struct estack_info i;

	return !es_info(fd, a->id, &i) && i.lo == a->lo && i.hi == a->hi &&
	       i.resident == a->hi - a->lo;
}

static inline int gone(int fd, __u32 id)
{
	struct estack_info i;

	return es_info(fd, id, &i) == ENOENT;
}

/* An ALLOC item the kernel never wrote: its outputs as the test left them. */
static inline int untouched(const struct estack_alloc *a)
{
	return !a->id && !a->lo && !a->hi;
}

#endif /* ESTACK_BATCH_UTIL_H */
