// SPDX-License-Identifier: GPL-2.0
/*
 * estack selftests: GROW and SHRINK racing munmap() of the arena, fork(),
 * close() of the file, and each other, with the contents of every stack
 * checked after every round.
 *
 * A stack holds a pattern in its top "live" bytes (a function of the
 * distance from hi, so it stays the same wherever the stack moves) and
 * zeros below. Two movers read hi with INFO and pass sp = hi - want. A
 * move that raced another one runs with the sp of an older place: EINVAL,
 * unless the stack has come back to a place where that sp fits, when the
 * kernel copies [sp, hi) of the place the stack is in now. So the test
 * works out what each successful move copied from its results alone: the
 * old hi is hi - delta, the bytes copied are old hi - sp; a stack then
 * holds the pattern in its top min(live, every copy) bytes and zeros
 * below. The successful moves of one id must also chain, one after the
 * other, from its place at the start of the round to the place INFO gives
 * at its end: two moves that both committed from the same place, or a
 * move from nowhere, break the chain.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "estack_harness.h"

#define MAX_STACKS	3
#define ROUNDS_S	5	/* seconds of rounds per test */
#define LOG_MAX		1024	/* successful moves a mover logs a round */
#define MAX_ARENAS	8

enum race_kind {
	RACE_MUNMAP,		/* a third thread unmaps every arena */
	RACE_FORK,		/* a third thread forks */
	RACE_CLOSE,		/* a third thread closes the movers' fd */
	RACE_CLOSE_UNMAP,	/* ... every fd, then unmaps the arenas */
	RACE_MOVE,		/* GROW against SHRINK and GROW, nothing else */
};

struct rstack {
	__u32 id;
	unsigned int seed;
	__u64 init;	/* size at ALLOC */
	__u64 want;	/* live bytes the movers keep: sp = hi - want */
	__u64 live;	/* live bytes it holds: want, less after a stale sp */
	__u64 cap;	/* no GROW at or above this size */
	__u64 lo, hi;	/* at the start of a round (read-only in it) */
};

/* One successful move that changed something. */
struct mlog {
	int k;
	int grow;
	__u64 sp;
	__u64 lo, hi;
	__s64 delta;
};

struct race;

struct mover {
	struct race *r;
	pthread_t t;
	int grow_only;
	unsigned int seed;
	struct mlog log[LOG_MAX];
	int nlog;
	long ok, noop, einval, enoent, enomem, ebadf;
	int bad, bad_err;
	const char *bad_what;
};

struct race {
	enum race_kind kind;
	int fd;			/* the movers' file */
	int main_fd;		/* the file main checks with */
	int nr;
	struct rstack s[MAX_STACKS];
	struct mover mv[2];
	pthread_t third;
	unsigned int seed;
	int stop;
	int unmapping;		/* ENOENT and ENOMEM allowed from now on */
	int closed;		/* EBADF allowed from now on */
	struct es_range arenas[MAX_ARENAS];
	int nr_arenas;
	int forks, fork_bad, fork_status;
	/* totals */
	long rounds, moves, stale, short_copies, einval, enoent, enomem;
	long ebadf, survivors;
};

/* The stacks of a race: nearly all live, or little enough to shrink. */
static const struct {
	__u64 init, want, cap;
} shapes[] = {
	{ 4096, 4096 - 256, 65536 },
	{ 16384, 16384 - 512, 262144 },
	{ 8192, 1500, 65536 },
};

