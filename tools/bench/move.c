// SPDX-License-Identifier: GPL-2.0
/*
 * estack-bench, groups grow and shrink: moving a stack to one twice (or
 * half) its size. A batch prepares up to MOVE_MAX stacks untimed, then one
 * move of each is timed.
 *
 *   grow    GROW with 0, 2, 8, 64 and 512 KiB live, relocating as the
 *           fiber runtime does (the frame chain and the switch frame's
 *           saved registers), against the copy of the live bytes with a
 *           null system call (the physical limit; the copy both by glibc's
 *           memcpy and by rep movsq, the kernel's copy_page; and the
 *           kernel's clear_page, rep stosb, of as many bytes), mremap
 *           (MREMAP_MAYMOVE) and mmap + copy + munmap; with 0 KiB live,
 *           what is left is estack's own overhead. Then GROW at 512 KiB
 *           once more, each grown stack written whole before FREE: the
 *           span comes back with its lower half to clear again
 *   shrink  SHRINK of a stack using an eighth of itself, against
 *           madvise(MADV_DONTNEED) of the unused half
 *
 * State: a struct move_state per group run, on a file of its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

#define MOVE_MAX	256
#define COPY_MAX	(512 * KIB)
/* The fiber runtime's frames in estack-demo, and its switch frame. */
#define FRAME_BYTES	192
#define SWITCH_SLOTS	6

/**
 * struct move_state - what the grow and shrink cases work on
 * @dev: the /dev/estack file of the group
 * @page: the smallest stack
 * @live: bytes in use at the top of each stack
 * @from_size: size of each stack before the move
 * @moving: the estack stacks of a batch
 * @grown_lo: the lowest byte of each after its GROW
 * @fp: the saved frame pointer of each (0: no frame)
 * @slots: the addresses of each one's saved registers, at its sp
 * @maps: the mappings of a batch (the alternatives)
 * @copy_src: what memcpy copies from
 * @copy_dst: and to
 */
struct move_state {
	int dev;
	unsigned long page;
	unsigned long live, from_size;
	struct estack_alloc moving[MOVE_MAX];
	__u64 grown_lo[MOVE_MAX];
	__u64 fp[MOVE_MAX];
	__u64 slots[MOVE_MAX][SWITCH_SLOTS];
	char *maps[MOVE_MAX];
	char *copy_src, *copy_dst;
};

/* 512 KiB moves are slow: fewer of them per batch. */
static unsigned int move_batch(unsigned long bytes)
{
	return bytes >= 512 * KIB ? 32 : MOVE_MAX;
}

static struct move_state *move_state_new(struct bench *b)
{
	struct move_state *s = calloc(1, sizeof(*s));

	if (!s)
		die("calloc");
	s->page = b->page;
	s->dev = es_open();
	if (s->dev < 0)
		die("open /dev/estack");
	return s;
}

static void move_state_free(struct move_state *s)
{
	close(s->dev);
	free(s);
}

/* ---- the operations ---------------------------------------------------- */

/*
 * What a suspended fiber of the runtime leaves in its live bytes: a
 * frame every FRAME_BYTES, each one's first word the next frame's address
 * (the last one's 0), and at sp the switch frame, whose saved registers
 * (the slots) point into the stack, rbp at the lowest frame.
 */
static void fiber_frames(struct move_state *s, unsigned int i)
{
	__u64 sp = s->moving[i].hi - s->live, f;
	unsigned int k;

	s->fp[i] = 0;
	if (s->live < (SWITCH_SLOTS + 1) * 8 + FRAME_BYTES)
		return;
	/* Frames from just above the switch frame up to the top. */
	s->fp[i] = sp + SWITCH_SLOTS * 8;
	for (f = s->fp[i]; f + FRAME_BYTES <= s->moving[i].hi; f += FRAME_BYTES)
		*(__u64 *)U2P(f) = f + 2 * FRAME_BYTES <= s->moving[i].hi ?
				   f + FRAME_BYTES : 0;
	for (k = 0; k < SWITCH_SLOTS; k++) {
		s->slots[i][k] = sp + 8 * k;
		*(__u64 *)U2P(s->slots[i][k]) = s->fp[i] + 8 * k;
	}
}

