// SPDX-License-Identifier: GPL-2.0
/*
 * estack selftests: GROW and SHRINK. Data survives byte for byte, each
 * relocation mode rewrites exactly the words it should, every errno, and
 * all or nothing on failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "estack_harness.h"

#define IS64	(sizeof(long) == 8)

static __u64 rd(__u64 addr)
{
	return *(__u64 *)U2P(addr);
}

static void wr(__u64 addr, __u64 v)
{
	*(__u64 *)U2P(addr) = v;
}

FIXTURE(mv) {
	int fd;
	long long in_use;
	long long fd_bytes;	/* max_bytes_per_fd, put back at the end */
};

FIXTURE_SETUP(mv)
{
	struct estack_api api;

	es_test_open_with(_metadata, &self->fd, &api,
			  ESTACK_FEATURE_MOVE, "GROW/SHRINK");
	self->in_use = es_stat("stacks_in_use");
	self->fd_bytes = es_param("max_bytes_per_fd");
}

FIXTURE_TEARDOWN(mv)
{
	/* Also after a failed ASSERT in a test that lowered it. */
	if (self->fd_bytes > 0 &&
	    es_param("max_bytes_per_fd") != self->fd_bytes)
		es_set_param("max_bytes_per_fd", self->fd_bytes);
	es_test_close(_metadata, self->fd, self->in_use);
}

/* The live part is copied to the top of a stack twice the size. */
TEST_F(mv, grow_doubles_and_copies)
{
	static const unsigned long sps[] = { 0, 1, 1000, 4096, 8191, 8192 };
	struct estack_alloc a;
	struct estack_move m;
	struct estack_info info;
	unsigned int i;
	__u64 sp;

	for (i = 0; i < ARRAY_SIZE(sps); i++) {
		ASSERT_EQ(0, es_alloc(self->fd, 8192, &a));
		es_fill(a.lo, a.hi);
		sp = a.lo + sps[i];
		memset(&m, 0, sizeof(m));
		m.id = a.id;
		m.sp = sp;
		ASSERT_EQ(0, es_move(self->fd, ESTACK_IOC_GROW, &m));
		EXPECT_EQ(16384, m.hi - m.lo);
		EXPECT_EQ((__s64)(m.hi - a.hi), m.delta);
		EXPECT_EQ(0, es_check_pat(sp + m.delta, m.hi, m.delta))
			TH_LOG("sp offset %lu", sps[i]);
		EXPECT_TRUE(es_zero(m.lo, sp + m.delta));
		EXPECT_EQ(SIGSEGV, es_probe(a.lo, 0));
		EXPECT_EQ(SIGSEGV, es_probe(a.hi - 1, 0));
		ASSERT_EQ(0, es_info(self->fd, a.id, &info));
		EXPECT_EQ(m.lo, info.lo);
		EXPECT_EQ(m.hi, info.hi);
		EXPECT_EQ(0, es_free(self->fd, a.id));
	}
	EXPECT_LE(ARRAY_SIZE(sps), es_stat("grows"));
}

/*
 * A large stack made by GROW is populated whole at once, like one made by
 * ALLOC: every page the module holds for it is mapped, so it counts in the
 * process's RSS and the OOM killer sees who holds it. Pages that held
 * another stack's data in the pool read as zero.
 */
TEST_F(mv, grow_large_populates_at_once)
{
	struct estack_alloc a, dirty;
	struct estack_info info;
	struct estack_move m;
	__u64 sp;
	int i;

	/* Dirty 128 KiB spans for the pool (above the per-CPU classes). */
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, es_alloc(self->fd, 131072, &dirty));
		memset(U2P(dirty.lo), 0xa5, 131072);
		ASSERT_EQ(0, es_free(self->fd, dirty.id));
	}
	ASSERT_EQ(0, es_alloc(self->fd, 65536, &a));
	es_fill(a.lo, a.hi);
	sp = a.hi - 20000;
	memset(&m, 0, sizeof(m));
	m.id = a.id;
	m.sp = sp;
	ASSERT_EQ(0, es_move(self->fd, ESTACK_IOC_GROW, &m));
	ASSERT_EQ(131072, m.hi - m.lo);
	/* Before anything touches it: all of it is mapped. */
	ASSERT_EQ(0, es_info(self->fd, a.id, &info));
	EXPECT_EQ(131072, info.resident);
	EXPECT_EQ(0, es_check_pat(sp + m.delta, m.hi, m.delta));
	EXPECT_TRUE(es_zero(m.lo, sp + m.delta));
	EXPECT_EQ(0, es_free(self->fd, a.id));
}

/* The page frame mapped at @addr (/proc/self/pagemap), 0 when none. */
static __u64 pfn_at(__u64 addr)
{
	__u64 e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	if (pread(fd, &e, sizeof(e), (addr / 4096) * sizeof(e)) != sizeof(e))
		e = 0;
	close(fd);
	return (e >> 63) ? e & ((1ULL << 55) - 1) : 0;
}

/*
 * A move takes the old stack's fully live pages with it instead of copying
 * them: the new stack maps the same page frames at the new addresses. Only
 * the lowest live page, which sp cuts, is copied (so the new stack below sp
 * holds zeroes, not the old stack's dead bytes), and the words it relocates
 * are rewritten in place.
 */
static void move_takes_pages(struct __test_metadata *_metadata, int fd,
			     unsigned long cmd, __u64 size, __u64 live)
{
	__u64 pfn[64], sp, a_hi, i, n = live / 4096;
	struct estack_alloc a;
	struct estack_move m;

	if (geteuid())
		ES_SKIP("page frame numbers need CAP_SYS_ADMIN");
	ASSERT_GE(ARRAY_SIZE(pfn), n + 1);
	ASSERT_EQ(0, es_alloc(fd, size, &a));
	es_fill(a.lo, a.hi);
	sp = a.hi - live - 100;
	/*
	 * A frame chain across the live pages, rewritten in place (64-bit
	 * only: a 32-bit caller's moves relocate nothing).
	 */
	for (i = 0; IS64 && i < n; i++)
		wr(a.hi - 4096 * (n - i) + 8, a.hi - 4096 * (n - i - 1) + 8);
	for (i = 0; i <= n; i++) {
		pfn[i] = pfn_at(a.hi - 4096 * (n + 1 - i));
		ASSERT_NE(0, pfn[i]);
	}
	a_hi = a.hi;
	memset(&m, 0, sizeof(m));
	m.id = a.id;
	m.sp = sp;
	if (IS64) {
		m.fp = a.hi - 4096 * n + 8;
		m.flags = ESTACK_MOVE_ADJUST_FP;
	}
	ASSERT_EQ(0, es_move(fd, cmd, &m));
	/* The page sp cuts is a copy; every page above it is the same page. */
	EXPECT_NE(pfn[0], pfn_at(m.hi - 4096 * (n + 1)));
	for (i = 1; i <= n; i++)
		EXPECT_EQ(pfn[i], pfn_at(m.hi - 4096 * (n + 1 - i)))
			TH_LOG("live page %llu", (unsigned long long)i);
	if (IS64) {
		EXPECT_EQ(n - 1, m.adjusted);
		EXPECT_EQ(m.hi - 4096 * n + 8, m.fp);
		for (i = 0; i + 1 < n; i++)
			EXPECT_EQ(m.hi - 4096 * (n - i - 1) + 8,
				  rd(m.hi - 4096 * (n - i) + 8));
		/* The chain's words back to the pattern: the rest is as was. */
		for (i = 0; i < n * 8; i++)
			es_poke(m.hi - 4096 * (n - i / 8) + 8 + i % 8,
				es_pat(a_hi - 4096 * (n - i / 8) + 8 + i % 8));
	}
	EXPECT_EQ(0, es_check_pat(sp + m.delta, m.hi, m.delta));
	EXPECT_TRUE(es_zero(m.lo, sp + m.delta));
	EXPECT_EQ(SIGSEGV, es_probe(a_hi - 1, 0));
	EXPECT_EQ(0, es_free(fd, a.id));
}

