/* SPDX-License-Identifier: GPL-2.0 */
/*
 * estack context layer (context.c): the state of one open of /dev/estack,
 * its owner, and the limits it and its user are held to.
 *
 * Copyright (C) 2026 The estack authors
 */
#ifndef _ESTACK_CONTEXT_H
#define _ESTACK_CONTEXT_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/uidgid.h>
#include <linux/xarray.h>

#include "alloc.h"

struct user_namespace;

/**
 * struct estack_user - accounting of one user's stacks across its files,
 *	or of those of the uids of one user namespace root made
 * @refs: contexts charged to it; under estack_users_lock (context.c)
 * @bytes: usable bytes of the user's live and mapped-cache stacks
 * @free_slots: slots of the user's arenas kept for reuse with no stack
 *	(arena.c: estack_arena_unreserve_locked())
 */
struct estack_user {
	unsigned int refs;
	atomic_long_t bytes;
	atomic_long_t free_slots;
};

/**
 * struct estack_ctx - state of one open of /dev/estack
 * @mm: the address space that opened the file, pinned with mmgrab(); only
 *	callers whose current->mm is @mm may use the file
 * @memcg: the opener's memory cgroup (a css reference): every page of the
 *	file's stacks is charged to it and cached under it
 * @user: the opener's per-user accounting
 * @uid: the opener's uid, the key of @user
 * @owner: the accounting charged with @user for the opener's user
 *	namespace (context.c: estack_ctx_owner_get()), or NULL
 * @owner_xa: the accounts @owner is one of
 * @owner_key: its key there
 * @owner_ns: the namespace @owner is the account of, pinned; NULL when
 *	@owner is a uid's
 * @alloc: the allocator
 * @file: the file; arenas map it
 * @lock: protects the fields below, the arenas and their stacks; taken
 *	inside the mmap lock, never across a user copy
 * @ids: id -> struct estack_stack of live stacks
 * @next_id: the next id; 0 once all 2^32 - 1 are used
 * @arenas: the mapped arenas
 * @pending: cookie -> arena between vm_mmap() and ->mmap
 * @mapped: per small order, freed stacks kept mapped for the next ALLOC
 *	(Go's stackcache, one level closer to the user: a hit allocates,
 *	inserts and zaps nothing)
 * @nr_mapped: the length of each @mapped list
 * @nr_stacks: live stacks (max_stacks_per_fd)
 * @bytes: usable bytes of the live stacks and of those in @mapped
 *	(max_bytes_per_fd; the same bytes count in @user and @owner)
 * @node: in the list of all contexts (context.c), for debugfs
 * @tgid: the opener's process id, for debugfs
 * @comm: the opener's command name, for debugfs
 * @serial: unique among all contexts ever opened (never 0): the owner the
 *	allocator remembers in the spans this file frees
 *
 * @mm, @memcg, @user, @uid, @owner, @owner_xa, @owner_key, @owner_ns,
 * @alloc, @file, @tgid, @comm and @serial are set at open and never change.
 */
struct estack_ctx {
	struct mm_struct *mm;
	struct mem_cgroup *memcg;
	struct estack_user *user;
	kuid_t uid;
	struct estack_user *owner;
	struct xarray *owner_xa;
	unsigned long owner_key;
	struct user_namespace *owner_ns;
	struct estack_allocator *alloc;
	struct file *file;
	struct mutex lock;	/* see above */
	struct xarray ids;
	u32 next_id;
	struct list_head arenas;
	struct xarray pending;
	struct list_head mapped[ESTACK_NR_SMALL];
	unsigned int nr_mapped[ESTACK_NR_SMALL];
	unsigned long nr_stacks;
	unsigned long bytes;
	struct list_head node;
	pid_t tgid;
	char comm[TASK_COMM_LEN];
	u64 serial;
};

struct estack_ctx *estack_ctx_create(struct file *file,
				     struct estack_allocator *alloc);
void estack_ctx_destroy(struct estack_ctx *ctx);
void estack_ctx_for_each(void (*fn)(struct estack_ctx *ctx, void *arg),
			 void *arg);
int estack_ctx_try_each(void (*fn)(struct estack_ctx *ctx, void *arg),
			void *arg);

/* Limits of a context and of its user (context.c); ctx->lock held. */
int estack_limits_charge_locked(struct estack_ctx *ctx, unsigned long size,
				bool new_stack);
void estack_limits_release_locked(struct estack_ctx *ctx, unsigned long size,
				  bool stack);
void estack_limits_uncharge(struct estack_ctx *ctx, unsigned long size);

/* The mmap lock, for a caller holding a new stack's pages (context.c). */
int estack_mmap_trylock(struct mm_struct *mm);

/**
 * estack_ctx_owned_by_current() - may the calling task use @ctx?
 * @ctx: the context of the file
 *
 * Return: true when the caller runs in the mm that opened the file.
 */
static inline bool estack_ctx_owned_by_current(const struct estack_ctx *ctx)
{
	return ctx->mm == current->mm;
}

#endif /* _ESTACK_CONTEXT_H */