/*
 * ALLOC the stacks of a batch, untimed, and write into each what a move
 * finds there: the @s->live bytes at its top, or all of it (@whole) for a
 * stack once deep and now shallow.
 */
static int moving_prep(struct move_state *s, unsigned int n, bool whole)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct estack_alloc *a = &s->moving[i];

		errno = es_alloc(s->dev, s->from_size, a);
		if (errno)
			return -1;
		if (whole)
			memset(U2P(a->lo), 0x5a, s->from_size);
		else
			memset(U2P(a->hi - s->live), 0x5a, s->live);
		if (!whole)
			fiber_frames(s, i);
	}
	return 0;
}

static int grow_prep(void *ctx, unsigned int n)
{
	return moving_prep(ctx, n, false);
}

/*
 * Timed: the ioctl itself, not es_move(), whose call through es_ioctl()
 * and errno translation would be timed with every move.
 */
static int move_op(struct move_state *s, unsigned int i, unsigned long cmd)
{
	struct estack_move m = {
		.size = sizeof(m), .id = s->moving[i].id,
		.sp = s->moving[i].hi - s->live,
	};

	return ioctl(s->dev, cmd, &m);
}

/* GROW as the fiber runtime asks for it: the chain and the saved registers. */
static int grow_op(void *ctx, unsigned int i)
{
	struct move_state *s = ctx;
	struct estack_move m = {
		.size = sizeof(m), .id = s->moving[i].id,
		.sp = s->moving[i].hi - s->live,
	};

	if (s->fp[i]) {
		m.flags = ESTACK_MOVE_ADJUST_FP;
		m.fp = s->fp[i];
		m.nr_slots = SWITCH_SLOTS;
		m.slots = (unsigned long)s->slots[i];
	}
	if (ioctl(s->dev, ESTACK_IOC_GROW, &m))
		return -1;
	s->grown_lo[i] = m.lo;
	return 0;
}

static int shrink_op(void *ctx, unsigned int i)
{
	return move_op(ctx, i, ESTACK_IOC_SHRINK);
}

static int moving_done(void *ctx, unsigned int n)
{
	struct move_state *s = ctx;
	unsigned int i;

	for (i = 0; i < n; i++) {
		errno = es_free(s->dev, s->moving[i].id);
		if (errno)
			return -1;
	}
	return 0;
}

/*
 * FREE after the fiber wrote all of its grown stack: the spans the next
 * batch's GROWs take back must then be cleared below the live part.
 */
static int moving_done_written(void *ctx, unsigned int n)
{
	struct move_state *s = ctx;
	unsigned int i;

	for (i = 0; i < n; i++)
		memset(U2P(s->grown_lo[i]), 0x5a, 2 * s->from_size - s->live);
	return moving_done(ctx, n);
}

static int memcpy_op(void *ctx, unsigned int i)
{
	struct move_state *s = ctx;

	memcpy(s->copy_dst, s->copy_src, s->live);
	__asm__ volatile("" : : "r"(s->copy_dst) : "memory");
	return 0;
}

/*
 * The copy as the kernel makes it: copy_page() is rep movsq on CPUs with
 * fast string operations (and GROW copies whole pages with it).
 */