static int flag(int *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void set_flag(int *p, int v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* Byte @off (1 = the top byte) of a stack's pattern; never zero. */
static unsigned char pat(unsigned int seed, __u64 off)
{
	return (unsigned char)(((unsigned int)off + seed) * 2654435761u >>
			       13) | 1;
}

static void fill(const struct rstack *s)
{
	__u64 off;

	for (off = 1; off <= s->live; off++)
		es_poke(s->hi - off, pat(s->seed, off));
}

/* 0 if [lo, hi) is the pattern in its top @live bytes, zero below. */
static long check_stack(__u64 lo, __u64 hi, unsigned int seed, __u64 live)
{
	__u64 a;

	for (a = lo; a < hi; a++)
		if (es_peek(a) != (hi - a <= live ? pat(seed, hi - a) : 0))
			return (long)(a - lo) + 1;
	return 0;
}

/* A new stack @k of shape @shape, its pattern written. */
static int new_stack(struct race *r, int k, int shape, int fd)
{
	struct rstack *s = &r->s[k];
	struct estack_alloc a;
	int err;

	s->init = shapes[shape].init;
	s->want = shapes[shape].want;
	s->cap = shapes[shape].cap;
	err = es_alloc(fd, s->init, &a);
	if (err)
		return err;
	s->id = a.id;
	s->lo = a.lo;
	s->hi = a.hi;
	s->live = s->want;
	s->seed = rand_r(&r->seed);
	fill(s);
	return 0;
}

static void mover_bad(struct mover *mv, const char *what, int err)
{
	if (!mv->bad++) {
		mv->bad_what = what;
		mv->bad_err = err;
	}
}

/* Is @err a contract answer in this race? Counts it. */
static int allowed(struct mover *mv, int err, int move)
{
	struct race *r = mv->r;

	switch (err) {
	case EINVAL:		/* an sp the stack moved away from */
		mv->einval++;
		return move;
	case ENOENT:
		mv->enoent++;
		return flag(&r->unmapping);
	case ENOMEM:		/* the new arena was unmapped under it */
		mv->enomem++;
		return move && flag(&r->unmapping);
	case EBADF:
		mv->ebadf++;
		return flag(&r->closed);
	}
	return 0;
}

static void *mover_fn(void *p)
{
	struct mover *mv = p;
	struct race *r = mv->r;
	struct estack_info info;
	struct estack_move m;
	struct rstack *s;
	unsigned long cmd;
	int k, err, grow = mv->seed & 1;
	__u64 size;

	while (!flag(&r->stop) && mv->nlog < LOG_MAX) {
		k = rand_r(&mv->seed) % r->nr;
		s = &r->s[k];
		err = es_info(r->fd, s->id, &info);
		if (err) {
			if (!allowed(mv, err, 0))
				mover_bad(mv, "INFO", err);
			if (err == EBADF)
				break;	/* closed for good */
			continue;
		}
		size = info.hi - info.lo;
		if (mv->grow_only) {
			if (size >= s->cap) {
				sched_yield();
				continue;
			}
			cmd = ESTACK_IOC_GROW;
		} else {
			grow = !grow;
			cmd = grow && size < s->cap ? ESTACK_IOC_GROW :
			      ESTACK_IOC_SHRINK;
		}
		memset(&m, 0, sizeof(m));
		m.size = sizeof(m);
		m.id = s->id;
		m.sp = size > s->want ? info.hi - s->want : info.lo;
		err = es_ioctl(r->fd, cmd, &m);
		if (err) {
			if (!allowed(mv, err, 1))
				mover_bad(mv, cmd == ESTACK_IOC_GROW ?
					  "GROW" : "SHRINK", err);
			continue;
		}
		if (!m.delta) {
			/* Only a SHRINK that is not worth it moves nothing. */
			if (cmd == ESTACK_IOC_GROW)
				mover_bad(mv, "GROW with delta 0", 0);
			mv->noop++;
			continue;
		}
		mv->log[mv->nlog++] = (struct mlog){
			.k = k, .grow = cmd == ESTACK_IOC_GROW, .sp = m.sp,
			.lo = m.lo, .hi = m.hi, .delta = m.delta,
		};
		mv->ok++;
	}
	return NULL;
}

/* A child of a fork() in the middle of the moves: the fd is not its. */
static void fork_child(struct race *r, int how)
{
	struct estack_info info = { .size = sizeof(info), .id = r->s[0].id };
	struct estack_move m = {
		.size = sizeof(m), .id = r->s[0].id, .sp = r->s[0].hi,
	};

	if (how == 1) {
		if (ioctl(r->fd, ESTACK_IOC_INFO, &info) != -1 ||
		    errno != EPERM)
			_exit(2);
		if (ioctl(r->fd, ESTACK_IOC_GROW, &m) != -1 || errno != EPERM)
			_exit(3);
		/* VM_DONTCOPY: no arena in the child. */
		if (es_probe(r->s[0].hi - 1, 0) != SIGSEGV)
			_exit(4);
	} else if (how == 2) {
		close(r->fd);
	}
	_exit(0);
}

static void *fork_fn(void *p)
{
	struct race *r = p;
	int status;
	pid_t pid;

	do {
		usleep(rand_r(&r->seed) % 1000);
		pid = fork();
		if (pid < 0) {
			r->fork_bad++;
			break;
		}
		if (!pid)
			fork_child(r, r->forks % 3);
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status)) {
			r->fork_bad++;
			r->fork_status = status;
		}
		r->forks++;
	} while (!flag(&r->stop));
	return NULL;
}