TEST_F(mv, grow_takes_whole_pages)
{
	move_takes_pages(_metadata, self->fd, ESTACK_IOC_GROW, 65536, 40960);
}

TEST_F(mv, shrink_takes_whole_pages)
{
	move_takes_pages(_metadata, self->fd, ESTACK_IOC_SHRINK, 262144, 40960);
}

/*
 * The span a grown stack leaves at FREE comes back to the next GROW of
 * that size on the same file with its bottom still clear: of the pages
 * below the live part, only those the stack wrote are cleared again,
 * however they were written. On another file, every page is. The pages
 * are proved to be the same ones by their frames, and the clearing by
 * pages_zeroed. Needs root (page frames, drop_caches).
 */
enum bottom_write {
	BOTTOM_STORE,		/* a store: the PTE's dirty bit, moved by the zap */
	BOTTOM_PROC_MEM,	/* /proc/self/mem: GUP, set_page_dirty_lock() */
	BOTTOM_DONTNEED,	/* a store, then MADV_DONTNEED: zapped early */
	BOTTOM_VM_WRITEV,	/* process_vm_writev(): pinned, unpinned dirty */
};

static void write_bottom(struct __test_metadata *_metadata, __u64 addr,
			 enum bottom_write how)
{
	static char buf[4096];
	struct iovec local = { buf, sizeof(buf) };
	struct iovec remote = { U2P(addr), sizeof(buf) };
	int fd;

	memset(buf, 0xa5, sizeof(buf));
	switch (how) {
	case BOTTOM_STORE:
		memcpy(U2P(addr), buf, sizeof(buf));
		break;
	case BOTTOM_PROC_MEM:
		fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fd);
		ASSERT_EQ((ssize_t)sizeof(buf),
			  pwrite64(fd, buf, sizeof(buf), addr));
		close(fd);
		break;
	case BOTTOM_DONTNEED:
		memcpy(U2P(addr), buf, sizeof(buf));
		ASSERT_EQ(0, madvise(U2P(addr), sizeof(buf), MADV_DONTNEED));
		break;
	case BOTTOM_VM_WRITEV:
		/* No vectors: 0, unless the kernel lacks the system call. */
		if (process_vm_writev(getpid(), NULL, 0, NULL, 0, 0))
			ES_SKIP("process_vm_writev: %s (CONFIG_CROSS_MEMORY_ATTACH)",
				strerror(errno));
		ASSERT_EQ((ssize_t)sizeof(buf),
			  process_vm_writev(getpid(), &local, 1, &remote, 1, 0));
		break;
	}
}

/* GROW a new 512 KiB stack of @fd to 1 MiB, one page live: @m, @id. */
static void grow_one_page_live(struct __test_metadata *_metadata, int fd,
			       struct estack_move *m, __u32 *id)
{
	struct estack_alloc a;

	ASSERT_EQ(0, es_alloc(fd, 524288, &a));
	*id = a.id;
	es_fill(a.hi - 4096, a.hi);
	memset(m, 0, sizeof(*m));
	m->id = a.id;
	m->sp = a.hi - 4096;
	ASSERT_EQ(0, es_move(fd, ESTACK_IOC_GROW, m));
	ASSERT_EQ(1048576, m->hi - m->lo);
}

static void grow_bottom_reuse(struct __test_metadata *_metadata, int fd,
			      bool other_file, enum bottom_write how)
{
	long long zeroed;
	struct estack_move m;
	__u64 pfn;
	__u32 id;
	int fd2 = fd;

	if (geteuid())
		ES_SKIP("page frame numbers need CAP_SYS_ADMIN");
	/*
	 * The pools hand out their oldest span first: empty them (the
	 * shrinker), so that the one this GROW leaves is the next one out.
	 */
	ASSERT_EQ(0, es_write_file("/proc/sys/vm/drop_caches", "2"));
	grow_one_page_live(_metadata, fd, &m, &id);
	pfn = pfn_at(m.lo);
	ASSERT_NE(0, pfn);
	write_bottom(_metadata, m.lo, how);
	ASSERT_EQ(0, es_free(fd, id));

	if (other_file) {
		fd2 = open(DEV_PATH, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fd2);
	}
	zeroed = es_stat("pages_zeroed");
	grow_one_page_live(_metadata, fd2, &m, &id);
	zeroed = es_stat("pages_zeroed") - zeroed;
	ASSERT_LE(0, zeroed);
	ASSERT_EQ(pfn, pfn_at(m.lo)) TH_LOG("the span did not come back");
	EXPECT_TRUE(es_zero(m.lo, m.hi - 4096));
	EXPECT_EQ(0, es_check_pat(m.hi - 4096, m.hi, m.delta));
	/*
	 * On the same file, the ALLOC clears the page its span got from the
	 * first GROW in exchange for the live one, and the GROW the bottom
	 * page written. On another file, the GROW alone clears all 255 pages
	 * below the live one.
	 */
	EXPECT_TRUE(other_file ? zeroed >= 255 : zeroed <= 8)
		TH_LOG("%lld pages cleared", zeroed);
	EXPECT_EQ(0, es_free(fd2, id));
	if (other_file)
		close(fd2);
}

TEST_F(mv, grow_bottom_reuse_store)
{
	grow_bottom_reuse(_metadata, self->fd, false, BOTTOM_STORE);
}

TEST_F(mv, grow_bottom_reuse_proc_mem)
{
	grow_bottom_reuse(_metadata, self->fd, false, BOTTOM_PROC_MEM);
}

TEST_F(mv, grow_bottom_reuse_dontneed)
{
	grow_bottom_reuse(_metadata, self->fd, false, BOTTOM_DONTNEED);
}

TEST_F(mv, grow_bottom_reuse_vm_writev)
{
	grow_bottom_reuse(_metadata, self->fd, false, BOTTOM_VM_WRITEV);
}

TEST_F(mv, grow_bottom_other_file_cleared)
{
	grow_bottom_reuse(_metadata, self->fd, true, BOTTOM_STORE);
}

/*
 * The struct estack_move (or the slot array) inside the stack being moved
 * is refused up front: after the move it would lie in unmapped memory and
 * the results could not be written. Nothing changes.
 */
