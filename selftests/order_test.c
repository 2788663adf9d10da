// SPDX-License-Identifier: GPL-2.0
/*
 * estack selftests: the order of the errors. Every case passes two defects
 * in an otherwise valid call and expects the errno the pinned order names
 * first (ENOTTY, EPERM, EFAULT, EINVAL/E2BIG, ENOENT, EINVAL for sp or
 * bytes, EBUSY, EINVAL for a struct inside the stack, EFBIG, ENOSPC), and
 * that nothing changed: the caller's struct, the stacks (range and bytes)
 * and the number of stacks in use. A control next to each case shows that
 * the second defect alone gives its own, later errno.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "estack_harness.h"

#define IS64		(sizeof(long) == 8)
#define MOVE_FLAGS	(ESTACK_MOVE_ADJUST_FP | ESTACK_MOVE_ADJUST_CONSERVATIVE)
/* The buffer the generic cases build their structs in. */
#define BUF_PAGES	3
#define VICTIM_BYTES	8192

/* One command, as the generic cases see it. */
struct cmd_desc {
	const char *name;
	unsigned long cmd;
	__u32 ksize;		/* sizeof the struct this header knows */
	__u32 ver0;		/* the first published size */
	__u32 flags_ok;		/* flag bits the command takes */
	int id_off;		/* offset of the id, or -1 */
	int pad_off;		/* offset of pad, or -1 */
	int later;		/* errno of the later defect alone (0: none) */
};

static const struct cmd_desc cmd_api = {
	"API", ESTACK_IOC_API, sizeof(struct estack_api),
	ESTACK_API_SIZE_VER0, 0, -1, -1, 0,
};

static const struct cmd_desc cmd_alloc = {
	"ALLOC", ESTACK_IOC_ALLOC, sizeof(struct estack_alloc),
	ESTACK_ALLOC_SIZE_VER0, 0, -1, offsetof(struct estack_alloc, pad),
	EFBIG,
};

static const struct cmd_desc cmd_free = {
	"FREE", ESTACK_IOC_FREE, sizeof(struct estack_free),
	ESTACK_FREE_SIZE_VER0, 0, offsetof(struct estack_free, id),
	offsetof(struct estack_free, pad), ENOENT,
};

static const struct cmd_desc cmd_grow = {
	"GROW", ESTACK_IOC_GROW, sizeof(struct estack_move),
	ESTACK_MOVE_SIZE_VER0, MOVE_FLAGS, offsetof(struct estack_move, id),
	-1, ENOENT,
};

static const struct cmd_desc cmd_shrink = {
	"SHRINK", ESTACK_IOC_SHRINK, sizeof(struct estack_move),
	ESTACK_MOVE_SIZE_VER0, MOVE_FLAGS, offsetof(struct estack_move, id),
	-1, ENOENT,
};

static const struct cmd_desc cmd_info = {
	"INFO", ESTACK_IOC_INFO, sizeof(struct estack_info),
	ESTACK_INFO_SIZE_VER0, 0, offsetof(struct estack_info, id),
	offsetof(struct estack_info, pad), ENOENT,
};

static void put32(void *buf, int off, __u32 v)
{
	memcpy((char *)buf + off, &v, sizeof(v));
}

/*
 * The fixture: a victim stack full of a pattern that no case may touch,
 * the id of a freed stack (unknown from then on), max_stack, and a buffer
 * whose last page is PROT_NONE.
 */
struct ord_ctx {
	int fd;
	long page;
	__u64 max;
	__u32 dead;
	struct estack_alloc victim;
	char *area;		/* BUF_PAGES read-write pages, then a hole */
	char *saved;		/* a copy of a struct before the call */
};

