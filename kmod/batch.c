// SPDX-License-Identifier: GPL-2.0
/*
 * estack batches: ALLOC_BATCH and FREE_BATCH run up to ESTACK_BATCH_MAX
 * ALLOC or FREE items in one ioctl, so that a library refilling or
 * draining its per-thread cache pays one system call for many stacks.
 *
 * dev.c reads the header (struct estack_batch) as it reads every struct
 * and hands over the single command as a struct estack_batch_ops: each
 * item goes through exactly the code of its own ioctl, checks, errno
 * order, copy out and all. Here the rest of the header is checked and the
 * items are run in order, stopping at the first that fails.
 *
 * done: the header's done field is written before the first item (a
 * header that cannot be written is EFAULT before anything is done) and
 * after each completed item: between an item's action and that write it
 * is one behind. Before each item the done word is faulted in writable,
 * and a FREE item may not free a stack holding any byte of the header
 * (EINVAL, as GROW refuses a struct in the stack it moves), so that the
 * write after it fails only when another thread unmaps or write-protects
 * the header meanwhile. Then the call stops with EFAULT: ALLOC_BATCH
 * first takes the item's new stack back (by its id), so done still counts
 * what the caller has; a FREE cannot be undone, so FREE_BATCH's item at
 * done may be freed as well. Items at and after done may have been
 * written (their contents mean nothing).
 *
 * The items are walked as a u64 address, converted for each item by
 * estack_batch_items(): a 32-bit caller's walk may not leave its 4 GiB.
 *
 * dev.c's single commands come in as a struct estack_batch_ops: a
 * callback from this lower file into dev.c's code, as context.c calls
 * debugfs.c's printer through estack_ctx_for_each().
 *
 * Between two items the call reschedules and stops with EINTR (done
 * written) when a fatal signal is pending.
 *
 * Concurrency: no locks here; each item takes those of its command.
 *
 * Copyright (C) 2026 The estack authors
 */

#include <linux/compat.h>
#include <linux/kernel.h>
#include <linux/overflow.h>
#include <linux/pagemap.h>
#include <linux/uaccess.h>

#include "dev.h"

/*
 * The user pointer in @items. A 32-bit caller's is a 32-bit pointer:
 * compat_ptr() of its low half, and NULL (so EFAULT) when its high half
 * is not zero, which no 32-bit pointer has.
 */
static void __user *estack_batch_items(u64 items)
{
	if (in_compat_syscall())
		return upper_32_bits(items) ? NULL :
			compat_ptr(lower_32_bits(items));
	return u64_to_user_ptr(items);
}

/**
 * estack_batch_run() - run the items of ALLOC_BATCH or FREE_BATCH
 * @ctx: the context of the caller's file
 * @hdr: the header, read with estack_copy_args_in()
 * @uhdr: the header in user space, where done is written
 * @ops: the single command of the batch
 *
 * Checks @hdr's flags and nr, then runs the items in order: each starts
 * right after the size bytes of the one before. Stops at the first item
 * that fails, with done the number of items before it.
 *
 * Return: 0 with done = nr; -EINVAL for unknown flags or nr 0, or for a
 * FREE item whose stack holds a byte of the header; -E2BIG for nr above
 * %ESTACK_BATCH_MAX; -EFAULT when done cannot be written or an item
 * cannot be read or written; -EINTR for a fatal signal between two items;
 * otherwise the errno of the failed item.
 */
int estack_batch_run(struct estack_ctx *ctx, const struct estack_batch *hdr,
		     struct estack_batch __user *uhdr,
		     const struct estack_batch_ops *ops)
{
	struct estack_batch_item it = {
		.hdr = (unsigned long)uhdr,
		.hdr_size = hdr->size,
	};
	u64 addr = hdr->items;
	u32 done;
	int ret;

	if (hdr->flags || !hdr->nr)
		return -EINVAL;
	if (hdr->nr > ESTACK_BATCH_MAX)
		return -E2BIG;
	if (put_user(0, &uhdr->done))
		return -EFAULT;

	for (done = 0; done < hdr->nr; done++) {
		if (done && estack_should_stop())
			return -EINTR;
		it.uitem = estack_batch_items(addr);
		if (!it.uitem)
			return -EFAULT;
		/* So that only another thread can make the write below fail. */
		if (fault_in_safe_writeable((char __user *)&uhdr->done,
					    sizeof(uhdr->done)))
			return -EFAULT;
		ret = ops->item(ctx, &it);
		if (ret)
			return ret;
		if (put_user(done + 1, &uhdr->done)) {
			if (ops->undo)
				ops->undo(ctx, it.id);
			return -EFAULT;
		}
		/* No next item past the top of the address space. */
		if (check_add_overflow(addr, (u64)it.usize, &addr))
			return done + 1 < hdr->nr ? -EFAULT : 0;
	}
	return 0;
}
