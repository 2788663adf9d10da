/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * estack: elastic stacks for user-level fibers.
 *
 * Copyright (C) 2026 The estack authors
 */
#ifndef _UAPI_LINUX_ESTACK_H
#define _UAPI_LINUX_ESTACK_H

#include <linux/types.h>
#include <linux/ioctl.h>

/**
 * DOC: estack ABI
 *
 * ``/dev/estack`` gives a process stacks that live in an arena the module
 * maps into the process and that can later be moved, by copy, to a larger
 * (GROW) or a smaller (SHRINK) stack, the way the Go runtime moves goroutine
 * stacks.
 *
 * Every argument struct starts with ``size``, the caller's ``sizeof`` of the
 * struct, and ``flags``. The kernel reads the struct with
 * copy_struct_from_user(): a caller built against an older header passes a
 * shorter struct (at least the first published one) and the missing fields
 * read as zero; a caller built against a newer header may pass a longer
 * struct, up to 4096 bytes (one page), as long as every byte the kernel
 * does not know is zero. A ``size`` above 4096 is ``E2BIG`` whatever its
 * tail holds. Commands are matched on their type (``0xE6``) and number
 * only; the length comes from ``size``.
 *
 * Errors are checked in this order and the numbers are stable:
 *
 * - ``ENOTTY``: unknown command;
 * - ``EPERM``: the file is used from a process (mm) other than the opener;
 * - ``EFAULT``: the struct pointer cannot be read (a struct that can be
 *   read but not written: see below);
 * - ``EINVAL``: ``size`` below the first published struct; ``E2BIG``: a
 *   ``size`` above 4096, or a longer struct with non-zero bytes past the
 *   known fields (both checked before the fields); then ``EINVAL`` for
 *   unknown ``flags``, non-zero ``pad``, too many slots;
 * - ``ENOENT``: unknown id, or a stack whose arena is being unmapped;
 * - ``EINVAL``: an ``sp`` or ``bytes`` that does not fit that stack;
 * - ``EBUSY``: the stack the calling thread is running on;
 * - ``EINVAL``: the struct or the slot array inside the stack being moved
 *   (GROW, SHRINK), or the batch's header inside the stack that a
 *   FREE_BATCH item frees;
 * - ``EFBIG``: past ``max_stack``;
 * - ``ENOSPC``: a limit of the file or of the user (GROW and SHRINK hold
 *   both stacks until they commit, and need room for the whole new one);
 * - ``ENOMEM``: out of memory, also when no arena can be mapped:
 *   ``RLIMIT_AS``, ``vm.max_map_count``, the ``RLIMIT_MEMLOCK`` of a
 *   process that called mlockall(MCL_FUTURE) without ``CAP_IPC_LOCK`` (an
 *   arena is 64 GiB of address space), or an ALLOC or a move whose new
 *   arena another thread keeps unmapping; never ``EAGAIN``;
 * - ``EINTR``: a fatal signal interrupted a long copy, clear or page-table
 *   walk (nothing changed).
 *
 * A struct that can be read but not written (read-only memory) gets
 * ``EFAULT``: for API and INFO when the results are written, after every
 * other check; for ALLOC after its ``EINVAL`` and ``EFBIG``, before the
 * stack is made (``ENOSPC``, ``ENOMEM``); for GROW and SHRINK before
 * ``ENOENT`` (below). Should another thread make ALLOC's struct
 * unwritable after that check, ALLOC takes its new stack back, found by
 * its id (a stack another thread GROWs in between is the one taken
 * back), and fails with ``EFAULT``; the struct may then have been written
 * in part, and its contents mean nothing. ALLOC's
 * ``bytes`` of any size above ``max_stack``, ``~0`` included, is
 * ``EFBIG``.
 *
 * GROW and SHRINK have errnos of their own; the code places them so:
 *
 * - ``EOPNOTSUPP``: a 32-bit caller asked for relocation (flags or
 *   slots); right after the struct's ``EINVAL`` and ``E2BIG``;
 * - ``ENOMEM`` for the kernel's copy of the slot array, then ``EFAULT``
 *   for a slot array that cannot be read, then ``EFAULT`` for a struct
 *   that cannot be written (read-only memory, say): after that, before
 *   ``ENOENT``;
 * - ``EFAULT`` for a slot that cannot be read or written: while the new
 *   stack is built, after ``ENOSPC``, with nothing changed.
 *
 * ALLOC_BATCH and FREE_BATCH check their header as above (``EFAULT``,
 * ``EINVAL`` and ``E2BIG`` for the struct, then ``EINVAL`` for unknown
 * ``flags``, then ``EINVAL`` for ``nr`` 0 and ``E2BIG`` for ``nr`` above
 * %ESTACK_BATCH_MAX), then ``EFAULT`` for a header whose ``done`` cannot
 * be written; nothing is done up to there. Each item then has the errnos of
 * its single command, in the same order; the first that fails ends the
 * call with its errno (``EFAULT`` for an item that cannot be read, or an
 * ALLOC item that cannot be written). A FREE_BATCH item whose stack holds
 * any of the header's ``size`` bytes is ``EINVAL``, after ``EBUSY`` and
 * before anything is freed. Between two items, ``EINTR`` for a fatal
 * signal. See struct estack_batch for what ``done`` says then.
 *
 * Stack sizes are powers of two, at least ``min_stack`` (one page). A size
 * in ``bytes`` is the usable size of a stack; its guard page is extra.
 */