static void move_arg_inside(struct __test_metadata *_metadata, int fd,
			    unsigned long cmd, int slots_inside)
{
	__u64 size = cmd == ESTACK_IOC_GROW ? 8192 : 32768;
	struct estack_move *m, outer;
	struct estack_alloc a;
	struct estack_info info;
	__u64 sp, *slots;

	ASSERT_EQ(0, es_alloc(fd, size, &a));
	es_fill(a.lo, a.hi);
	/* GROW: most of it live; SHRINK: little enough live to halve. */
	sp = cmd == ESTACK_IOC_GROW ? a.lo + 1024 : a.hi - 512;
	if (slots_inside) {
		/* A slot array in the live part, a struct outside. */
		slots = U2P(a.hi - 256);
		slots[0] = (unsigned long)&outer.fp;
		memset(&outer, 0, sizeof(outer));
		m = &outer;
		m->nr_slots = 1;
		m->slots = (unsigned long)slots;
	} else {
		/* A fiber control block at the top of its own stack. */
		m = U2P(a.hi - 256);
		memset(m, 0, sizeof(*m));
	}
	m->size = sizeof(*m);
	m->id = a.id;
	m->sp = sp;
	/* A 32-bit caller's slots are refused before anything else. */
	EXPECT_EQ(slots_inside && !IS64 ? EOPNOTSUPP : EINVAL,
		  es_ioctl(fd, cmd, m));
	ASSERT_EQ(0, es_info(fd, a.id, &info));
	EXPECT_EQ(a.lo, info.lo);
	EXPECT_EQ(a.hi, info.hi);
	if (!slots_inside) {
		EXPECT_EQ(0, m->lo);
		EXPECT_EQ(0, m->delta);
		/* Put the pattern back where the struct was. */
		es_fill(a.hi - 256, a.hi - 256 + sizeof(*m));
	} else {
		es_fill(a.hi - 256, a.hi - 248);
	}
	EXPECT_EQ(0, es_check_pat(a.lo, a.hi, 0));
	EXPECT_EQ(0, es_free(fd, a.id));
}

TEST_F(mv, grow_arg_struct_inside_stack_einval)
{
	move_arg_inside(_metadata, self->fd, ESTACK_IOC_GROW, 0);
}

TEST_F(mv, shrink_arg_struct_inside_stack_einval)
{
	move_arg_inside(_metadata, self->fd, ESTACK_IOC_SHRINK, 0);
}

TEST_F(mv, grow_slot_array_inside_stack_einval)
{
	move_arg_inside(_metadata, self->fd, ESTACK_IOC_GROW, 1);
}

TEST_F(mv, shrink_slot_array_inside_stack_einval)
{
	move_arg_inside(_metadata, self->fd, ESTACK_IOC_SHRINK, 1);
}

TEST_F(mv, grow_to_bytes_rounds_up)
{
	struct estack_alloc a;
	struct estack_move m = {};

	ASSERT_EQ(0, es_alloc(self->fd, 8192, &a));
	m.id = a.id;
	m.sp = a.hi - 64;
	m.bytes = 3 * 8192;
	ASSERT_EQ(0, es_move(self->fd, ESTACK_IOC_GROW, &m));
	EXPECT_EQ(32768, m.hi - m.lo);
	/* Not larger than now: EINVAL, nothing moves. */
	m.sp = m.hi - 64;
	m.bytes = 32768;
	EXPECT_EQ(EINVAL, es_move(self->fd, ESTACK_IOC_GROW, &m));
	m.bytes = 100;
	EXPECT_EQ(EINVAL, es_move(self->fd, ESTACK_IOC_GROW, &m));
	EXPECT_EQ(0, es_free(self->fd, a.id));
}

TEST_F(mv, shrink_rule_at_its_boundary)
{
	struct estack_alloc a;
	struct estack_move m = {};
	__u64 lo, hi;

	ASSERT_EQ(0, es_alloc(self->fd, 16384, &a));
	es_fill(a.lo, a.hi);
	/* Exactly a quarter used: stays (Go's rule is "less than"). */
	m.id = a.id;
	m.sp = a.hi - 4096;
	m.fp = 77;
	ASSERT_EQ(0, es_move(self->fd, ESTACK_IOC_SHRINK, &m));
	EXPECT_EQ(a.lo, m.lo);
	EXPECT_EQ(a.hi, m.hi);
	EXPECT_EQ(0, m.delta);
	EXPECT_EQ(0, m.adjusted);
	EXPECT_EQ(77, m.fp);
	/* One byte less: halves, the live bytes come along. */
	m.sp = a.hi - 4095;
	ASSERT_EQ(0, es_move(self->fd, ESTACK_IOC_SHRINK, &m));
	EXPECT_EQ(8192, m.hi - m.lo);
	EXPECT_EQ(0, es_check_pat(a.hi - 4095 + m.delta, m.hi, m.delta));
	lo = m.lo;
	hi = m.hi;
	/* Down to one page, never below. */
	m.sp = hi - 16;
	ASSERT_EQ(0, es_move(self->fd, ESTACK_IOC_SHRINK, &m));
	EXPECT_EQ(4096, m.hi - m.lo);
	EXPECT_EQ(SIGSEGV, es_probe(lo, 0));
	m.sp = m.hi - 16;
	lo = m.lo;
	ASSERT_EQ(0, es_move(self->fd, ESTACK_IOC_SHRINK, &m));
	EXPECT_EQ(lo, m.lo);
	EXPECT_EQ(0, m.delta);
	EXPECT_LE(2, es_stat("shrinks"));
	EXPECT_EQ(0, es_free(self->fd, a.id));
}

/* The words a test plants at the bottom of the live range. */
struct plant {
	__u64 sp;
	__u64 in, top, below, end, integer, other;
};

static void plant(struct plant *p, const struct estack_alloc *a,
		  const struct estack_alloc *b)
{
	p->sp = a->hi - 4096;
	p->in = p->sp;		/* -> a word in the stack: relocated */
	p->top = p->sp + 8;	/* -> the last word: relocated */
	p->end = p->sp + 16;	/* -> hi, one past: stays */
	p->below = p->sp + 24;	/* -> lo - 8, just below: stays */
	p->integer = p->sp + 32;	/* 12345: stays */
	p->other = p->sp + 40;	/* -> another stack: stays */
	wr(p->in, a->lo + 16);
	wr(p->top, a->hi - 8);
	wr(p->end, a->hi);
	wr(p->below, a->lo - 8);
	wr(p->integer, 12345);
	wr(p->other, b->lo + 8);
}

/*
 * A 32-bit caller that asks for relocation (@flags, or a slot) gets
 * EOPNOTSUPP, and nothing moves.
 */
static void compat_relocation_refused(struct __test_metadata *_metadata,
				      int fd, __u32 flags, int slot)
{
	struct estack_move m = {};
	struct estack_info info;
	struct estack_alloc a;
	__u64 word = 0;

	ASSERT_EQ(0, es_alloc(fd, 8192, &a));
	es_fill(a.lo, a.hi);
	m.id = a.id;
	m.sp = a.lo;
	m.flags = flags;
	if (slot) {
		m.slots = (unsigned long)&word;
		m.nr_slots = 1;
	}
	EXPECT_EQ(EOPNOTSUPP, es_move(fd, ESTACK_IOC_GROW, &m));
	ASSERT_EQ(0, es_info(fd, a.id, &info));
	EXPECT_EQ(a.lo, info.lo);
	EXPECT_EQ(a.hi, info.hi);
	EXPECT_EQ(0, es_check_pat(a.lo, a.hi, 0));
	EXPECT_EQ(0, es_free(fd, a.id));
}

