// SPDX-License-Identifier: GPL-2.0
/*
 * estack fault-injection selftests (debug kernel): every allocation and
 * user copy on a path fails once, in turn, and each failure must give a
 * clean errno and leave nothing behind (kmemleak and the module's page
 * counters check the "nothing behind" after the run).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/estack.h>

#include "estack_harness.h"
#include "fault_inject.h"
/* No path of estack has anywhere near this many fault sites. */
#define MAX_SITES	1000

FIXTURE(faults) {
	int fd;
	int nth;
};

FIXTURE_SETUP(faults)
{
	es_test_open(_metadata, &self->fd);
	if (fi_setup())
		ES_SKIP("no fault injection (needs the debug kernel)");
	self->nth = fi_open();
	ASSERT_LE(0, self->nth);
}

FIXTURE_TEARDOWN(faults)
{
	if (self->nth >= 0)
		close(self->nth);
	if (self->fd >= 0)
		close(self->fd);
}

/* The handshake: each user copy fails once (EFAULT), then it succeeds. */
TEST_F(faults, handshake_sweep)
{
	struct estack_api api;
	unsigned int n;
	bool fired;
	int ret, err;

	for (n = 1; n < MAX_SITES; n++) {
		memset(&api, 0, sizeof(api));
		api.size = sizeof(api);
		ASSERT_EQ(0, fi_arm(self->nth, n));
		ret = ioctl(self->fd, ESTACK_IOC_API, &api);
		err = errno;
		fired = fi_disarm(self->nth);
		if (!fired) {
			ASSERT_EQ(0, ret) TH_LOG("n=%u: %s", n, strerror(err));
			EXPECT_EQ(ESTACK_API_VERSION, api.version);
			break;
		}
		/* A failed site may also be tolerated: then the call works. */
		if (ret) {
			EXPECT_TRUE(err == EFAULT || err == ENOMEM)
				TH_LOG("n=%u: unexpected %s", n, strerror(err));
		}
		/* The file is still fully usable after the failure. */
		memset(&api, 0, sizeof(api));
		api.size = sizeof(api);
		ASSERT_EQ(0, ioctl(self->fd, ESTACK_IOC_API, &api));
	}
	ASSERT_LT(n, MAX_SITES);
	/* Copy in and copy out are fault sites: the sweep must have hit them. */
	EXPECT_LE(3, n) TH_LOG("only %u sites: is injection working?", n - 1);
}

/* Opening the device: each allocation fails once, then it succeeds. */
TEST_F(faults, open_sweep)
{
	unsigned int n;
	bool fired;
	int fd, err;

	for (n = 1; n < MAX_SITES; n++) {
		ASSERT_EQ(0, fi_arm(self->nth, n));
		fd = es_open();
		err = errno;
		fired = fi_disarm(self->nth);
		if (fd >= 0) {
			struct estack_api api = { .size = sizeof(api) };

			EXPECT_EQ(0, ioctl(fd, ESTACK_IOC_API, &api));
			close(fd);
			if (!fired)
				break;
			continue;
		}
		ASSERT_TRUE(fired) TH_LOG("n=%u: open failed without a fault: %s",
					  n, strerror(err));
		EXPECT_TRUE(err == ENOMEM || err == EFAULT)
			TH_LOG("n=%u: unexpected %s", n, strerror(err));
	}
	ASSERT_LT(n, MAX_SITES);
	EXPECT_LE(2, n);
}

/*
 * ALLOC: every allocation and copy on the way to a new stack (span, pages,
 * descriptor, id, range tree, page tables, the arena's own mapping) fails
 * once. A failed call leaves no stack and no page behind; a later one works.
 */