static void ctx_setup(struct __test_metadata *_metadata, struct ord_ctx *c)
{
	struct estack_api api;
	struct estack_alloc a;

	c->page = sysconf(_SC_PAGESIZE);
	es_test_open_with(_metadata, &c->fd, &api,
			  ESTACK_FEATURE_MOVE, "GROW/SHRINK");
	c->max = api.max_stack;
	ASSERT_EQ(0, es_alloc(c->fd, 4096, &a));
	ASSERT_EQ(0, es_free(c->fd, a.id));
	c->dead = a.id;
	ASSERT_EQ(0, es_alloc(c->fd, VICTIM_BYTES, &c->victim));
	ASSERT_NE(c->dead, c->victim.id);
	es_fill(c->victim.lo, c->victim.hi);
	c->area = mmap(NULL, (BUF_PAGES + 1) * c->page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(c->area != MAP_FAILED);
	ASSERT_EQ(0, mprotect(c->area + BUF_PAGES * c->page, c->page,
			      PROT_NONE));
	c->saved = malloc(2 * c->page);
	ASSERT_FALSE(!c->saved);
}

/* The victim as it was: same range, same bytes. */
static void victim_intact(struct __test_metadata *_metadata,
			  struct ord_ctx *c, const char *what)
{
	struct estack_info info;

	ASSERT_EQ(0, es_info(c->fd, c->victim.id, &info)) TH_LOG("%s", what);
	EXPECT_EQ(c->victim.lo, info.lo) TH_LOG("%s", what);
	EXPECT_EQ(c->victim.hi, info.hi) TH_LOG("%s", what);
	EXPECT_EQ(0, es_check_pat(c->victim.lo, c->victim.hi, 0))
		TH_LOG("%s", what);
}

/*
 * One call that must fail with @want and change nothing. @arg is the
 * caller's struct; @len bytes of it are compared before and after (0 when
 * they cannot be read).
 */
static void expect_err(struct __test_metadata *_metadata, struct ord_ctx *c,
		       unsigned long cmd, void *arg, size_t len, int want,
		       const char *what)
{
	long long in_use = es_stat("stacks_in_use");
	int err;

	if (len)
		memcpy(c->saved, arg, len);
	err = es_ioctl(c->fd, cmd, arg);
	EXPECT_EQ(want, err) TH_LOG("%s: %s, not %s", what, strerror(err),
				    strerror(want));
	if (len)
		EXPECT_EQ(0, memcmp(c->saved, arg, len))
			TH_LOG("%s: struct written", what);
	EXPECT_EQ(in_use, es_stat("stacks_in_use")) TH_LOG("%s", what);
	victim_intact(_metadata, c, what);
}

/* The variant's struct, valid but for the later defect (unless @later is 0). */
static void *base(struct ord_ctx *c, const struct cmd_desc *d, char *buf,
		  int later)
{
	memset(buf, 0, 2 * c->page);
	put32(buf, 0, d->ksize);
	if (d->id_off >= 0)
		put32(buf, d->id_off, later ? c->dead : c->victim.id);
	if (d->cmd == ESTACK_IOC_ALLOC)
		((struct estack_alloc *)buf)->bytes = later ? c->max + 1 : 4096;
	if (d->cmd == ESTACK_IOC_GROW || d->cmd == ESTACK_IOC_SHRINK)
		((struct estack_move *)buf)->sp = c->victim.hi;
	return buf;
}

/* An invalid flag bit of the command, for a second defect. */
static __u32 bad_flag(const struct cmd_desc *d)
{
	return 0x80000000u & ~d->flags_ok;
}

FIXTURE(order) {
	struct ord_ctx c;
};

FIXTURE_VARIANT(order) {
	const struct cmd_desc *d;
};

FIXTURE_VARIANT_ADD(order, api) { .d = &cmd_api };
FIXTURE_VARIANT_ADD(order, alloc) { .d = &cmd_alloc };
FIXTURE_VARIANT_ADD(order, free) { .d = &cmd_free };
FIXTURE_VARIANT_ADD(order, grow) { .d = &cmd_grow };
FIXTURE_VARIANT_ADD(order, shrink) { .d = &cmd_shrink };
FIXTURE_VARIANT_ADD(order, info) { .d = &cmd_info };

FIXTURE_SETUP(order)
{
	self->c.fd = -1;
	ctx_setup(_metadata, &self->c);
}

FIXTURE_TEARDOWN(order)
{
	if (self->c.fd < 0)
		return;
	close(self->c.fd);
	es_unmap_arenas();
}

/* The later defect alone gives its own errno (API has none: it succeeds). */
TEST_F(order, control_later_defect_alone)
{
	const struct cmd_desc *d = variant->d;
	struct ord_ctx *c = &self->c;
	void *arg = base(c, d, c->area, 1);

	if (d->later) {
		expect_err(_metadata, c, d->cmd, arg, d->ksize, d->later,
			   "later defect alone");
	} else {
		EXPECT_EQ(0, es_ioctl(c->fd, d->cmd, arg));
	}
}

/* EFAULT: nothing of the struct can be read, or not all of it. */
TEST_F(order, bad_pointer_efault_first)
{
	const struct cmd_desc *d = variant->d;
	struct ord_ctx *c = &self->c;
	char *hole = c->area + BUF_PAGES * c->page;
	char *p;

	expect_err(_metadata, c, d->cmd, NULL, 0, EFAULT, "NULL");
	expect_err(_metadata, c, d->cmd, hole, 0, EFAULT, "PROT_NONE");
	/* size and flags (bad) readable, the last 8 bytes not. */
	p = hole - d->ksize + 8;
	base(c, d, c->area, 1);
	memcpy(p, c->area, d->ksize - 8);
	put32(p, 4, bad_flag(d));
	expect_err(_metadata, c, d->cmd, p, 0, EFAULT,
		   "struct straddles a hole + bad flags");
	/* A longer struct whose tail cannot be read, with bad flags. */
	p = hole - d->ksize;
	base(c, d, c->area, 1);
	memcpy(p, c->area, d->ksize);
	put32(p, 0, d->ksize + 8);
	put32(p, 4, bad_flag(d));
	expect_err(_metadata, c, d->cmd, p, 0, EFAULT,
		   "unreadable tail + bad flags");
}

/* A size below the first published struct: EINVAL, before the id. */
TEST_F(order, short_size_einval)
{
	const struct cmd_desc *d = variant->d;
	struct ord_ctx *c = &self->c;
	const __u32 sizes[] = { 0, 4, 8, d->ver0 - 8, d->ver0 - 1 };
	char what[64];
	unsigned int i;
	void *arg;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		arg = base(c, d, c->area, 1);
		put32(arg, 0, sizes[i]);
		put32(arg, 4, bad_flag(d));
		snprintf(what, sizeof(what), "size %u + bad flags", sizes[i]);
		expect_err(_metadata, c, d->cmd, arg, d->ksize, EINVAL, what);
		arg = base(c, d, c->area, 1);
		put32(arg, 0, sizes[i]);
		snprintf(what, sizeof(what), "size %u + later defect",
			 sizes[i]);
		expect_err(_metadata, c, d->cmd, arg, d->ksize, EINVAL, what);
	}
}