TEST_F(mv, relocation_modes)
{
	struct estack_alloc a, b;
	struct estack_move m;
	struct plant p;
	__u64 d;
	int mode;

	if (!IS64) {
		compat_relocation_refused(_metadata, self->fd,
					  ESTACK_MOVE_ADJUST_CONSERVATIVE, 0);
		return;
	}
	ASSERT_EQ(0, es_alloc(self->fd, 8192, &b));
	for (mode = 0; mode < 2; mode++) {
		ASSERT_EQ(0, es_alloc(self->fd, 8192, &a));
		plant(&p, &a, &b);
		memset(&m, 0, sizeof(m));
		m.id = a.id;
		m.sp = p.sp;
		m.flags = mode ? ESTACK_MOVE_ADJUST_CONSERVATIVE : 0;
		ASSERT_EQ(0, es_move(self->fd, ESTACK_IOC_GROW, &m));
		d = m.delta;
		if (mode) {
			EXPECT_EQ(2, m.adjusted);
			EXPECT_EQ(a.lo + 16 + d, rd(p.in + d));
			EXPECT_EQ(a.hi - 8 + d, rd(p.top + d));
		} else {
			EXPECT_EQ(0, m.adjusted);
			EXPECT_EQ(a.lo + 16, rd(p.in + d));
			EXPECT_EQ(a.hi - 8, rd(p.top + d));
		}
		EXPECT_EQ(a.hi, rd(p.end + d));
		EXPECT_EQ(a.lo - 8, rd(p.below + d));
		EXPECT_EQ(12345, rd(p.integer + d));
		EXPECT_EQ(b.lo + 8, rd(p.other + d));
		EXPECT_EQ(0, es_free(self->fd, a.id));
	}
	EXPECT_EQ(0, es_free(self->fd, b.id));
}

TEST_F(mv, relocation_slots)
{
	struct estack_alloc a, b;
	struct estack_move m = {};
	__u64 heap_in, heap_other, slots[4];
	struct plant p;
	__u64 d;

	if (!IS64) {
		compat_relocation_refused(_metadata, self->fd, 0, 1);
		return;
	}
	ASSERT_EQ(0, es_alloc(self->fd, 8192, &a));
	ASSERT_EQ(0, es_alloc(self->fd, 8192, &b));
	plant(&p, &a, &b);
	wr(a.lo + 8, a.lo + 24);	/* below sp: not live, left alone */
	heap_in = a.hi - 100;
	heap_other = b.lo;
	slots[0] = p.in;		/* inside: read and written at its new place */
	slots[1] = (unsigned long)&heap_in;
	slots[2] = (unsigned long)&heap_other;
	slots[3] = a.lo + 8;
	m.id = a.id;
	m.sp = p.sp;
	m.slots = (unsigned long)slots;
	m.nr_slots = 4;
	ASSERT_EQ(0, es_move(self->fd, ESTACK_IOC_GROW, &m));
	d = m.delta;
	EXPECT_EQ(2, m.adjusted);
	EXPECT_EQ(a.lo + 16 + d, rd(p.in + d));
	EXPECT_EQ(a.hi - 100 + d, heap_in);
	EXPECT_EQ(b.lo, heap_other);
	/* Only named words move: this one was not named. */
	EXPECT_EQ(a.hi - 8, rd(p.top + d));
	EXPECT_EQ(0, es_free(self->fd, a.id));
	EXPECT_EQ(0, es_free(self->fd, b.id));
}

/*
 * A word is relocated at most once per move, however many ways name it: a
 * slot listed twice, and also scanned conservatively. A SHRINK's new stack
 * is usually carved just above the old one, less than the old size away,
 * so a pointer to the bottom of the old stack still points into it after
 * one relocation, and a second pass used to move it again.
 */
TEST_F(mv, relocation_once_per_word)
{
	__u64 heap, slots[4], sp, w;
	struct estack_alloc a;
	struct estack_move m;

	if (!IS64) {
		compat_relocation_refused(_metadata, self->fd,
					  ESTACK_MOVE_ADJUST_CONSERVATIVE, 1);
		return;
	}
	ASSERT_EQ(0, es_alloc(self->fd, 262144, &a));
	sp = a.hi - 4096;
	w = a.hi - 64;			/* a live word naming the old bottom */
	wr(w, a.lo);
	heap = a.lo + 8;		/* a word outside, named twice */
	slots[0] = w;
	slots[1] = w;
	slots[2] = (unsigned long)&heap;
	slots[3] = (unsigned long)&heap;
	memset(&m, 0, sizeof(m));
	m.id = a.id;
	m.sp = sp;
	m.slots = (unsigned long)slots;
	m.nr_slots = 4;
	m.flags = ESTACK_MOVE_ADJUST_CONSERVATIVE;
	ASSERT_EQ(0, es_move(self->fd, ESTACK_IOC_SHRINK, &m));
	EXPECT_EQ(a.lo + m.delta, rd(w + m.delta));
	EXPECT_EQ(a.lo + 8 + m.delta, heap);
	EXPECT_EQ(2, m.adjusted);
	EXPECT_EQ(0, es_free(self->fd, a.id));
}

/*
 * A move reads its slots without faulting, under its locks; a slot on a
 * page not yet faulted in costs it a round without them, and a move has
 * a few rounds only. Slots each on a page of their own, none touched yet:
 * the round faults them all in, and the move succeeds. It faults them in
 * for reading only, as it only reads them (their values point nowhere
 * near the stack): the pages stay the zero page, and count in no RSS.
 */
#define UNTOUCHED_SLOTS	32

/* The Rss of the mapping that starts at @start, in KiB; -1 if none. */
static long rss_at(unsigned long start)
{
	char line[512];
	long kib;

	if (es_smaps_line(start, "Rss:", line, sizeof(line)) ||
	    sscanf(line, "Rss: %ld kB", &kib) != 1)
		return -1;
	return kib;
}