TEST_F(faults, alloc_sweep)
{
	long long in_use = es_stat("stacks_in_use");
	long long held;
	long long mapped_cache = es_param("mapped_cache");
	long long cache_budget = es_param("cache_budget");
	long long pool_reserve = es_param("pool_reserve");
	struct estack_alloc a;
	unsigned int n, failed = 0;
	bool fired;
	int err;

	/*
	 * The slow path: no freed stack may serve the next ALLOC, and every
	 * span comes from the page allocator, so that the sites are the same
	 * in every run whatever the caches held before.
	 */
	ASSERT_LE(0, mapped_cache);
	ASSERT_LE(0, cache_budget);
	ASSERT_LE(0, pool_reserve);
	ASSERT_EQ(0, es_set_param("mapped_cache", 0));
	ASSERT_EQ(0, es_set_param("cache_budget", 0));
	ASSERT_EQ(0, es_set_param("pool_reserve", 0));
	/* Nothing cached: what is held now is exactly what is in use. */
	ASSERT_EQ(0, es_write_file("/proc/sys/vm/drop_caches", "2"));
	held = es_stat("pages_held");
	for (n = 1; n < MAX_SITES; n++) {
		ASSERT_EQ(0, fi_arm(self->nth, n));
		err = es_alloc(self->fd, 8192, &a);
		fired = fi_disarm(self->nth);
		if (!err) {
			EXPECT_TRUE(es_zero(a.lo, a.hi));
			ASSERT_EQ(0, es_free(self->fd, a.id));
			if (!fired)
				break;
			continue;
		}
		failed++;
		ASSERT_TRUE(fired) TH_LOG("n=%u: %s without a fault", n,
					  strerror(err));
		EXPECT_TRUE(err == ENOMEM || err == EFAULT || err == EINTR)
			TH_LOG("n=%u: unexpected %s", n, strerror(err));
		EXPECT_EQ(in_use, es_stat("stacks_in_use")) TH_LOG("n=%u", n);
	}
	EXPECT_EQ(0, es_set_param("mapped_cache", mapped_cache));
	EXPECT_EQ(0, es_set_param("cache_budget", cache_budget));
	EXPECT_EQ(0, es_set_param("pool_reserve", pool_reserve));
	ASSERT_LT(n, MAX_SITES);
	EXPECT_LE(3, failed);
	EXPECT_EQ(in_use, es_stat("stacks_in_use"));
	/* Every page is either in use or cached: none was lost. */
	es_unmap_arenas();
	EXPECT_EQ(es_stat("pages_held") * 4096,
		  es_stat("bytes_in_use") + es_stat("bytes_cached"));
	/* And with the caches emptied, the same pages as before. */
	ASSERT_EQ(0, es_write_file("/proc/sys/vm/drop_caches", "2"));
	EXPECT_EQ(held, es_stat("pages_held"));
}

/*
 * ALLOC from the mapped cache: a failure (the id's xarray node) puts the
 * kept stack back; the next ALLOC gets it, cleared.
 */
TEST_F(faults, alloc_mapped_sweep)
{
	long long in_use = es_stat("stacks_in_use");
	long long hits = es_stat("mapped_cache_hits");
	struct estack_alloc a, first;
	unsigned int n;
	bool fired;
	int err;

	ASSERT_LT(0, es_param("mapped_cache"));
	ASSERT_EQ(0, es_alloc(self->fd, 8192, &first));
	memset(U2P(first.lo), 0x5a, 8192);
	ASSERT_EQ(0, es_free(self->fd, first.id));
	for (n = 1; n < MAX_SITES; n++) {
		ASSERT_EQ(0, fi_arm(self->nth, n));
		err = es_alloc(self->fd, 8192, &a);
		fired = fi_disarm(self->nth);
		if (!err) {
			EXPECT_EQ(first.lo, a.lo);
			EXPECT_TRUE(es_zero(a.lo, a.hi));
			memset(U2P(a.lo), 0x5a, 8192);
			ASSERT_EQ(0, es_free(self->fd, a.id));
			if (!fired)
				break;
			continue;
		}
		ASSERT_TRUE(fired) TH_LOG("n=%u: %s without a fault", n,
					  strerror(err));
		EXPECT_TRUE(err == ENOMEM || err == EFAULT)
			TH_LOG("n=%u: unexpected %s", n, strerror(err));
		EXPECT_EQ(in_use, es_stat("stacks_in_use")) TH_LOG("n=%u", n);
	}
	ASSERT_LT(n, MAX_SITES);
	EXPECT_LT(hits, es_stat("mapped_cache_hits"));
	EXPECT_EQ(in_use, es_stat("stacks_in_use"));
	es_unmap_arenas();
	EXPECT_EQ(es_stat("pages_held") * 4096,
		  es_stat("bytes_in_use") + es_stat("bytes_cached"));
}

/* FREE: a failed call leaves the stack mapped, intact and freeable. */
TEST_F(faults, free_sweep)
{
	struct estack_alloc a;
	struct estack_info info;
	unsigned int n;
	bool fired;
	int err;

	ASSERT_EQ(0, es_alloc(self->fd, 8192, &a));
	memset(U2P(a.lo), 0x6b, 8192);
	for (n = 1; n < MAX_SITES; n++) {
		ASSERT_EQ(0, fi_arm(self->nth, n));
		err = es_free(self->fd, a.id);
		fired = fi_disarm(self->nth);
		if (!err)
			break;
		ASSERT_TRUE(fired) TH_LOG("n=%u: %s without a fault", n,
					  strerror(err));
		EXPECT_EQ(0, es_info(self->fd, a.id, &info));
		EXPECT_EQ(0x6b, es_peek(a.hi - 1));
	}
	ASSERT_LT(n, MAX_SITES);
	EXPECT_EQ(ENOENT, es_info(self->fd, a.id, &info));
	es_unmap_arenas();
}

