// SPDX-License-Identifier: GPL-2.0
/*
 * estack character device and ioctl dispatch.
 *
 * Owns /dev/estack (a misc device, mode 0666) and the ABI checks that every
 * command shares, in the order the ABI pins: ENOTTY for an unknown command,
 * EPERM for a caller outside the opener's mm, EFAULT for an unreadable
 * struct, EINVAL/E2BIG for a malformed one. Each command then has one
 * handler, estack_ioctl_<cmd>(), that copies its struct in, validates all of
 * it, acts and copies the result out. ALLOC_BATCH and FREE_BATCH read
 * their header here and run ALLOC's and FREE's own code on each item
 * through batch.c.
 *
 * Commands are matched on type and number only: the length travels in the
 * struct's leading size field (read with copy_struct_from_user()), so the
 * size bits of the command word carry no meaning and a struct can grow
 * without new command numbers.
 *
 * Concurrency: no locks here; handlers take those of the layers below.
 *
 * Copyright (C) 2026 The estack authors
 */

#include <linux/compat.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "dev.h"

/**
 * estack_copy_args_in() - read a versioned argument struct from user space
 * @karg: kernel copy, @ksize bytes; fields the caller did not pass are zeroed
 * @ksize: size of the struct this module knows
 * @ver0: size of the first published version of the struct
 * @uarg: user pointer; its first __u32 is the caller's size
 *
 * The size field of @karg is the size read and checked first, even if the
 * caller changed it in between: results are copied out with that size, and
 * a batch finds the next item with it.
 *
 * Return: 0; -EFAULT when @uarg cannot be read; -EINVAL when the caller's
 * size is below @ver0; -E2BIG when it is larger than this module's struct
 * and a byte past @ksize is non-zero, or larger than a page.
 */