/* A size above a page: E2BIG, whatever the tail, before the flags. */
TEST_F(order, size_over_page_e2big)
{
	static const __u32 sizes[] = { 4097, 8192, 0x80000000u, 0xffffffffu };
	const struct cmd_desc *d = variant->d;
	struct ord_ctx *c = &self->c;
	char what[64];
	unsigned int i;
	void *arg;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		arg = base(c, d, c->area, 1);
		put32(arg, 0, sizes[i]);
		put32(arg, 4, bad_flag(d));
		snprintf(what, sizeof(what), "size %#x + bad flags", sizes[i]);
		expect_err(_metadata, c, d->cmd, arg, d->ksize, E2BIG, what);
		/* A non-zero tail too. */
		arg = base(c, d, c->area, 1);
		put32(arg, 0, sizes[i]);
		c->area[d->ksize] = 1;
		snprintf(what, sizeof(what), "size %#x + tail + later",
			 sizes[i]);
		expect_err(_metadata, c, d->cmd, arg, d->ksize + 1, E2BIG,
			   what);
	}
}

/* A longer struct with a non-zero tail: E2BIG, before the id. */
TEST_F(order, nonzero_tail_e2big)
{
	const struct cmd_desc *d = variant->d;
	struct ord_ctx *c = &self->c;
	const __u32 sizes[] = { d->ksize + 1, d->ksize + 8, 4096 };
	char what[64];
	unsigned int i;
	void *arg;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		/* Control: the same size with a zero tail is accepted. */
		arg = base(c, d, c->area, 1);
		put32(arg, 0, sizes[i]);
		snprintf(what, sizeof(what), "size %u, zero tail + later",
			 sizes[i]);
		if (d->later)
			expect_err(_metadata, c, d->cmd, arg, sizes[i],
				   d->later, what);
		else
			EXPECT_EQ(0, es_ioctl(c->fd, d->cmd, arg))
				TH_LOG("%s", what);

		arg = base(c, d, c->area, 1);
		put32(arg, 0, sizes[i]);
		c->area[sizes[i] - 1] = 0x80;
		snprintf(what, sizeof(what), "size %u, tail + later",
			 sizes[i]);
		expect_err(_metadata, c, d->cmd, arg, sizes[i], E2BIG, what);
	}
}

/*
 * Every flag bit the command does not take: EINVAL, before the later
 * defect. The bits it takes (the relocation flags of GROW and SHRINK) leave
 * the later defect to speak, except for a 32-bit caller: EOPNOTSUPP.
 */
TEST_F(order, every_bad_flag_bit_einval)
{
	const struct cmd_desc *d = variant->d;
	struct ord_ctx *c = &self->c;
	unsigned int bit;
	char what[64];
	void *arg;
	int want;

	for (bit = 0; bit < 32; bit++) {
		arg = base(c, d, c->area, 1);
		put32(arg, 4, 1u << bit);
		if (!(d->flags_ok & (1u << bit)))
			want = EINVAL;
		else
			want = IS64 ? d->later : EOPNOTSUPP;
		snprintf(what, sizeof(what), "flag bit %u + later defect", bit);
		expect_err(_metadata, c, d->cmd, arg, d->ksize, want, what);
	}
	arg = base(c, d, c->area, 1);
	put32(arg, 4, ~0u);
	expect_err(_metadata, c, d->cmd, arg, d->ksize, EINVAL,
		   "all flags + later defect");
}

/* The command-specific cases. */
FIXTURE(ord) {
	struct ord_ctx c;
};

FIXTURE_SETUP(ord)
{
	self->c.fd = -1;
	ctx_setup(_metadata, &self->c);
}

FIXTURE_TEARDOWN(ord)
{
	if (self->c.fd < 0)
		return;
	close(self->c.fd);
	es_unmap_arenas();
}

static void move_base(struct ord_ctx *c, struct estack_move *m, __u32 id)
{
	memset(m, 0, sizeof(*m));
	m->size = sizeof(*m);
	m->id = id;
	m->sp = id == c->victim.id ? c->victim.lo : 0;
}

static const unsigned long move_cmds[] = { ESTACK_IOC_GROW, ESTACK_IOC_SHRINK };

static const char *move_name(unsigned long cmd)
{
	return cmd == ESTACK_IOC_GROW ? "GROW" : "SHRINK";
}

/* Non-zero pad: EINVAL, before the id (or bytes past max_stack for ALLOC). */
TEST_F(ord, bad_pad_einval)
{
	static const struct cmd_desc *const padded[] = {
		&cmd_alloc, &cmd_free, &cmd_info,
	};
	static const __u32 pads[] = { 1, 0x80000000u, 0xffffffffu };
	struct ord_ctx *c = &self->c;
	unsigned int i, j;
	char what[64];
	void *arg;

	for (j = 0; j < ARRAY_SIZE(padded); j++) {
		for (i = 0; i < ARRAY_SIZE(pads); i++) {
			arg = base(c, padded[j], c->area, 1);
			put32(arg, padded[j]->pad_off, pads[i]);
			snprintf(what, sizeof(what), "%s: pad %#x + later defect",
				 padded[j]->name, pads[i]);
			expect_err(_metadata, c, padded[j]->cmd, arg,
				   padded[j]->ksize, EINVAL, what);
		}
	}
}

