// SPDX-License-Identifier: GPL-2.0
/*
 * estack stress: several processes, each with several threads sharing one
 * /dev/estack file, do random ALLOC, FREE, GROW, SHRINK, INFO,
 * MADV_DONTNEED and malformed requests for ESTACK_STRESS_S seconds
 * (default 60) with the module's default parameters. Every stack carries
 * a canary that must survive every move and every MADV_DONTNEED; the rest
 * of a stack reads as zero; INFO agrees with what the thread tracks; a
 * freed id is gone; every errno is one of the contract's, and the exact one
 * where the contract pins it. Now and then a worker forks (the child gets
 * EPERM), closes or unmaps its second file, runs on one of its stacks
 * (EBUSY), or its process ends with stacks live and is started again. At
 * the end the module holds no more stacks than before.
 *
 * ESTACK_STRESS_PROCS (4) and ESTACK_STRESS_THREADS (2) set the shape,
 * ESTACK_STRESS_SEED the random seed (printed, default from the clock).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "estack_harness.h"

#define IS64		(sizeof(long) == 8)
#define MAX_PROCS	16
#define MAX_THREADS	8
#define MAX_STACKS	48		/* tracked stacks per thread */
#define MAX_SIZE	(2ULL << 20)	/* no stack grows past this */
#define BUDGET		(6ULL << 20)	/* usable bytes per thread */
#define NR_DEAD		16		/* freed ids a thread remembers */
#define NR_SLOTS	8
#define GRACE_S		120		/* for workers to stop after the end */
/* make check: 60 s of the 64-bit stress, 30 s of the 32-bit one. */
#define DEFAULT_S	(sizeof(long) == 8 ? 60 : 30)

/* The module's page size, from the handshake in the fixture's setup. */
static __u64 page;

/* Shared by the test and every worker (MAP_SHARED). */
struct shared {
	int stop;
	unsigned long long ops;
	unsigned long long soft;	/* ENOSPC and ENOMEM */
	unsigned long long eintr;
	unsigned long long forks;
	unsigned long long moves;
	unsigned long long gens;
	unsigned long long garbage;
	unsigned long long dontneed;
	unsigned long long fibers;
	unsigned long long unmaps;	/* arenas of a thread's own file */
};

struct stk {
	__u32 id;
	int fdi;		/* 0: the process's file, 1: the thread's own */
	__u64 lo, hi;
	__u64 clo;		/* canary in [clo, hi), zero in [lo, clo) */
	__u64 seed;
};

struct worker;

struct thr {
	struct worker *w;
	pthread_t pt;
	int idx;
	__u64 rng;
	int fd2;
	int n;
	struct stk s[MAX_STACKS];
	__u64 live;
	__u32 dead[NR_DEAD];	/* freed ids of the process's file */
	int nr_dead;
	__u64 slot[NR_SLOTS];	/* words named by estack_move.slots */
	__u64 slot_addr[NR_SLOTS];
	unsigned char *junk;	/* pages: read-write, none, read-only */
	ucontext_t main_uc, fiber_uc;
	struct stk *fiber;
};

struct worker {
	int slot;
	int fd;
	int stop;
	int nthreads;
	time_t deadline;
	struct thr t[MAX_THREADS];
};

static struct shared *sh;
static int fail_fd = -1;
static int stress_slot;
static __thread struct thr *cur;

static __u64 mix(__u64 x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static __u64 rnd(struct thr *t)
{
	t->rng = mix(t->rng);
	return t->rng;
}

/* Uniform in [0, n); 0 when n is 0. */
static __u64 below(struct thr *t, __u64 n)
{
	return n ? rnd(t) % n : 0;
}

static void add(unsigned long long *c, unsigned long long v)
{
	__atomic_fetch_add(c, v, __ATOMIC_RELAXED);
}

static int stopping(struct thr *t)
{
	return __atomic_load_n(&sh->stop, __ATOMIC_RELAXED) ||
	       __atomic_load_n(&t->w->stop, __ATOMIC_RELAXED) ||
	       time(NULL) >= t->w->deadline;
}

/* Report a failure through the pipe and end this whole worker process. */
static void die(struct thr *t, const char *fmt, ...)
{
	char buf[480];
	va_list ap;
	int n;

	n = snprintf(buf, sizeof(buf), "stress: worker %d (pid %d) thread %d: ",
		     stress_slot, getpid(), t ? t->idx : -1);
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(fail_fd, buf, n) < 0)
		n = 0;
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
	_exit(1);
}

static const char *op_name(unsigned long cmd)
{
	static const char * const names[] = {
		"API", "ALLOC", "FREE", "GROW", "SHRINK", "INFO",
	};

	if (_IOC_TYPE(cmd) == ESTACK_IOC_MAGIC &&
	    _IOC_NR(cmd) < ARRAY_SIZE(names))
		return names[_IOC_NR(cmd)];
	return "unknown";
}

/* The contract's errnos; anything else is a failure. */
static int contract_errno(int err)
{
	switch (err) {
	case 0:
	case EINVAL:
	case E2BIG:
	case EFAULT:
	case ENOENT:
	case EBUSY:
	case EFBIG:
	case ENOSPC:
	case ENOMEM:
	case EINTR:
	case EPERM:
	case ENOTTY:
	case EOPNOTSUPP:
		return 1;
	}
	return 0;
}

/* An outcome acceptable under load instead of success: nothing changed. */
static int soft_errno(int err)
{
	if (err == EINTR)
		add(&sh->eintr, 1);
	if (err == ENOSPC || err == ENOMEM || err == EINTR) {
		add(&sh->soft, 1);
		return 1;
	}
	return 0;
}

static int fd_of(struct thr *t, const struct stk *s)
{
	return s->fdi ? t->fd2 : t->w->fd;
}

