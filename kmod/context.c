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
 * Limits: a context counts its live stacks and the bytes of its live and
 * mapped-cache stacks (ctx->nr_stacks, ctx->bytes, under ctx->lock); the
 * same bytes count in its user's total. A charge checks the file's limits
 * and the user's before it takes anything.
 *
 * Copyright (C) 2026 The estack authors
 */

#include <linux/atomic.h>
#include <linux/cred.h>
#include <linux/error-injection.h>
#include <linux/memcontrol.h>
#include <linux/mmap_lock.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/sched/coredump.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uidgid.h>
#include <linux/user_namespace.h>
#include <linux/xarray.h>

#include "context.h"

/*
 * The accounts max_bytes_per_user is kept in: one per uid of the initial
 * namespace, and one per user namespace that root made (its key is the
 * namespace's inode number, unique while the namespace lives: each
 * context that uses such an account pins its namespace).
 */
static DEFINE_XARRAY(estack_users);
static DEFINE_XARRAY(estack_ns_users);
static DEFINE_MUTEX(estack_users_lock);

/*
 * Every live context, for debugfs and the OOM notifier; taken before any
 * mmap lock and ctx->lock.
 */
static LIST_HEAD(estack_ctx_list);
static DEFINE_MUTEX(estack_ctx_list_lock);
/* estack_ctx.serial: 64 bits never wrap, so no two files share one. */
static atomic64_t estack_ctx_serial = ATOMIC64_INIT(0);

static struct estack_user *estack_user_get(struct xarray *xa,
					   unsigned long key)
{
	struct estack_user *user;

	mutex_lock(&estack_users_lock);
	user = xa_load(xa, key);
	if (user) {
		user->refs++;
		goto out;
	}
	user = kzalloc(sizeof(*user), GFP_KERNEL);
	if (!user)
		goto out;
	user->refs = 1;
	atomic_long_set(&user->bytes, 0);
	if (xa_err(xa_store(xa, key, user, GFP_KERNEL))) {
		kfree(user);
		user = NULL;
	}
out:
	mutex_unlock(&estack_users_lock);
	return user;
}

static void estack_user_put(struct xarray *xa, unsigned long key,
			    struct estack_user *user)
{
	mutex_lock(&estack_users_lock);
	if (!--user->refs) {
		xa_erase(xa, key);
		WARN_ON_ONCE(atomic_long_read(&user->bytes));
		kfree(user);
	}
	mutex_unlock(&estack_users_lock);
}

/*
 * The outermost user namespace @ns is in (a child of the initial one), or
 * NULL for the initial namespace. Namespaces nest only within the uids of
 * their creators, so its owner, or the namespace itself, answers for every
 * level below. The namespaces are pinned by the caller's cred.
 */
static struct user_namespace *estack_outer_ns(struct user_namespace *ns)
{
	if (ns == &init_user_ns)
		return NULL;
	while (ns->parent != &init_user_ns)
		ns = ns->parent;
	return ns;
}

/*
 * Who answers for a context's stacks besides its uid. Subordinate uids
 * (/etc/subuid, mapped by newuidmap) are uids of their own: without this a
 * user given 65536 of them would hold 65536 times max_bytes_per_user. So
 * a file opened in a user namespace also charges, against the same limit,
 * the owner of the outermost namespace; or, when root made that namespace
 * (a container's), an account of that namespace: its uids share one
 * budget, and share nothing with root's own processes or with other
 * containers. Nothing more in the initial namespace, nor when the owner is
 * the opener's own uid.
 */
static int estack_ctx_owner_get(struct estack_ctx *ctx)
{
	struct user_namespace *ns = estack_outer_ns(current_user_ns());

	if (!ns)
		return 0;
	if (!uid_eq(ns->owner, GLOBAL_ROOT_UID)) {
		if (uid_eq(ns->owner, ctx->uid))
			return 0;
		ctx->owner_xa = &estack_users;
		ctx->owner_key = from_kuid(&init_user_ns, ns->owner);
	} else {
		ctx->owner_ns = get_user_ns(ns);
		ctx->owner_xa = &estack_ns_users;
		ctx->owner_key = ns->ns.inum;
	}
	ctx->owner = estack_user_get(ctx->owner_xa, ctx->owner_key);
	if (!ctx->owner) {
		put_user_ns(ctx->owner_ns);
		return -ENOMEM;
	}
	return 0;
}