/* Too many slots: EINVAL, before EOPNOTSUPP and the id. */
TEST_F(ord, move_too_many_slots_einval)
{
	static const __u32 nrs[] = { ESTACK_MAX_SLOTS + 1, 0x10000000u,
				     0xffffffffu };
	struct ord_ctx *c = &self->c;
	struct estack_move m;
	unsigned int i, j;
	char what[64];
	__u64 *slots;

	slots = calloc(ESTACK_MAX_SLOTS, sizeof(*slots));
	ASSERT_FALSE(!slots);
	for (i = 0; i < ESTACK_MAX_SLOTS; i++)
		slots[i] = (unsigned long)&slots[i];
	for (j = 0; j < ARRAY_SIZE(move_cmds); j++) {
		/* Control: the most slots there may be, unknown id. */
		move_base(c, &m, c->dead);
		m.nr_slots = ESTACK_MAX_SLOTS;
		m.slots = (unsigned long)slots;
		snprintf(what, sizeof(what), "%s: %u slots + unknown id",
			 move_name(move_cmds[j]), m.nr_slots);
		expect_err(_metadata, c, move_cmds[j], &m, sizeof(m),
			   IS64 ? ENOENT : EOPNOTSUPP, what);
		for (i = 0; i < ARRAY_SIZE(nrs); i++) {
			move_base(c, &m, c->dead);
			m.nr_slots = nrs[i];
			m.slots = (unsigned long)slots;
			snprintf(what, sizeof(what), "%s: %u slots + unknown id",
				 move_name(move_cmds[j]), nrs[i]);
			expect_err(_metadata, c, move_cmds[j], &m, sizeof(m),
				   EINVAL, what);
			/* With an unreadable array and a relocation flag. */
			m.slots = 0;
			m.flags = ESTACK_MOVE_ADJUST_FP;
			expect_err(_metadata, c, move_cmds[j], &m, sizeof(m),
				   EINVAL, what);
		}
	}
	free(slots);
}

/* SHRINK takes no bytes: EINVAL, before the id. */
TEST_F(ord, shrink_bytes_einval)
{
	static const __u64 bytes[] = { 1, 4096, 1ULL << 40, ~0ULL };
	struct ord_ctx *c = &self->c;
	struct estack_move m;
	char what[64];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bytes); i++) {
		move_base(c, &m, c->dead);
		m.bytes = bytes[i];
		snprintf(what, sizeof(what), "SHRINK bytes %#llx + unknown id",
			 (unsigned long long)bytes[i]);
		expect_err(_metadata, c, ESTACK_IOC_SHRINK, &m, sizeof(m),
			   EINVAL, what);
		/* Control: GROW takes them; the id speaks. */
		expect_err(_metadata, c, ESTACK_IOC_GROW, &m, sizeof(m),
			   ENOENT, what);
	}
}

/* Unknown id before an sp or bytes that does not fit. */
TEST_F(ord, move_unknown_id_before_sp_enoent)
{
	struct ord_ctx *c = &self->c;
	struct estack_move m;
	unsigned int j;

	for (j = 0; j < ARRAY_SIZE(move_cmds); j++) {
		move_base(c, &m, c->dead);
		m.sp = 1;
		expect_err(_metadata, c, move_cmds[j], &m, sizeof(m), ENOENT,
			   "unknown id + sp 1");
		m.sp = ~0ULL;
		expect_err(_metadata, c, move_cmds[j], &m, sizeof(m), ENOENT,
			   "unknown id + sp ~0");
		/* Control: the same sp on a live stack. */
		m.id = c->victim.id;
		expect_err(_metadata, c, move_cmds[j], &m, sizeof(m), EINVAL,
			   "live id + sp ~0");
		m.sp = c->victim.lo - 1;
		expect_err(_metadata, c, move_cmds[j], &m, sizeof(m), EINVAL,
			   "live id + sp lo - 1");
		m.sp = c->victim.hi + 1;
		expect_err(_metadata, c, move_cmds[j], &m, sizeof(m), EINVAL,
			   "live id + sp hi + 1");
	}
	/* A GROW to bytes not above the current size. */
	move_base(c, &m, c->dead);
	m.bytes = VICTIM_BYTES;
	m.sp = 1;
	expect_err(_metadata, c, ESTACK_IOC_GROW, &m, sizeof(m), ENOENT,
		   "unknown id + bytes = size + bad sp");
	m.id = c->victim.id;
	m.sp = c->victim.lo;
	expect_err(_metadata, c, ESTACK_IOC_GROW, &m, sizeof(m), EINVAL,
		   "live id + bytes = size");
	/* sp and bytes do not fit, and bytes is past max_stack. */
	m.bytes = c->max + 1;
	m.sp = c->victim.hi + 16;
	expect_err(_metadata, c, ESTACK_IOC_GROW, &m, sizeof(m), EINVAL,
		   "live id + bad sp + past max");
	m.sp = c->victim.lo;
	expect_err(_metadata, c, ESTACK_IOC_GROW, &m, sizeof(m), EFBIG,
		   "live id + past max");
}

/*
 * Relocation is for 64-bit callers: a 32-bit caller's flags or slots get
 * EOPNOTSUPP, after the struct checks and before the id. A 64-bit caller
 * gets ENOENT for the same calls.
 */