/* One ioctl, counted, its errno checked against the contract. */
static int xioctl(struct thr *t, int fd, unsigned long cmd, void *arg,
		  const char *what)
{
	int err = es_ioctl(fd, cmd, arg);

	add(&sh->ops, 1);
	if (!contract_errno(err))
		die(t, "%s (%s): errno %d (%s) is not in the contract",
		    op_name(cmd), what, err, strerror(err));
	return err;
}

/* A call whose errno the contract pins. */
static void expect(struct thr *t, int want, int fd, unsigned long cmd,
		   void *arg, const char *what)
{
	int err = xioctl(t, fd, cmd, arg, what);

	if (err != want)
		die(t, "%s (%s): errno %d (%s), expected %d (%s)",
		    op_name(cmd), what, err, strerror(err), want,
		    strerror(want));
}

/* Canary word at the 8-byte aligned address @a of @s: (seed, hi - a). */
static __u64 cword(const struct stk *s, __u64 a)
{
	return mix(s->seed ^ (s->hi - a));
}

static unsigned char cbyte(const struct stk *s, __u64 a)
{
	return cword(s, a & ~7ULL) >> (8 * (a & 7));
}

static void fill(const struct stk *s, __u64 from, __u64 to)
{
	for (; from < to && (from & 7); from++)
		es_poke(from, cbyte(s, from));
	for (; from + 8 <= to; from += 8)
		*(__u64 *)U2P(from) = cword(s, from);
	for (; from < to; from++)
		es_poke(from, cbyte(s, from));
}

/* 0, or the first address in [from, to) that lost the canary, plus 1. */
static __u64 rd64(__u64 a)
{
	__u64 v;

	memcpy(&v, U2P(a), sizeof(v));
	return v;
}

static __u64 bad_canary(const struct stk *s, __u64 from, __u64 to)
{
	for (; from < to && (from & 7); from++)
		if (es_peek(from) != cbyte(s, from))
			return from + 1;
	for (; from + 8 <= to; from += 8)
		if (rd64(from) != cword(s, from))
			break;
	for (; from < to; from++)
		if (es_peek(from) != cbyte(s, from))
			return from + 1;
	return 0;
}

static void check_canary(struct thr *t, const struct stk *s, __u64 from,
			 __u64 to, const char *when)
{
	__u64 bad;

	if (from < s->clo)
		from = s->clo;
	if (to > s->hi)
		to = s->hi;
	bad = bad_canary(s, from, to);
	if (bad--)
		die(t,
		    "%s: canary of stack %u [%llx, %llx) lost at %llx (hi - %llu): %02x, expected %02x",
		    when, s->id, (unsigned long long)s->lo,
		    (unsigned long long)s->hi, (unsigned long long)bad,
		    (unsigned long long)(s->hi - bad), es_peek(bad),
		    cbyte(s, bad));
}

/*
 * [lo, clo) reads as zero: all of it for a small stack or when @full,
 * otherwise the word at clo and some random words (each read maps a page).
 */
static void check_zero(struct thr *t, const struct stk *s, int full,
		       const char *when)
{
	__u64 a, end = s->clo & ~7ULL, size = s->hi - s->lo;
	int i;

	for (a = end; a < s->clo; a++)
		if (es_peek(a))
			goto bad;
	if (full || size <= 32768) {
		for (a = s->lo; a < end; a += 8)
			if (rd64(a))
				goto bad;
		return;
	}
	for (i = 0; i < 32 && end > s->lo; i++) {
		a = s->lo + (below(t, end - s->lo) & ~7ULL);
		if (rd64(a))
			goto bad;
	}
	return;
bad:
	die(t, "%s: stack %u [%llx, %llx) is not zero below its live part at %llx (clo %llx): %llx",
	    when, s->id, (unsigned long long)s->lo, (unsigned long long)s->hi,
	    (unsigned long long)a, (unsigned long long)s->clo,
	    (unsigned long long)(a & 7 ? es_peek(a) : rd64(a)));
}

/* INFO agrees with what the thread knows of @s. */
static void check_info(struct thr *t, const struct stk *s, const char *when)
{
	struct estack_info i = { .size = sizeof(i), .id = s->id };
	int err;

	err = xioctl(t, fd_of(t, s), ESTACK_IOC_INFO, &i, when);
	if (err)
		die(t, "%s: INFO of live stack %u: errno %d (%s)", when, s->id,
		    err, strerror(err));
	if (i.lo != s->lo || i.hi != s->hi)
		die(t, "%s: INFO of stack %u says [%llx, %llx), expected [%llx, %llx)",
		    when, s->id, (unsigned long long)i.lo,
		    (unsigned long long)i.hi, (unsigned long long)s->lo,
		    (unsigned long long)s->hi);
	if (i.resident > i.hi - i.lo || i.resident % page)
		die(t, "%s: INFO of stack %u: resident %llu of %llu bytes",
		    when, s->id, (unsigned long long)i.resident,
		    (unsigned long long)(i.hi - i.lo));
}

static void check_stack(struct thr *t, const struct stk *s, int full,
			const char *when)
{
	check_canary(t, s, s->clo, s->hi, when);
	check_zero(t, s, full, when);
	check_info(t, s, when);
}

static void check_gone(struct thr *t, int fd, __u32 id, const char *when)
{
	struct estack_info i = { .size = sizeof(i), .id = id };

	expect(t, ENOENT, fd, ESTACK_IOC_INFO, &i, when);
}

static __u64 pow2_up(__u64 v)
{
	__u64 p = page;

	while (p < v)
		p <<= 1;
	return p;
}

/* Mostly small stacks, now and then up to 1 MiB; not always a power of 2. */
static __u64 pick_bytes(struct thr *t)
{
	__u64 r = below(t, 100), max;

	if (r < 3)
		return 0;
	max = r < 75 ? 16384 : r < 95 ? 131072 : 1048576;
	if (below(t, 2))
		return page << below(t, __builtin_ctzll(max) - 11);
	return 1 + below(t, max);
}