/*
 * GROW and SHRINK with relocation: every allocation and user copy on the
 * way fails once, in turn. A failed call changes nothing: same range, same
 * bytes, same slot; the one that succeeds moves all of it. A fault the
 * call absorbs (a high-order allocation that falls back to single pages, a
 * user copy retried after the page is faulted in) lets it succeed, and it
 * must then have moved everything: the sweep checks that and goes on,
 * from a fresh stack, until the call succeeds with no fault left to
 * inject. (A fresh stack and its new one may come from the caches, so
 * the sites after an absorbed one are those of that path.)
 */
static void move_sweep_stack(struct __test_metadata *_metadata, int fd,
			     unsigned long cmd, struct estack_alloc *a,
			     __u64 *sp, __u64 *heap)
{
	__u64 i;

	ASSERT_EQ(0, es_alloc(fd, cmd == ESTACK_IOC_GROW ? 8192 : 65536, a));
	*sp = a->hi - 512;
	for (i = *sp; i < a->hi; i++)
		es_poke(i, (unsigned char)i);
	*heap = *sp + 8;
}

/* All: the range, the bytes and the slot moved together; then FREE. */
static void move_sweep_moved(struct __test_metadata *_metadata, int fd,
			     const struct estack_alloc *a,
			     const struct estack_move *m, __u64 sp, __u64 heap,
			     unsigned int n)
{
	__u64 i;

	EXPECT_NE(0, m->delta) TH_LOG("n=%u: not moved", n);
	if (sizeof(long) == 8)
		EXPECT_EQ(sp + 8 + m->delta, heap) TH_LOG("n=%u", n);
	for (i = sp; i < a->hi; i++)
		if (es_peek(i + m->delta) != (unsigned char)i)
			break;
	EXPECT_EQ(a->hi, i) TH_LOG("n=%u: byte %llu not moved", n,
				   (unsigned long long)(i - sp));
	EXPECT_EQ(0, es_free(fd, a->id));
}

static void move_sweep(struct __test_metadata *_metadata, int fd, int nth,
		       unsigned long cmd)
{
	unsigned int n, failed = 0, absorbed = 0;
	struct estack_alloc a;
	struct estack_move m;
	struct estack_info info;
	__u64 heap, slots[1], sp, i;
	bool fired;
	int err;

	move_sweep_stack(_metadata, fd, cmd, &a, &sp, &heap);
	slots[0] = (unsigned long)&heap;
	for (n = 1; n < MAX_SITES; n++) {
		memset(&m, 0, sizeof(m));
		m.size = sizeof(m);
		m.id = a.id;
		m.sp = sp;
		m.flags = sizeof(long) == 8 ? ESTACK_MOVE_ADJUST_CONSERVATIVE : 0;
		m.nr_slots = sizeof(long) == 8;
		m.slots = (unsigned long)slots;
		ASSERT_EQ(0, fi_arm(nth, n));
		err = ioctl(fd, cmd, &m) ? errno : 0;
		fired = fi_disarm(nth);
		if (!err && fired) {
			/* Absorbed: moved as a call with no fault moves. */
			absorbed++;
			move_sweep_moved(_metadata, fd, &a, &m, sp, heap, n);
			move_sweep_stack(_metadata, fd, cmd, &a, &sp, &heap);
			continue;
		}
		if (!err)
			break;
		failed++;
		ASSERT_TRUE(fired) TH_LOG("n=%u: %s without a fault", n,
					  strerror(err));
		EXPECT_TRUE(err == ENOMEM || err == EFAULT)
			TH_LOG("n=%u: unexpected %s", n, strerror(err));
		/* All or nothing: nothing. */
		ASSERT_EQ(0, es_info(fd, a.id, &info));
		EXPECT_EQ(a.lo, info.lo);
		EXPECT_EQ(a.hi, info.hi);
		EXPECT_EQ(sp + 8, heap);
		for (i = sp; i < a.hi; i++)
			if (es_peek(i) != (unsigned char)i)
				break;
		EXPECT_EQ(a.hi, i) TH_LOG("n=%u: byte %llu changed", n,
					  (unsigned long long)(i - sp));
	}
	ASSERT_LT(n, MAX_SITES);
	TH_LOG("%u sites: %u failed the call, %u absorbed", n - 1, failed,
	       absorbed);
	EXPECT_LE(2, failed);
	move_sweep_moved(_metadata, fd, &a, &m, sp, heap, n);
}

