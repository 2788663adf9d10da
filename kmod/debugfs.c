// SPDX-License-Identifier: GPL-2.0
/*
 * estack debugfs: tables for humans in /sys/kernel/debug/estack/, root
 * only (the per-context table names processes).
 *
 *   contexts  one line per open file: pid, command, stacks, bytes, largest
 *   classes   one line per stack size: allocations, frees, in use, cached
 *
 * Concurrency: estack_ctx_list_lock, then each ctx->lock (context.c).
 *
 * Copyright (C) 2026 The estack authors
 */

#include <linux/debugfs.h>
#include <linux/seq_file.h>

#include "dev.h"

static struct dentry *estack_debugfs_dir;

/* One line per context; ctx->lock held. */
static void estack_context_show(struct estack_ctx *ctx, void *arg)
{
	unsigned long id, largest = 0;
	struct estack_stack *stack;

	xa_for_each(&ctx->ids, id, stack)
		largest = max(largest, stack->hi - stack->lo);
	seq_printf(arg, "%8d %-16s %10lu %14lu %12lu\n", ctx->tgid, ctx->comm,
		   ctx->nr_stacks, ctx->bytes, largest);
}

static int estack_contexts_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%8s %-16s %10s %14s %12s\n", "pid", "command", "stacks",
		   "bytes", "largest");
	estack_ctx_for_each(estack_context_show, m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(estack_contexts);

static int estack_classes_show(struct seq_file *m, void *v)
{
	struct estack_allocator *a = m->private;
	int order;

	seq_printf(m, "%8s %12s %12s %10s %10s %10s\n", "size", "allocs",
		   "frees", "in_use", "pool", "cpu_cache");
	for (order = 0; order < ESTACK_NR_ORDERS; order++) {
		u64 allocs = estack_stat_allocs(a, order);
		u64 frees = estack_stat_frees(a, order);
		unsigned long pool = estack_pool_count(a, order);
		unsigned long pcpu = order < ESTACK_NR_SMALL ?
				     estack_pcpu_count(a, order, NULL) : 0;

		if (!allocs && !pool)
			continue;
		seq_printf(m, "%7luK %12llu %12llu %10llu %10lu %10lu\n",
			   (PAGE_SIZE >> 10) << order, allocs, frees,
			   allocs - frees, pool, pcpu);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(estack_classes);

void estack_debugfs_init(struct estack_allocator *a)
{
	/* debugfs failures are not errors: the module works without it. */
	estack_debugfs_dir = debugfs_create_dir("estack", NULL);
	debugfs_create_file("contexts", 0400, estack_debugfs_dir, NULL,
			    &estack_contexts_fops);
	debugfs_create_file("classes", 0400, estack_debugfs_dir, a,
			    &estack_classes_fops);
}

void estack_debugfs_exit(void)
{
	debugfs_remove_recursive(estack_debugfs_dir);
}