static void forget(struct thr *t, int k)
{
	struct stk *s = &t->s[k];

	t->live -= s->hi - s->lo;
	if (!s->fdi) {
		t->dead[t->nr_dead % NR_DEAD] = s->id;
		t->nr_dead++;
	}
	t->s[k] = t->s[--t->n];
}

static struct stk *new_stack(struct thr *t, int fdi, __u64 bytes,
			     const char *when)
{
	struct estack_alloc a;
	__u64 want = bytes ? pow2_up(bytes) : page;
	struct stk *s;
	int err;

	if (t->n == MAX_STACKS || t->live + want > BUDGET)
		return NULL;
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.bytes = bytes;
	err = xioctl(t, fdi ? t->fd2 : t->w->fd, ESTACK_IOC_ALLOC, &a, when);
	if (soft_errno(err))
		return NULL;
	if (err)
		die(t, "%s: ALLOC of %llu bytes: errno %d (%s)", when,
		    (unsigned long long)bytes, err, strerror(err));
	if (a.hi - a.lo != want || a.lo % page || !a.id)
		die(t, "%s: ALLOC of %llu bytes gave id %u [%llx, %llx)", when,
		    (unsigned long long)bytes, a.id, (unsigned long long)a.lo,
		    (unsigned long long)a.hi);
	s = &t->s[t->n++];
	s->id = a.id;
	s->fdi = fdi;
	s->lo = a.lo;
	s->hi = a.hi;
	s->clo = a.hi;
	s->seed = rnd(t);
	t->live += want;
	check_zero(t, s, 0, "new stack");
	s->clo = a.hi - below(t, want < 2048 ? want : 2048);
	fill(s, s->clo, s->hi);
	return s;
}

static void op_free(struct thr *t);

static void op_alloc(struct thr *t)
{
	int fdi = t->fd2 >= 0 && !below(t, 3);

	/* At the thread's budget: make room instead. */
	if (!new_stack(t, fdi, pick_bytes(t), "alloc") && t->live > BUDGET / 2)
		op_free(t);
}

static void op_free(struct thr *t)
{
	struct estack_free f = { .size = sizeof(f) };
	int k, fd, err;
	struct stk *s;

	if (!t->n)
		return;
	k = below(t, t->n);
	s = &t->s[k];
	fd = fd_of(t, s);
	if (!below(t, 4))
		check_canary(t, s, s->clo, s->hi, "before free");
	f.id = s->id;
	err = xioctl(t, fd, ESTACK_IOC_FREE, &f, "free");
	if (err)
		die(t, "FREE of stack %u: errno %d (%s)", s->id, err,
		    strerror(err));
	f.id = s->id;
	forget(t, k);
	check_gone(t, fd, f.id, "after free");
	if (!below(t, 8))
		expect(t, ENOENT, fd, ESTACK_IOC_FREE, &f, "double free");
}

static void op_info(struct thr *t)
{
	if (t->n)
		check_info(t, &t->s[below(t, t->n)], "info");
}

static void op_check(struct thr *t)
{
	if (t->n)
		check_stack(t, &t->s[below(t, t->n)], !below(t, 4), "check");
}

/*
 * Relocation arguments of a move (64-bit only): slot words pointing into
 * the stack or not, the frame pointer and conservative modes. Returns the
 * number of words the move must rewrite.
 */
static int set_reloc(struct thr *t, const struct stk *s, struct estack_move *m,
		     __u64 *fp_in)
{
	int i, nr, in = 0;
	__u64 v;

	*fp_in = 0;
	if (!IS64 || below(t, 3))
		return 0;
	nr = below(t, NR_SLOTS + 1);
	for (i = 0; i < nr; i++) {
		switch (below(t, 6)) {
		case 0:
			v = s->hi;
			break;
		case 1:
			v = s->lo - 1;
			break;
		case 2:
			v = rnd(t);
			break;
		default:
			v = s->lo + below(t, s->hi - s->lo);
			break;
		}
		t->slot[i] = v;
		t->slot_addr[i] = (unsigned long)&t->slot[i];
		in += v >= s->lo && v < s->hi;
	}
	m->nr_slots = nr;
	m->slots = (unsigned long)t->slot_addr;
	if (!below(t, 3))
		m->flags |= ESTACK_MOVE_ADJUST_CONSERVATIVE;
	if (!below(t, 3)) {
		m->flags |= ESTACK_MOVE_ADJUST_FP;
		/* Into the stack (a canary word ends the walk), or not. */
		m->fp = below(t, 2) ? s->lo + below(t, s->hi - s->lo) : 0;
		*fp_in = m->fp;
	}
	return in;
}

/* The slots after a move by @delta of [lo, hi) (0: nothing moved). */
static void check_slots(struct thr *t, const struct estack_move *m,
			const __u64 *before, __u64 lo, __u64 hi, __s64 delta,
			const char *when)
{
	unsigned int i;
	__u64 want;

	for (i = 0; i < m->nr_slots; i++) {
		want = before[i];
		if (delta && want >= lo && want < hi)
			want += delta;
		if (t->slot[i] != want)
			die(t,
			    "%s: slot %u at %p of stack %u is %llx, expected %llx (was %llx, delta %lld)",
			    when, i, &t->slot[i], m->id,
			    (unsigned long long)t->slot[i],
			    (unsigned long long)want,
			    (unsigned long long)before[i], (long long)delta);
	}
}

/* The stack after a failed move: exactly as before. */
static void check_unmoved(struct thr *t, const struct stk *s,
			  const struct estack_move *m, const __u64 *before,
			  const char *when)
{
	check_slots(t, m, before, s->lo, s->hi, 0, when);
	check_canary(t, s, s->clo, s->hi, when);
	check_info(t, s, when);
}