TEST_F(faults, grow_sweep)
{
	move_sweep(_metadata, self->fd, self->nth, ESTACK_IOC_GROW);
	es_unmap_arenas();
}

TEST_F(faults, shrink_sweep)
{
	move_sweep(_metadata, self->fd, self->nth, ESTACK_IOC_SHRINK);
	es_unmap_arenas();
}

/*
 * The undo tests need relocation, which a 32-bit caller's moves never do
 * (the ABI refuses its flags and slots): they exist in the 64-bit build.
 */
#if __SIZEOF_LONG__ == 8
/*
 * Pointer words for the undo tests: the word at A holds A + 8, the top one
 * holds @sp. A move rewrites every one of them (conservatively); a move
 * that fails must leave every one as it was, wherever the move stopped.
 */
static void fill_ptrs(__u64 sp, __u64 hi)
{
	__u64 a;

	for (a = sp; a < hi; a += 8)
		*(__u64 *)U2P(a) = a + 8 < hi ? a + 8 : sp;
}

/*
 * 0 when [@sp, @hi) holds fill_ptrs()'s words for that range (after a move:
 * the words of the old range, relocated); else 1 + the offset of the first
 * word that does not.
 */
static long check_ptrs(__u64 sp, __u64 hi)
{
	__u64 a, want;

	for (a = sp; a < hi; a += 8) {
		want = a + 8 < hi ? a + 8 : sp;
		if (*(__u64 *)U2P(a) != want)
			return (long)(a - sp) + 1;
	}
	return 0;
}

/*
 * A move that fails after it relocated pointers in place (a large GROW or
 * SHRINK takes the old stack's pages instead of copying them, and rewrites
 * their words while the old stack still maps them) puts every word back:
 * every allocation on the way fails once, in turn, on a fresh stack each
 * time. A failure the module tolerates (a large block falls back to single
 * pages) lets the call succeed: the sweep goes on until a call succeeds
 * with no fault fired.
 */
static void move_undo_sweep(struct __test_metadata *_metadata, int fd,
			    int nth, unsigned long cmd, __u64 size)
{
	struct estack_alloc a;
	struct estack_info info;
	struct estack_move m;
	unsigned int n, failed = 0;
	bool fired, done = false;
	long bad;
	__u64 sp;
	int err;

	for (n = 1; n < MAX_SITES && !done; n++) {
		ASSERT_EQ(0, es_alloc(fd, size, &a));
		/* Not page-aligned: the lowest live page is copied, the rest move. */
		sp = cmd == ESTACK_IOC_GROW ? a.lo + 200 : a.hi - 40960 - 200;
		fill_ptrs(sp, a.hi);
		memset(&m, 0, sizeof(m));
		m.size = sizeof(m);
		m.id = a.id;
		m.sp = sp;
		m.flags = ESTACK_MOVE_ADJUST_CONSERVATIVE;
		ASSERT_EQ(0, fi_arm(nth, n));
		err = ioctl(fd, cmd, &m) ? errno : 0;
		fired = fi_disarm(nth);
		if (err) {
			failed++;
			ASSERT_TRUE(fired) TH_LOG("n=%u: %s without a fault", n,
						  strerror(err));
			EXPECT_TRUE(err == ENOMEM || err == EFAULT)
				TH_LOG("n=%u: unexpected %s", n, strerror(err));
			ASSERT_EQ(0, es_info(fd, a.id, &info));
			EXPECT_EQ(a.lo, info.lo);
			EXPECT_EQ(a.hi, info.hi);
			bad = check_ptrs(sp, a.hi);
			ASSERT_EQ(0, bad) TH_LOG("n=%u: word at +%ld rewritten",
						 n, bad - 1);
		} else {
			/* Relocated: each word points where its target went. */
			EXPECT_EQ((a.hi - sp) / 8, m.adjusted) TH_LOG("n=%u", n);
			EXPECT_EQ(0, check_ptrs(sp + m.delta, m.hi))
				TH_LOG("n=%u", n);
			done = !fired;
		}
		ASSERT_EQ(0, es_free(fd, a.id));
	}
	ASSERT_TRUE(done);
	EXPECT_LE(2, failed);
}

TEST_F(faults, grow_undo_sweep)
{
	move_undo_sweep(_metadata, self->fd, self->nth, ESTACK_IOC_GROW, 65536);
	es_unmap_arenas();
}

/* One page taken: the undo log lives in the move itself. */
TEST_F(faults, grow_small_undo_sweep)
{
	move_undo_sweep(_metadata, self->fd, self->nth, ESTACK_IOC_GROW, 8192);
	es_unmap_arenas();
}

TEST_F(faults, shrink_undo_sweep)
{
	move_undo_sweep(_metadata, self->fd, self->nth, ESTACK_IOC_SHRINK,
			262144);
	es_unmap_arenas();
}