TEST_F(mv, slots_on_untouched_pages)
{
	long page = sysconf(_SC_PAGESIZE);
	__u64 slots[UNTOUCHED_SLOTS];
	struct estack_alloc a;
	struct estack_move m;
	char *region;
	int i, cmd;

	if (!IS64) {
		compat_relocation_refused(_metadata, self->fd, 0, 1);
		return;
	}
	for (cmd = 0; cmd < 2; cmd++) {
		/* A mapping of its own: PROT_NONE pages on either side. */
		region = mmap(NULL, (UNTOUCHED_SLOTS + 2) * page, PROT_NONE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_TRUE(region != MAP_FAILED);
		region += page;
		ASSERT_EQ(0, mprotect(region, UNTOUCHED_SLOTS * page,
				      PROT_READ | PROT_WRITE));
		for (i = 0; i < UNTOUCHED_SLOTS; i++)
			slots[i] = (unsigned long)(region + i * page);
		ASSERT_EQ(0, es_alloc(self->fd, 65536, &a));
		memset(&m, 0, sizeof(m));
		m.id = a.id;
		m.sp = a.hi - 64;
		m.slots = (unsigned long)slots;
		m.nr_slots = UNTOUCHED_SLOTS;
		EXPECT_EQ(0, es_move(self->fd, cmd ? ESTACK_IOC_SHRINK :
				     ESTACK_IOC_GROW, &m))
			TH_LOG("%s", cmd ? "SHRINK" : "GROW");
		EXPECT_EQ(0, m.adjusted);
		EXPECT_EQ(0, rss_at((unsigned long)region));
		EXPECT_EQ(0, es_free(self->fd, a.id));
		munmap(region - page, (UNTOUCHED_SLOTS + 2) * page);
	}
}

/*
 * The same on the way out: slots to relocate on pages that a fork()
 * write-protected (copy-on-write), each on its own page. The move writes
 * them without faulting, so each needs a write fault; the round faults
 * them all in.
 */
TEST_F(mv, slots_on_write_protected_pages)
{
	long page = sysconf(_SC_PAGESIZE);
	__u64 slots[UNTOUCHED_SLOTS];
	struct estack_alloc a;
	struct estack_move m;
	int i, status;
	char *region;
	pid_t pid;

	if (!IS64) {
		compat_relocation_refused(_metadata, self->fd, 0, 1);
		return;
	}
	region = mmap(NULL, UNTOUCHED_SLOTS * page, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(region != MAP_FAILED);
	ASSERT_EQ(0, es_alloc(self->fd, 65536, &a));
	for (i = 0; i < UNTOUCHED_SLOTS; i++) {
		slots[i] = (unsigned long)(region + i * page);
		wr(slots[i], a.hi - 8 * (i + 1));
	}
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		pause();
		_exit(0);
	}
	memset(&m, 0, sizeof(m));
	m.id = a.id;
	m.sp = a.hi - 512;
	m.slots = (unsigned long)slots;
	m.nr_slots = UNTOUCHED_SLOTS;
	EXPECT_EQ(0, es_move(self->fd, ESTACK_IOC_GROW, &m));
	EXPECT_EQ(UNTOUCHED_SLOTS, m.adjusted);
	for (i = 0; i < UNTOUCHED_SLOTS; i++)
		EXPECT_EQ(a.hi - 8 * (i + 1) + m.delta, rd(slots[i]))
			TH_LOG("slot %d", i);
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, es_free(self->fd, a.id));
	munmap(region, UNTOUCHED_SLOTS * page);
}

/*
 * fp is both an input and a result of a move. An attempt whose results
 * cannot be written without a fault is tried again (move.c), and must
 * relocate the fp the caller passed, not the one the failed attempt
 * computed. Here another thread forks without pause: each fork takes the
 * mmap lock for writing and write-protects the page holding the struct,
 * so a move that waited for it cannot publish until a write fault breaks
 * the COW. A SHRINK's new stack lies less than the old size away, so
 * fp + delta still points into the old stack, and was moved again.
 */
static int forker_stop;

static void *forker(void *arg)
{
	pid_t pid;

	(void)arg;
	while (!__atomic_load_n(&forker_stop, __ATOMIC_RELAXED)) {
		pid = fork();
		if (!pid)
			_exit(0);
		if (pid > 0)
			waitpid(pid, NULL, 0);
	}
	return NULL;
}

/*
 * Kernel log records that contain @what, written since @fd was opened at
 * the log's end: -1 when the log cannot be read (non-root under
 * dmesg_restrict).
 */
static int kmsg_count(int fd, const char *what)
{
	static char rec[8192 + 1];	/* 6.1's CONSOLE_EXT_LOG_MAX */
	ssize_t n;
	int hits = 0;

	if (fd < 0)
		return -1;
	/*
	 * One record per read. EPIPE: records were overwritten; EINVAL: one
	 * too long for the buffer, skipped by the kernel. Both go on; EAGAIN
	 * is the end.
	 */
	while ((n = read(fd, rec, sizeof(rec) - 1)) > 0 ||
	       (n < 0 && (errno == EPIPE || errno == EINVAL))) {
		if (n <= 0)
			continue;
		rec[n] = 0;
		hits += !!strstr(rec, what);
	}
	return hits;
}

/*
 * The struct's second page made read-only by another thread while GROWs
 * run, at delays from before the call to after it: each GROW either ends,
 * its results in the struct, or fails with EFAULT and leaves the struct
 * and the stack as they were. The write-protect can land between the
 * check at entry and the write of the results, which then faults
 * part-way, the struct's first page written: the move puts those bytes
 * back before it rolls back, and has no reason to warn (the module before
 * 3e29a39 warned ten times in 300 GROWs, the rate limit's burst: placed
 * before the tests whose forks would use that burst up). Which way each
 * failure went is not visible from here; the delays cover all of them.
 */
struct ro_race {
	char *page;		/* the struct's second page */
	long page_size;
	unsigned int delay_us;	/* from the call to the mprotect() */
	int go, returned, stop;
};

static void spin_us(unsigned int us)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		clock_gettime(CLOCK_MONOTONIC, &t);
	while ((t.tv_sec - t0.tv_sec) * 1000000 +
	       (t.tv_nsec - t0.tv_nsec) / 1000 < us);
}

static void *ro_toggler(void *arg)
{
	struct ro_race *r = arg;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		if (!__atomic_load_n(&r->go, __ATOMIC_ACQUIRE)) {
			sched_yield();
			continue;
		}
		spin_us(r->delay_us);
		mprotect(r->page, r->page_size, PROT_READ);
		while (!__atomic_load_n(&r->returned, __ATOMIC_ACQUIRE))
			sched_yield();
		mprotect(r->page, r->page_size, PROT_READ | PROT_WRITE);
		__atomic_store_n(&r->go, 0, __ATOMIC_RELEASE);
	}
	return NULL;
}