/* GROW or SHRINK of @s from @sp, checked against the contract. */
static void do_move(struct thr *t, struct stk *s, int grow, __u64 sp,
		    __u64 bytes, const char *when)
{
	__u64 size = s->hi - s->lo, want, before[NR_SLOTS], fp_in, old_hi;
	unsigned long cmd = grow ? ESTACK_IOC_GROW : ESTACK_IOC_SHRINK;
	struct estack_move m;
	int in, err, moves;

	memset(&m, 0, sizeof(m));
	m.size = sizeof(m);
	m.id = s->id;
	m.sp = sp;
	m.bytes = bytes;
	in = set_reloc(t, s, &m, &fp_in);
	memcpy(before, t->slot, sizeof(before));
	if (grow) {
		want = bytes ? pow2_up(bytes) : size * 2;
		moves = 1;
	} else {
		want = size / 2;
		moves = s->hi - sp < size / 4 && want >= page;
		if (!moves)
			want = size;
	}
	/* A compat caller cannot relocate: EOPNOTSUPP, nothing changes. */
	if (!IS64 && !below(t, 20)) {
		if (below(t, 2)) {
			m.flags = 1 + below(t, 3);
		} else {
			m.nr_slots = 1;
			m.slots = (unsigned long)t->slot_addr;
		}
		expect(t, EOPNOTSUPP, fd_of(t, s), cmd, &m, "compat relocation");
		m.nr_slots = 0;
		check_unmoved(t, s, &m, before, "after compat relocation");
		return;
	}
	/* A bad slot: EFAULT (when it moves), nothing changes. */
	if (m.nr_slots && !below(t, 40)) {
		t->slot_addr[below(t, m.nr_slots)] =
			(unsigned long)t->junk + page;
		err = xioctl(t, fd_of(t, s), cmd, &m, "bad slot");
		/* A SHRINK that does not move needs no slot. */
		if (!err && !moves && !m.delta && m.hi == s->hi)
			err = EFAULT;
		if (err != EFAULT && !soft_errno(err))
			die(t, "%s with a bad slot: errno %d (%s), expected EFAULT",
			    op_name(cmd), err, strerror(err));
		check_unmoved(t, s, &m, before, "after bad slot");
		return;
	}
	err = xioctl(t, fd_of(t, s), cmd, &m, when);
	if (soft_errno(err)) {
		check_unmoved(t, s, &m, before, "after a failed move");
		return;
	}
	if (err)
		die(t,
		    "%s of stack %u [%llx, %llx) sp %llx bytes %llu flags %x slots %u: errno %d (%s)",
		    op_name(cmd), s->id, (unsigned long long)s->lo,
		    (unsigned long long)s->hi, (unsigned long long)sp,
		    (unsigned long long)bytes, m.flags, m.nr_slots, err,
		    strerror(err));
	if (m.hi - m.lo != want || m.hi % page ||
	    m.delta != (__s64)(m.hi - s->hi) || (!moves && m.delta) ||
	    m.adjusted != (moves ? in : 0) ||
	    m.fp != (moves && fp_in >= s->lo && fp_in < s->hi ?
		     fp_in + m.delta : fp_in))
		die(t,
		    "%s of stack %u [%llx, %llx) sp %llx: [%llx, %llx) delta %lld adjusted %llu fp %llx, expected %llu bytes, %d adjusted, fp from %llx",
		    op_name(cmd), s->id, (unsigned long long)s->lo,
		    (unsigned long long)s->hi, (unsigned long long)sp,
		    (unsigned long long)m.lo, (unsigned long long)m.hi,
		    (long long)m.delta, (unsigned long long)m.adjusted,
		    (unsigned long long)m.fp, (unsigned long long)want,
		    moves ? in : 0, (unsigned long long)fp_in);
	check_slots(t, &m, before, s->lo, s->hi, m.delta, when);
	if (!moves) {
		check_canary(t, s, s->clo, s->hi, when);
		return;
	}
	add(&sh->moves, 1);
	/* [sp, hi) now lies at the top of the new stack. */
	if (sp > s->clo)
		s->clo = sp;
	old_hi = s->hi;
	s->clo += m.delta;
	s->lo = m.lo;
	s->hi = m.hi;
	t->live += want - size;
	if (s->hi != old_hi + m.delta)
		die(t, "%s: hi %llx", when, (unsigned long long)s->hi);
	check_stack(t, s, 0, when);
}

/* GROW with most of the stack live, so that a lot is copied. */
static void op_grow(struct thr *t)
{
	__u64 size, bytes = 0, want, sp, span;
	struct stk *s;

	if (!t->n)
		return;
	s = &t->s[below(t, t->n)];
	size = s->hi - s->lo;
	if (!below(t, 3))
		bytes = size + 1 + below(t, 3 * size);
	want = bytes ? pow2_up(bytes) : 2 * size;
	if (want > MAX_SIZE || t->live + want - size > BUDGET)
		return;
	span = size / 8 < 4096 ? size / 8 : 4096;
	if (below(t, 5) < 3)
		sp = s->lo + below(t, span + 1);
	else
		sp = s->lo + below(t, size + 1);
	if (below(t, 2))
		sp &= ~15ULL;
	if (sp < s->clo) {
		fill(s, sp, s->clo);
		s->clo = sp;
	}
	do_move(t, s, 1, sp, bytes, "grow");
}

/* SHRINK, mostly with a quarter or less live so that it halves. */
static void op_shrink(struct thr *t)
{
	__u64 size, sp;
	struct stk *s;

	if (!t->n)
		return;
	s = &t->s[below(t, t->n)];
	size = s->hi - s->lo;
	if (below(t, 5) < 3)
		sp = s->hi - below(t, size / 4);
	else
		sp = s->lo + below(t, size + 1);
	if (below(t, 2))
		sp &= ~15ULL;
	do_move(t, s, 0, sp, 0, "shrink");
}

