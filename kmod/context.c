// SPDX-License-Identifier: GPL-2.0
/*
 * estack per-file context.
 *
 * A context is created when /dev/estack is opened and belongs to the
 * opener's address space. It pins that mm_struct with mmgrab(), not
 * mmget(): the mm will own the arena VMAs, each VMA holds the file and the
 * file holds the context, so a user reference here would be a cycle that
 * keeps the address space alive forever. mmgrab() keeps only the struct, which
 * is all the ownership check (and, later, mmap_lock) needs.
 *
 * Concurrency: the context's fields are set before the file is published
 * and never change; threads of the owning process may use one context at
 * once.
 *
 * Copyright (C) 2026 The estack authors
 */

#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "estack.h"

/**
 * estack_ctx_create() - context for an open by the current task
 *
 * Return: the context, ERR_PTR(-EINVAL) for a task without an address space
 * (a kernel thread), or ERR_PTR(-ENOMEM).
 */
struct estack_ctx *estack_ctx_create(void)
{
	struct estack_ctx *ctx;

	if (!current->mm)
		return ERR_PTR(-EINVAL);

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL_ACCOUNT);
	if (!ctx)
		return ERR_PTR(-ENOMEM);

	mmgrab(current->mm);
	ctx->mm = current->mm;
	return ctx;
}

/**
 * estack_ctx_destroy() - release a context at the last close of its file
 * @ctx: the context
 */
void estack_ctx_destroy(struct estack_ctx *ctx)
{
	mmdrop(ctx->mm);
	kfree(ctx);
}