TEST_F(ord, move_compat_relocation_eopnotsupp)
{
	static const __u32 flags[] = { ESTACK_MOVE_ADJUST_FP,
				       ESTACK_MOVE_ADJUST_CONSERVATIVE,
				       MOVE_FLAGS };
	struct ord_ctx *c = &self->c;
	int want = IS64 ? ENOENT : EOPNOTSUPP;
	__u64 slot = (unsigned long)&slot;
	struct estack_move m;
	unsigned int i, j;
	char what[64];

	for (j = 0; j < ARRAY_SIZE(move_cmds); j++) {
		for (i = 0; i < ARRAY_SIZE(flags); i++) {
			move_base(c, &m, c->dead);
			m.flags = flags[i];
			snprintf(what, sizeof(what), "%s: flags %#x + unknown id",
				 move_name(move_cmds[j]), flags[i]);
			expect_err(_metadata, c, move_cmds[j], &m, sizeof(m),
				   want, what);
			/* A bad flag bit as well: the struct check first. */
			m.flags |= 0x100;
			expect_err(_metadata, c, move_cmds[j], &m, sizeof(m),
				   EINVAL, what);
		}
		move_base(c, &m, c->dead);
		m.nr_slots = 1;
		m.slots = (unsigned long)&slot;
		expect_err(_metadata, c, move_cmds[j], &m, sizeof(m), want,
			   "one slot + unknown id");
		/* An unreadable slot array: EOPNOTSUPP first for 32 bits. */
		m.slots = (unsigned long)(c->area + BUF_PAGES * c->page);
		expect_err(_metadata, c, move_cmds[j], &m, sizeof(m),
			   IS64 ? EFAULT : EOPNOTSUPP,
			   "unreadable slot array + unknown id");
		if (move_cmds[j] == ESTACK_IOC_SHRINK) {
			m.bytes = 1;
			expect_err(_metadata, c, move_cmds[j], &m, sizeof(m),
				   EINVAL, "slots + bytes");
		}
	}
}

/* An unreadable slot array is a bad pointer too: EFAULT, before the id. */
#define SLOT_EFAULT	(IS64 ? EFAULT : EOPNOTSUPP)

TEST_F(ord, move_unreadable_slots_efault)
{
	struct ord_ctx *c = &self->c;
	char *hole = c->area + BUF_PAGES * c->page;
	struct estack_move m;
	__u64 *slots;
	unsigned int j;

	/* The first entry readable, the second in the hole. */
	slots = (__u64 *)(hole - sizeof(*slots));
	*slots = (unsigned long)slots;
	for (j = 0; j < ARRAY_SIZE(move_cmds); j++) {
		move_base(c, &m, c->dead);
		m.nr_slots = 1;
		m.slots = 0;
		/* A 32-bit caller's slots are refused before they are read. */
		expect_err(_metadata, c, move_cmds[j], &m, sizeof(m),
			   SLOT_EFAULT, "NULL slots + unknown id");
		m.slots = (unsigned long)hole;
		expect_err(_metadata, c, move_cmds[j], &m, sizeof(m),
			   SLOT_EFAULT, "PROT_NONE slots + unknown id");
		m.nr_slots = 2;
		m.slots = (unsigned long)slots;
		expect_err(_metadata, c, move_cmds[j], &m, sizeof(m),
			   SLOT_EFAULT, "half-readable slots + unknown id");
		/* Control: the readable half alone. */
		m.nr_slots = 1;
		expect_err(_metadata, c, move_cmds[j], &m, sizeof(m),
			   IS64 ? ENOENT : EOPNOTSUPP, "readable slot + unknown id");
		/* Live stack, unreadable slots, and past max_stack. */
		move_base(c, &m, c->victim.id);
		m.nr_slots = 2;
		m.slots = (unsigned long)slots;
		m.bytes = move_cmds[j] == ESTACK_IOC_GROW ? c->max + 1 : 0;
		expect_err(_metadata, c, move_cmds[j], &m, sizeof(m),
			   SLOT_EFAULT, "half-readable slots + live id");
	}
}

/*
 * The move writes its results into the struct: a read-only one is a bad
 * struct pointer, EFAULT before the id, after the struct checks.
 */