TEST_F(mv, struct_made_read_only_midway_moved_or_intact)
{
	struct ro_race r = { .page_size = sysconf(_SC_PAGESIZE) };
	unsigned int i, moved = 0, faulted = 0, wrong = 0;
	struct estack_move want = {}, *m;
	struct estack_alloc a;
	pthread_t t;
	int kmsg, ret, err;
	char *buf;

	buf = mmap(NULL, 2 * r.page_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(buf != MAP_FAILED);
	r.page = buf + r.page_size;
	m = (struct estack_move *)(r.page - 16);
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg >= 0)
		lseek(kmsg, 0, SEEK_END);
	else
		TH_LOG("/dev/kmsg: %s; the log is not checked", strerror(errno));
	ASSERT_EQ(0, pthread_create(&t, NULL, ro_toggler, &r));
	for (i = 0; i < 300; i++) {
		/* No ASSERT while the toggler runs: it would outlive the test. */
		err = es_alloc(self->fd, 262144, &a);
		if (err) {
			EXPECT_EQ(0, err);
			break;
		}
		*(__u64 *)(uintptr_t)(a.hi - 8) = i;
		memset(&want, 0, sizeof(want));
		want.size = sizeof(want);
		want.id = a.id;
		want.sp = a.lo + 4096;	/* 252 KiB live: a long move */
		memcpy(m, &want, sizeof(want));
		r.delay_us = (i * 7) % 200;
		__atomic_store_n(&r.returned, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&r.go, 1, __ATOMIC_RELEASE);
		ret = ioctl(self->fd, ESTACK_IOC_GROW, m);
		err = errno;
		__atomic_store_n(&r.returned, 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(&r.go, __ATOMIC_ACQUIRE))
			sched_yield();
		if (!ret) {
			moved++;
			wrong += m->id != a.id || m->hi - m->lo != 524288 ||
				 *(__u64 *)(uintptr_t)(m->hi - 8) != i;
		} else if (err == EFAULT) {
			faulted++;
			wrong += !!memcmp(m, &want, sizeof(want)) ||
				 *(__u64 *)(uintptr_t)(a.hi - 8) != i;
		} else {
			TH_LOG("GROW %u: %s", i, strerror(err));
			wrong++;
		}
		err = es_free(self->fd, a.id);
		if (err) {
			EXPECT_EQ(0, err);
			break;
		}
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	TH_LOG("%u moved, %u failed with EFAULT", moved, faulted);
	EXPECT_EQ(0, wrong);
	EXPECT_LT(0, moved);
	EXPECT_LT(0, faulted);
	if (kmsg >= 0) {
		EXPECT_EQ(0, kmsg_count(kmsg, "could not restore"));
		close(kmsg);
	}
	munmap(buf, 2 * r.page_size);
}

/*
 * A fork() between a move's start and its end leaves the caller's struct
 * in a copy-on-write page again: the write of the results that may not
 * fault fails at its first byte, the move faults the page in and goes
 * again. Nothing was written, so nothing needed restoring, and the kernel
 * must not say it could not restore it (it did, before, on such moves).
 * Before fp_relocated_once_after_retry, whose forks would use up the
 * rate limit of that message first.
 */
TEST_F(mv, struct_cow_by_fork_no_restore_warning)
{
	struct estack_move m;
	struct estack_alloc a;
	unsigned int i, moved = 0;
	pthread_t t;
	int kmsg, err;

	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg < 0)
		ES_SKIP("cannot read the kernel log: %s", strerror(errno));
	lseek(kmsg, 0, SEEK_END);
	__atomic_store_n(&forker_stop, 0, __ATOMIC_RELAXED);
	ASSERT_EQ(0, pthread_create(&t, NULL, forker, NULL));
	/* 252 KiB live: each move copies long enough for forks to land. */
	for (i = 0; i < 400; i++) {
		/* No ASSERT while the forker runs: it would outlive the test. */
		err = es_alloc(self->fd, 262144, &a);
		if (err) {
			EXPECT_EQ(0, err);
			break;
		}
		*(__u64 *)(uintptr_t)(a.hi - 8) = i;
		memset(&m, 0, sizeof(m));
		m.size = sizeof(m);
		m.id = a.id;
		m.sp = a.lo + 4096;
		if (!ioctl(self->fd, ESTACK_IOC_GROW, &m)) {
			moved++;
			EXPECT_EQ(i, *(__u64 *)(uintptr_t)(m.hi - 8));
		}
		err = es_free(self->fd, a.id);
		if (err) {
			EXPECT_EQ(0, err);
			break;
		}
	}
	__atomic_store_n(&forker_stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	EXPECT_LT(300, moved);
	EXPECT_EQ(0, kmsg_count(kmsg, "could not restore"));
	close(kmsg);
}

TEST_F(mv, fp_relocated_once_after_retry)
{
	struct estack_move m;
	struct estack_alloc a;
	unsigned int i, moved = 0, wrong = 0;
	pthread_t t;
	__u64 fp;

	if (!IS64) {
		compat_relocation_refused(_metadata, self->fd,
					  ESTACK_MOVE_ADJUST_FP, 0);
		return;
	}
	__atomic_store_n(&forker_stop, 0, __ATOMIC_RELAXED);
	ASSERT_EQ(0, pthread_create(&t, NULL, forker, NULL));
	for (i = 0; i < 400; i++) {
		ASSERT_EQ(0, es_alloc(self->fd, 262144, &a));
		/* A frame below sp: relocated as a value, not walked. */
		fp = a.lo + 64;
		memset(&m, 0, sizeof(m));
		m.size = sizeof(m);
		m.id = a.id;
		m.sp = a.hi - 4096;
		m.fp = fp;
		m.flags = ESTACK_MOVE_ADJUST_FP;
		if (!ioctl(self->fd, ESTACK_IOC_SHRINK, &m)) {
			moved++;
			/* The case that matters: fp + delta is in the old. */
			EXPECT_TRUE(fp + m.delta >= a.lo && fp + m.delta < a.hi);
			if (m.fp != fp + m.delta)
				wrong++;
		}
		ASSERT_EQ(0, es_free(self->fd, a.id));
	}
	__atomic_store_n(&forker_stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	TH_LOG("%u moves, %u with fp relocated more than once", moved, wrong);
	EXPECT_LT(300, moved);
	EXPECT_EQ(0, wrong);
}

TEST_F(mv, relocation_frame_chain)
{
	struct estack_alloc a;
	struct estack_move m = {};
	__u64 f1, f2, f3, d;

	if (!IS64) {
		compat_relocation_refused(_metadata, self->fd,
					  ESTACK_MOVE_ADJUST_FP, 0);
		return;
	}
	ASSERT_EQ(0, es_alloc(self->fd, 16384, &a));
	m.sp = a.hi - 2048;
	f1 = m.sp + 64;
	f2 = m.sp + 256;
	f3 = m.sp + 512;
	wr(f1, f2);
	wr(f1 + 8, 0x401000);	/* a return address: stays */
	wr(f2, f3);
	wr(f3, 0);		/* the outermost frame */
	m.id = a.id;
	m.fp = f1;
	m.flags = ESTACK_MOVE_ADJUST_FP;
	ASSERT_EQ(0, es_move(self->fd, ESTACK_IOC_GROW, &m));
	d = m.delta;
	EXPECT_EQ(f1 + d, m.fp);
	EXPECT_EQ(f2 + d, rd(f1 + d));
	EXPECT_EQ(f3 + d, rd(f2 + d));
	EXPECT_EQ(0, rd(f3 + d));
	EXPECT_EQ(0x401000, rd(f1 + 8 + d));
	EXPECT_EQ(2, m.adjusted);
	EXPECT_EQ(0, es_free(self->fd, a.id));
}

/* A looping, a descending and an out-of-range chain end the walk safely. */
TEST_F(mv, relocation_frame_chain_bad)
{
	struct estack_alloc a;
	struct estack_move m = {};
	__u64 f1, f2, d;
	int kind;

	if (!IS64) {
		compat_relocation_refused(_metadata, self->fd,
					  ESTACK_MOVE_ADJUST_FP, 0);
		return;
	}
	for (kind = 0; kind < 3; kind++) {
		ASSERT_EQ(0, es_alloc(self->fd, 8192, &a));
		memset(&m, 0, sizeof(m));
		m.sp = a.hi - 1024;
		f1 = m.sp + 64;
		f2 = m.sp + 128;
		wr(f1, f2);
		wr(f2, kind == 0 ? f1 : kind == 1 ? f2 - 200 : a.hi + 4096);
		m.id = a.id;
		m.fp = f1;
		m.flags = ESTACK_MOVE_ADJUST_FP;
		ASSERT_EQ(0, es_move(self->fd, ESTACK_IOC_GROW, &m));
		d = m.delta;
		EXPECT_EQ(1, m.adjusted) TH_LOG("kind %d", kind);
		EXPECT_EQ(f2 + d, rd(f1 + d));
		EXPECT_EQ(0, es_free(self->fd, a.id));
	}
	/* fp outside the stack: nothing walked, fp as given. */
	ASSERT_EQ(0, es_alloc(self->fd, 8192, &a));
	memset(&m, 0, sizeof(m));
	m.id = a.id;
	m.sp = a.hi;
	m.fp = 0x1234;
	m.flags = ESTACK_MOVE_ADJUST_FP;
	ASSERT_EQ(0, es_move(self->fd, ESTACK_IOC_GROW, &m));
	EXPECT_EQ(0x1234, m.fp);
	EXPECT_EQ(0, m.adjusted);
	EXPECT_EQ(0, es_free(self->fd, a.id));
}

TEST_F(mv, errors)
{
	struct estack_alloc a;
	struct estack_move m = {};
	__u64 slots[2];

	ASSERT_EQ(0, es_alloc(self->fd, 8192, &a));
	es_fill(a.lo, a.hi);
	m.id = a.id + 1000;
	m.sp = a.hi;
	EXPECT_EQ(ENOENT, es_move(self->fd, ESTACK_IOC_GROW, &m));
	EXPECT_EQ(ENOENT, es_move(self->fd, ESTACK_IOC_SHRINK, &m));
	m.id = a.id;
	m.sp = a.lo - 1;
	EXPECT_EQ(EINVAL, es_move(self->fd, ESTACK_IOC_GROW, &m));
	m.sp = a.hi + 1;
	EXPECT_EQ(EINVAL, es_move(self->fd, ESTACK_IOC_SHRINK, &m));
	m.sp = a.hi;
	m.bytes = 1 << 20;
	EXPECT_EQ(EINVAL, es_move(self->fd, ESTACK_IOC_SHRINK, &m));
	m.bytes = 0;
	m.flags = 4;
	EXPECT_EQ(EINVAL, es_move(self->fd, ESTACK_IOC_GROW, &m));
	m.flags = 0;
	m.nr_slots = ESTACK_MAX_SLOTS + 1;
	EXPECT_EQ(EINVAL, es_move(self->fd, ESTACK_IOC_GROW, &m));
	if (IS64) {
		/* A slots array that cannot be read. */
		m.nr_slots = 2;
		m.slots = 16;
		EXPECT_EQ(EFAULT, es_move(self->fd, ESTACK_IOC_GROW, &m));
		/* A slot that cannot be written: nothing changes. */
		slots[0] = a.hi - 8;
		slots[1] = 4096;
		m.slots = (unsigned long)slots;
		EXPECT_EQ(EFAULT, es_move(self->fd, ESTACK_IOC_GROW, &m));
	} else {
		m.nr_slots = 1;
		m.slots = (unsigned long)slots;
		EXPECT_EQ(EOPNOTSUPP, es_move(self->fd, ESTACK_IOC_GROW, &m));
		m.nr_slots = 0;
		m.flags = ESTACK_MOVE_ADJUST_FP;
		EXPECT_EQ(EOPNOTSUPP, es_move(self->fd, ESTACK_IOC_GROW, &m));
		m.flags = ESTACK_MOVE_ADJUST_CONSERVATIVE;
		EXPECT_EQ(EOPNOTSUPP, es_move(self->fd, ESTACK_IOC_GROW, &m));
	}
	/* Everything as before. */
	EXPECT_EQ(0, es_check_pat(a.lo, a.hi, 0));
	EXPECT_EQ(0, es_free(self->fd, a.id));
}

/*
 * A struct whose tail lies in a read-only page can be read but not
 * written: GROW refuses it with EFAULT before it moves anything (the
 * struct is faulted in for writing first), and no byte of it changes.
 */
TEST_F(mv, struct_half_read_only_efault_intact)
{
	long page = sysconf(_SC_PAGESIZE);
	struct estack_move want = {}, *m;
	struct estack_alloc a;
	char *buf;
	int kmsg;

	ASSERT_EQ(0, es_alloc(self->fd, 8192, &a));
	es_fill(a.lo, a.hi);
	buf = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(buf != MAP_FAILED);
	m = (struct estack_move *)(buf + page - 16);
	want.size = sizeof(want);
	want.id = a.id;
	want.sp = a.hi - 64;
	memcpy(m, &want, sizeof(want));
	ASSERT_EQ(0, mprotect(buf + page, page, PROT_READ));
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg >= 0)
		lseek(kmsg, 0, SEEK_END);
	else
		TH_LOG("/dev/kmsg: %s; the log is not checked", strerror(errno));
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, ESTACK_IOC_GROW, m));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(0, memcmp(m, &want, sizeof(want)));
	if (kmsg >= 0)
		EXPECT_EQ(0, kmsg_count(kmsg, "could not restore"));
	/* Nothing moved: the same stack, its bytes as they were. */
	EXPECT_EQ(0, es_check_pat(a.lo, a.hi, 0));
	EXPECT_EQ(0, es_free(self->fd, a.id));
	if (kmsg >= 0)
		close(kmsg);
	munmap(buf, 2 * page);
}