static void *unmap_fn(void *p)
{
	struct race *r = p;

	usleep(rand_r(&r->seed) % 3000);
	set_flag(&r->unmapping, 1);
	es_unmap_arenas();
	return NULL;
}

/*
 * Close the movers' fd while they are in ioctls on it; the ioctl's own
 * reference keeps the file alive to its end. RACE_CLOSE_UNMAP closes
 * every fd and unmaps the arenas too, so the file is released while a
 * move may still be running: that works from the ranges taken before the
 * round, as opening /proc/self/maps could give the closed fd's number
 * to the movers.
 */
static void *close_fn(void *p)
{
	struct race *r = p;
	int i;

	usleep(rand_r(&r->seed) % 3000);
	set_flag(&r->closed, 1);
	close(r->fd);
	if (r->kind != RACE_CLOSE_UNMAP)
		return NULL;
	close(r->main_fd);
	set_flag(&r->unmapping, 1);
	for (i = 0; i < r->nr_arenas; i++)
		munmap(U2P(r->arenas[i].start),
		       r->arenas[i].end - r->arenas[i].start);
	return NULL;
}

static void arena_cb(unsigned long start, unsigned long end, void *arg)
{
	struct race *r = arg;

	if (r->nr_arenas < MAX_ARENAS)
		r->arenas[r->nr_arenas++] = (struct es_range){ start, end };
}

/* The place a logged move came from. */
static __u64 old_hi(const struct mlog *e)
{
	return e->hi - e->delta;
}

/* How many moves of @n end at @v, less how many start from it. */
static long balance(const struct mlog *const *e, int n, __u64 v)
{
	long bal = 0;
	int i;

	for (i = 0; i < n; i++)
		bal += (e[i]->hi == v) - (old_hi(e[i]) == v);
	return bal;
}

/*
 * The moves of stack @k this round, from both movers: each one sane, and
 * all of them one chain from the place at the start of the round to the
 * one INFO gave at its end (@info, or NULL when the stack is gone). Sets
 * s->live to the live bytes left. NULL, or what is wrong (the move in
 * *@bad).
 */
static const char *check_moves(struct race *r, int k,
			       const struct estack_info *info,
			       struct mlog *bad)
{
	static const struct mlog *e[2 * LOG_MAX];
	struct rstack *s = &r->s[k];
	__u64 v, size, copied;
	int i, j, n = 0, ends = 0, lo_ok;
	long bal;

	for (i = 0; i < 2; i++)
		for (j = 0; j < r->mv[i].nlog; j++)
			if (r->mv[i].log[j].k == k)
				e[n++] = &r->mv[i].log[j];
	for (i = 0; i < n; i++) {
		*bad = *e[i];
		size = e[i]->hi - e[i]->lo;
		if (size < 4096 || (size & (size - 1)))
			return "a size that is not a power of two";
		if (e[i]->sp > old_hi(e[i]))
			return "a move with sp above the old hi";
		copied = old_hi(e[i]) - e[i]->sp;
		/* GROW: copied <= old = size / 2; SHRINK: < old / 4 */
		if (2 * copied > size)
			return "a move to a stack too small for the copy";
		if (copied != s->want)
			r->stale++;
		if (copied < s->live) {
			s->live = copied;
			r->short_copies++;
		}
		/* It came from the start or from where another move went. */
		v = old_hi(e[i]);
		for (j = 0; j < n && e[j]->hi != v; j++)
			;
		if (v != s->hi && j == n)
			return "a move from a place the stack never was";
		r->moves++;
	}
	/*
	 * Each place: moves into it, less moves out of it, plus one for the
	 * start. A chain leaves exactly one place at 1, its end, and every
	 * other at 0.
	 */
	bal = 1 + balance(e, n, s->hi);
	if (bal < 0 || bal > 1)
		return "moves that do not chain (at the start)";
	ends += bal;
	v = s->hi;
	for (i = 0; i < n; i++) {
		*bad = *e[i];
		if (e[i]->hi == s->hi)
			continue;
		for (j = 0; j < i && e[j]->hi != e[i]->hi; j++)
			;
		if (j < i)
			continue;	/* seen */
		bal = balance(e, n, e[i]->hi);
		if (bal < 0 || bal > 1)
			return "moves that do not chain";
		if (bal)
			v = e[i]->hi;
		ends += bal;
	}
	if (ends != 1)
		return "moves that do not chain to one end";
	if (!info)
		return NULL;
	memset(bad, 0, sizeof(*bad));
	if (info->hi != v)
		return "INFO not at the end of the moves";
	/* Its lo is that of a move that went there, or the start's. */
	lo_ok = v == s->hi && info->lo == s->lo;
	for (i = 0; i < n; i++)
		lo_ok |= e[i]->hi == v && e[i]->lo == info->lo;
	return lo_ok ? NULL : "INFO's lo not where a move went";
}