int estack_copy_args_in(void *karg, size_t ksize, size_t ver0,
			const void __user *uarg)
{
	u32 usize;
	int ret;

	if (get_user(usize, (const u32 __user *)uarg))
		return -EFAULT;
	ret = estack_args_size_check(usize, ver0);
	if (ret)
		return ret;
	ret = copy_struct_from_user(karg, ksize, uarg, usize);
	/* Every struct read here starts with its size. */
	BUILD_BUG_ON(offsetof(struct estack_api, size) != 0);
	BUILD_BUG_ON(offsetof(struct estack_alloc, size) != 0);
	BUILD_BUG_ON(offsetof(struct estack_free, size) != 0);
	BUILD_BUG_ON(offsetof(struct estack_move, size) != 0);
	BUILD_BUG_ON(offsetof(struct estack_info, size) != 0);
	BUILD_BUG_ON(offsetof(struct estack_batch, size) != 0);
	if (!ret)
		*(u32 *)karg = usize;
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(estack_copy_args_in);

/**
 * estack_copy_args_out() - write a result struct back to user space
 * @uarg: user pointer the struct was read from
 * @karg: kernel copy
 * @ksize: size of the struct this module knows
 * @usize: the caller's size; only min(@usize, @ksize) bytes are written, so
 *	an older caller's shorter struct is never overrun
 *
 * Return: 0 or -EFAULT.
 */
int estack_copy_args_out(void __user *uarg, const void *karg, size_t ksize,
			 u32 usize)
{
	if (copy_to_user(uarg, karg, min_t(size_t, ksize, usize)))
		return -EFAULT;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(estack_copy_args_out);

/* The feature bits of the ioctl groups this module dispatches. */
#define ESTACK_FEATURES		(ESTACK_FEATURE_STACKS | ESTACK_FEATURE_MOVE | \
				 ESTACK_FEATURE_ADJUST_FP | \
				 ESTACK_FEATURE_ADJUST_CONSERVATIVE | \
				 ESTACK_FEATURE_BATCH)

static long estack_ioctl_api(struct estack_ctx *ctx, void __user *uarg)
{
	struct estack_api api;
	int ret;

	BUILD_BUG_ON(sizeof(api) != ESTACK_API_SIZE_VER0);

	ret = estack_copy_args_in(&api, sizeof(api), ESTACK_API_SIZE_VER0,
				  uarg);
	if (ret)
		return ret;
	if (api.flags)
		return -EINVAL;

	api.version = ESTACK_API_VERSION;
	api.page_size = PAGE_SIZE;
	api.features = ESTACK_FEATURES;
	api.min_stack = PAGE_SIZE;
	api.max_stack = estack_tunable_get(&estack_tunables.max_stack);

	return estack_copy_args_out(uarg, &api, sizeof(api), api.size);
}

/*
 * Take back a stack estack_alloc_one() made, the caller never learning it.
 * Return 0, or -ENOENT when another thread guessed its id and freed it.
 */
static int estack_alloc_undo(struct estack_ctx *ctx, u32 id)
{
	int ret = estack_stack_take_back(ctx, id);

	WARN_ON_ONCE(ret && ret != -ENOENT);
	return ret;
}

/* ALLOC of the struct at @it->uitem, as estack_batch_ops.item */
static int estack_alloc_one(struct estack_ctx *ctx,
			    struct estack_batch_item *it)
{
	struct estack_stack_info info;
	struct estack_alloc req;
	u64 size;
	int ret;

	BUILD_BUG_ON(sizeof(req) != ESTACK_ALLOC_SIZE_VER0);

	ret = estack_copy_args_in(&req, sizeof(req), ESTACK_ALLOC_SIZE_VER0,
				  it->uitem);
	if (ret)
		return ret;
	if (req.flags || req.pad)
		return -EINVAL;
	ret = estack_size_alloc(req.bytes,
				estack_tunable_get(&estack_tunables.max_stack),
				&size);
	if (ret)
		return ret;
	/*
	 * A struct that cannot be written is refused before a stack is made,
	 * as GROW refuses it: then only a mapping changed by another thread
	 * in between can fail the copy out, and the stack is taken back. The
	 * proof is a write of the struct as it was read, which the copy out
	 * repeats with the results: a plain copy, where faulting the page in
	 * through GUP cost the fast path a page-table walk and a fault.
	 */
	ret = estack_copy_args_out(it->uitem, &req, sizeof(req), req.size);
	if (ret)
		return ret;

	ret = estack_stack_create(ctx, size, &info);
	if (ret)
		return ret;
	req.id = info.id;
	req.lo = info.lo;
	req.hi = info.hi;
	ret = estack_copy_args_out(it->uitem, &req, sizeof(req), req.size);
	if (ret) {	/* the caller cannot learn the id: take it back */
		estack_alloc_undo(ctx, info.id);
		return ret;
	}
	it->usize = req.size;
	it->id = info.id;
	return 0;
}

static long estack_ioctl_alloc(struct estack_ctx *ctx, void __user *uarg)
{
	struct estack_batch_item it = { .uitem = uarg };

	return estack_alloc_one(ctx, &it);
}

/* FREE of the struct at @it->uitem, as estack_batch_ops.item */
static int estack_free_one(struct estack_ctx *ctx,
			   struct estack_batch_item *it)
{
	struct estack_free req;
	int ret;

	BUILD_BUG_ON(sizeof(req) != ESTACK_FREE_SIZE_VER0);

	ret = estack_copy_args_in(&req, sizeof(req), ESTACK_FREE_SIZE_VER0,
				  it->uitem);
	if (ret)
		return ret;
	if (req.flags || req.pad)
		return -EINVAL;
	ret = estack_stack_destroy(ctx, req.id, it->hdr, it->hdr_size);
	if (ret)
		return ret;
	it->usize = req.size;
	it->id = req.id;
	return 0;
}

static long estack_ioctl_free(struct estack_ctx *ctx, void __user *uarg)
{
	struct estack_batch_item it = { .uitem = uarg };

	return estack_free_one(ctx, &it);
}

static const struct estack_batch_ops estack_alloc_batch_ops = {
	.item	= estack_alloc_one,
	.undo	= estack_alloc_undo,
};

static const struct estack_batch_ops estack_free_batch_ops = {
	.item	= estack_free_one,
};

/*
 * ALLOC_BATCH and FREE_BATCH: the header is read here as every struct is;
 * batch.c checks the rest of it and runs the items.
 */
static long estack_ioctl_batch(struct estack_ctx *ctx, void __user *uarg,
			       const struct estack_batch_ops *ops)
{
	struct estack_batch hdr;
	int ret;

	BUILD_BUG_ON(sizeof(hdr) != ESTACK_BATCH_SIZE_VER0);

	ret = estack_copy_args_in(&hdr, sizeof(hdr), ESTACK_BATCH_SIZE_VER0,
				  uarg);
	if (ret)
		return ret;
	return estack_batch_run(ctx, &hdr, uarg, ops);
}

static long estack_ioctl_alloc_batch(struct estack_ctx *ctx,
				     void __user *uarg)
{
	return estack_ioctl_batch(ctx, uarg, &estack_alloc_batch_ops);
}

static long estack_ioctl_free_batch(struct estack_ctx *ctx, void __user *uarg)
{
	return estack_ioctl_batch(ctx, uarg, &estack_free_batch_ops);
}

static long estack_ioctl_info(struct estack_ctx *ctx, void __user *uarg)
{
	struct estack_stack_info info;
	struct estack_info req;
	int ret;

	BUILD_BUG_ON(sizeof(req) != ESTACK_INFO_SIZE_VER0);

	ret = estack_copy_args_in(&req, sizeof(req), ESTACK_INFO_SIZE_VER0,
				  uarg);
	if (ret)
		return ret;
	if (req.flags || req.pad)
		return -EINVAL;
	ret = estack_stack_query(ctx, req.id, &info);
	if (ret)
		return ret;
	req.lo = info.lo;
	req.hi = info.hi;
	req.resident = info.resident;
	return estack_copy_args_out(uarg, &req, sizeof(req), req.size);
}

#define ESTACK_MOVE_FLAGS	(ESTACK_MOVE_ADJUST_FP | ESTACK_MOVE_ADJUST_CONSERVATIVE)

static long estack_ioctl_move(struct estack_ctx *ctx, void __user *uarg,
			      bool grow)
{
	struct estack_move req;
	u64 *slots = NULL;
	int ret;

	BUILD_BUG_ON(sizeof(req) != ESTACK_MOVE_SIZE_VER0);

	ret = estack_copy_args_in(&req, sizeof(req), ESTACK_MOVE_SIZE_VER0,
				  uarg);
	if (ret)
		return ret;
	if ((req.flags & ~ESTACK_MOVE_FLAGS) ||
	    req.nr_slots > ESTACK_MAX_SLOTS || (!grow && req.bytes))
		return -EINVAL;
	/* Relocation reads and writes 64-bit words: 64-bit callers only. */
	if (in_compat_syscall() && (req.flags || req.nr_slots))
		return -EOPNOTSUPP;

	if (req.nr_slots) {
		/*
		 * Kept until the move ends, which a fault on a slot can put
		 * off for as long as the user likes: charged to the memcg.
		 */
		slots = kvmalloc_array(req.nr_slots, sizeof(*slots),
				       GFP_KERNEL_ACCOUNT);
		if (!slots)
			return -ENOMEM;
		if (copy_from_user(slots, u64_to_user_ptr(req.slots),
				   req.nr_slots * sizeof(*slots))) {
			ret = -EFAULT;
			goto out_free;
		}
	}
	/*
	 * The move writes the results itself, before it commits. A struct
	 * that cannot be written is a bad struct pointer, refused here as
	 * the ABI orders it (before ENOENT); faulting it in writes nothing.
	 */
	if (fault_in_safe_writeable(uarg, min_t(size_t, req.size,
						sizeof(req)))) {
		ret = -EFAULT;
		goto out_free;
	}
	if (grow)
		ret = estack_stack_grow(ctx, &req, slots, uarg);
	else
		ret = estack_stack_shrink(ctx, &req, slots, uarg);
	/* Nothing moved: a failed copy of the results changes nothing. */
	if (ret == 1)
		ret = estack_copy_args_out(uarg, &req, sizeof(req), req.size);
out_free:
	kvfree(slots);
	return ret;
}

static long estack_ioctl_grow(struct estack_ctx *ctx, void __user *uarg)
{
	return estack_ioctl_move(ctx, uarg, true);
}

static long estack_ioctl_shrink(struct estack_ctx *ctx, void __user *uarg)
{
	return estack_ioctl_move(ctx, uarg, false);
}

static long estack_ioctl(struct file *file, unsigned int cmd,
			 unsigned long arg)
{
	struct estack_ctx *ctx = file->private_data;
	void __user *uarg = (void __user *)arg;
	long (*handler)(struct estack_ctx *ctx, void __user *uarg);

	if (_IOC_TYPE(cmd) != ESTACK_IOC_MAGIC)
		return -ENOTTY;

	switch (_IOC_NR(cmd)) {
	case _IOC_NR(ESTACK_IOC_API):
		handler = estack_ioctl_api;
		break;
	case _IOC_NR(ESTACK_IOC_ALLOC):
		handler = estack_ioctl_alloc;
		break;
	case _IOC_NR(ESTACK_IOC_FREE):
		handler = estack_ioctl_free;
		break;
	case _IOC_NR(ESTACK_IOC_GROW):
		handler = estack_ioctl_grow;
		break;
	case _IOC_NR(ESTACK_IOC_SHRINK):
		handler = estack_ioctl_shrink;
		break;
	case _IOC_NR(ESTACK_IOC_INFO):
		handler = estack_ioctl_info;
		break;
	case _IOC_NR(ESTACK_IOC_ALLOC_BATCH):
		handler = estack_ioctl_alloc_batch;
		break;
	case _IOC_NR(ESTACK_IOC_FREE_BATCH):
		handler = estack_ioctl_free_batch;
		break;
	default:
		return -ENOTTY;
	}

	if (!estack_ctx_owned_by_current(ctx))
		return -EPERM;

	return handler(ctx, uarg);
}

static int estack_open(struct inode *inode, struct file *file)
{
	/* misc_open() leaves the miscdevice in private_data. */
	struct estack_device *edev = container_of(file->private_data,
						  struct estack_device, misc);
	struct estack_ctx *ctx;
	int ret;

	ret = nonseekable_open(inode, file);
	if (ret)
		return ret;

	ctx = estack_ctx_create(file, edev->alloc);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);

	file->private_data = ctx;
	return 0;
}