#endif /* __SIZEOF_LONG__ == 8 */

#define SWEEP_MAX	64

#if __SIZEOF_LONG__ == 8
/*
 * Frames for the walk's undo test: the word at A holds A + 8, a frame
 * pointer to the frame above, and the top word 0, which ends the chain.
 */
static void fill_chain(__u64 sp, __u64 hi)
{
	fill_ptrs(sp, hi);
	*(__u64 *)U2P(hi - 8) = 0;
}

/* As check_ptrs(), for fill_chain()'s words. */
static long check_chain(__u64 sp, __u64 hi)
{
	long bad;

	if (*(__u64 *)U2P(hi - 8))
		return (long)(hi - 8 - sp) + 1;
	*(__u64 *)U2P(hi - 8) = sp;
	bad = check_ptrs(sp, hi);
	*(__u64 *)U2P(hi - 8) = 0;
	return bad;
}

/*
 * GROW a stack of @size bytes with live words from sp = lo + 24 up, with
 * estack_should_stop() saying stop at its n-th call for n = 0, 1, ...
 * until the GROW goes through. Each try takes the same span from the pool
 * (put there first), so every try stops at the same points, one later
 * each time. A stopped GROW must leave the stack where it was and every
 * word as @fill made it, wherever it stopped.
 *
 * With ESTACK_MOVE_ADJUST_FP in @flags, the walk starts at fp = sp and the
 * top word ends the chain: @fill is fill_chain(), @check check_chain().
 *
 * Return: the number of stops; @m is the GROW that went through.
 */
static unsigned int grow_stop_sweep(struct __test_metadata *_metadata,
				    int fd, __u64 size, __u32 flags,
				    void (*fill)(__u64 sp, __u64 hi),
				    long (*check)(__u64 sp, __u64 hi),
				    struct estack_alloc *a,
				    struct estack_move *m)
{
	struct estack_alloc big;
	struct estack_info info;
	unsigned int n, stops = 0;
	bool fired;
	long bad;
	__u64 sp;
	int err;

	ASSERT_EQ(0, es_alloc(fd, size, a));
	sp = a->lo + 24;
	fill(sp, a->hi);
	ASSERT_EQ(0, es_alloc(fd, 2 * size, &big));
	ASSERT_EQ(0, es_free(fd, big.id));
	for (n = 0; n < SWEEP_MAX; n++) {
		ASSERT_EQ(0, ff_arm("estack_should_stop", 1, n, 1));
		memset(m, 0, sizeof(*m));
		m->size = sizeof(*m);
		m->id = a->id;
		m->sp = sp;
		m->flags = flags;
		if (flags & ESTACK_MOVE_ADJUST_FP)
			m->fp = sp;
		err = es_ioctl(fd, ESTACK_IOC_GROW, m);
		fired = ff_disarm("estack_should_stop");
		if (!err)
			break;
		EXPECT_EQ(EINTR, err) TH_LOG("n=%u", n);
		EXPECT_TRUE(fired);
		ASSERT_EQ(0, es_info(fd, a->id, &info));
		EXPECT_EQ(a->hi, info.hi);
		if (flags & ESTACK_MOVE_ADJUST_FP)
			EXPECT_EQ(sp, m->fp);
		bad = check(sp, a->hi);
		ASSERT_EQ(0, bad) TH_LOG("n=%u: word at +%ld rewritten", n,
					 bad - 1);
		stops++;
	}
	ASSERT_LT(n, SWEEP_MAX);
	return stops;
}

/*
 * A fatal signal in the middle of the relocation of a 2 MiB GROW, whose
 * every word points into the stack: the words already rewritten in the
 * pages the new stack took from the old one are put back.
 */
TEST_F_TIMEOUT(faults, fatal_signal_undo, 600)
{
	struct estack_alloc a;
	struct estack_move m;
	unsigned int stops;

	stops = grow_stop_sweep(_metadata, self->fd, 2 << 20,
				ESTACK_MOVE_ADJUST_CONSERVATIVE, fill_ptrs,
				check_ptrs, &a, &m);
	/* The clear (2 stops), the pages taken (1), the scan of 512 pages (2). */
	EXPECT_LE(5, stops);
	EXPECT_EQ((a.hi - a.lo - 24) / 8, m.adjusted);
	EXPECT_EQ(0, check_ptrs(a.lo + 24 + m.delta, m.hi));
	EXPECT_EQ(0, es_free(self->fd, a.id));
}

/*
 * A fatal signal in the middle of the frame-pointer walk of a 64 KiB GROW,
 * 8189 frames on the pages the new stack takes from the old one: the walk
 * stops at every 256th frame, and the frames it rewrote before it stopped
 * are put back.
 */