/**
 * DOC: estack commands
 *
 * - ``ESTACK_IOC_API`` (struct estack_api): the handshake. Call it first.
 * - ``ESTACK_IOC_ALLOC`` (struct estack_alloc): a new stack in the caller's
 *   address space. The module maps an arena (a few large mappings of
 *   /dev/estack, never one per stack) on the first ALLOC. Every byte of a
 *   new stack reads as zero; every page is mapped at once, so it counts in
 *   the process's RSS and the first touch takes no fault.
 * - ``ESTACK_IOC_FREE`` (struct estack_free): unmap and free a stack.
 * - ``ESTACK_IOC_GROW`` (struct estack_move): move a stack to a larger one.
 *   ``bytes`` 0 doubles; otherwise it must exceed the current size
 *   (``EINVAL``) and is rounded up to a power of two; a result above
 *   ``max_stack`` is ``EFBIG``. ``sp`` must lie in [lo, hi]. The live range
 *   [sp, hi) is copied to the top of the new stack, the rest of which reads
 *   as zero; every page of the new stack is mapped at once, as ALLOC's.
 * - ``ESTACK_IOC_SHRINK`` (struct estack_move): halve a stack when
 *   hi - sp < (hi - lo) / 4 and the half is at least ``min_stack``;
 *   otherwise succeed without moving (old lo/hi, delta 0, adjusted 0, fp
 *   as given).
 * - ``ESTACK_IOC_INFO`` (struct estack_info): a stack's range and how many
 *   of its bytes are mapped: all of them, unless the process dropped pages
 *   with MADV_DONTNEED (they come back, with their data, on the next
 *   touch). A stack whose arena is being unmapped gives ``ENOENT``.
 * - ``ESTACK_IOC_ALLOC_BATCH`` (struct estack_batch over an array of
 *   struct estack_alloc): up to %ESTACK_BATCH_MAX ALLOCs in one call, in
 *   order, each exactly as ``ESTACK_IOC_ALLOC`` (its own size, checks,
 *   errnos and results); stops at the first that fails.
 * - ``ESTACK_IOC_FREE_BATCH`` (struct estack_batch over an array of
 *   struct estack_free): up to %ESTACK_BATCH_MAX FREEs in one call, the
 *   same way. Both are dispatched when ``ESTACK_FEATURE_BATCH`` is set.
 *
 * Ids are per file and never reused while the file is open; a freed id, or
 * any id of an arena the process unmapped, gives ``ENOENT``.
 *
 * Relocation (GROW and SHRINK) rewrites a word only if its value lies in
 * the old [lo, hi), adding ``delta``: the words named by ``slots`` (a slot
 * inside the old stack is read and written at its new place), with
 * %ESTACK_MOVE_ADJUST_FP the saved frame-pointer chain from ``fp`` (each
 * frame's first word is the caller's frame pointer; the walk stops when a
 * frame leaves the old stack or does not strictly increase, or at a depth
 * bound), and with %ESTACK_MOVE_ADJUST_CONSERVATIVE every 8-byte-aligned
 * word of the copied range. A word is rewritten once however many of these
 * name it (a slot listed twice included). GROW and SHRINK are all or
 * nothing: on any error the old stack, its contents and every slot are as
 * before. The results (lo, hi, delta, fp, adjusted) are written into the
 * caller's struct before the move commits, so a move that returns an error
 * changed nothing and a move that changed anything returns 0. For that,
 * the struct (all its ``size`` bytes) and the slot array (``nr_slots`` * 8
 * bytes at ``slots``) may not lie in [lo, hi) of the stack being moved
 * (``EINVAL``, checked after ``EBUSY``); see struct estack_move.
 *
 * GROW, SHRINK and FREE refuse the stack the calling thread's stack pointer
 * is in with ``EBUSY``: a library switches to its scheduler stack first, as
 * Go's morestack switches to g0. Relocation cannot fix pointers held by the
 * kernel (an in-flight O_DIRECT or io_uring buffer, a futex, rseq) or in
 * the registers of another running thread.
 */

