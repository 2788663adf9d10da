/* SPDX-License-Identifier: GPL-2.0 */
/*
 * estack: the module's layers and its lock order.
 *
 * Layers, top to bottom. A file calls functions of its own layer and of
 * the layers below it, never above; within a layer, the files are listed
 * top to bottom too. Each layer has one header, which includes the header
 * of the layer below; a file includes its own layer's header. The table
 * is read by tools/rig/layers.py, which fails make check when the code
 * disagrees with it.
 *
 * layer     header   files (top first)              what
 * device    dev.h    main.c debugfs.c sysfs.c dev.c /dev/estack, ioctls,
 *                    batch.c                        batches, statistics
 *                                                   files
 * vma       vma.h    vma.c                          arena VMA callbacks:
 *                                                   ->mmap ->fault ->close
 * move      move.h   move.c attempt.c relocate.c    GROW, SHRINK; copy,
 *                    take.c                         relocation, pages
 *                                                   taken over, undo
 * stack     stack.h  stack.c mapped.c               ids, ALLOC, FREE, INFO;
 *                                                   the mapped cache
 * arena     arena.h  arena.c                        arenas, slots, page
 *                                                   tables
 * context   context.h context.c                     per-file context, limits
 * allocator alloc.h  alloc.c stats.c shrinker.c     stacks of 2^order pages:
 *                    pcpu.c pool.c span.c           caches, pools, pages
 * params    params.h params.c size.c                tunables, size arithmetic
 * trace     trace.h  trace.c                        tracepoints
 *
 * compat.h (kernel versions) is below them all.
 * alloc-internal.h is the allocator's own, between its files;
 * move-internal.h the move layer's.
 *
 * Locks, outermost first (a lock is only ever taken while holding locks
 * listed above it):
 *
 *   mmap_lock          of the context's mm: read for ALLOC, FREE, INFO,
 *                      GROW, SHRINK and ->fault; write in ->mmap and
 *                      around ->close (munmap may downgrade it to read
 *                      before ->close)
 *   ctx->lock          a mutex: ids, arenas, slots, the mapped cache, the
 *                      file's limits. Never held across vm_mmap(), a page
 *                      allocation or a user access that may fault: a fault
 *                      on an arena takes it
 *   estack_users_lock  the per-user table (context.c), at open and close
 *   pcpu->lock         a CPU's cache (pcpu.c); a drainer from another CPU
 *                      or the shrinker (trylock) may take it too
 *   list_lru lock      a pool's per-node lock, inside list_lru
 *
 * Nothing sleeps under the last two; pages are allocated and freed outside
 * them.
 *
 * Copyright (C) 2026 The estack authors
 */
#ifndef _ESTACK_H
#define _ESTACK_H

#include "dev.h"

#endif /* _ESTACK_H */