/* Check what the round left; stop the test at the first thing wrong. */
static void check_round(struct __test_metadata *_metadata, struct race *r)
{
	struct estack_info info, *ip;
	struct es_range ar;
	struct rstack *s;
	struct mlog e;
	const char *why;
	char msg[256];
	int i, k, err;
	long off;

	ASSERT_EQ(0, r->fork_bad)
		TH_LOG("fork child status %#x", r->fork_status);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, r->mv[i].bad)
			TH_LOG("mover %d: %s: %s", i, r->mv[i].bad_what,
			       strerror(r->mv[i].bad_err));
		r->einval += r->mv[i].einval;
		r->enoent += r->mv[i].enoent;
		r->enomem += r->mv[i].enomem;
		r->ebadf += r->mv[i].ebadf;
	}
	for (k = 0; k < r->nr; k++) {
		s = &r->s[k];
		ip = NULL;
		/* RACE_CLOSE_UNMAP: no fd is left, and no stack. */
		if (r->kind != RACE_CLOSE_UNMAP) {
			err = es_info(r->main_fd, s->id, &info);
			if (!err)
				ip = &info;
			else if (r->kind != RACE_MUNMAP || err != ENOENT)
				ASSERT_EQ(0, err)
					TH_LOG("INFO of stack %d: %s", k,
					       strerror(err));
		}
		why = check_moves(r, k, ip, &e);
		if (why) {
			snprintf(msg, sizeof(msg),
				 "stack %d (id %u, %#llx-%#llx at the start, INFO %#llx-%#llx): %s",
				 k, s->id, (unsigned long long)s->lo,
				 (unsigned long long)s->hi,
				 ip ? (unsigned long long)ip->lo : 0ULL,
				 ip ? (unsigned long long)ip->hi : 0ULL, why);
			TH_LOG("%s: %s sp %#llx -> %#llx-%#llx delta %lld",
			       msg, e.grow ? "GROW" : "SHRINK",
			       (unsigned long long)e.sp,
			       (unsigned long long)e.lo,
			       (unsigned long long)e.hi, (long long)e.delta);
		}
		ASSERT_FALSE(!!why);
		if (!ip)
			continue;
		if (r->kind == RACE_MUNMAP) {
			/* Moved, after the unmap, to an arena it did not see. */
			ASSERT_EQ(0, es_arena_of(info.lo, &ar));
			ASSERT_GE(ar.end, info.hi);
			r->survivors++;
		}
		off = check_stack(info.lo, info.hi, s->seed, s->live);
		ASSERT_EQ(0, off)
			TH_LOG("stack %d (%#llx-%#llx, %llu live): byte at lo + %ld",
			       k, (unsigned long long)info.lo,
			       (unsigned long long)info.hi,
			       (unsigned long long)s->live, off - 1);
		s->lo = info.lo;
		s->hi = info.hi;
	}
}