/* ioctl type of /dev/estack */
#define ESTACK_IOC_MAGIC	0xE6

/* the version ESTACK_IOC_API reports */
#define ESTACK_API_VERSION	1

/*
 * Feature bits reported in estack_api.features: one bit per group of
 * ioctls the running module dispatches. A library checks the bit before it
 * relies on the group.
 */
/* ALLOC, FREE and INFO are available */
#define ESTACK_FEATURE_STACKS		0x1ULL
/* GROW and SHRINK are available */
#define ESTACK_FEATURE_MOVE		0x2ULL
/* GROW/SHRINK take ESTACK_MOVE_ADJUST_FP */
#define ESTACK_FEATURE_ADJUST_FP	0x4ULL
/* ESTACK_MOVE_ADJUST_CONSERVATIVE */
#define ESTACK_FEATURE_ADJUST_CONSERVATIVE 0x8ULL
/* ALLOC_BATCH and FREE_BATCH are available */
#define ESTACK_FEATURE_BATCH		0x10ULL

/*
 * Flags of estack_move.flags. Relocation needs a 64-bit caller: a compat
 * (32-bit) caller that sets either flag, or passes slots, gets EOPNOTSUPP.
 */
/* relocate the saved frame-pointer chain from fp */
#define ESTACK_MOVE_ADJUST_FP		0x1U
/* relocate every word that looks like a
 * pointer into the old stack (an integer with such a value is rewritten too)
 */
#define ESTACK_MOVE_ADJUST_CONSERVATIVE	0x2U

/* most entries estack_move.slots may name */
#define ESTACK_MAX_SLOTS	4096

/**
 * struct estack_api - handshake, argument of %ESTACK_IOC_API
 * @size: (in) sizeof(struct estack_api) as the caller knows it
 * @flags: (in) must be 0
 * @version: (out) %ESTACK_API_VERSION
 * @page_size: (out) page size of the kernel, in bytes
 * @features: (out) the ``ESTACK_FEATURE_*`` bits of the running module
 * @min_stack: (out) smallest stack, in bytes (one page)
 * @max_stack: (out) largest stack, in bytes (module parameter max_stack)
 */
struct estack_api {
	__u32 size;
	__u32 flags;
	__u32 version;
	__u32 page_size;
	__u64 features;
	__u64 min_stack;
	__u64 max_stack;
};