TEST_F_TIMEOUT(faults, fatal_signal_undo_walk, 600)
{
	struct estack_alloc a;
	struct estack_move m;
	unsigned int stops;
	__u64 sp;

	stops = grow_stop_sweep(_metadata, self->fd, 65536,
				ESTACK_MOVE_ADJUST_FP, fill_chain, check_chain,
				&a, &m);
	sp = a.lo + 24;
	/* (65536 - 24) / 8 - 1 = 8188 frames to rewrite: 31 stops. */
	EXPECT_LE(31, stops);
	EXPECT_EQ((a.hi - sp) / 8 - 1, m.adjusted);
	EXPECT_EQ(sp + m.delta, m.fp);
	EXPECT_EQ(0, check_chain(sp + m.delta, m.hi));
	EXPECT_EQ(0, es_free(self->fd, a.id));
}
#endif /* __SIZEOF_LONG__ == 8 */

/*
 * Every -EINTR exit of the long work of ALLOC and GROW, reached through
 * fail_function: estack_should_stop() says stop at its n-th call, for
 * n = 0, 1, ... until the call goes through. A stopped call changes
 * nothing.
 */
TEST_F_TIMEOUT(faults, fatal_signal_sweep, 600)
{
	long long in_use = es_stat("stacks_in_use");
	struct estack_alloc a, big;
	struct estack_info info;
	struct estack_move m;
	unsigned int n, stops = 0;
	bool fired;
	int err;

	/* ALLOC of 4 MiB: its 1024 pages allocated or cleared. */
	for (n = 0; n < SWEEP_MAX; n++) {
		ASSERT_EQ(0, ff_arm("estack_should_stop", 1, n, 1));
		err = es_alloc(self->fd, 4 << 20, &big);
		fired = ff_disarm("estack_should_stop");
		if (!err) {
			EXPECT_EQ(0, es_free(self->fd, big.id));
			break;
		}
		EXPECT_EQ(EINTR, err) TH_LOG("n=%u", n);
		EXPECT_TRUE(fired);
		EXPECT_EQ(in_use, es_stat("stacks_in_use"));
		stops++;
	}
	ASSERT_LT(n, SWEEP_MAX);
	EXPECT_LE(1, stops);

	/* INFO of 4 MiB: its page-table walk, 256 pages a step. */
	ASSERT_EQ(0, es_alloc(self->fd, 4 << 20, &big));
	for (n = 0, stops = 0; n < SWEEP_MAX; n++) {
		ASSERT_EQ(0, ff_arm("estack_should_stop", 1, n, 1));
		err = es_info(self->fd, big.id, &info);
		fired = ff_disarm("estack_should_stop");
		if (!err) {
			EXPECT_EQ(4 << 20, info.resident);
			break;
		}
		EXPECT_EQ(EINTR, err) TH_LOG("n=%u", n);
		EXPECT_TRUE(fired);
		stops++;
	}
	ASSERT_LT(n, SWEEP_MAX);
	/* Four steps, a check between each two: stopped at least once. */
	EXPECT_LE(1, stops);
	EXPECT_EQ(0, es_free(self->fd, big.id));

	/* GROW of 2 MiB, all live: the new pages, then the copy. */
	ASSERT_EQ(0, es_alloc(self->fd, 2 << 20, &a));
	es_fill(a.lo, a.hi);
	for (n = 0, stops = 0; n < SWEEP_MAX; n++) {
		ASSERT_EQ(0, ff_arm("estack_should_stop", 1, n, 1));
		memset(&m, 0, sizeof(m));
		m.size = sizeof(m);
		m.id = a.id;
		m.sp = a.lo;
		err = es_ioctl(self->fd, ESTACK_IOC_GROW, &m);
		fired = ff_disarm("estack_should_stop");
		if (!err) {
			EXPECT_EQ(0, es_check_pat(m.hi - (2 << 20), m.hi, m.delta));
			break;
		}
		EXPECT_EQ(EINTR, err) TH_LOG("n=%u", n);
		EXPECT_TRUE(fired);
		ASSERT_EQ(0, es_info(self->fd, a.id, &info));
		EXPECT_EQ(a.lo, info.lo);
		EXPECT_EQ(a.hi, info.hi);
		EXPECT_EQ(0, es_check_pat(a.lo, a.hi, 0)) TH_LOG("n=%u", n);
		stops++;
	}
	ASSERT_LT(n, SWEEP_MAX);
	/* The pages of the new stack, and the 512 pages copied. */
	EXPECT_LE(2, stops);
	EXPECT_EQ(0, es_free(self->fd, a.id));
	EXPECT_EQ(in_use, es_stat("stacks_in_use"));
}

