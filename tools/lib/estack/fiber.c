// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * libestack's fiber runtime: fibers on elastic stacks, one scheduler and
 * run queue per thread.
 *
 * Copyright (C) 2026 The estack authors
 *
 * Concurrency: a scheduler and its fibers belong to one thread and are
 * touched only from it (the thread-local tls_sched); no locks. Shared by
 * all threads: the fiber id counter and the learned start size (atomics),
 * and the overflow handler's list of pools (published with atomics before
 * the handler can look, never shrunk).
 *
 * A fiber runs until it yields, parks, finishes or needs a larger stack;
 * then it switches to its thread's scheduler, which runs on the thread's
 * own stack, as Go's goroutines switch to g0. A stack is moved only from
 * there: the library refuses to move the stack it runs on. The switch
 * frame (fiber-internal.h) is the runtime's: relocation rewrites its saved
 * rbp (the head of the frame-pointer chain) and its saved callee-saved
 * registers, the frame chain, and, for a fiber that asked for it, every
 * word of the stack that points into it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <estack.h>
#include <estack/fiber.h>

#include "fiber-internal.h"

enum fiber_state {
	FIBER_RUNNABLE,		/* in the run queue */
	FIBER_RUNNING,
	FIBER_PARKED,
	FIBER_DONE,
};

/* why a fiber switched to its scheduler */
enum sched_req {
	REQ_YIELD,
	REQ_PARK,
	REQ_GROW,
	REQ_DONE,
	REQ_SWITCH,	/* to a fiber with no stack yet: queued at the head */
};

struct estack_sched;

struct estack_fiber {
	void *sp;			/* saved stack pointer, suspended */
	struct estack_stack st;
	struct estack_sched *sched;
	struct estack_fiber *prev, *next;	/* run queue */
	struct estack_fiber *all_prev, *all_next;	/* every live fiber */
	struct estack_fiber *joiner;	/* a fiber parked in join */
	estack_fiber_fn fn;
	void *arg;
	void *result;
	uint64_t id;
	/* not shrunk below this; before the first run, the size asked
	 * (0: the size learned by then)
	 */
	size_t start_size;
	size_t peak_size;		/* its largest stack */
	size_t grow_to;			/* REQ_GROW: the size wanted */
	int grow_err;			/* REQ_GROW: the result */
	int start_err;			/* no first stack: join returns it */
	unsigned int flags;
	enum fiber_state state;
	bool detached;
	bool joined;
	void *fake_stack;		/* ASan's, while suspended */
	void *tsan_fiber;
	/*
	 * A pointer the library keeps across a switch that may point into
	 * the fiber's own stack (join's @result): a slot of every move, so
	 * that it follows the stack. A local would not: where the compiler
	 * spills it to the stack, nothing relocates it.
	 */
	void *held;
	char name[32];
};

struct estack_sched {
	void *sp;			/* the thread's context, in a fiber */
	struct estack_pool *pool;
	unsigned int flags;
	size_t min_stack, max_stack;
	struct estack_fiber *cur;	/* running fiber, NULL on the thread */
	struct estack_fiber *head, *tail;	/* run queue */
	struct estack_fiber *all;	/* every live fiber */
	enum sched_req req;
	size_t parked;
	struct estack_sched_stats stats;
	void *altstack;			/* sigaltstack of the thread */
	stack_t old_altstack;		/* the thread's own, put back at fini */
	/* for the sanitizers: the thread's own stack and contexts */
	void *fake_stack;
	const void *stack_bottom;
	size_t stack_size;
	void *tsan_fiber;
};

/* initial-exec: the SIGSEGV handler reads it, which must not allocate */
static __thread struct estack_sched *tls_sched
	__attribute__((tls_model("initial-exec")));

static pthread_key_t sched_key;
static pthread_once_t sched_key_once = PTHREAD_ONCE_INIT;
static uint64_t next_fiber_id;

/*
 * The learned start size (Go 1.19's adaptive stack start): the average of
 * the largest stack of finished fibers, rounded up to a power of two,
 * bounded. Sums decay by half every LEARN_WINDOW fibers so that a change of
 * workload shows.
 */
#define LEARN_WINDOW	4096
static uint64_t learn_sum, learn_count;
static size_t learned_size;

/* ---- sanitizers: every switch and every move is told ---- */

static inline void san_start(void **fake, const void *bottom, size_t size)
{
#ifdef ESTACK_ASAN
	__sanitizer_start_switch_fiber(fake, bottom, size);
#else
	(void)fake;
	(void)bottom;
	(void)size;
#endif
}