/**
 * struct estack_alloc - new stack, argument of %ESTACK_IOC_ALLOC
 * @size: (in) sizeof(struct estack_alloc) as the caller knows it
 * @flags: (in) must be 0
 * @bytes: (in) usable size wanted, rounded up to a power of two; 0 means
 *	min_stack; above max_stack fails with EFBIG
 * @id: (out) id of the new stack, unique for the life of the file
 * @pad: (in) must be 0
 * @lo: (out) lowest usable address (the guard page lies just below it)
 * @hi: (out) one past the highest usable address; the initial stack
 *	pointer
 */
struct estack_alloc {
	__u32 size;
	__u32 flags;
	__u64 bytes;
	__u32 id;
	__u32 pad;
	__u64 lo;
	__u64 hi;
};

/**
 * struct estack_free - argument of %ESTACK_IOC_FREE
 * @size: (in) sizeof(struct estack_free) as the caller knows it
 * @flags: (in) must be 0
 * @id: (in) the stack to free
 * @pad: (in) must be 0
 */
struct estack_free {
	__u32 size;
	__u32 flags;
	__u32 id;
	__u32 pad;
};

/**
 * struct estack_move - argument of %ESTACK_IOC_GROW and %ESTACK_IOC_SHRINK
 * @size: (in) sizeof(struct estack_move) as the caller knows it; all
 *	@size bytes must lie outside the stack being moved
 * @flags: (in) %ESTACK_MOVE_ADJUST_FP, %ESTACK_MOVE_ADJUST_CONSERVATIVE
 * @id: (in) the stack to move
 * @nr_slots: (in) number of entries at @slots, at most %ESTACK_MAX_SLOTS
 * @sp: (in) the fiber's stack pointer, in [lo, hi]; [sp, hi) is copied
 * @bytes: (in) GROW: new usable size, 0 doubles; SHRINK: must be 0
 * @fp: (in/out) with %ESTACK_MOVE_ADJUST_FP, the innermost saved frame
 *	pointer; comes back relocated
 * @slots: (in) user pointer to @nr_slots __u64 addresses of pointer words
 *	to relocate; the array must lie outside the stack being moved, the
 *	words it names may lie anywhere
 * @lo: (out) new lowest usable address
 * @hi: (out) new top of the stack
 * @delta: (out) new hi - old hi; add it to any pointer into the old stack
 * @adjusted: (out) number of distinct words rewritten
 *
 * Put the struct and the slot array anywhere but in the stack that moves:
 * on the scheduler's stack, in the heap, or on another fiber's stack;
 * either of them inside [lo, hi) of that stack is ``EINVAL`` (after
 * ``EBUSY``, so a fiber that moves its own stack learns that first). The
 * results (@lo, @hi, @delta, @fp, @adjusted) are written into the struct
 * before the move commits: a move that returns an error changed nothing,
 * and one that changed anything returned 0. A struct that cannot be
 * written (read-only, say) makes the move fail with ``EFAULT``, nothing
 * changed.
 */
struct estack_move {
	__u32 size;
	__u32 flags;
	__u32 id;
	__u32 nr_slots;
	__u64 sp;
	__u64 bytes;
	__u64 fp;
	__u64 slots;
	__u64 lo;
	__u64 hi;
	__s64 delta;
	__u64 adjusted;
};

/**
 * struct estack_info - argument of %ESTACK_IOC_INFO
 * @size: (in) sizeof(struct estack_info) as the caller knows it
 * @flags: (in) must be 0
 * @id: (in) the stack
 * @pad: (in) must be 0
 * @lo: (out) lowest usable address
 * @hi: (out) top of the stack
 * @resident: (out) bytes of the stack mapped now: its whole size unless
 *	the process dropped pages with MADV_DONTNEED
 */
struct estack_info {
	__u32 size;
	__u32 flags;
	__u32 id;
	__u32 pad;
	__u64 lo;
	__u64 hi;
	__u64 resident;
};