/*
 * Every -ENOSPC exit, reached through fail_function on the limits' charge:
 * ALLOC from the mapped cache, ALLOC the slow way and GROW. A failed
 * charge for a cached stack sends ALLOC the slow way; the slow way and
 * GROW, with a stack in the file's cache, give it up and charge again.
 * Only when every charge fails is the answer -ENOSPC, and then nothing
 * has changed but the cache, given up.
 */
TEST_F(faults, enospc_exits)
{
	const char *fn = "estack_limits_charge_locked";
	long long in_use = es_stat("stacks_in_use");
	long long hits = es_stat("mapped_cache_hits");
	struct estack_alloc a, b;
	struct estack_info info;
	struct estack_move m = { .size = sizeof(m) };

	ASSERT_LT(0, es_param("mapped_cache"));
	ASSERT_EQ(0, es_alloc(self->fd, 8192, &a));
	ASSERT_EQ(0, es_free(self->fd, a.id));
	/* The cached stack's charge fails: a stack made afresh instead. */
	ASSERT_EQ(0, ff_arm(fn, -ENOSPC, 0, 1));
	ASSERT_EQ(0, es_alloc(self->fd, 8192, &b));
	EXPECT_TRUE(ff_disarm(fn));
	EXPECT_NE(a.lo, b.lo);
	EXPECT_EQ(hits, es_stat("mapped_cache_hits"));
	EXPECT_EQ(0, es_free(self->fd, b.id));
	/*
	 * Its charge, the slow way's, and the slow way's again once the
	 * cache is given up: -ENOSPC, and the cache is gone.
	 */
	ASSERT_EQ(0, ff_arm(fn, -ENOSPC, 0, 3));
	EXPECT_EQ(ENOSPC, es_alloc(self->fd, 8192, &b));
	EXPECT_TRUE(ff_disarm(fn));
	EXPECT_EQ(in_use, es_stat("stacks_in_use"));
	ASSERT_EQ(0, es_alloc(self->fd, 8192, &b));
	EXPECT_EQ(hits, es_stat("mapped_cache_hits"));

	/* With a stack in the cache to give up: two charges, both fail. */
	ASSERT_EQ(0, es_alloc(self->fd, 4096, &a));
	ASSERT_EQ(0, es_free(self->fd, a.id));
	ASSERT_EQ(0, ff_arm(fn, -ENOSPC, 0, 2));
	EXPECT_EQ(ENOSPC, es_alloc(self->fd, 16384, &a));
	EXPECT_TRUE(ff_disarm(fn));
	EXPECT_EQ(in_use + 1, es_stat("stacks_in_use"));

	es_fill(b.lo, b.hi);
	m.id = b.id;
	m.sp = b.lo;
	ASSERT_EQ(0, es_alloc(self->fd, 4096, &a));
	ASSERT_EQ(0, es_free(self->fd, a.id));
	ASSERT_EQ(0, ff_arm(fn, -ENOSPC, 0, 2));
	EXPECT_EQ(ENOSPC, es_ioctl(self->fd, ESTACK_IOC_GROW, &m));
	EXPECT_TRUE(ff_disarm(fn));
	ASSERT_EQ(0, es_info(self->fd, b.id, &info));
	EXPECT_EQ(b.lo, info.lo);
	EXPECT_EQ(0, es_check_pat(b.lo, b.hi, 0));
	EXPECT_EQ(0, es_free(self->fd, b.id));
	EXPECT_EQ(in_use, es_stat("stacks_in_use"));
}

/*
 * A contended mmap lock, through fail_function on estack_mmap_trylock().
 * ALLOC and the moves take that lock holding the new stack's pages; a
 * wait for it can last as long as a user likes (a fault on a file of
 * their FUSE mount holds it), and pages held across the wait are in no
 * one's RSS (hidden_test's mmap_lock_waits_hold_no_stack). So when it is
 * not free they give the pages back, wait for it holding nothing, and
 * have the pages again holding it. Each trylock fails once, in turn, and
 * then every one: the call succeeds all the same, every byte where it
 * belongs, and the counters are exact.
 */
static int grow_whole(int fd, struct estack_alloc *a, struct estack_move *m)
{
	memset(m, 0, sizeof(*m));
	m->size = sizeof(*m);
	m->id = a->id;
	m->sp = a->lo;			/* every byte live */
	return es_ioctl(fd, ESTACK_IOC_GROW, m);
}