TEST_F(ord, move_readonly_struct_efault)
{
	struct ord_ctx *c = &self->c;
	struct estack_move *m;
	unsigned int j;
	char *map;

	map = mmap(NULL, 2 * c->page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	for (j = 0; j < ARRAY_SIZE(move_cmds); j++) {
		/* A whole struct in a read-only page. */
		ASSERT_EQ(0, mprotect(map, 2 * c->page, PROT_READ | PROT_WRITE));
		m = (struct estack_move *)map;
		move_base(c, m, c->dead);
		ASSERT_EQ(0, mprotect(map, 2 * c->page, PROT_READ));
		expect_err(_metadata, c, move_cmds[j], m, sizeof(*m), EFAULT,
			   "read-only + unknown id");

		/* Control: the same struct writable. */
		ASSERT_EQ(0, mprotect(map, 2 * c->page, PROT_READ | PROT_WRITE));
		expect_err(_metadata, c, move_cmds[j], m, sizeof(*m), ENOENT,
			   "writable + unknown id");

		/* Read-only and a live stack: nothing moves. */
		move_base(c, m, c->victim.id);
		m->sp = c->victim.hi;	/* SHRINK would halve it */
		ASSERT_EQ(0, mprotect(map, 2 * c->page, PROT_READ));
		expect_err(_metadata, c, move_cmds[j], m, sizeof(*m), EFAULT,
			   "read-only + live id");

		/* The struct checks come first. */
		ASSERT_EQ(0, mprotect(map, 2 * c->page, PROT_READ | PROT_WRITE));
		move_base(c, m, c->dead);
		m->flags = 0x4;
		ASSERT_EQ(0, mprotect(map, 2 * c->page, PROT_READ));
		expect_err(_metadata, c, move_cmds[j], m, sizeof(*m), EINVAL,
			   "read-only + bad flags");
		if (!IS64) {
			ASSERT_EQ(0, mprotect(map, 2 * c->page,
					      PROT_READ | PROT_WRITE));
			m->flags = ESTACK_MOVE_ADJUST_FP;
			ASSERT_EQ(0, mprotect(map, 2 * c->page, PROT_READ));
			expect_err(_metadata, c, move_cmds[j], m, sizeof(*m),
				   EOPNOTSUPP, "read-only + relocation flag");
		}

		/* Writable but for the last byte. */
		ASSERT_EQ(0, mprotect(map, 2 * c->page, PROT_READ | PROT_WRITE));
		m = (struct estack_move *)(map + c->page - sizeof(*m) + 8);
		move_base(c, m, c->dead);
		m->size = sizeof(*m) + 8;
		ASSERT_EQ(0, mprotect(map + c->page, c->page, PROT_READ));
		expect_err(_metadata, c, move_cmds[j], m, sizeof(*m), EFAULT,
			   "read-only last bytes + unknown id");
	}
	munmap(map, 2 * c->page);
}

/*
 * The struct (or the slot array) inside the stack being moved: EINVAL,
 * after the id, sp and bytes checks, before EFBIG.
 */
TEST_F(ord, grow_struct_inside_before_efbig)
{
	struct ord_ctx *c = &self->c;
	struct estack_move *m, outer;
	struct estack_alloc s;
	struct estack_info info;
	__u64 *slots;
	char *copy;

	ASSERT_EQ(0, es_alloc(c->fd, 8192, &s));
	es_fill(s.lo, s.hi);
	m = U2P(s.hi - 256);
	memset(m, 0, sizeof(*m));
	m->size = sizeof(*m);
	m->id = s.id;
	m->sp = s.lo;
	m->bytes = c->max + 1;
	copy = malloc(s.hi - s.lo);
	ASSERT_FALSE(!copy);
	memcpy(copy, U2P(s.lo), s.hi - s.lo);
	expect_err(_metadata, c, ESTACK_IOC_GROW, m, sizeof(*m), EINVAL,
		   "struct inside + past max");
	EXPECT_EQ(0, memcmp(copy, U2P(s.lo), s.hi - s.lo));
	ASSERT_EQ(0, es_info(c->fd, s.id, &info));
	EXPECT_EQ(s.lo, info.lo);
	EXPECT_EQ(s.hi, info.hi);
	/* Control: the same struct outside. */
	outer = *m;
	expect_err(_metadata, c, ESTACK_IOC_GROW, &outer, sizeof(outer), EFBIG,
		   "struct outside + past max");
	/* The id comes first: inside the stack, naming an unknown one. */
	m->id = c->dead;
	memcpy(copy, U2P(s.lo), s.hi - s.lo);
	expect_err(_metadata, c, ESTACK_IOC_GROW, m, sizeof(*m), ENOENT,
		   "struct inside + unknown id");
	EXPECT_EQ(0, memcmp(copy, U2P(s.lo), s.hi - s.lo));
	if (IS64) {
		/* The slot array inside, the struct outside, past max. */
		slots = U2P(s.hi - 512);
		outer.nr_slots = 1;
		outer.slots = (unsigned long)slots;
		expect_err(_metadata, c, ESTACK_IOC_GROW, &outer, sizeof(outer),
			   EINVAL, "slot array inside + past max");
		EXPECT_EQ(0, memcmp(copy, U2P(s.lo), s.hi - s.lo));
	}
	ASSERT_EQ(0, es_info(c->fd, s.id, &info));
	EXPECT_EQ(s.lo, info.lo);
	EXPECT_EQ(s.hi, info.hi);
	free(copy);
	EXPECT_EQ(0, es_free(c->fd, s.id));
}

/*
 * The limits (root): past max_stack comes before a limit of the file or
 * the user. Each limit is lowered so that a valid call gets ENOSPC (the
 * control), then restored.
 */
struct limit {
	const char *name;
	unsigned long long alloc_val;	/* ALLOC of a page is over it */
	unsigned long long grow_val;	/* GROW of the victim is over it */
};

static const struct limit limits[] = {
	{ "max_bytes_per_fd", 4096, VICTIM_BYTES },
	{ "max_bytes_per_user", 4096, VICTIM_BYTES },
	{ "max_stacks_per_fd", 1, 0 },
};

TEST_F(ord, alloc_efbig_before_enospc)
{
	struct ord_ctx *c = &self->c;
	struct estack_alloc a;
	long long old;
	unsigned int i;
	char what[80];

	if (geteuid())
		ES_SKIP("needs root to lower the limits");
	for (i = 0; i < ARRAY_SIZE(limits); i++) {
		old = es_param(limits[i].name);
		ASSERT_EQ(0, es_set_param(limits[i].name, limits[i].alloc_val));
		/* 64 KiB: no stack of that size is cached for reuse. */
		snprintf(what, sizeof(what), "%s: 64 KiB", limits[i].name);
		memset(&a, 0, sizeof(a));
		a.size = sizeof(a);
		a.bytes = 65536;
		expect_err(_metadata, c, ESTACK_IOC_ALLOC, &a, sizeof(a), ENOSPC,
			   what);
		snprintf(what, sizeof(what), "%s + past max", limits[i].name);
		a.bytes = c->max + 1;
		expect_err(_metadata, c, ESTACK_IOC_ALLOC, &a, sizeof(a), EFBIG,
			   what);
		a.bytes = ~0ULL;
		expect_err(_metadata, c, ESTACK_IOC_ALLOC, &a, sizeof(a), EFBIG,
			   what);
		snprintf(what, sizeof(what), "%s + flags", limits[i].name);
		a.bytes = 4096;
		a.flags = 1;
		expect_err(_metadata, c, ESTACK_IOC_ALLOC, &a, sizeof(a), EINVAL,
			   what);
		a.flags = 0;
		a.pad = 1;
		expect_err(_metadata, c, ESTACK_IOC_ALLOC, &a, sizeof(a), EINVAL,
			   what);
		EXPECT_EQ(0, es_set_param(limits[i].name, old));
	}
}

TEST_F(ord, grow_efbig_before_enospc)
{
	struct ord_ctx *c = &self->c;
	struct estack_move m;
	long long old;
	unsigned int i;
	char what[80];

	if (geteuid())
		ES_SKIP("needs root to lower the limits");
	for (i = 0; i < ARRAY_SIZE(limits); i++) {
		if (!limits[i].grow_val)
			continue;
		old = es_param(limits[i].name);
		ASSERT_EQ(0, es_set_param(limits[i].name, limits[i].grow_val));
		snprintf(what, sizeof(what), "%s: double", limits[i].name);
		move_base(c, &m, c->victim.id);
		expect_err(_metadata, c, ESTACK_IOC_GROW, &m, sizeof(m), ENOSPC,
			   what);
		snprintf(what, sizeof(what), "%s + past max", limits[i].name);
		m.bytes = c->max + 1;
		expect_err(_metadata, c, ESTACK_IOC_GROW, &m, sizeof(m), EFBIG,
			   what);
		m.bytes = ~0ULL;
		expect_err(_metadata, c, ESTACK_IOC_GROW, &m, sizeof(m), EFBIG,
			   what);
		snprintf(what, sizeof(what), "%s + bytes = size",
			 limits[i].name);
		m.bytes = VICTIM_BYTES;
		expect_err(_metadata, c, ESTACK_IOC_GROW, &m, sizeof(m), EINVAL,
			   what);
		EXPECT_EQ(0, es_set_param(limits[i].name, old));
	}
}

/*
 * On the running stack, through ucontext: the cases run on the fiber and
 * record their errno; the checks run on the main stack afterwards.
 */
enum { SP_HERE, SP_BELOW, SP_ABOVE };
enum { B_ZERO, B_PAST_MAX, B_SIZE, B_ONE };

struct run_case {
	const char *what;
	unsigned long cmd;
	int local;		/* the struct on the running stack */
	int sp;
	int bytes;
	__u32 flags;
	__u32 nr_slots;
	__u32 pad;
	int want;
};

static const struct run_case run_cases[] = {
	{ "GROW bad sp below", ESTACK_IOC_GROW, 0, SP_BELOW, B_ZERO, 0, 0, 0,
	  EINVAL },
	{ "GROW bad sp above", ESTACK_IOC_GROW, 0, SP_ABOVE, B_ZERO, 0, 0, 0,
	  EINVAL },
	{ "GROW bytes = size", ESTACK_IOC_GROW, 0, SP_HERE, B_SIZE, 0, 0, 0,
	  EINVAL },
	{ "GROW bad sp + past max", ESTACK_IOC_GROW, 0, SP_BELOW, B_PAST_MAX,
	  0, 0, 0, EINVAL },
	{ "GROW past max", ESTACK_IOC_GROW, 0, SP_HERE, B_PAST_MAX, 0, 0, 0,
	  EBUSY },
	{ "GROW struct inside", ESTACK_IOC_GROW, 1, SP_HERE, B_ZERO, 0, 0, 0,
	  EBUSY },
	{ "GROW struct inside + past max", ESTACK_IOC_GROW, 1, SP_HERE,
	  B_PAST_MAX, 0, 0, 0, EBUSY },
	{ "GROW struct inside + bad sp", ESTACK_IOC_GROW, 1, SP_ABOVE, B_ZERO,
	  0, 0, 0, EINVAL },
	{ "GROW bad flag", ESTACK_IOC_GROW, 0, SP_HERE, B_ZERO, 0x10, 0, 0,
	  EINVAL },
	{ "GROW too many slots", ESTACK_IOC_GROW, 0, SP_HERE, B_ZERO, 0,
	  ESTACK_MAX_SLOTS + 1, 0, EINVAL },
	{ "SHRINK bad sp", ESTACK_IOC_SHRINK, 0, SP_BELOW, B_ZERO, 0, 0, 0,
	  EINVAL },
	{ "SHRINK struct inside", ESTACK_IOC_SHRINK, 1, SP_HERE, B_ZERO, 0, 0,
	  0, EBUSY },
	{ "SHRINK bytes", ESTACK_IOC_SHRINK, 0, SP_HERE, B_ONE, 0, 0, 0,
	  EINVAL },
	{ "SHRINK", ESTACK_IOC_SHRINK, 0, SP_HERE, B_ZERO, 0, 0, 0, EBUSY },
	{ "INFO bad pad", ESTACK_IOC_INFO, 0, 0, 0, 0, 0, 1, EINVAL },
	{ "FREE bad pad", ESTACK_IOC_FREE, 0, 0, 0, 0, 0, 1, EINVAL },
	{ "FREE bad flags", ESTACK_IOC_FREE, 1, 0, 0, 2, 0, 0, EINVAL },
	{ "FREE struct inside", ESTACK_IOC_FREE, 1, 0, 0, 0, 0, 0, EBUSY },
	{ "FREE", ESTACK_IOC_FREE, 0, 0, 0, 0, 0, 0, EBUSY },
};

union run_arg {
	struct estack_move m;
	struct estack_free f;
	struct estack_info i;
};

static struct {
	int fd;
	__u32 id;
	__u64 lo, hi, max;
	int err[ARRAY_SIZE(run_cases)];
	int changed[ARRAY_SIZE(run_cases)];
	union run_arg global, saved;
	ucontext_t main, fiber;
} run;

static __u64 run_bytes(int b)
{
	switch (b) {
	case B_PAST_MAX:
		return run.max + 1;
	case B_SIZE:
		return run.hi - run.lo;
	case B_ONE:
		return 1;
	default:
		return 0;
	}
}

static void run_fiber(void)
{
	union run_arg local;
	const struct run_case *rc;
	union run_arg *u;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(run_cases); i++) {
		rc = &run_cases[i];
		u = rc->local ? &local : &run.global;
		memset(u, 0, sizeof(*u));
		if (rc->cmd == ESTACK_IOC_FREE) {
			u->f.size = sizeof(u->f);
			u->f.flags = rc->flags;
			u->f.id = run.id;
			u->f.pad = rc->pad;
		} else if (rc->cmd == ESTACK_IOC_INFO) {
			u->i.size = sizeof(u->i);
			u->i.id = run.id;
			u->i.pad = rc->pad;
		} else {
			u->m.size = sizeof(u->m);
			u->m.flags = rc->flags;
			u->m.id = run.id;
			u->m.nr_slots = rc->nr_slots;
			if (rc->sp == SP_BELOW)
				u->m.sp = run.lo - 16;
			else if (rc->sp == SP_ABOVE)
				u->m.sp = run.hi + 16;
			else
				u->m.sp = (unsigned long)&local & ~15UL;
			u->m.bytes = run_bytes(rc->bytes);
		}
		run.saved = *u;
		run.err[i] = es_ioctl(run.fd, rc->cmd, u);
		run.changed[i] = memcmp(&run.saved, u, sizeof(*u)) != 0;
	}
}