static inline void san_finish(void *fake)
{
#ifdef ESTACK_ASAN
	__sanitizer_finish_switch_fiber(fake, NULL, NULL);
#else
	(void)fake;
#endif
}

/* A stack's old and new places after a move or before reuse: no stale
 * redzones of frames that were copied or never returned.
 */
static inline void san_unpoison(const struct estack_stack *st)
{
#ifdef ESTACK_ASAN
	__asan_unpoison_memory_region(st->lo, estack_stack_size(st));
#else
	(void)st;
#endif
}

static inline void tsan_switch(void *tsan_fiber)
{
#ifdef ESTACK_TSAN
	__tsan_switch_to_fiber(tsan_fiber, 0);
#else
	(void)tsan_fiber;
#endif
}

/* Switch from the scheduler (thread's stack) to fiber @f. */
static void sched_to_fiber(struct estack_sched *s, struct estack_fiber *f)
{
	s->cur = f;
	f->state = FIBER_RUNNING;
	s->stats.switches++;
	san_start(&s->fake_stack, f->st.lo, estack_stack_size(&f->st));
	tsan_switch(f->tsan_fiber);
	estack__switch(&s->sp, f->sp);
	san_finish(s->fake_stack);
}

/* Switch from the running fiber to its scheduler with @req. */
static void fiber_to_sched(struct estack_sched *s, struct estack_fiber *f,
			   enum sched_req req)
{
	s->req = req;
	s->stats.switches++;
	/* a finished fiber's fake stack goes away: NULL */
	san_start(req == REQ_DONE ? NULL : &f->fake_stack, s->stack_bottom,
		  s->stack_size);
	tsan_switch(s->tsan_fiber);
	estack__switch(&f->sp, s->sp);
	san_finish(f->fake_stack);
}

/* ---- run queue ---- */

static void rq_push(struct estack_sched *s, struct estack_fiber *f)
{
	f->state = FIBER_RUNNABLE;
	f->next = NULL;
	f->prev = s->tail;
	if (s->tail)
		s->tail->next = f;
	else
		s->head = f;
	s->tail = f;
	s->stats.runnable++;
}

static void rq_push_head(struct estack_sched *s, struct estack_fiber *f)
{
	f->state = FIBER_RUNNABLE;
	f->prev = NULL;
	f->next = s->head;
	if (s->head)
		s->head->prev = f;
	else
		s->tail = f;
	s->head = f;
	s->stats.runnable++;
}

static void rq_remove(struct estack_sched *s, struct estack_fiber *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		s->head = f->next;
	if (f->next)
		f->next->prev = f->prev;
	else
		s->tail = f->prev;
	f->prev = NULL;
	f->next = NULL;
	s->stats.runnable--;
}

static struct estack_fiber *rq_pop(struct estack_sched *s)
{
	struct estack_fiber *f = s->head;

	if (f)
		rq_remove(s, f);
	return f;
}

/* ---- the overflow report ---- */

#define MAX_WATCHED_POOLS	16
static struct estack_pool *watched_pools[MAX_WATCHED_POOLS];
static unsigned int watched_refs[MAX_WATCHED_POOLS];	/* schedulers */
static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction old_segv;
static bool segv_installed;

#define ALTSTACK_SIZE	(64 * 1024)