/*
 * A slot that runs from a writable page into a read-only one, pointing
 * into the stack: GROW cannot write it, fails with EFAULT, and leaves
 * every byte of it as it was, those in the writable page too (the write
 * that faulted part-way had changed them, and they stayed so).
 */
TEST_F(mv, slot_into_read_only_page_untouched)
{
	long page = sysconf(_SC_PAGESIZE);
	struct estack_move m = {};
	struct estack_alloc a;
	__u64 addr, val, got;
	char *buf;

	if (!IS64) {
		compat_relocation_refused(_metadata, self->fd, 0, 1);
		return;
	}
	ASSERT_EQ(0, es_alloc(self->fd, 8192, &a));
	es_fill(a.lo, a.hi);
	buf = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(buf != MAP_FAILED);
	/* Half in each page, pointing into the live part of the stack. */
	addr = (unsigned long)(buf + page - 4);
	val = a.hi - 16;
	memcpy(buf + page - 4, &val, sizeof(val));
	ASSERT_EQ(0, mprotect(buf + page, page, PROT_READ));
	m.id = a.id;
	m.sp = a.hi - 64;
	m.slots = (unsigned long)&addr;
	m.nr_slots = 1;
	EXPECT_EQ(EFAULT, es_move(self->fd, ESTACK_IOC_GROW, &m));
	memcpy(&got, buf + page - 4, sizeof(got));
	EXPECT_EQ(val, got);
	EXPECT_EQ(0, es_check_pat(a.lo, a.hi, 0));
	EXPECT_EQ(0, es_free(self->fd, a.id));
	munmap(buf, 2 * page);
}

