/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libestack's fiber runtime: fibers on elastic stacks, one run queue per
 * thread. See estack_fiber(3).
 *
 * Copyright (C) 2026 The estack authors
 *
 * A fiber runs on the thread that created it, on a stack from a pool
 * (<estack.h>). It starts small (a size the runtime learns from the
 * fibers that finished before it, when 0 is asked) and grows at safe
 * points: estack_fiber_check() switches to the thread's own stack, has the
 * library copy the stack into a larger one and relocate the frame-pointer
 * chain and the switch frame's saved registers, and switches back. Yield
 * and park give memory back when a stack uses less than a quarter.
 *
 * Relocation cannot see every pointer into a stack: an address of a local
 * kept in a callee-saved register and spilled by a deeper frame is on no
 * frame chain. Code that keeps &local across a safe point must ask for the
 * conservative scan (ESTACK_FIBER_CONSERVATIVE), or not do that; code
 * built without frame pointers needs the scan too.
 *
 * Every function that can fail returns 0 (or a documented positive value)
 * or a negative errno; none sets errno.
 */
#ifndef ESTACK_FIBER_H
#define ESTACK_FIBER_H

#include <stddef.h>
#include <stdint.h>

#include <estack.h>

#ifdef __cplusplus
extern "C" {
#endif

struct estack_fiber;

/* the entry point of a fiber: its return value is what join returns */
typedef void *(*estack_fiber_fn)(void *arg);

/* flags of estack_sched_init() (every fiber of the thread) and of
 * estack_fiber_create() (that fiber)
 */
/* relocate with the conservative scan of the whole stack, too */
#define ESTACK_FIBER_CONSERVATIVE	(1u << 0)
/* never shrink the fiber's stack at yield or park */
#define ESTACK_FIBER_NO_SHRINK		(1u << 1)
/* flags of estack_sched_init() only */
/* install the SIGSEGV handler that names a fiber that overflowed */
#define ESTACK_SCHED_CATCH_OVERFLOW	(1u << 16)

/* estack_fiber_check(): grow when less than this (plus what is asked)
 * would be left; room for a few C library calls
 */
#define ESTACK_FIBER_MARGIN		2048
/* bounds of the learned start size */
#define ESTACK_FIBER_START_MAX		(64 * 1024)

/**
 * struct estack_sched_stats - what estack_sched_stats() reports
 * @live: fibers created and not yet joined (or detached and finished)
 * @runnable: fibers in the run queue
 * @stack_bytes: bytes of the stacks of the live fibers now
 * @peak_stack_bytes: the most @stack_bytes has been
 * @grows: stack moves to a larger stack
 * @shrinks: stack moves to a smaller stack
 * @bytes_copied: bytes in use that the moves copied
 * @switches: context switches, both directions
 * @start_size: what a fiber created with size 0 starts with, were it to
 *	run now
 * @start_failures: fibers that never ran: their first stack could not be
 *	allocated (the only trace of a detached one)
 */
struct estack_sched_stats {
	size_t live;
	size_t runnable;
	size_t stack_bytes;
	size_t peak_stack_bytes;
	uint64_t grows;
	uint64_t shrinks;
	uint64_t bytes_copied;
	uint64_t switches;
	size_t start_size;
	uint64_t start_failures;
};

/*
 * The calling thread's scheduler. Optional: the first estack_fiber_create()
 * of a thread does estack_sched_init(NULL, 0). @pool NULL means
 * estack_pool_default(). -EBUSY when the thread already has one.
 */
int estack_sched_init(struct estack_pool *pool, unsigned int flags);
/* run the thread's fibers until its run queue is empty; returns the number
 * of fibers left parked (0 when every fiber has finished)
 */
int estack_sched_run(void);
/* free the thread's scheduler; -EBUSY while it has live fibers (also done
 * when the thread exits)
 */
int estack_sched_fini(void);
int estack_sched_stats(struct estack_sched_stats *stats);

/*
 * Create a fiber running fn(arg) and queue it on the calling thread's run
 * queue. Its stack is allocated when it first runs; when that fails, the
 * fiber does not run and estack_fiber_join() returns the error. -EFBIG:
 * @stack_size is larger than the pool's largest stack. @stack_size 0: the
 * learned start size at the first run (the average of the largest stack
 * of the fibers that finished, rounded up to a power of two, between the
 * pool's smallest stack and ESTACK_FIBER_START_MAX).
 */
int estack_fiber_create(struct estack_fiber **fiber, size_t stack_size,
			unsigned int flags, estack_fiber_fn fn, void *arg);
/* a name for reports (copied, at most 31 bytes kept) */
int estack_fiber_set_name(struct estack_fiber *fiber, const char *name);
const char *estack_fiber_name(const struct estack_fiber *fiber);
/* a number unique in the process, from 1 */
uint64_t estack_fiber_id(const struct estack_fiber *fiber);
/* the running fiber, NULL on the thread's own stack */
struct estack_fiber *estack_fiber_self(void);
/* the fiber's stack (a copy: it moves when it grows); -EAGAIN before the
 * fiber first runs (no stack yet)
 */
int estack_fiber_stack(const struct estack_fiber *fiber,
		       struct estack_stack *st);

/*
 * The safe point: make sure that @need bytes plus ESTACK_FIBER_MARGIN are
 * left below the caller's frame, growing the stack when not (@need: the
 * frames the caller is about to push beyond the margin, e.g. a large
 * local buffer in the function it calls next). Returns 0 (also off a
 * fiber), or the error of the grow: -EFBIG, without a move, when the
 * frames in use, @need and the margin do not fit the pool's largest
 * stack. A move happens only here and in yield, park and a join from a
 * fiber: see the note on relocation above.
 */
int estack_fiber_check(size_t need);

/* let the other runnable fibers run; the caller is queued at the tail */
void estack_fiber_yield(void);
/* run @to now (it must be runnable or just created, and on this thread);
 * the caller is queued at the tail. -EINVAL otherwise. A fiber that has
 * not run yet gets its stack first, through the scheduler; when that
 * fails it finishes without running (see estack_fiber_create())
 */
int estack_fiber_switch(struct estack_fiber *to);
/* suspend the running fiber until estack_fiber_wake(); -EPERM off a fiber */
int estack_fiber_park(void);
/* make a parked fiber runnable (from the fiber's thread); 1 when it was
 * parked, 0 when it was not. A fiber parked in estack_fiber_join() runs,
 * finds the fiber it joins unfinished and parks again.
 */
int estack_fiber_wake(struct estack_fiber *fiber);

/* finish the running fiber with @result (as if fn returned it); does not
 * return (off a fiber it aborts)
 */
void estack_fiber_exit(void *result);
/*
 * Wait for @fiber to finish, store its result in *result (may be NULL)
 * and free it. From a fiber it parks; from the thread's own stack it runs
 * the scheduler until the fiber finishes (-EDEADLK when the run queue
 * empties first). -EINVAL for the caller itself or a joined fiber,
 * -EPERM for a fiber of another thread; the error of estack_stack_alloc()
 * (*result NULL) for a fiber whose first stack could not be allocated.
 */
int estack_fiber_join(struct estack_fiber *fiber, void **result);
/* free the fiber when it finishes; nobody joins it */
int estack_fiber_detach(struct estack_fiber *fiber);

#ifdef __cplusplus
}
#endif

#endif /* ESTACK_FIBER_H */