static int estack_mmap(struct file *file, struct vm_area_struct *vma)
{
	return estack_vma_mmap(file->private_data, vma);
}

static int estack_release(struct inode *inode, struct file *file)
{
	estack_ctx_destroy(file->private_data);
	return 0;
}

static const struct file_operations estack_fops = {
	.owner		= THIS_MODULE,
	.open		= estack_open,
	.release	= estack_release,
	.mmap		= estack_mmap,
	.unlocked_ioctl	= estack_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= ESTACK_NO_LLSEEK,
};

static const struct attribute_group *estack_groups[] = {
	&estack_stats_group,
	NULL
};

static struct estack_device estack_device = {
	.misc = {
		.minor	= MISC_DYNAMIC_MINOR,
		.name	= "estack",
		.fops	= &estack_fops,
		.mode	= 0666,
		.groups	= estack_groups,
	},
};

int estack_dev_init(struct estack_allocator *a)
{
	BUILD_BUG_ON(sizeof(struct estack_alloc) != ESTACK_ALLOC_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct estack_free) != ESTACK_FREE_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct estack_move) != ESTACK_MOVE_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct estack_info) != ESTACK_INFO_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct estack_batch) != ESTACK_BATCH_SIZE_VER0);

	estack_device.alloc = a;
	return misc_register(&estack_device.misc);
}

void estack_dev_exit(void)
{
	misc_deregister(&estack_device.misc);
}