/* Pages of a stack, or of its whole arena, dropped: the data comes back. */
static void op_dontneed(struct thr *t)
{
	__u64 pages, first, nr, start, end;
	struct es_range r;
	struct stk *s;
	int i;

	if (!t->n)
		return;
	s = &t->s[below(t, t->n)];
	pages = (s->hi - s->lo) / page;
	first = below(t, pages);
	nr = 1 + below(t, pages - first);
	start = s->lo + first * page;
	end = start + nr * page;
	if (!below(t, 10) && !es_arena_of(s->lo, &r)) {
		/* Everyone's stacks in it, guards and free stacks too. */
		start = r.start;
		end = r.end;
	}
	if (madvise(U2P(start), end - start, MADV_DONTNEED))
		die(t, "MADV_DONTNEED of [%llx, %llx) in stack %u: errno %d (%s)",
		    (unsigned long long)start, (unsigned long long)end, s->id,
		    errno, strerror(errno));
	add(&sh->ops, 1);
	add(&sh->dontneed, 1);
	check_canary(t, s, start, end, "after MADV_DONTNEED");
	check_zero(t, s, 0, "after MADV_DONTNEED");
	if (end - start > s->hi - s->lo)
		for (i = 0; i < t->n; i++)
			check_canary(t, &t->s[i], t->s[i].clo, t->s[i].hi,
				     "after MADV_DONTNEED of an arena");
}

/* Malformed requests: only the errno the contract pins, nothing changes. */
static void op_garbage(struct thr *t)
{
	unsigned char *rw = t->junk, *none = t->junk + page;
	unsigned char *ro = t->junk + 2 * page;
	struct stk *s = t->n ? &t->s[below(t, t->n)] : NULL;
	int fd = s ? fd_of(t, s) : t->w->fd;
	unsigned long cmd, nr = below(t, 6);
	struct estack_move *m = (void *)rw;
	struct estack_free *f = (void *)rw;
	struct estack_alloc *a = (void *)rw;
	static const __u32 ksizes[] = { 40, 40, 16, 80, 80, 40 };
	__u32 *hdr = (void *)rw;
	__u32 ksize, usize;
	void *p;
	int i;

	add(&sh->garbage, 1);
	ksize = ksizes[nr];
	/* Commands match on type and number: the other bits are noise. */
	cmd = _IOC(below(t, 4), ESTACK_IOC_MAGIC, nr, below(t, 1 << 14));
	memset(rw, 0, page);
	hdr[0] = ksize;
	if (s && nr >= 2 && nr <= 5) {
		f->id = s->id;		/* id at the same place in all four */
		m->sp = s->hi;
	}
	switch (below(t, 9)) {
	case 0:		/* unknown command */
		cmd = _IOC(below(t, 4), ESTACK_IOC_MAGIC, 8 + below(t, 248),
			   below(t, 1 << 14));
		for (i = 0; i < 64; i++)
			rw[i] = rnd(t);
		expect(t, ENOTTY, fd, cmd, rw, "unknown command");
		break;
	case 1:		/* a pointer that cannot be read */
		switch (below(t, 4)) {
		case 0:
			p = NULL;
			break;
		case 1:
			p = (void *)8;
			break;
		case 2:
			p = none;
			break;
		default:
			p = none - 2;	/* the size straddles the hole */
			break;
		}
		expect(t, EFAULT, fd, cmd, p, "bad pointer");
		break;
	case 2:		/* a struct that cannot be written back */
		if (nr == 0 || nr == 2) {
			cmd = ESTACK_IOC_INFO;
			hdr[0] = sizeof(struct estack_info);
			f->id = s ? s->id : 0;
		}
		if (mprotect(ro, page, PROT_READ | PROT_WRITE))
			die(t, "mprotect: %s", strerror(errno));
		memcpy(ro, rw, ksize);
		if (mprotect(ro, page, PROT_READ))
			die(t, "mprotect: %s", strerror(errno));
		if (_IOC_NR(cmd) == _IOC_NR(ESTACK_IOC_INFO) && !s)
			expect(t, ENOENT, fd, cmd, ro, "read-only struct");
		else
			expect(t, EFAULT, fd, cmd, ro, "read-only struct");
		break;
	case 3:		/* size below the first version, or above a page */
		usize = below(t, 2) ? below(t, ksize) : page + 1 + below(t, 1 << 20);
		hdr[0] = usize;
		expect(t, usize < ksize ? EINVAL : E2BIG, fd, cmd, rw,
		       "bad size");
		break;
	case 4:		/* a longer struct with a non-zero byte past ours */
		usize = ksize + 1 + below(t, page - ksize);
		hdr[0] = usize;
		rw[ksize + below(t, usize - ksize)] = 1 + below(t, 255);
		expect(t, E2BIG, fd, cmd, rw, "non-zero tail");
		break;
	case 5:		/* unknown flags or non-zero pad */
		if (nr >= 3 && nr <= 4) {
			if (below(t, 2))
				m->flags = (__u32)rnd(t) | 4;
			else if (nr == 4)
				m->bytes = 1 + below(t, 1 << 20);
			else
				m->nr_slots = ESTACK_MAX_SLOTS + 1 + below(t, 1 << 20);
		} else if (nr == 0 || below(t, 2)) {
			hdr[1] = (__u32)rnd(t) | 1;
		} else {
			/* pad: after bytes (ALLOC) or after id (FREE, INFO) */
			if (nr == 1)
				a->pad = 1 + below(t, 0xffff);
			else
				f->pad = 1 + below(t, 0xffff);
		}
		expect(t, EINVAL, fd, cmd, rw, "bad flags or pad");
		break;
	case 6:		/* an id no stack of this file has */
		if (nr < 2)
			cmd = ESTACK_IOC_INFO;
		f->id = below(t, 4) == 0 ? 0 : below(t, 2) ?
			0x40000000 + (__u32)below(t, 0xbfffffff) :
			t->nr_dead ? t->dead[below(t, t->nr_dead < NR_DEAD ?
						  t->nr_dead : NR_DEAD)] : 0;
		m->sp = 0;
		expect(t, ENOENT, t->w->fd, cmd, rw, "unknown id");
		break;
	case 7:		/* an sp or bytes that does not fit the stack */
		if (!s)
			break;
		m->size = sizeof(*m);
		m->id = s->id;
		switch (below(t, 4)) {
		case 0:
			m->sp = s->lo - 1 - below(t, 1 << 16);
			expect(t, EINVAL, fd, below(t, 2) ? ESTACK_IOC_GROW :
			       ESTACK_IOC_SHRINK, m, "sp below lo");
			break;
		case 1:
			m->sp = s->hi + 1 + below(t, 1 << 16);
			expect(t, EINVAL, fd, below(t, 2) ? ESTACK_IOC_GROW :
			       ESTACK_IOC_SHRINK, m, "sp above hi");
			break;
		case 2:
			m->sp = s->hi;
			m->bytes = 1 + below(t, s->hi - s->lo);
			expect(t, EINVAL, fd, ESTACK_IOC_GROW, m,
			       "grow to no larger");
			break;
		default:
			m->sp = s->hi;
			m->bytes = (1ULL << 30) + 1 + below(t, 1ULL << 40);
			expect(t, EFBIG, fd, ESTACK_IOC_GROW, m,
			       "grow past max_stack");
			break;
		}
		check_canary(t, s, s->clo, s->hi, "after a bad move");
		check_info(t, s, "after a bad move");
		break;
	default:	/* ALLOC past max_stack; INFO with another file's id */
		if (below(t, 2) || t->fd2 < 0 || !s) {
			memset(a, 0, sizeof(*a));
			a->size = sizeof(*a);
			a->bytes = (1ULL << 30) + 1 + below(t, 1ULL << 40);
			expect(t, EFBIG, t->w->fd, ESTACK_IOC_ALLOC, a,
			       "alloc past max_stack");
		} else {
			struct estack_info in = { .size = sizeof(in) };

			in.id = s->id;
			i = xioctl(t, s->fdi ? t->w->fd : t->fd2,
				   ESTACK_IOC_INFO, &in, "other file's id");
			if (i && i != ENOENT)
				die(t, "INFO of another file's id %u: errno %d (%s)",
				    s->id, i, strerror(i));
		}
		break;
	}
	if (s && !below(t, 4))
		check_info(t, s, "after garbage");
}