/* One round: the stacks ready, both movers and a third thread racing. */
static void race_round(struct __test_metadata *_metadata, struct race *r,
		       void *(*third)(void *))
{
	int i;

	set_flag(&r->stop, 0);
	set_flag(&r->unmapping, 0);
	set_flag(&r->closed, 0);
	r->forks = 0;
	r->fork_bad = 0;
	for (i = 0; i < 2; i++) {
		struct mover *mv = &r->mv[i];

		mv->r = r;
		mv->grow_only = r->kind == RACE_MOVE && i == 0;
		mv->seed = rand_r(&r->seed);
		mv->nlog = 0;
		mv->ok = 0;
		mv->noop = 0;
		mv->einval = 0;
		mv->enoent = 0;
		mv->enomem = 0;
		mv->ebadf = 0;
		mv->bad = 0;
		ASSERT_EQ(0, pthread_create(&mv->t, NULL, mover_fn, mv));
	}
	if (third)
		ASSERT_EQ(0, pthread_create(&r->third, NULL, third, r));
	usleep(2000 + rand_r(&r->seed) % 4000);
	set_flag(&r->stop, 1);
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_join(r->mv[i].t, NULL));
	if (third)
		ASSERT_EQ(0, pthread_join(r->third, NULL));
	r->rounds++;
	check_round(_metadata, r);
}

static void race_log(struct __test_metadata *_metadata, struct race *r)
{
	TH_LOG("%ld rounds, %ld moves (%ld with a stale sp, %ld copied less)",
	       r->rounds, r->moves, r->stale, r->short_copies);
	TH_LOG("EINVAL %ld, ENOENT %ld, ENOMEM %ld, EBADF %ld, %ld survivors",
	       r->einval, r->enoent, r->enomem, r->ebadf, r->survivors);
}

FIXTURE(race) {
	int fd;
	long long in_use;
};

FIXTURE_SETUP(race)
{
	struct estack_api api;

	es_test_open_with(_metadata, &self->fd, &api,
			  ESTACK_FEATURE_MOVE, "GROW/SHRINK");
	self->in_use = es_stat("stacks_in_use");
	ASSERT_LE(0, self->in_use);
}

FIXTURE_TEARDOWN(race)
{
	es_test_close(_metadata, self->fd, self->in_use);
}

static struct race *race_new(struct __test_metadata *_metadata,
			     enum race_kind kind, int fd, int nr)
{
	struct race *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->kind = kind;
	r->fd = fd;
	r->main_fd = fd;
	r->nr = nr;
	r->seed = (unsigned int)time(NULL) ^ (kind << 16);
	TH_LOG("seed %u", r->seed);
	return r;
}

/*
 * Two threads GROW and SHRINK the same stacks while a third unmaps every
 * arena: then each id is gone (ENOENT), unless a move had just taken its
 * stack to a new arena the unmap did not see; such a survivor holds its
 * pattern. The moves answer 0, EINVAL (an sp the stack moved away from),
 * ENOENT and ENOMEM only.
 */
TEST_F_TIMEOUT(race, move_vs_munmap, 120)
{
	struct race *r = race_new(_metadata, RACE_MUNMAP, self->fd,
				  MAX_STACKS);
	struct estack_info info;
	time_t end = time(NULL) + ROUNDS_S;
	int k;

	ASSERT_FALSE(!r);
	while (time(NULL) < end && _metadata->passed) {
		for (k = 0; k < r->nr; k++)
			ASSERT_EQ(0, new_stack(r, k, k, self->fd));
		race_round(_metadata, r, unmap_fn);
		if (!_metadata->passed)
			break;
		es_unmap_arenas();
		for (k = 0; k < r->nr; k++)
			ASSERT_EQ(ENOENT, es_info(self->fd, r->s[k].id, &info));
		ASSERT_EQ(self->in_use, es_stat("stacks_in_use"));
	}
	race_log(_metadata, r);
	free(r);
}

/*
 * fork() while two threads move the stacks: the child exits at once,
 * closes its copy of the fd, or gets EPERM from it and SIGSEGV from the
 * arena it did not inherit; the parent's stacks are intact.
 */