static void estack_ctx_owner_put(struct estack_ctx *ctx)
{
	if (!ctx->owner)
		return;
	estack_user_put(ctx->owner_xa, ctx->owner_key, ctx->owner);
	put_user_ns(ctx->owner_ns);
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
	ctx->user = estack_user_get(&estack_users,
				    from_kuid(&init_user_ns, ctx->uid));
	if (!ctx->user) {
		kfree(ctx);
		return ERR_PTR(-ENOMEM);
	}
	if (estack_ctx_owner_get(ctx)) {
		estack_user_put(&estack_users,
				from_kuid(&init_user_ns, ctx->uid), ctx->user);
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
	ctx->serial = atomic64_inc_return(&estack_ctx_serial);
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
	estack_ctx_owner_put(ctx);
	estack_user_put(&estack_users, from_kuid(&init_user_ns, ctx->uid),
			ctx->user);
	mmdrop(ctx->mm);
	mutex_destroy(&ctx->lock);
	kfree(ctx);
}

/**
 * estack_ctx_for_each() - call @fn for every live context, for debugfs
 * @fn: called with the context's lock held
 * @arg: passed to @fn
 */
void estack_ctx_for_each(void (*fn)(struct estack_ctx *ctx, void *arg),
			 void *arg)
{
	struct estack_ctx *ctx;

	mutex_lock(&estack_ctx_list_lock);
	list_for_each_entry(ctx, &estack_ctx_list, node) {
		mutex_lock(&ctx->lock);
		fn(ctx, arg);
		mutex_unlock(&ctx->lock);
	}
	mutex_unlock(&estack_ctx_list_lock);
}

/*
 * A context that holds no stack, live or in its mapped cache: read without
 * ctx->lock, whose holder may be anywhere. Its count only moves under that
 * lock, and a stack made meanwhile is mapped whole when it is made.
 */
static bool estack_ctx_idle(const struct estack_ctx *ctx)
{
	unsigned int order;

	/* Racy, as above: a stale count costs at most a visit or a miss. */
	if (data_race(ctx->nr_stacks))
		return false;
	for (order = 0; order < ESTACK_NR_SMALL; order++) {
		/* Racy, as above. */
		if (data_race(ctx->nr_mapped[order]))
			return false;
	}
	return true;
}

/**
 * estack_ctx_try_each() - call @fn for every context with stacks, free now
 * @fn: called with the context's mm alive, its mmap lock held for reading
 *	and ctx->lock held
 * @arg: passed to @fn
 *
 * For the OOM notifier, which runs in whatever task ran out of memory,
 * maybe while it held one of these locks: each lock is only tried, and a
 * context whose lock is busy is skipped. So is one whose mm is exiting or
 * is already the OOM killer's victim: holding a reference on it would
 * leave its teardown to a worker. A context that holds no stack, live or
 * cached, has nothing for @fn and is not visited.
 *
 * Context: may sleep; no estack lock held.
 * Return: the number of contexts skipped because a lock was busy, or -1
 * when the list itself was busy and none was visited.
 */
int estack_ctx_try_each(void (*fn)(struct estack_ctx *ctx, void *arg),
			void *arg)
{
	struct estack_ctx *ctx;
	int skipped = 0;

	if (!mutex_trylock(&estack_ctx_list_lock))
		return -1;
	list_for_each_entry(ctx, &estack_ctx_list, node) {
		struct mm_struct *mm = ctx->mm;

		/*
		 * Files are cheap to open: many of them are a long list, and
		 * one that holds nothing is passed over without a reference
		 * or a lock.
		 */
		cond_resched();
		if (estack_ctx_idle(ctx))
			continue;
		if (test_bit(MMF_OOM_SKIP, &mm->flags) ||
		    test_bit(MMF_OOM_REAP_QUEUED, &mm->flags) ||
		    !mmget_not_zero(mm))
			continue;
		if (mmap_read_trylock(mm)) {
			if (mutex_trylock(&ctx->lock)) {
				fn(ctx, arg);
				mutex_unlock(&ctx->lock);
			} else {
				skipped++;
			}
			mmap_read_unlock(mm);
		} else {
			skipped++;
		}
		/* The last user's exit_mmap() runs elsewhere, not here. */
		mmput_async(mm);
	}
	mutex_unlock(&estack_ctx_list_lock);
	return skipped;
}

/*
 * Take @size bytes from @acct within @max. Zero bytes only checks, with a
 * plain read: an ALLOC from the mapped cache would otherwise write the
 * one cache line that all the user's files share.
 */
static bool estack_user_charge(struct estack_user *acct, unsigned long size,
			       unsigned long max)
{
	if (!size)
		return atomic_long_read(&acct->bytes) <= max;
	if (atomic_long_add_return(size, &acct->bytes) <= max)
		return true;
	atomic_long_sub(size, &acct->bytes);
	return false;
}

/**
 * estack_limits_charge_locked() - take @size bytes, and a stack, from the limits
 * @ctx: the context
 * @size: usable bytes; 0 for a stack whose bytes are charged already
 * @new_stack: one more stack (false for the bytes a GROW adds)
 *
 * Error injection can make it fail, to test every -ENOSPC exit.
 *
 * Context: ctx->lock held.
 * Return: 0, or -ENOSPC past max_stacks_per_fd, max_bytes_per_fd or
 * max_bytes_per_user.
 */
noinline int estack_limits_charge_locked(struct estack_ctx *ctx,
					 unsigned long size, bool new_stack)
{
	const struct estack_tunables *t = &estack_tunables;
	unsigned long max = estack_tunable_get(&t->max_bytes_per_user);

	lockdep_assert_held(&ctx->lock);
	if (ctx->nr_stacks + new_stack >
	    estack_tunable_get(&t->max_stacks_per_fd) ||
	    ctx->bytes + size > estack_tunable_get(&t->max_bytes_per_fd))
		return -ENOSPC;
	if (!estack_user_charge(ctx->user, size, max))
		return -ENOSPC;
	/* Who answers for all the uids of the user's namespace together. */
	if (ctx->owner && !estack_user_charge(ctx->owner, size, max)) {
		atomic_long_sub(size, &ctx->user->bytes);
		return -ENOSPC;
	}
	ctx->nr_stacks += new_stack;
	ctx->bytes += size;
	return 0;
}

/* For the fail_function sweeps of the tests. */
ALLOW_ERROR_INJECTION(estack_limits_charge_locked, ERRNO);

/**
 * estack_mmap_trylock() - the mmap lock for reading, if it is free now
 * @mm: the caller's mm
 *
 * For ALLOC and the moves, which take it holding a new stack's pages. A
 * wait for it can last as long as any user likes: a thread holding it
 * for reading while it faults on a file of its own FUSE mount that never
 * answers, and a writer queued behind. Pages held across that wait are
 * mapped nowhere, so in no process's RSS, and the OOM killer, which sees
 * RSS, would pick a bystander. When the lock is not free, the caller
 * gives the pages back, waits for the lock holding nothing, and has the
 * pages again holding it (estack_stack_span_alloc()).
 *
 * Return: 0 with the lock held, or -EBUSY when a writer holds it or waits.
 */
noinline int estack_mmap_trylock(struct mm_struct *mm)
{
	return mmap_read_trylock(mm) ? 0 : -EBUSY;
}

/* The tests make the lock look contended with fail_function. */
ALLOW_ERROR_INJECTION(estack_mmap_trylock, ERRNO);

/**
 * estack_limits_release_locked() - give back what a charge took
 * @ctx: the context
 * @size: usable bytes
 * @stack: one stack too
 *
 * Context: ctx->lock held.
 */
void estack_limits_release_locked(struct estack_ctx *ctx, unsigned long size,
				  bool stack)
{
	lockdep_assert_held(&ctx->lock);
	ctx->nr_stacks -= stack;
	ctx->bytes -= size;
	if (!size)
		return;
	atomic_long_sub(size, &ctx->user->bytes);
	if (ctx->owner)
		atomic_long_sub(size, &ctx->owner->bytes);
}

/**
 * estack_limits_uncharge() - give back a stack of @size bytes
 * @ctx: the context
 * @size: its usable bytes
 */
void estack_limits_uncharge(struct estack_ctx *ctx, unsigned long size)
{
	mutex_lock(&ctx->lock);
	estack_limits_release_locked(ctx, size, true);
	mutex_unlock(&ctx->lock);
}