static size_t fmt_u64(char *buf, uint64_t v)
{
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = '0' + v % 10;
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

static size_t put(char *buf, size_t at, size_t cap, const char *s)
{
	while (*s && at < cap)
		buf[at++] = *s++;
	return at;
}

/*
 * Async-signal-safe: estack_guard_hit() is lock-free, the message is built
 * in a local buffer and written with write(2). An overflow restores the
 * handler that was there before (the default: the fault kills the process
 * with SIGSEGV as it would have) and returns, so the faulting access runs
 * again under it. A fault elsewhere goes to the previous handler. Only a
 * fault's si_addr is an address: a SIGSEGV that kill() or sigqueue() sent
 * (whose sender chose those bytes) is never an overflow, and goes to the
 * previous handler too.
 */
static void segv_handler(int sig, siginfo_t *si, void *uc)
{
	bool fault = si->si_code > 0 && si->si_code != SI_KERNEL;
	void (*prev)(int) = old_segv.sa_handler;
	struct estack_sched *s = tls_sched;
	struct estack_stack st;
	char msg[160];
	size_t n = 0;
	int i, hit = 0;

	for (i = 0; fault && i < MAX_WATCHED_POOLS && !hit; i++) {
		struct estack_pool *p = __atomic_load_n(&watched_pools[i],
							__ATOMIC_ACQUIRE);

		if (p)
			hit = estack_guard_hit(p, si->si_addr, &st) == 1;
	}
	if (hit) {
		struct estack_fiber *f = s ? s->cur : NULL;

		n = put(msg, n, sizeof(msg), "estack: fiber ");
		if (f && f->st.lo == st.lo) {
			if (f->name[0])
				n = put(msg, n, sizeof(msg), f->name);
			else
				n += fmt_u64(msg + n, f->id);
		} else {
			n = put(msg, n, sizeof(msg), "(not running)");
		}
		n = put(msg, n, sizeof(msg) - 24, " overflowed its ");
		n += fmt_u64(msg + n, estack_stack_size(&st));
		n = put(msg, n, sizeof(msg), "-byte stack\n");
		if (write(STDERR_FILENO, msg, n) < 0)
			n = 0;
	}
	/* A sent one that was ignored before is ignored still. */
	if (!fault && prev == SIG_IGN)
		return;
	if (hit || prev == SIG_DFL || prev == SIG_IGN) {
		/*
		 * Back to what was there; the access faults again under it.
		 * That one may recover (siglongjmp()): the next scheduler
		 * that asks installs this handler again.
		 */
		sigaction(SIGSEGV, &old_segv, NULL);
		__atomic_store_n(&segv_installed, false, __ATOMIC_RELEASE);
		/*
		 * A sent SIGSEGV has no access to run again: sent again, it
		 * is delivered under the default once this handler returns.
		 */
		if (!fault)
			raise(SIGSEGV);
		return;
	}
	if (old_segv.sa_flags & SA_SIGINFO)
		old_segv.sa_sigaction(sig, si, uc);
	else
		prev(sig);
}

/* fork() waits for watch_lock: a child never inherits it held. */
static pthread_once_t watch_atfork_once = PTHREAD_ONCE_INIT;

static void watch_lock_take(void)
{
	pthread_mutex_lock(&watch_lock);
}

static void watch_lock_give(void)
{
	pthread_mutex_unlock(&watch_lock);
}

static void watch_atfork(void)
{
	pthread_atfork(watch_lock_take, watch_lock_give, watch_lock_give);
}

static int watch_pool(struct estack_pool *pool)
{
	struct sigaction sa;
	int i, slot = -1, err = 0;

	pthread_once(&watch_atfork_once, watch_atfork);
	pthread_mutex_lock(&watch_lock);
	if (!__atomic_load_n(&segv_installed, __ATOMIC_ACQUIRE)) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = segv_handler;
		sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSEGV, &sa, &old_segv))
			err = -errno;
		else
			__atomic_store_n(&segv_installed, true,
					 __ATOMIC_RELEASE);
	}
	for (i = 0; !err && i < MAX_WATCHED_POOLS; i++) {
		if (watched_pools[i] == pool) {
			slot = i;
			break;
		}
		if (!watched_pools[i] && slot < 0)
			slot = i;
	}
	if (!err && slot < 0)
		err = -ENOSPC;
	if (!err && !watched_refs[slot]++)
		__atomic_store_n(&watched_pools[slot], pool, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&watch_lock);
	return err;
}

/* The last scheduler on @pool is gone: the handler stops asking it. */
static void unwatch_pool(struct estack_pool *pool)
{
	int i;

	pthread_mutex_lock(&watch_lock);
	for (i = 0; i < MAX_WATCHED_POOLS; i++) {
		if (watched_pools[i] != pool)
			continue;
		if (!--watched_refs[i])
			__atomic_store_n(&watched_pools[i], NULL,
					 __ATOMIC_RELEASE);
		break;
	}
	pthread_mutex_unlock(&watch_lock);
}

/* The thread's signal stack: SIGSEGV of an overflow cannot run on the
 * fiber's stack, its guard is what faulted.
 */
static int sched_altstack(struct estack_sched *s)
{
	stack_t ss = { .ss_size = ALTSTACK_SIZE };

	/*
	 * The thread has one of its own, as large as ours: the handler runs
	 * there. A smaller one (MINSIGSTKSZ is too small for a signal frame
	 * on some CPUs) is replaced while the scheduler lives.
	 */
	s->old_altstack.ss_flags = SS_DISABLE;
	if (!sigaltstack(NULL, &s->old_altstack) &&
	    !(s->old_altstack.ss_flags & SS_DISABLE) &&
	    s->old_altstack.ss_size >= ALTSTACK_SIZE)
		return 0;
	s->altstack = malloc(ALTSTACK_SIZE);
	if (!s->altstack)
		return -ENOMEM;
	ss.ss_sp = s->altstack;
	if (sigaltstack(&ss, NULL)) {
		int err = -errno;

		free(s->altstack);
		s->altstack = NULL;
		return err;
	}
	return 0;
}