/**
 * struct estack_batch - argument of %ESTACK_IOC_ALLOC_BATCH and
 *	%ESTACK_IOC_FREE_BATCH
 * @size: (in) sizeof(struct estack_batch) as the caller knows it
 * @flags: (in) must be 0
 * @nr: (in) number of items at @items, 1 to %ESTACK_BATCH_MAX
 * @done: (out) number of items completed
 * @items: (in) user pointer to @nr struct estack_alloc (ALLOC_BATCH) or
 *	@nr struct estack_free (FREE_BATCH), each with its own ``size``
 *	field; each item starts right after the ``size`` bytes of the one
 *	before (an array of the caller's struct)
 *
 * The header is checked first (``size``, ``flags``: ``EINVAL``,
 * ``E2BIG`` as for every struct; @nr of 0 is ``EINVAL``, above
 * %ESTACK_BATCH_MAX ``E2BIG``), then the items in order, each exactly as
 * the single command checks it. The call stops at the first item that
 * fails and returns that item's errno with @done the number of items
 * completed before it: their outputs are written and their stacks valid
 * (ALLOC) or gone (FREE); the item that failed and those after it are not
 * done. Items at and after @done may have been written (an ALLOC item
 * whose results could not all be written, its stack taken back as ALLOC
 * takes it back): their contents mean nothing. A call that completes
 * every item returns 0 with @done equal to @nr.
 *
 * @done is written before the first item (0: a header that cannot be
 * written is ``EFAULT`` with nothing done) and again after each item, so
 * that when the call returns it counts the completed items; during the
 * call it is one behind between an item's action and that write. A
 * fatal signal stops the call between two items with ``EINTR``, @done
 * written: the first @done items did change (stacks made or freed). A
 * FREE_BATCH item may not free the stack holding the header (``EINVAL``,
 * above), and the header is faulted in writable before each item, so the
 * write of @done fails only if another thread unmaps or write-protects
 * the header during the call; the call then stops with ``EFAULT``:
 * ALLOC_BATCH takes the item's new stack back first (by its id, as ALLOC
 * does), so @done is still exact; a FREE cannot be undone, so after
 * FREE_BATCH's ``EFAULT`` the item at @done may be freed too (a FREE of
 * it again says ``ENOENT`` then).
 *
 * A 32-bit caller's @items is a 32-bit pointer (zero-extended); one with a
 * non-zero upper half is ``EFAULT`` with @done 0.
 */
struct estack_batch {
	__u32 size;
	__u32 flags;
	__u32 nr;
	__u32 done;
	__u64 items;
};

/* most items one batch may carry */
#define ESTACK_BATCH_MAX	256

/* Sizes of the first published version of each struct. */
#define ESTACK_API_SIZE_VER0	40
#define ESTACK_ALLOC_SIZE_VER0	40
#define ESTACK_FREE_SIZE_VER0	16
#define ESTACK_MOVE_SIZE_VER0	80
#define ESTACK_INFO_SIZE_VER0	40
#define ESTACK_BATCH_SIZE_VER0	24

#define ESTACK_IOC_API		_IOWR(ESTACK_IOC_MAGIC, 0, struct estack_api)
#define ESTACK_IOC_ALLOC	_IOWR(ESTACK_IOC_MAGIC, 1, struct estack_alloc)
#define ESTACK_IOC_FREE		_IOW(ESTACK_IOC_MAGIC, 2, struct estack_free)
#define ESTACK_IOC_GROW		_IOWR(ESTACK_IOC_MAGIC, 3, struct estack_move)
#define ESTACK_IOC_SHRINK	_IOWR(ESTACK_IOC_MAGIC, 4, struct estack_move)
#define ESTACK_IOC_INFO		_IOWR(ESTACK_IOC_MAGIC, 5, struct estack_info)
#define ESTACK_IOC_ALLOC_BATCH	_IOWR(ESTACK_IOC_MAGIC, 6, struct estack_batch)
#define ESTACK_IOC_FREE_BATCH	_IOWR(ESTACK_IOC_MAGIC, 7, struct estack_batch)

#endif /* _UAPI_LINUX_ESTACK_H */
