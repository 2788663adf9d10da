// SPDX-License-Identifier: GPL-2.0
/*
 * estack per-file context.
 *
 * A context is created when /dev/estack is opened and belongs to the
 * opener's address space. It pins that mm_struct with mmgrab(), not
 * mmget(): the mm owns the arena VMAs, each VMA holds the file and the file
 * holds the context, so a user reference here would be a cycle that keeps
 * the address space alive forever. It also pins the opener's memory cgroup
 * (every page of the file's stacks is charged there and its caches are keyed
 * by it) and the opener's per-user accounting.
 *
 * Concurrency: mm, memcg, user, alloc and file are set at open and never
 * change. ctx->lock (a mutex, taken inside the mmap lock) protects ids,
 * arenas, pending and the per-file counters. Threads of the owning process
 * may use one context at once.
 *
 * Per-user accounting: one struct estack_user per uid with live contexts,
 * in an xarray under estack_users_lock; its byte count is atomic.
 *
 * Copyright (C) 2026 The estack authors
 */

#include <linux/cred.h>
#include <linux/memcontrol.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uidgid.h>
#include <linux/xarray.h>

#include "estack.h"

static DEFINE_XARRAY(estack_users);
static DEFINE_MUTEX(estack_users_lock);

/* Every live context, for debugfs; taken before any ctx->lock. */
static LIST_HEAD(estack_ctx_list);
static DEFINE_MUTEX(estack_ctx_list_lock);

static struct estack_user *estack_user_get(kuid_t kuid)
{
	unsigned long uid = from_kuid(&init_user_ns, kuid);
	struct estack_user *user;

	mutex_lock(&estack_users_lock);
	user = xa_load(&estack_users, uid);
	if (user) {
		user->refs++;
		goto out;
	}
	user = kzalloc(sizeof(*user), GFP_KERNEL);
	if (!user)
		goto out;
	user->refs = 1;
	atomic_long_set(&user->bytes, 0);
	if (xa_err(xa_store(&estack_users, uid, user, GFP_KERNEL))) {
		kfree(user);
		user = NULL;
	}
out:
	mutex_unlock(&estack_users_lock);
	return user;
}

static void estack_user_put(struct estack_user *user, kuid_t kuid)
{
	mutex_lock(&estack_users_lock);
	if (!--user->refs) {
		xa_erase(&estack_users, from_kuid(&init_user_ns, kuid));
		WARN_ON_ONCE(atomic_long_read(&user->bytes));
		kfree(user);
	}
	mutex_unlock(&estack_users_lock);
}

/**
 * estack_ctx_create() - context for an open by the current task
 * @file: the file being opened
 * @alloc: the allocator its stacks come from
 *
 * Return: the context, ERR_PTR(-EINVAL) for a task without an address space
 * (a kernel thread), or ERR_PTR(-ENOMEM).
 */
struct estack_ctx *estack_ctx_create(struct file *file,
				     struct estack_allocator *alloc)
{
	struct estack_ctx *ctx;
	unsigned int order;

	if (!current->mm)
		return ERR_PTR(-EINVAL);

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL_ACCOUNT);
	if (!ctx)
		return ERR_PTR(-ENOMEM);
	ctx->uid = current_uid();
	ctx->user = estack_user_get(ctx->uid);
	if (!ctx->user) {
		kfree(ctx);
		return ERR_PTR(-ENOMEM);
	}
	mutex_init(&ctx->lock);
	xa_init_flags(&ctx->ids, XA_FLAGS_ACCOUNT);
	xa_init(&ctx->pending);
	INIT_LIST_HEAD(&ctx->arenas);
	for (order = 0; order < ESTACK_NR_SMALL; order++)
		INIT_LIST_HEAD(&ctx->mapped[order]);
	ctx->next_id = 1;
	ctx->file = file;
	ctx->alloc = alloc;
	ctx->memcg = get_mem_cgroup_from_mm(current->mm);
	mmgrab(current->mm);
	ctx->mm = current->mm;
	ctx->tgid = task_tgid_nr(current);
	get_task_comm(ctx->comm, current);
	mutex_lock(&estack_ctx_list_lock);
	list_add_tail(&ctx->node, &estack_ctx_list);
	mutex_unlock(&estack_ctx_list_lock);
	return ctx;
}

/**
 * estack_ctx_destroy() - release a context at the last close of its file
 * @ctx: the context; every arena VMA holds the file, so none is left
 */
void estack_ctx_destroy(struct estack_ctx *ctx)
{
	unsigned int order;

	mutex_lock(&estack_ctx_list_lock);
	list_del(&ctx->node);
	mutex_unlock(&estack_ctx_list_lock);
	WARN_ON_ONCE(!list_empty(&ctx->arenas) || ctx->nr_stacks);
	for (order = 0; order < ESTACK_NR_SMALL; order++)
		WARN_ON_ONCE(ctx->nr_mapped[order]);
	xa_destroy(&ctx->ids);
	xa_destroy(&ctx->pending);
	if (ctx->memcg)
		css_put(&ctx->memcg->css);
	estack_user_put(ctx->user, ctx->uid);
	mmdrop(ctx->mm);
	mutex_destroy(&ctx->lock);
	kfree(ctx);
}

/**
 * estack_ctx_show_all() - one line per context for debugfs
 * @m: the seq_file
 */
void estack_ctx_show_all(struct seq_file *m)
{
	struct estack_stack *stack;
	struct estack_ctx *ctx;
	unsigned long id, largest;

	mutex_lock(&estack_ctx_list_lock);
	list_for_each_entry(ctx, &estack_ctx_list, node) {
		mutex_lock(&ctx->lock);
		largest = 0;
		xa_for_each(&ctx->ids, id, stack)
			largest = max(largest, stack->hi - stack->lo);
		seq_printf(m, "%8d %-16s %10lu %14lu %12lu\n", ctx->tgid,
			   ctx->comm, ctx->nr_stacks, ctx->bytes, largest);
		mutex_unlock(&ctx->lock);
	}
	mutex_unlock(&estack_ctx_list_lock);
}