/* Give the thread back the signal stack it had (or none). */
static void sched_altstack_put(struct estack_sched *s)
{
	stack_t ss = { .ss_flags = SS_DISABLE };

	if (!(s->old_altstack.ss_flags & SS_DISABLE)) {
		ss = s->old_altstack;
		ss.ss_flags = 0;
	}
	sigaltstack(&ss, NULL);
	free(s->altstack);
	s->altstack = NULL;
}

/* ---- schedulers ---- */

static void sched_destroy(struct estack_sched *s);
static void fiber_free(struct estack_sched *s, struct estack_fiber *f);

static void sched_key_dtor(void *arg)
{
	struct estack_sched *s = arg;

	/* The thread is gone: fibers it left can never run again. */
	tls_sched = NULL;
	sched_destroy(s);
}

/*
 * In a fork's child, on the thread that forked: its fibers are the
 * parent's, and their stacks are not in the child (the pools forgot them
 * in their own handler). None can run there: each that had not finished
 * ends as cancelled, with no result, so that estack_fiber_join() of it
 * returns -ECANCELED and frees it (one that had keeps its result); the
 * detached ones go at once. A fork() from a fiber leaves
 * the child on a stack it does not have; it dies before anything here
 * matters.
 */
static void sched_atfork_child(void)
{
	struct estack_sched *s = tls_sched;
	struct estack_fiber *f, *next;

	if (!s || s->cur)
		return;
	s->head = NULL;
	s->tail = NULL;
	s->parked = 0;
	s->stats.runnable = 0;
	s->stats.stack_bytes = 0;
	for (f = s->all; f; f = next) {
		next = f->all_next;
		f->st.lo = NULL;	/* not freed: not in the child */
		f->sp = NULL;
		f->prev = NULL;
		f->next = NULL;
		/*
		 * Only a fiber can be joining it (the thread is in fork()),
		 * and none is left: joinable again, from the child.
		 */
		f->joined = false;
		f->joiner = NULL;
		if (f->state != FIBER_DONE) {
			f->state = FIBER_DONE;
			f->start_err = -ECANCELED;
			f->result = NULL;
		}
		if (f->detached)
			fiber_free(s, f);
	}
}

static void sched_key_init(void)
{
	pthread_key_create(&sched_key, sched_key_dtor);
	pthread_atfork(NULL, NULL, sched_atfork_child);
}

EF_EXPORT int estack_sched_init(struct estack_pool *pool, unsigned int flags)
{
	struct estack_pool_info info;
	struct estack_sched *s;
	int err;

	if (tls_sched)
		return -EBUSY;
	if (flags & ~(ESTACK_FIBER_CONSERVATIVE | ESTACK_FIBER_NO_SHRINK |
		      ESTACK_SCHED_CATCH_OVERFLOW))
		return -EINVAL;
	if (!pool)
		pool = estack_pool_default();
	if (!pool)
		return -ENODEV;
	err = estack_pool_query(pool, &info);
	if (err)
		return err;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->pool = pool;
	s->flags = flags;
	s->min_stack = info.min_stack;
	s->max_stack = info.max_stack;
	if (flags & ESTACK_SCHED_CATCH_OVERFLOW) {
		err = sched_altstack(s);
		if (!err)
			err = watch_pool(pool);
		if (err)
			goto err_free;
	}
#ifdef ESTACK_ASAN
	{
		pthread_attr_t attr;
		void *addr;
		size_t size;

		if (!pthread_getattr_np(pthread_self(), &attr)) {
			if (!pthread_attr_getstack(&attr, &addr, &size)) {
				s->stack_bottom = addr;
				s->stack_size = size;
			}
			pthread_attr_destroy(&attr);
		}
	}
#endif
#ifdef ESTACK_TSAN
	s->tsan_fiber = __tsan_get_current_fiber();
#endif
	pthread_once(&sched_key_once, sched_key_init);
	pthread_setspecific(sched_key, s);
	tls_sched = s;
	return 0;

err_free:
	if (s->altstack)
		sched_altstack_put(s);
	free(s);
	return err;
}

static struct estack_sched *sched_get(int *err)
{
	*err = 0;
	if (!tls_sched)
		*err = estack_sched_init(NULL, 0);
	return tls_sched;
}

static void fiber_free(struct estack_sched *s, struct estack_fiber *f)
{
	if (f->st.lo) {
		s->stats.stack_bytes -= estack_stack_size(&f->st);
		san_unpoison(&f->st);
		estack_stack_free(s->pool, &f->st);
		f->st.lo = NULL;
	}
#ifdef ESTACK_TSAN
	__tsan_destroy_fiber(f->tsan_fiber);
#endif
	if (f->all_prev)
		f->all_prev->all_next = f->all_next;
	else
		s->all = f->all_next;
	if (f->all_next)
		f->all_next->all_prev = f->all_prev;
	s->stats.live--;
	free(f);
}