TEST_F(ord, running_stack)
{
	struct ord_ctx *c = &self->c;
	struct estack_info info;
	struct estack_alloc a;
	unsigned int i;

	ASSERT_EQ(0, es_alloc(c->fd, 65536, &a));
	/* The fiber runs at the top; the bottom half keeps a pattern. */
	es_fill(a.lo, a.lo + 32768);
	run.fd = c->fd;
	run.id = a.id;
	run.lo = a.lo;
	run.hi = a.hi;
	run.max = c->max;
	memset(run.err, 0xff, sizeof(run.err));
	ASSERT_EQ(0, es_run_on(&run.main, &run.fiber, a.lo, a.hi, run_fiber));
	for (i = 0; i < ARRAY_SIZE(run_cases); i++) {
		EXPECT_EQ(run_cases[i].want, run.err[i])
			TH_LOG("%s: %s", run_cases[i].what,
			       strerror(run.err[i]));
		EXPECT_EQ(0, run.changed[i])
			TH_LOG("%s: struct written", run_cases[i].what);
	}
	ASSERT_EQ(0, es_info(c->fd, a.id, &info));
	EXPECT_EQ(a.lo, info.lo);
	EXPECT_EQ(a.hi, info.hi);
	EXPECT_EQ(0, es_check_pat(a.lo, a.lo + 32768, 0));
	victim_intact(_metadata, c, "after the fiber");
	/* Off the stack, the same FREE works. */
	EXPECT_EQ(0, es_free(c->fd, a.id));
}