static int rep_movs_op(void *ctx, unsigned int i)
{
	struct move_state *s = ctx;
	void *dst = s->copy_dst;
	const void *src = s->copy_src;
	unsigned long n = s->live / 8;

	__asm__ volatile("rep movsq"
			 : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
	return 0;
}

/*
 * The clear as the kernel makes it: clear_page() is rep stosb on CPUs with
 * ERMS (the guest's -cpu max has it). A doubling GROW clears as many bytes
 * below the live part of the new stack as are live.
 */
static int rep_stos_op(void *ctx, unsigned int i)
{
	struct move_state *s = ctx;
	void *dst = s->copy_dst;
	unsigned long n = s->live;

	__asm__ volatile("rep stosb"
			 : "+D"(dst), "+c"(n) : "a"(0) : "memory");
	return 0;
}

static int maps_prep(void *ctx, unsigned int n)
{
	struct move_state *s = ctx;
	unsigned int i;

	for (i = 0; i < n; i++) {
		s->maps[i] = mmap(NULL, s->from_size, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (s->maps[i] == MAP_FAILED)
			return -1;
		memset(s->maps[i] + s->from_size - s->live, 0x5a, s->live);
	}
	return 0;
}

static int mremap_op(void *ctx, unsigned int i)
{
	struct move_state *s = ctx;
	char *p = mremap(s->maps[i], s->from_size, 2 * s->from_size,
			 MREMAP_MAYMOVE);

	if (p == MAP_FAILED)
		return -1;
	s->maps[i] = p;
	return 0;
}

static int mmap_copy_op(void *ctx, unsigned int i)
{
	struct move_state *s = ctx;
	char *p = mmap(NULL, 2 * s->from_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	memcpy(p + 2 * s->from_size - s->live,
	       s->maps[i] + s->from_size - s->live, s->live);
	munmap(s->maps[i], s->from_size);
	s->maps[i] = p;
	return 0;
}

static int maps_done_2x(void *ctx, unsigned int n)
{
	struct move_state *s = ctx;
	unsigned int i;

	for (i = 0; i < n; i++)
		munmap(s->maps[i], 2 * s->from_size);
	return 0;
}

static int shrink_prep(void *ctx, unsigned int n)
{
	return moving_prep(ctx, n, true);
}

static int dontneed_prep(void *ctx, unsigned int n)
{
	struct move_state *s = ctx;
	unsigned int i;

	if (maps_prep(s, n))
		return -1;
	for (i = 0; i < n; i++)
		memset(s->maps[i], 0x5a, s->from_size);
	return 0;
}

static int dontneed_op(void *ctx, unsigned int i)
{
	struct move_state *s = ctx;

	return madvise(s->maps[i], s->from_size / 2, MADV_DONTNEED);
}

static int maps_done(void *ctx, unsigned int n)
{
	struct move_state *s = ctx;
	unsigned int i;

	for (i = 0; i < n; i++)
		munmap(s->maps[i], s->from_size);
	return 0;
}

/* ---- grow --------------------------------------------------------------- */

static const unsigned long grow_kib[] = { 0, 2, 8, 64, 512 };

/*
 * The targets of the benchmark issue, from 64 KiB: at most twice the limit
 * (a null system call and a copy of the live bytes), and no slower than
 * mremap(), which the issue names beside it.
 */
#define GROW_TARGET_KIB		64
#define GROW_TARGET		2.0
#define GROW_MREMAP_TARGET	1.0

static const struct move_kind {
	const char *name;
	const char *what;	/* as a reading names it */
	const char *measures;
	struct bench_case c;
} grow_kinds[] = {
	{ "estack", NULL,
	  "GROW of a stack to twice its size, the live bytes at its top",
	  { grow_prep, grow_op, moving_done } },
	{ "memcpy", NULL, "memcpy of the live bytes",
	  { NULL, memcpy_op, NULL } },
	{ "rep-movsq", NULL,
	  "rep movsq of the live bytes (the kernel's copy_page)",
	  { NULL, rep_movs_op, NULL } },
	{ "rep-stosb", NULL,
	  "rep stosb of as many bytes as are live (the kernel's clear_page)",
	  { NULL, rep_stos_op, NULL } },
	{ "mremap",
	  "mremap(MREMAP_MAYMOVE), which moves page tables and copies nothing, but leaves the live bytes at the bottom of the new range",
	  "mremap(MREMAP_MAYMOVE) of a mapping to twice its size",
	  { maps_prep, mremap_op, maps_done_2x } },
	{ "mmap-copy", "mmap + memcpy + munmap in user space",
	  "mmap of twice the size, memcpy of the live bytes to its top, munmap of the old",
	  { maps_prep, mmap_copy_op, maps_done_2x } },
};

/*
 * GROW at the largest size once more, on its own, with each grown stack
 * written whole before FREE: what a fiber that used all of its new stack
 * costs the next GROW, which gets its span back dirty.
 */
#define GROW_WRITTEN_KIB	512

static const struct bench_case grow_written = {
	grow_prep, grow_op, moving_done_written,
};

static void grow_ratios(struct bench_table *t, unsigned long kib)
{
	const char *est = case_key(BENCH_ID("grow", "estack", kib));
	static const char *const copies[] = { "memcpy", "rep-movsq" };
	unsigned int i;

	if (!kib) {
		table_ratio(t, &(struct bench_ratio){
			.group = "grow",
			.name = "0 KiB live: GROW / null syscall",
			.num = { est },
			.den = { FLOOR_PREFIX "getppid" },
			.reading =
				"GROW with nothing to copy or relocate: estack's own work per move, in null system calls",
		});
		return;
	}
	for (i = 0; i < ARRAY_SIZE(copies); i++)
		table_ratio(t, &(struct bench_ratio){
			.group = "grow",
			.name = xasprintf("%lu KiB live: GROW / (null syscall + %s)",
					  kib, copies[i]),
			.num = { est },
			.den = { FLOOR_PREFIX "getppid",
				 case_key(BENCH_ID("grow", copies[i], kib)) },
			.reading = xasprintf("%s, the copy by %s",
					     "GROW against the physical limit: one syscall and a copy of the live bytes",
					     copies[i]),
			.op = kib >= GROW_TARGET_KIB ? "<=" : NULL,
			.bound = GROW_TARGET,
		});
	/* What the clear below the live part costs, as the kernel does it. */
	if (kib >= GROW_TARGET_KIB)
		table_ratio(t, &(struct bench_ratio){
			.group = "grow",
			.name = xasprintf("%lu KiB: rep stosb clear / rep movsq copy",
					  kib),
			.num = { case_key(BENCH_ID("grow", "rep-stosb", kib)) },
			.den = { case_key(BENCH_ID("grow", "rep-movsq", kib)) },
			.reading =
				"the kernel's clear of the new stack's lower half against its copy of as many bytes; under TCG rep stosb is emulated a byte at a time, rep movsq eight",
		});
	if (kib == GROW_WRITTEN_KIB)
		table_ratio(t, &(struct bench_ratio){
			.group = "grow",
			.name = xasprintf("%lu KiB live, grown stack written: %s",
					  kib, "GROW / (null syscall + rep-movsq)"),
			.num = { case_key(BENCH_ID("grow", "estack-written",
						   kib)) },
			.den = { FLOOR_PREFIX "getppid",
				 case_key(BENCH_ID("grow", "rep-movsq", kib)) },
			.reading =
				"GROW when every fiber wrote all of its grown stack before FREE, so that each span comes back with its lower half to clear again (run on its own: a quotient of medians)",
		});
	for (i = 0; i < ARRAY_SIZE(grow_kinds); i++) {
		const struct move_kind *k = &grow_kinds[i];
		bool target = kib >= GROW_TARGET_KIB &&
			      !strcmp(k->name, "mremap");

		if (!k->what)
			continue;
		table_ratio(t, &(struct bench_ratio){
			.group = "grow",
			.name = xasprintf("%lu KiB live: GROW / %s", kib,
					  k->name),
			.num = { est },
			.den = { case_key(BENCH_ID("grow", k->name, kib)) },
			.reading = xasprintf("against %s", k->what),
			.op = target ? "<=" : NULL,
			.bound = GROW_MREMAP_TARGET,
		});
	}
}

static void grow_describe(struct bench_table *t)
{
	unsigned int i, k;

	table_case(t, BENCH_ID("grow", "getppid", 0), NULL,
		   "one getppid() system call");
	for (i = 0; i < ARRAY_SIZE(grow_kib); i++)
		for (k = 0; k < ARRAY_SIZE(grow_kinds); k++)
			table_case(t, BENCH_ID("grow", grow_kinds[k].name,
					       grow_kib[i]),
				   "KiB live", grow_kinds[k].measures);
	table_case(t, BENCH_ID("grow", "estack-written", GROW_WRITTEN_KIB),
		   "KiB live",
		   "GROW of a stack to twice its size, each grown stack then written whole before FREE");
	for (i = 0; i < ARRAY_SIZE(grow_kib); i++)
		grow_ratios(t, grow_kib[i]);
}

static unsigned long pow2_at_least(unsigned long v, unsigned long page)
{
	unsigned long s = page;

	while (s < v)
		s <<= 1;
	return s;
}

static void grow_run(struct bench *b)
{
	static const struct bench_case getppid = { .op = stack_getppid_once };
	struct move_state *s = move_state_new(b);
	unsigned int i, k;

	s->copy_src = malloc(COPY_MAX);
	s->copy_dst = malloc(COPY_MAX);
	if (!s->copy_src || !s->copy_dst)
		die("malloc");
	memset(s->copy_src, 0x5a, COPY_MAX);
	memset(s->copy_dst, 0, COPY_MAX);
	bench_run(b, BENCH_ID("grow", "getppid", 0), &getppid, s, b->batch);
	/* GROW and its alternatives of one size, interleaved. */
	for (i = 0; i < ARRAY_SIZE(grow_kib); i++) {
		struct bench_entry e[ARRAY_SIZE(grow_kinds)];

		s->live = grow_kib[i] * KIB;
		s->from_size = pow2_at_least(s->live, s->page);
		for (k = 0; k < ARRAY_SIZE(grow_kinds); k++)
			e[k] = (struct bench_entry){
				.id = BENCH_ID("grow", grow_kinds[k].name,
					       grow_kib[i]),
				.c = &grow_kinds[k].c, .ctx = s,
				.n = move_batch(s->live),
			};
		bench_run_set(b, e, ARRAY_SIZE(e));
	}
	s->live = GROW_WRITTEN_KIB * KIB;
	s->from_size = pow2_at_least(s->live, s->page);
	bench_run(b, BENCH_ID("grow", "estack-written", GROW_WRITTEN_KIB),
		  &grow_written, s, move_batch(s->live));
	free(s->copy_src);
	free(s->copy_dst);
	move_state_free(s);
}

const struct bench_group grow_group = {
	.name = "grow",
	.title = "GROW",
	.intro = "Moving a stack to one twice its size with L bytes live.",
	.describe = grow_describe,
	.run = grow_run,
};

/* ---- shrink ------------------------------------------------------------- */

static const unsigned long shrink_kib[] = { 16, 64, 512 };

static const struct bench_case shrink_estack = {
	shrink_prep, shrink_op, moving_done,
};

static const struct bench_case shrink_madvise = {
	dontneed_prep, dontneed_op, maps_done,
};

static void shrink_describe(struct bench_table *t)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(shrink_kib); i++) {
		table_case(t, BENCH_ID("shrink", "estack", shrink_kib[i]),
			   "KiB stack",
			   "SHRINK of a written stack to half its size, an eighth of it live");
		table_case(t, BENCH_ID("shrink", "madvise", shrink_kib[i]),
			   "KiB stack",
			   "madvise(MADV_DONTNEED) of the unused half of a written mapping");
	}
	for (i = 0; i < ARRAY_SIZE(shrink_kib); i++)
		table_ratio(t, &(struct bench_ratio){
			.group = "shrink",
			.name = xasprintf("%lu KiB stack, 1/8 used: SHRINK / MADV_DONTNEED",
					  shrink_kib[i]),
			.num = { case_key(BENCH_ID("shrink", "estack",
						   shrink_kib[i])) },
			.den = { case_key(BENCH_ID("shrink", "madvise",
						   shrink_kib[i])) },
			.reading =
				"SHRINK copies the used eighth to a stack half the size and frees the old; madvise only drops the unused half",
		});
}

static void shrink_run(struct bench *b)
{
	struct move_state *s = move_state_new(b);
	struct bench_entry e[2];
	unsigned int i, n;

	/* SHRINK and MADV_DONTNEED of one size, interleaved. */
	for (i = 0; i < ARRAY_SIZE(shrink_kib); i++) {
		s->from_size = shrink_kib[i] * KIB;
		s->live = s->from_size / 8;
		n = move_batch(s->from_size);
		e[0] = (struct bench_entry){
			BENCH_ID("shrink", "estack", shrink_kib[i]),
			&shrink_estack, s, n,
		};
		e[1] = (struct bench_entry){
			BENCH_ID("shrink", "madvise", shrink_kib[i]),
			&shrink_madvise, s, n,
		};
		bench_run_set(b, e, ARRAY_SIZE(e));
	}
	move_state_free(s);
}

const struct bench_group shrink_group = {
	.name = "shrink",
	.title = "SHRINK",
	.intro = "Giving back the unused part of a stack.",
	.describe = shrink_describe,
	.run = shrink_run,
};