/* Free a scheduler with whatever fibers it still has (their thread is
 * leaving or the caller made sure there are none).
 */
static void sched_destroy(struct estack_sched *s)
{
	while (s->all)
		fiber_free(s, s->all);
	if (s->flags & ESTACK_SCHED_CATCH_OVERFLOW)
		unwatch_pool(s->pool);
	if (s->altstack)
		sched_altstack_put(s);
	free(s);
}

EF_EXPORT int estack_sched_fini(void)
{
	struct estack_sched *s = tls_sched;

	if (!s)
		return 0;
	if (s->cur || s->stats.live)
		return -EBUSY;
	pthread_setspecific(sched_key, NULL);
	sched_destroy(s);
	tls_sched = NULL;
	return 0;
}

EF_EXPORT int estack_sched_stats(struct estack_sched_stats *stats)
{
	struct estack_sched *s = tls_sched;

	if (!stats)
		return -EINVAL;
	if (!s)
		memset(stats, 0, sizeof(*stats));
	else
		*stats = s->stats;
	stats->start_size = __atomic_load_n(&learned_size, __ATOMIC_RELAXED);
	if (s && stats->start_size < s->min_stack)
		stats->start_size = s->min_stack;
	return 0;
}

/* ---- growing and shrinking, from the scheduler ---- */