/* The child of a fork cannot use the parent's file, nor see its arena. */
static void op_fork(struct thr *t)
{
	struct estack_info i = { .size = sizeof(i) };
	int status;
	pid_t pid;

	i.id = t->n ? t->s[0].id : 1;
	pid = fork();
	if (pid < 0) {
		if (errno == ENOMEM || errno == EAGAIN)
			return;
		die(t, "fork: %s", strerror(errno));
	}
	if (!pid) {
		int err = es_ioctl(t->w->fd, ESTACK_IOC_INFO, &i);

		_exit(err == EPERM ? 0 : 100 + err);
	}
	add(&sh->forks, 1);
	add(&sh->ops, 1);
	if (waitpid(pid, &status, 0) != pid)
		die(t, "waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		die(t, "fork child: INFO gave errno %d, expected EPERM (status %#x)",
		    WIFEXITED(status) ? WEXITSTATUS(status) - 100 : -1,
		    status);
}

/* Runs on one of the thread's own stacks: it cannot move or free that. */
static void fiber_fn(void)
{
	struct thr *t = cur;
	struct stk *s = t->fiber;
	struct estack_free f = { .size = sizeof(f), .id = s->id };
	struct estack_move m;
	char here;

	memset(&m, 0, sizeof(m));
	m.size = sizeof(m);
	m.id = s->id;
	m.sp = (unsigned long)&here & ~15UL;
	expect(t, EBUSY, t->w->fd, ESTACK_IOC_GROW, &m, "running stack");
	m.sp = s->hi - 16;
	expect(t, EBUSY, t->w->fd, ESTACK_IOC_SHRINK, &m, "running stack");
	expect(t, EBUSY, t->w->fd, ESTACK_IOC_FREE, &f, "running stack");
	check_info(t, s, "running stack");
}

static void op_fiber(struct thr *t)
{
	struct stk *s = new_stack(t, 0, 65536, "fiber");
	__u32 id;

	if (!s)
		return;
	t->fiber = s;
	cur = t;
	add(&sh->fibers, 1);
	if (es_run_on(&t->main_uc, &t->fiber_uc, s->lo, s->clo, fiber_fn))
		die(t, "run a fiber: %s", strerror(errno));
	/* The fiber wrote below clo: free the stack rather than track it. */
	id = s->id;
	check_canary(t, s, s->clo, s->hi, "after the fiber");
	expect(t, 0, t->w->fd, ESTACK_IOC_FREE,
	       &(struct estack_free){ .size = 16, .id = id }, "fiber done");
	forget(t, s - t->s);
}

static int open_dev(struct thr *t)
{
	struct estack_api api = { .size = sizeof(api) };
	int fd = open(DEV_PATH, O_RDWR | (below(t, 2) ? O_CLOEXEC : 0));

	if (fd < 0)
		die(t, "open " DEV_PATH ": %s", strerror(errno));
	expect(t, 0, fd, ESTACK_IOC_API, &api, "handshake");
	if (api.version != ESTACK_API_VERSION || api.min_stack != page ||
	    api.max_stack != 1ULL << 30 || api.page_size != page)
		die(t, "API: version %u page %u min %llu max %llu", api.version,
		    api.page_size, (unsigned long long)api.min_stack,
		    (unsigned long long)api.max_stack);
	return fd;
}

/*
 * Unmap the arenas that hold the stacks of the thread's own file: every
 * stack in them is freed. Only this thread uses that file.
 */
static void unmap_fd2(struct thr *t, int check)
{
	struct es_range r[MAX_STACKS];
	int k, j, nr = 0;

	for (k = 0; k < t->n; k++) {
		if (!t->s[k].fdi)
			continue;
		for (j = 0; j < nr; j++)
			if (t->s[k].lo >= r[j].start && t->s[k].lo < r[j].end)
				break;
		if (j < nr)
			continue;
		if (es_arena_of(t->s[k].lo, &r[nr]))
			die(t, "stack %u at %llx: no arena in /proc/self/maps",
			    t->s[k].id, (unsigned long long)t->s[k].lo);
		nr++;
	}
	for (j = 0; j < nr; j++) {
		if (munmap(U2P(r[j].start), r[j].end - r[j].start))
			die(t, "munmap of the arena [%lx, %lx): %s",
			    r[j].start, r[j].end, strerror(errno));
		add(&sh->ops, 1);
		add(&sh->unmaps, 1);
	}
	for (k = t->n - 1; k >= 0; k--) {
		if (!t->s[k].fdi)
			continue;
		if (check)
			check_gone(t, t->fd2, t->s[k].id, "after munmap");
		forget(t, k);
	}
}

/* Open, close (stacks stay mapped) or unmap the thread's own file. */
static void op_fd2(struct thr *t)
{
	int k;

	if (t->fd2 < 0) {
		t->fd2 = open_dev(t);
		return;
	}
	if (below(t, 2)) {
		unmap_fd2(t, 1);
		return;
	}
	if (close(t->fd2))
		die(t, "close: %s", strerror(errno));
	for (k = 0; k < t->n; k++)
		if (t->s[k].fdi)
			check_canary(t, &t->s[k], t->s[k].clo, t->s[k].hi,
				     "after close");
	unmap_fd2(t, 0);
	t->fd2 = -1;
}

static void *thread_fn(void *arg)
{
	struct thr *t = arg;
	unsigned int r;

	cur = t;
	while (!stopping(t)) {
		r = below(t, 1000);
		if (r < 200)
			op_alloc(t);
		else if (r < 320)
			op_free(t);
		else if (r < 470)
			op_grow(t);
		else if (r < 570)
			op_shrink(t);
		else if (r < 680)
			op_info(t);
		else if (r < 740)
			op_check(t);
		else if (r < 800)
			op_dontneed(t);
		else if (r < 985)
			op_garbage(t);
		else if (r < 990)
			op_fork(t);
		else if (r < 995)
			op_fiber(t);
		else
			op_fd2(t);
	}
	return NULL;
}

static void on_signal(int sig)
{
}

static __u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/*
 * One generation of a worker: its file, its threads running until the
 * generation ends, then one of: exit with the threads running, exit with
 * the stacks live, or close, check, unmap and go again.
 */
static void worker(int slot, int nthreads, time_t deadline, __u64 seed)
{
	struct worker *w = calloc(1, sizeof(*w));
	struct itimerval it = { { 0, 5000 }, { 0, 5000 } };
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	struct thr *t;
	int i, k, gen;
	__u64 r, end;

	stress_slot = slot;
	if (!w)
		die(NULL, "out of memory");
	w->slot = slot;
	w->nthreads = nthreads;
	w->deadline = deadline;
	/* A non-fatal signal every few ms: the ioctls must not notice. */
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	for (gen = 0; ; gen++) {
		r = mix(seed + gen);
		w->stop = 0;
		w->t[0].w = w;
		w->t[0].rng = r;
		w->fd = open_dev(&w->t[0]);
		for (i = 0; i < nthreads; i++) {
			t = &w->t[i];
			memset(t, 0, sizeof(*t));
			t->w = w;
			t->idx = i;
			t->fd2 = -1;
			t->rng = mix(r + i + 1);
			t->junk = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (t->junk == MAP_FAILED ||
			    mprotect(t->junk + page, page, PROT_NONE))
				die(t, "junk pages: %s", strerror(errno));
			if (pthread_create(&t->pt, NULL, thread_fn, t))
				die(t, "pthread_create failed");
		}
		add(&sh->gens, 1);
		/* 1 to 8 s per generation (usleep ends early on SIGALRM). */
		end = now_ms() + 1000 + mix(r) % 7000;
		while (now_ms() < end &&
		       !__atomic_load_n(&sh->stop, __ATOMIC_RELAXED) &&
		       time(NULL) < deadline)
			usleep(20000);
		r = mix(r) % 8;
		if (r == 0)
			_exit(0);	/* threads still running */
		__atomic_store_n(&w->stop, 1, __ATOMIC_RELAXED);
		for (i = 0; i < nthreads; i++)
			pthread_join(w->t[i].pt, NULL);
		if (r <= 2)
			_exit(0);	/* stacks live */
		for (i = 0; i < nthreads; i++) {
			t = &w->t[i];
			for (k = t->n - 1; k >= 0 && r >= 6; k--) {
				if (t->s[k].fdi)
					continue;
				expect(t, 0, w->fd, ESTACK_IOC_FREE,
				       &(struct estack_free){
						.size = 16, .id = t->s[k].id },
				       "end of generation");
				forget(t, k);
			}
			if (t->fd2 >= 0)
				close(t->fd2);
		}
		close(w->fd);
		/* Closed files leave their stacks mapped until unmapped. */
		for (i = 0; i < nthreads; i++) {
			t = &w->t[i];
			for (k = 0; k < t->n; k++)
				check_canary(t, &t->s[k], t->s[k].clo,
					     t->s[k].hi, "after close");
			munmap(t->junk, 3 * page);
		}
		es_unmap_arenas();
		if (es_walk_arenas(NULL))
			die(NULL, "arenas left after unmapping them all");
		if (__atomic_load_n(&sh->stop, __ATOMIC_RELAXED) ||
		    time(NULL) >= deadline)
			_exit(0);
	}
}

static long env_num(const char *name, long def, long min, long max)
{
	const char *v = getenv(name);
	long n;

	if (!v || !*v)
		return def;
	n = strtol(v, NULL, 0);
	return n < min ? min : n > max ? max : n;
}

FIXTURE(stress) {
	int ok;
};

FIXTURE_SETUP(stress)
{
	long size;
	int fd;

	es_test_open(_metadata, &fd);
	size = es_page_size(fd);
	close(fd);
	ASSERT_EQ(sysconf(_SC_PAGESIZE), size);
	page = size;
	self->ok = 1;
}

FIXTURE_TEARDOWN(stress)
{
}

static pid_t start_worker(int slot, int nthreads, time_t deadline, __u64 seed)
{
	pid_t pid = fork();

	if (!pid)
		worker(slot, nthreads, deadline, seed);
	return pid;
}

/* The time limit below is raised to ESTACK_STRESS_S + 300 at startup. */
TEST_F_TIMEOUT(stress, random_ops, DEFAULT_S + 300)
{
	long secs = env_num("ESTACK_STRESS_S", DEFAULT_S, 1, 86400);
	int nprocs = env_num("ESTACK_STRESS_PROCS", 4, 1, MAX_PROCS);
	int nthreads = env_num("ESTACK_STRESS_THREADS", 2, 1, MAX_THREADS);
	__u64 seed = env_num("ESTACK_STRESS_SEED", time(NULL), 0, LONG_MAX);
	pid_t pids[MAX_PROCS] = {};
	int pipefd[2], status, i, left, restarts = 0;
	long long in_use, now_in_use = -1;
	struct timespec t0, t1;
	time_t deadline, hard;
	char buf[4096];
	double el;
	ssize_t n;
	pid_t pid;

	in_use = es_stat("stacks_in_use");
	ASSERT_LE(0, in_use);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(sh != MAP_FAILED);
	ASSERT_EQ(0, pipe2(pipefd, O_NONBLOCK | O_CLOEXEC));
	fail_fd = pipefd[1];
	ksft_print_msg("stress: %d processes x %d threads, %ld s, seed %llu\n",
		       nprocs, nthreads, secs, (unsigned long long)seed);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	deadline = time(NULL) + secs;
	for (i = 0; i < nprocs; i++) {
		pids[i] = start_worker(i, nthreads, deadline, mix(seed + i));
		ASSERT_LT(0, pids[i]);
	}
	/* Replace each worker that ends cleanly until the time is up. */
	while (!__atomic_load_n(&sh->stop, __ATOMIC_RELAXED) &&
	       time(NULL) < deadline) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0) {
			usleep(50000);
			continue;
		}
		for (i = 0; i < nprocs && pids[i] != pid; i++)
			;
		if (i == nprocs)
			continue;
		pids[i] = 0;
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			TH_LOG("worker %d ended with status %#x", i, status);
			self->ok = 0;
			break;
		}
		if (time(NULL) + 1 < deadline) {
			restarts++;
			pids[i] = start_worker(i, nthreads, deadline,
					       mix(seed + i + 977 * restarts));
			ASSERT_LT(0, pids[i]);
		}
	}
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
	hard = time(NULL) + GRACE_S;
	do {
		for (left = 0, i = 0; i < nprocs; i++) {
			if (!pids[i])
				continue;
			pid = waitpid(pids[i], &status, WNOHANG);
			if (!pid) {
				left++;
				continue;
			}
			if (pid < 0 || !WIFEXITED(status) ||
			    WEXITSTATUS(status)) {
				TH_LOG("worker %d ended with status %#x", i,
				       status);
				self->ok = 0;
			}
			pids[i] = 0;
		}
		if (left)
			usleep(50000);
	} while (left && time(NULL) < hard);
	for (i = 0; i < nprocs; i++) {
		if (!pids[i])
			continue;
		TH_LOG("worker %d (pid %d) did not stop within %d s: killed",
		       i, pids[i], GRACE_S);
		kill(pids[i], SIGKILL);
		waitpid(pids[i], &status, 0);
		self->ok = 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	el = t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;

	while ((n = read(pipefd[0], buf, sizeof(buf) - 1)) > 0) {
		buf[n] = 0;
		TH_LOG("%s", buf);
		self->ok = 0;
	}
	close(pipefd[0]);
	close(pipefd[1]);

	/* Every worker is gone with its files and arenas: so are its stacks. */
	for (i = 0; i < 50; i++) {
		now_in_use = es_stat("stacks_in_use");
		if (now_in_use == in_use)
			break;
		usleep(100000);
	}
	EXPECT_EQ(in_use, now_in_use);

	ksft_print_msg("stress: %llu ops in %.1f s (%.0f ops/s)\n", sh->ops,
		       el, sh->ops / el);
	ksft_print_msg("stress: %llu moves, %llu forks, %llu generations, %d restarts\n",
		       sh->moves, sh->forks, sh->gens, restarts);
	ksft_print_msg("stress: %llu malformed, %llu DONTNEED, %llu on-stack, %llu unmaps\n",
		       sh->garbage, sh->dontneed, sh->fibers, sh->unmaps);
	ksft_print_msg("stress: %llu ENOSPC/ENOMEM/EINTR, %llu of them EINTR\n",
		       sh->soft, sh->eintr);
	/*
	 * A run whose calls mostly fail tests nothing: the errors taken as
	 * load (soft_errno()) stay a small part of the operations (none in
	 * a 1500 s soak of 2.6 M operations), and stacks did move.
	 */
	EXPECT_LT(0, sh->ops);
	EXPECT_LT(0, sh->moves);
	EXPECT_LE(sh->soft * 10, sh->ops)
		TH_LOG("%llu of %llu operations failed with ENOSPC, ENOMEM or EINTR",
		       sh->soft, sh->ops);
	EXPECT_TRUE(self->ok);
	munmap(sh, sizeof(*sh));
}

/* The harness reads the limit when the test starts: follow the duration. */
static void __attribute__((constructor)) stress_timeout(void)
{
	_stress_random_ops_object.timeout =
		env_num("ESTACK_STRESS_S", DEFAULT_S, 1, 86400) + 300;
}

TEST_HARNESS_MAIN