TEST_F(faults, mmap_lock_contended)
{
	const char *fn = "estack_mmap_trylock";
	long long in_use = es_stat("stacks_in_use");
	long long bytes = es_stat("bytes_in_use");
	struct estack_alloc a;
	struct estack_move m;
	unsigned int n;
	bool fired;

	/* 64 KiB: never from the mapped cache, which takes no trylock. */
	for (n = 0; n <= MAX_SITES; n++) {
		/* Then, n == MAX_SITES: every trylock fails. */
		ASSERT_EQ(0, ff_arm(fn, -EBUSY, n < MAX_SITES ? n : 0,
				    n < MAX_SITES ? 1 : 1000));
		ASSERT_EQ(0, es_alloc(self->fd, 65536, &a)) TH_LOG("n=%u", n);
		fired = ff_disarm(fn);
		EXPECT_EQ(1, es_zero(a.lo, a.hi)) TH_LOG("n=%u", n);
		EXPECT_EQ(in_use + 1, es_stat("stacks_in_use"));
		EXPECT_EQ(bytes + 65536, es_stat("bytes_in_use"));
		ASSERT_EQ(0, es_free(self->fd, a.id));
		/* fail_function: space 0 and 1 both fail the first call. */
		if (n < 2)	/* the trylock of the slow way */
			EXPECT_TRUE(fired);
		if (!fired && n < MAX_SITES)
			n = MAX_SITES - 1;	/* each in turn: done */
	}

	/* GROW of a 16 KiB stack, all of it live, to 32 KiB. */
	for (n = 0; n <= MAX_SITES; n++) {
		ASSERT_EQ(0, es_alloc(self->fd, 16384, &a));
		es_fill(a.lo, a.hi);
		ASSERT_EQ(0, ff_arm(fn, -EBUSY, n < MAX_SITES ? n : 0,
				    n < MAX_SITES ? 1 : 1000));
		ASSERT_EQ(0, grow_whole(self->fd, &a, &m)) TH_LOG("n=%u", n);
		fired = ff_disarm(fn);
		EXPECT_EQ(32768, m.hi - m.lo);
		EXPECT_EQ(0, es_check_pat(a.lo + m.delta, a.hi + m.delta,
					  m.delta)) TH_LOG("n=%u", n);
		EXPECT_EQ(1, es_zero(m.lo, a.lo + m.delta)) TH_LOG("n=%u", n);
		EXPECT_EQ(in_use + 1, es_stat("stacks_in_use"));
		ASSERT_EQ(0, es_free(self->fd, a.id));
		if (n < 3)	/* holding nothing, then the new stack */
			EXPECT_TRUE(fired);
		if (!fired && n < MAX_SITES)
			n = MAX_SITES - 1;
	}
	EXPECT_EQ(in_use, es_stat("stacks_in_use"));
	es_unmap_arenas();
}

/*
 * The page-fault path and INFO under fail-nth. A touch after
 * MADV_DONTNEED brings the stack's own pages back with their data,
 * whatever fault site fails on the way (the fault is retried); an INFO
 * whose n-th fault site fails answers EFAULT (its user copies), or
 * correctly; the stack never changes.
 */
TEST_F(faults, fault_path_and_info_sweep)
{
	struct estack_alloc a;
	struct estack_info info;
	unsigned int n, failed = 0;
	bool fired, ok;
	int err;

	ASSERT_EQ(0, es_alloc(self->fd, 65536, &a));
	es_fill(a.lo, a.hi);
	for (n = 1; n < SWEEP_MAX; n++) {
		ASSERT_EQ(0, madvise(U2P(a.lo), 65536, MADV_DONTNEED));
		ASSERT_EQ(0, fi_arm(self->nth, n));
		ok = !es_check_pat(a.lo, a.hi, 0);
		fired = fi_disarm(self->nth);
		EXPECT_TRUE(ok) TH_LOG("n=%u", n);
		if (!fired)
			break;
	}
	ASSERT_LT(n, SWEEP_MAX);
	for (n = 1; n < SWEEP_MAX; n++) {
		ASSERT_EQ(0, fi_arm(self->nth, n));
		err = es_info(self->fd, a.id, &info);
		fired = fi_disarm(self->nth);
		if (!err) {
			EXPECT_EQ(a.lo, info.lo);
			EXPECT_EQ(a.hi, info.hi);
			EXPECT_EQ(65536, info.resident);
			if (!fired)
				break;
			continue;
		}
		EXPECT_EQ(EFAULT, err) TH_LOG("n=%u", n);
		EXPECT_TRUE(fired);
		failed++;
	}
	ASSERT_LT(n, SWEEP_MAX);
	EXPECT_LE(1, failed);
	EXPECT_EQ(0, es_check_pat(a.lo, a.hi, 0));
	EXPECT_EQ(0, es_free(self->fd, a.id));
}

TEST_HARNESS_MAIN