TEST_F(mv, efbig_at_max_stack_intact)
{
	long long old = es_param("max_stack");
	struct estack_alloc a;
	struct estack_move m = {};

	if (geteuid())
		ES_SKIP("needs root to lower max_stack");
	ASSERT_EQ(0, es_alloc(self->fd, 8192, &a));
	es_fill(a.lo, a.hi);
	ASSERT_EQ(0, es_set_param("max_stack", 16384));
	m.id = a.id;
	m.sp = a.lo;
	ASSERT_EQ(0, es_move(self->fd, ESTACK_IOC_GROW, &m));
	EXPECT_EQ(16384, m.hi - m.lo);
	m.sp = m.lo;
	EXPECT_EQ(EFBIG, es_move(self->fd, ESTACK_IOC_GROW, &m));
	m.bytes = 16385;
	EXPECT_EQ(EFBIG, es_move(self->fd, ESTACK_IOC_GROW, &m));
	ASSERT_EQ(0, es_set_param("max_stack", old));
	EXPECT_EQ(0, es_check_pat(m.hi - 8192, m.hi, m.hi - a.hi));
	EXPECT_EQ(0, es_free(self->fd, a.id));
}

TEST_F(mv, enospc_intact)
{
	long long old = es_param("max_bytes_per_fd");
	struct estack_alloc a;
	struct estack_move m = {};

	if (geteuid())
		ES_SKIP("needs root to lower the limits");
	ASSERT_EQ(0, es_alloc(self->fd, 8192, &a));
	es_fill(a.lo, a.hi);
	ASSERT_EQ(0, es_set_param("max_bytes_per_fd", 12288));
	m.id = a.id;
	m.sp = a.lo;
	EXPECT_EQ(ENOSPC, es_move(self->fd, ESTACK_IOC_GROW, &m));
	ASSERT_EQ(0, es_set_param("max_bytes_per_fd", old));
	EXPECT_EQ(0, es_check_pat(a.lo, a.hi, 0));
	EXPECT_EQ(0, es_free(self->fd, a.id));
}

/*
 * A move holds both stacks from the step that allocates the new one to its
 * commit, so the limits count both: a GROW needs room for the whole new
 * stack next to the old one, and so does a SHRINK. Each refused move
 * leaves the stack as it was; each move that commits leaves the file
 * charged with the new stack only.
 */
TEST_F(mv, moves_count_both_stacks)
{
	struct estack_alloc a, b, c;
	struct estack_move m = {};
	struct estack_info i;

	if (geteuid())
		ES_SKIP("needs root to lower the limits");
	ASSERT_EQ(0, es_alloc(self->fd, 16384, &a));
	es_fill(a.lo, a.hi);

	/* 16 KiB held: growing to 32 KiB holds 48 KiB until the commit. */
	ASSERT_EQ(0, es_set_param("max_bytes_per_fd", 32768));
	m.id = a.id;
	m.sp = a.lo;
	ASSERT_EQ(ENOSPC, es_move(self->fd, ESTACK_IOC_GROW, &m));
	ASSERT_EQ(0, es_info(self->fd, a.id, &i));
	ASSERT_EQ(a.lo, i.lo);
	ASSERT_EQ(a.hi, i.hi);
	EXPECT_EQ(0, es_check_pat(a.lo, a.hi, 0));
	ASSERT_EQ(0, es_set_param("max_bytes_per_fd", 49152));
	m = (struct estack_move){ .id = a.id, .sp = a.lo };
	ASSERT_EQ(0, es_move(self->fd, ESTACK_IOC_GROW, &m));
	ASSERT_EQ(32768, m.hi - m.lo);
	EXPECT_EQ(0, es_check_pat(m.hi - 16384, m.hi, m.hi - a.hi));

	/* 32 KiB held: shrinking to 16 KiB holds 48 KiB until the commit. */
	ASSERT_EQ(0, es_set_param("max_bytes_per_fd", 32768));
	m = (struct estack_move){ .id = a.id, .sp = m.hi };
	ASSERT_EQ(ENOSPC, es_move(self->fd, ESTACK_IOC_SHRINK, &m));
	ASSERT_EQ(0, es_info(self->fd, a.id, &i));
	ASSERT_EQ(32768, i.hi - i.lo);
	ASSERT_EQ(0, es_set_param("max_bytes_per_fd", 49152));
	m = (struct estack_move){ .id = a.id, .sp = i.hi };
	ASSERT_EQ(0, es_move(self->fd, ESTACK_IOC_SHRINK, &m));
	ASSERT_EQ(16384, m.hi - m.lo);

	/* The file is charged with the 16 KiB stack alone: 32 KiB more fit. */
	ASSERT_EQ(0, es_alloc(self->fd, 32768, &b));
	EXPECT_EQ(ENOSPC, es_alloc(self->fd, 4096, &c));
	ASSERT_EQ(0, es_set_param("max_bytes_per_fd", self->fd_bytes));
	EXPECT_EQ(0, es_free(self->fd, b.id));
	EXPECT_EQ(0, es_free(self->fd, a.id));
}

static struct {
	int fd;
	__u32 id;
	int err;
	ucontext_t main, fiber;
} run;

static void grow_own_stack(void)
{
	struct estack_move m = {};
	char here;

	m.id = run.id;
	m.sp = (unsigned long)&here & ~15UL;
	run.err = es_move(run.fd, ESTACK_IOC_GROW, &m);
}

TEST_F(mv, grow_running_stack_ebusy)
{
	struct estack_alloc a;

	ASSERT_EQ(0, es_alloc(self->fd, 65536, &a));
	run.fd = self->fd;
	run.id = a.id;
	ASSERT_EQ(0, es_run_on(&run.main, &run.fiber, a.lo, a.hi,
			       grow_own_stack));
	EXPECT_EQ(EBUSY, run.err);
	EXPECT_EQ(0, es_free(self->fd, a.id));
}

struct racer {
	int fd;
	__u32 id;
	int bad;
	int stop;
};

static void *info_free_fn(void *p)
{
	struct racer *r = p;
	struct estack_info info;
	int err;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		__u32 id = __atomic_load_n(&r->id, __ATOMIC_RELAXED);

		err = es_info(r->fd, id, &info);
		if (err && err != ENOENT)
			r->bad++;
		if (!err && (info.hi - info.lo) & (info.hi - info.lo - 1))
			r->bad++;
		if (rand() % 8 == 0) {
			err = es_free(r->fd, id);
			if (err && err != ENOENT)
				r->bad++;
		}
	}
	return NULL;
}

/* GROW racing FREE and INFO on the same id, from two threads. */
TEST_F(mv, grow_races_free_and_info)
{
	struct racer r = { .fd = self->fd };
	struct estack_info info;
	struct estack_alloc a;
	struct estack_move m;
	pthread_t t;
	int i, err;

	ASSERT_EQ(0, pthread_create(&t, NULL, info_free_fn, &r));
	for (i = 0; i < 3000; i++) {
		if (!(i % 4)) {
			ASSERT_EQ(0, es_alloc(self->fd, 4096, &a));
			__atomic_store_n(&r.id, a.id, __ATOMIC_RELAXED);
		}
		err = es_info(self->fd, a.id, &info);
		if (err)
			continue;
		memset(&m, 0, sizeof(m));
		m.id = a.id;
		m.sp = info.hi;
		err = es_move(self->fd, i % 2 ? ESTACK_IOC_GROW :
			      ESTACK_IOC_SHRINK, &m);
		EXPECT_TRUE(!err || err == ENOENT || err == EFBIG)
			TH_LOG("%s", strerror(err));
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELAXED);
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, r.bad);
}

TEST_HARNESS_MAIN