TEST_F_TIMEOUT(race, move_vs_fork, 120)
{
	struct race *r = race_new(_metadata, RACE_FORK, self->fd, MAX_STACKS);
	time_t end = time(NULL) + ROUNDS_S;
	int k;

	ASSERT_FALSE(!r);
	for (k = 0; k < r->nr; k++)
		ASSERT_EQ(0, new_stack(r, k, k, self->fd));
	while (time(NULL) < end && _metadata->passed) {
		/* A stale sp copied less: start that stack again. */
		for (k = 0; k < r->nr; k++) {
			if (r->s[k].live == r->s[k].want)
				continue;
			ASSERT_EQ(0, es_free(self->fd, r->s[k].id));
			ASSERT_EQ(0, new_stack(r, k, k, self->fd));
		}
		race_round(_metadata, r, fork_fn);
	}
	for (k = 0; k < r->nr; k++)
		EXPECT_EQ(0, es_free(self->fd, r->s[k].id));
	EXPECT_EQ(self->in_use, es_stat("stacks_in_use"));
	race_log(_metadata, r);
	free(r);
}

/*
 * close() of the fd two threads are moving stacks through (a dup() of the
 * one the test keeps): their ioctls finish, later ones get EBADF, the
 * stacks are intact. After the last fd is closed the stacks stay mapped,
 * with their contents, until they are unmapped. Every other round closes
 * every fd and unmaps the arenas during the moves, so the file may be
 * released at the end of a move: nothing may be left over.
 */
TEST_F_TIMEOUT(race, move_vs_close, 120)
{
	struct race *r = race_new(_metadata, RACE_CLOSE, -1, MAX_STACKS);
	struct es_arena_walk w = { arena_cb, NULL };
	time_t end = time(NULL) + ROUNDS_S;
	int fd, k;
	long off;

	ASSERT_FALSE(!r);
	w.arg = r;
	while (time(NULL) < end && _metadata->passed) {
		r->kind = r->rounds % 2 ? RACE_CLOSE_UNMAP : RACE_CLOSE;
		fd = es_open();
		ASSERT_LE(0, fd);
		for (k = 0; k < r->nr; k++)
			ASSERT_EQ(0, new_stack(r, k, k, fd));
		r->main_fd = fd;
		r->fd = dup(fd);
		ASSERT_LE(0, r->fd);
		if (r->kind == RACE_CLOSE_UNMAP) {
			r->nr_arenas = 0;
			ASSERT_LT(0, es_walk_arenas(&w));
		}
		race_round(_metadata, r, close_fn);
		if (!_metadata->passed)
			break;
		if (r->kind == RACE_CLOSE) {
			/* check_round() took lo and hi from INFO. */
			close(fd);
			for (k = 0; k < r->nr; k++) {
				off = check_stack(r->s[k].lo, r->s[k].hi,
						  r->s[k].seed, r->s[k].live);
				ASSERT_EQ(0, off)
					TH_LOG("stack %d, all fds closed: byte at lo + %ld",
					       k, off - 1);
			}
		}
		/* A move may have mapped a new arena after close_fn's look. */
		es_unmap_arenas();
		ASSERT_EQ(self->in_use, es_stat("stacks_in_use"));
	}
	race_log(_metadata, r);
	free(r);
}

/*
 * One thread GROWs a stack while another SHRINKs and GROWs it: every move
 * that succeeded chains to the place INFO gives at the end; a move that
 * lost the race gets EINVAL (its sp no longer fits), never ENOENT; the
 * contents follow.
 */
TEST_F_TIMEOUT(race, grow_vs_shrink_and_grow, 120)
{
	struct race *r = race_new(_metadata, RACE_MOVE, self->fd, 1);
	time_t end = time(NULL) + ROUNDS_S;
	int k;

	ASSERT_FALSE(!r);
	while (time(NULL) < end && _metadata->passed) {
		/* Nearly all live, then little enough to shrink. */
		k = r->rounds % 2 ? 2 : 0;
		r->s[0] = r->s[k];
		ASSERT_EQ(0, new_stack(r, k, k, self->fd));
		r->s[0] = r->s[k];
		race_round(_metadata, r, NULL);
		if (!_metadata->passed)
			break;
		ASSERT_EQ(0, es_free(self->fd, r->s[0].id));
	}
	EXPECT_EQ(self->in_use, es_stat("stacks_in_use"));
	race_log(_metadata, r);
	free(r);
}

TEST_HARNESS_MAIN