static size_t pow2_up(size_t v)
{
	size_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

static void learn(size_t peak)
{
	uint64_t sum = __atomic_add_fetch(&learn_sum, peak, __ATOMIC_RELAXED);
	uint64_t cnt = __atomic_add_fetch(&learn_count, 1, __ATOMIC_RELAXED);
	size_t size = pow2_up(sum / cnt);

	if (size > ESTACK_FIBER_START_MAX)
		size = ESTACK_FIBER_START_MAX;
	__atomic_store_n(&learned_size, size, __ATOMIC_RELAXED);
	/* decay: whoever crosses the window halves both (approximately) */
	if (cnt == LEARN_WINDOW) {
		__atomic_sub_fetch(&learn_count, cnt / 2, __ATOMIC_RELAXED);
		__atomic_sub_fetch(&learn_sum, sum / 2, __ATOMIC_RELAXED);
	}
}

static size_t start_size(struct estack_sched *s)
{
	size_t size = __atomic_load_n(&learned_size, __ATOMIC_RELAXED);

	if (size < s->min_stack)
		size = s->min_stack;
	/* learned from every pool of the process: this one may be smaller */
	if (size > s->max_stack)
		size = s->max_stack;
	return size;
}

/*
 * What a safe point leaves below its caller besides @need. Under ASan,
 * malloc() and free() record their caller's stack, and the unwinder's
 * frame alone is larger than ESTACK_FIBER_MARGIN: a join or a create from
 * a fiber that estack_fiber_check() had left the margin overflowed it
 * (a random soak of the runtime found it). An ASan build asks for more.
 */
#ifdef ESTACK_ASAN
#define EF_MARGIN	(ESTACK_FIBER_MARGIN + (8 << 10))
#else
#define EF_MARGIN	ESTACK_FIBER_MARGIN
#endif

/* A move's slots: the switch frame's registers and estack_fiber.held. */
#define EF_NR_SLOTS	(ESTACK_SWITCH_NR_REGS + 1)

/*
 * Move a suspended fiber's stack: the saved sp, the switch frame's
 * registers and the pointer the library holds as slots, the frame chain
 * from the saved rbp, the whole stack when the fiber asked for the
 * conservative scan.
 */
static int fiber_move(struct estack_sched *s, struct estack_fiber *f,
		      size_t grow_to)
{
	char *sp = f->sp;
	void *nsp = sp, *fp = *(void **)(sp + ESTACK_SWITCH_RBP);
	void *const slots[EF_NR_SLOTS] = {
		sp + ESTACK_SWITCH_R15, sp + ESTACK_SWITCH_R14,
		sp + ESTACK_SWITCH_R13, sp + ESTACK_SWITCH_R12,
		sp + ESTACK_SWITCH_RBX, sp + ESTACK_SWITCH_RBP,
		&f->held,
	};
	unsigned int flags = ESTACK_MOVE_ADJUST_FP;
	struct estack_stack old = f->st;
	size_t used = (char *)f->st.hi - sp, size;
	int err;

	if ((f->flags | s->flags) & ESTACK_FIBER_CONSERVATIVE)
		flags |= ESTACK_MOVE_ADJUST_CONSERVATIVE;
	/* ASan: the copy reads the redzones of the fiber's live frames */
	san_unpoison(&old);
	if (grow_to)
		err = estack_stack_grow_to(s->pool, &f->st, grow_to, &nsp, &fp,
					   slots, EF_NR_SLOTS, flags);
	else
		err = estack_stack_shrink(s->pool, &f->st, &nsp, &fp, slots,
					  EF_NR_SLOTS, flags);
	if (err || f->st.lo == old.lo)
		return err;
	f->sp = nsp;
	san_unpoison(&f->st);
	size = estack_stack_size(&f->st);
	s->stats.stack_bytes += size;
	s->stats.stack_bytes -= estack_stack_size(&old);
	if (s->stats.stack_bytes > s->stats.peak_stack_bytes)
		s->stats.peak_stack_bytes = s->stats.stack_bytes;
	s->stats.bytes_copied += used;
	if (grow_to) {
		s->stats.grows++;
		if (size > f->peak_size)
			f->peak_size = size;
	} else {
		s->stats.shrinks++;
	}
	return 0;
}

/* At yield and park: halve a stack that uses less than a quarter, down to
 * its start size (the library checks the quarter again), keeping the
 * margin of a safe point free: the fiber resumes in the library (a join
 * then frees the fiber it joined) without one.
 */
static void fiber_maybe_shrink(struct estack_sched *s, struct estack_fiber *f)
{
	size_t size = estack_stack_size(&f->st);
	size_t used = (char *)f->st.hi - (char *)f->sp;

	if ((f->flags | s->flags) & ESTACK_FIBER_NO_SHRINK)
		return;
	if (size <= f->start_size || used >= size / 4 ||
	    size / 2 - used < EF_MARGIN)
		return;
	fiber_move(s, f, 0);
}

static void fiber_finished(struct estack_sched *s, struct estack_fiber *f)
{
	f->state = FIBER_DONE;
	/* the stack is not needed any more: give it back now */
	if (f->st.lo) {
		learn(f->peak_size);
		s->stats.stack_bytes -= estack_stack_size(&f->st);
		san_unpoison(&f->st);
		estack_stack_free(s->pool, &f->st);
		f->st.lo = NULL;
		f->st.hi = NULL;
	}
	if (f->detached) {
		fiber_free(s, f);
		return;
	}
	/* A joiner that estack_fiber_wake() queued already runs as it is. */
	if (f->joiner) {
		if (f->joiner->state == FIBER_PARKED) {
			s->parked--;
			rq_push(s, f->joiner);
		}
		f->joiner = NULL;
	}
}

/*
 * A fiber gets its stack when it first runs, not when it is created: a
 * burst of creates then takes, one after another, the stacks that the
 * fibers before them left when they grew, from the thread's cache, where
 * stacks taken at create would all come fresh from the pool and the ones
 * left behind would all go back to it. The first frame estack__switch()
 * pops: the default control words, r12 = the fiber, rbp = 0 (the chain
 * ends), the trampoline as the return address, placed so that rsp is
 * 16-byte aligned after ret.
 */
static int fiber_start(struct estack_sched *s, struct estack_fiber *f)
{
	size_t size = f->start_size ? f->start_size : start_size(s);
	uint64_t *top;
	int err;

	err = estack_stack_alloc(s->pool, size, &f->st);
	if (err)
		return err;
	san_unpoison(&f->st);
	f->start_size = estack_stack_size(&f->st);
	f->peak_size = f->start_size;
	top = (uint64_t *)((char *)f->st.hi - 16 - ESTACK_SWITCH_FRAME);
	memset(top, 0, ESTACK_SWITCH_FRAME);
	top[ESTACK_SWITCH_CTRL / 8] = ESTACK_MXCSR_INIT |
		(uint64_t)ESTACK_FPUCW_INIT << 32;
	top[ESTACK_SWITCH_R12 / 8] = (uintptr_t)f;
	top[ESTACK_SWITCH_RET / 8] = (uintptr_t)estack__fiber_trampoline;
	f->sp = top;
	s->stats.stack_bytes += f->start_size;
	if (s->stats.stack_bytes > s->stats.peak_stack_bytes)
		s->stats.peak_stack_bytes = s->stats.stack_bytes;
	return 0;
}

/* Run @f and whatever it switches to until a fiber goes back to the
 * scheduler without wanting to run on.
 */
static void sched_run_one(struct estack_sched *s, struct estack_fiber *f)
{
	if (!f->sp) {
		f->start_err = fiber_start(s, f);
		if (f->start_err) {
			s->stats.start_failures++;
			fiber_finished(s, f);
			return;
		}
	}
	for (;;) {
		sched_to_fiber(s, f);
		f = s->cur;
		s->cur = NULL;
		switch (s->req) {
		case REQ_GROW:
			f->grow_err = fiber_move(s, f, f->grow_to);
			continue;
		case REQ_YIELD:
			fiber_maybe_shrink(s, f);
			rq_push(s, f);
			return;
		case REQ_PARK:
			fiber_maybe_shrink(s, f);
			f->state = FIBER_PARKED;
			s->parked++;
			return;
		case REQ_DONE:
			fiber_finished(s, f);
			return;
		case REQ_SWITCH:
			/* a switch, not a yield: the stack does not move */
			rq_push(s, f);
			return;
		}
	}
}

EF_EXPORT int estack_sched_run(void)
{
	struct estack_sched *s = tls_sched;
	struct estack_fiber *f;

	if (!s)
		return 0;
	if (s->cur)
		return -EPERM;
	while ((f = rq_pop(s)))
		sched_run_one(s, f);
	return (int)s->parked;
}

/* ---- fibers ---- */

void estack__fiber_entry(struct estack_fiber *f)
{
#ifdef ESTACK_ASAN
	__sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
	estack_fiber_exit(f->fn(f->arg));
}

EF_EXPORT void estack_fiber_exit(void *result)
{
	struct estack_sched *s = tls_sched;
	struct estack_fiber *f = s ? s->cur : NULL;

	if (!f)
		abort();	/* documented: only a fiber may exit */
	f->result = result;
	fiber_to_sched(s, f, REQ_DONE);
	abort();		/* a finished fiber is never resumed */
}

EF_EXPORT int estack_fiber_create(struct estack_fiber **fiber,
				  size_t stack_size, unsigned int flags,
				  estack_fiber_fn fn, void *arg)
{
	struct estack_sched *s;
	struct estack_fiber *f;
	int err;

	if (!fiber || !fn ||
	    (flags & ~(ESTACK_FIBER_CONSERVATIVE | ESTACK_FIBER_NO_SHRINK)))
		return -EINVAL;
	s = sched_get(&err);
	if (!s)
		return err;
	/* what estack_stack_alloc() would refuse, refused now */
	if (stack_size > s->max_stack)
		return -EFBIG;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	/* the stack comes at the first run: fiber_start() */
	f->sched = s;
	f->fn = fn;
	f->arg = arg;
	f->flags = flags;
	f->start_size = stack_size;
	f->id = __atomic_add_fetch(&next_fiber_id, 1, __ATOMIC_RELAXED);
#ifdef ESTACK_TSAN
	f->tsan_fiber = __tsan_create_fiber(0);
#endif
	f->all_next = s->all;
	if (s->all)
		s->all->all_prev = f;
	s->all = f;
	s->stats.live++;
	rq_push(s, f);
	*fiber = f;
	return 0;
}

EF_EXPORT int estack_fiber_set_name(struct estack_fiber *fiber, const char *name)
{
	if (!fiber || !name)
		return -EINVAL;
	strncpy(fiber->name, name, sizeof(fiber->name) - 1);
	fiber->name[sizeof(fiber->name) - 1] = '\0';
	return 0;
}

EF_EXPORT const char *estack_fiber_name(const struct estack_fiber *fiber)
{
	return fiber->name;
}

EF_EXPORT uint64_t estack_fiber_id(const struct estack_fiber *fiber)
{
	return fiber->id;
}

EF_EXPORT struct estack_fiber *estack_fiber_self(void)
{
	return tls_sched ? tls_sched->cur : NULL;
}

EF_EXPORT int estack_fiber_stack(const struct estack_fiber *fiber,
				 struct estack_stack *st)
{
	if (!fiber || !st || fiber->state == FIBER_DONE)
		return -EINVAL;
	if (!fiber->sp)
		return -EAGAIN;	/* not run yet: no stack */
	*st = fiber->st;
	return 0;
}

/*
 * Not inlined and with a frame of its own: its frame is on the chain that
 * relocation walks, and nothing it holds points into the stack across the
 * switch.
 */
static __attribute__((noipa)) int fiber_grow(struct estack_sched *s,
					      struct estack_fiber *f,
					      size_t want)
{
	size_t size = estack_stack_size(&f->st);

	if (want > s->max_stack)
		want = s->max_stack;
	if (want <= size)
		return -EFBIG;
	f->grow_to = pow2_up(want);
	if (f->grow_to > s->max_stack)
		f->grow_to = want;
	f->grow_err = 0;
	fiber_to_sched(s, f, REQ_GROW);
	return f->grow_err;
}

EF_EXPORT int estack_fiber_check(size_t need)
{
	struct estack_sched *s = tls_sched;
	struct estack_fiber *f = s ? s->cur : NULL;
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	size_t used, size;

	if (!f)
		return 0;
	used = (uintptr_t)f->st.hi - sp;
	size = estack_stack_size(&f->st);
	/* No stack of the pool holds it (and the sum must not wrap). */
	if (need > SIZE_MAX - EF_MARGIN - used ||
	    used + need + EF_MARGIN > s->max_stack)
		return -EFBIG;
	need += EF_MARGIN;
	if (sp - (uintptr_t)f->st.lo >= need)
		return 0;
	/* in use, plus what is asked and the margin, at least doubled */
	if (used + need > 2 * size)
		return fiber_grow(s, f, used + need);
	return fiber_grow(s, f, 2 * size);
}

EF_EXPORT void estack_fiber_yield(void)
{
	struct estack_sched *s = tls_sched;
	struct estack_fiber *f = s ? s->cur : NULL;

	if (f)
		fiber_to_sched(s, f, REQ_YIELD);
}

EF_EXPORT int estack_fiber_park(void)
{
	struct estack_sched *s = tls_sched;
	struct estack_fiber *f = s ? s->cur : NULL;

	if (!f)
		return -EPERM;
	fiber_to_sched(s, f, REQ_PARK);
	return 0;
}

EF_EXPORT int estack_fiber_wake(struct estack_fiber *fiber)
{
	struct estack_sched *s = tls_sched;

	if (!fiber)
		return -EINVAL;
	if (fiber->sched != s)
		return -EPERM;
	if (fiber->state != FIBER_PARKED)
		return 0;
	s->parked--;
	rq_push(s, fiber);
	return 1;
}

EF_EXPORT int estack_fiber_switch(struct estack_fiber *to)
{
	struct estack_sched *s = tls_sched;
	struct estack_fiber *f = s ? s->cur : NULL;

	if (!f)
		return -EPERM;
	if (!to || to->sched != s || to->state != FIBER_RUNNABLE)
		return -EINVAL;
	rq_remove(s, to);
	if (!to->sp) {
		/*
		 * Its stack is allocated on the thread's stack, not on this
		 * one: through the scheduler, which takes @to first.
		 */
		rq_push_head(s, to);
		fiber_to_sched(s, f, REQ_SWITCH);
		return 0;
	}
	rq_push(s, f);
	s->cur = to;
	to->state = FIBER_RUNNING;
	s->stats.switches++;
	san_start(&f->fake_stack, to->st.lo, estack_stack_size(&to->st));
	tsan_switch(to->tsan_fiber);
	estack__switch(&f->sp, to->sp);
	san_finish(f->fake_stack);
	return 0;
}

EF_EXPORT int estack_fiber_detach(struct estack_fiber *fiber)
{
	struct estack_sched *s = tls_sched;

	if (!fiber)
		return -EINVAL;
	if (fiber->sched != s)
		return -EPERM;
	if (fiber->detached || fiber->joined || fiber->joiner)
		return -EINVAL;
	if (fiber->state == FIBER_DONE) {
		fiber_free(s, fiber);
		return 0;
	}
	fiber->detached = true;
	return 0;
}

EF_EXPORT int estack_fiber_join(struct estack_fiber *fiber, void **result)
{
	struct estack_sched *s = tls_sched;
	struct estack_fiber *self = s ? s->cur : NULL;
	int err;

	if (!fiber)
		return -EINVAL;
	if (fiber->sched != s)
		return -EPERM;
	if (fiber == self || fiber->detached || fiber->joined ||
	    fiber->joiner)
		return -EINVAL;
	fiber->joined = true;
	if (self) {
		/*
		 * Parked until the fiber finishes and wakes us; an
		 * estack_fiber_wake() of the joiner before that parks it
		 * again (freeing a fiber still queued would be a use after
		 * free).
		 */
		self->held = result;
		while (fiber->state != FIBER_DONE) {
			fiber->joiner = self;
			fiber_to_sched(s, self, REQ_PARK);
		}
		/* where the caller's variable is now, if its stack moved */
		result = self->held;
		self->held = NULL;
	} else {
		struct estack_fiber *f;

		while (fiber->state != FIBER_DONE && (f = rq_pop(s)))
			sched_run_one(s, f);
		if (fiber->state != FIBER_DONE) {
			fiber->joined = false;
			return -EDEADLK;
		}
	}
	err = fiber->start_err;
	if (result)
		*result = fiber->result;
	fiber_free(s, fiber);
	return err;
}