/*
 * ALLOC, INFO and API write their results: a read-only struct that is
 * otherwise valid is EFAULT, and nothing is left behind.
 */
TEST_F(ord, readonly_struct_efault)
{
	struct ord_ctx *c = &self->c;
	struct estack_alloc *a;
	struct estack_info *i;
	struct estack_api *api;
	long long in_use;
	char *map;

	map = mmap(NULL, c->page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	a = (struct estack_alloc *)map;
	i = (struct estack_info *)(map + 128);
	api = (struct estack_api *)(map + 256);
	a->size = sizeof(*a);
	a->bytes = 4096;
	i->size = sizeof(*i);
	i->id = c->victim.id;
	api->size = sizeof(*api);
	ASSERT_EQ(0, mprotect(map, c->page, PROT_READ));
	in_use = es_stat("stacks_in_use");
	expect_err(_metadata, c, ESTACK_IOC_ALLOC, a, sizeof(*a), EFAULT,
		   "ALLOC read-only");
	EXPECT_EQ(in_use, es_stat("stacks_in_use"));
	expect_err(_metadata, c, ESTACK_IOC_INFO, i, sizeof(*i), EFAULT,
		   "INFO read-only");
	expect_err(_metadata, c, ESTACK_IOC_API, api, sizeof(*api), EFAULT,
		   "API read-only");
	munmap(map, c->page);
}

TEST_HARNESS_MAIN
