// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of estack's pure logic: the ABI's size checks, the stack size
 * arithmetic and the tunables' bounds. Part of estack_kunit.ko, a separate
 * module because in 6.1 a module's own suites run before its init and
 * without a user mm; it reaches estack.ko through EXPORT_SYMBOL_IF_KUNIT.
 *
 * Copyright (C) 2026 The estack authors
 */

#include <kunit/test.h>
#include <linux/limits.h>
#include <linux/mm.h>
#include <linux/sizes.h>
#include <linux/string.h>

#include "../params.h"

MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);

#define P	PAGE_SIZE

/* --- estack_abi: argument struct sizes --- */

struct args_size_case {
	const char *desc;
	u32 usize;
	size_t ver0;
	int err;
};

static const struct args_size_case args_size_cases[] = {
	{ "zero", 0, 40, -EINVAL },
	{ "size field only", 4, 40, -EINVAL },
	{ "one short of ver0", 39, 40, -EINVAL },
	{ "ver0", 40, 40, 0 },
	{ "ver0 of the smallest struct", 16, 16, 0 },
	{ "one past ver0", 41, 40, 0 },
	{ "a page", P, 40, 0 },
	{ "a page plus one", P + 1, 40, -E2BIG },
	{ "U32_MAX", U32_MAX, 40, -E2BIG },
};

static void args_size_desc(const struct args_size_case *c, char *desc)
{
	strscpy(desc, c->desc, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(args_size, args_size_cases, args_size_desc);

static void estack_abi_args_size(struct kunit *test)
{
	const struct args_size_case *c = test->param_value;

	KUNIT_EXPECT_EQ(test, c->err, estack_args_size_check(c->usize, c->ver0));
}

static struct kunit_case estack_abi_cases[] = {
	KUNIT_CASE_PARAM(estack_abi_args_size, args_size_gen_params),
	{}
};

static struct kunit_suite estack_abi_suite = {
	.name = "estack_abi",
	.test_cases = estack_abi_cases,
};

/* --- estack_size: ALLOC, GROW and SHRINK sizes --- */

struct size_case {
	const char *desc;
	u64 cur;	/* GROW and SHRINK: current size */
	u64 bytes;	/* ALLOC, GROW: bytes; SHRINK: used */
	u64 max;
	u64 size;	/* expected size when err == 0 */
	int err;
};

static void size_desc(const struct size_case *c, char *desc)
{
	strscpy(desc, c->desc, KUNIT_PARAM_DESC_SIZE);
}

static const struct size_case alloc_cases[] = {
	{ "0 means a page", 0, 0, SZ_1G, P, 0 },
	{ "1 byte", 0, 1, SZ_1G, P, 0 },
	{ "a page less one", 0, P - 1, SZ_1G, P, 0 },
	{ "a page", 0, P, SZ_1G, P, 0 },
	{ "a page plus one", 0, P + 1, SZ_1G, 2 * P, 0 },
	{ "three pages", 0, 3 * P, SZ_1G, 4 * P, 0 },
	{ "max less one", 0, SZ_1G - 1, SZ_1G, SZ_1G, 0 },
	{ "max", 0, SZ_1G, SZ_1G, SZ_1G, 0 },
	{ "max plus one", 0, SZ_1G + 1, SZ_1G, 0, -EFBIG },
	{ "2^63", 0, 1ULL << 63, SZ_1G, 0, -EFBIG },
	{ "2^63 plus one", 0, (1ULL << 63) + 1, SZ_1G, 0, -EFBIG },
	{ "U64_MAX", 0, U64_MAX, SZ_1G, 0, -EFBIG },
	{ "lowered max, at it", 0, SZ_64K, SZ_64K, SZ_64K, 0 },
	{ "lowered max, past it", 0, SZ_64K + 1, SZ_64K, 0, -EFBIG },
	{ "max of one page, 0", 0, 0, P, P, 0 },
	{ "max of one page, a page plus one", 0, P + 1, P, 0, -EFBIG },
};

KUNIT_ARRAY_PARAM(size_alloc, alloc_cases, size_desc);

static void estack_size_alloc_rounds(struct kunit *test)
{
	const struct size_case *c = test->param_value;
	u64 size = 0;

	KUNIT_ASSERT_EQ(test, c->err, estack_size_alloc(c->bytes, c->max, &size));
	if (!c->err)
		KUNIT_EXPECT_EQ(test, c->size, size);
}

static const struct size_case grow_cases[] = {
	{ "double a page", P, 0, SZ_1G, 2 * P, 0 },
	{ "double to max", SZ_512M, 0, SZ_1G, SZ_1G, 0 },
	{ "double past max", SZ_1G, 0, SZ_1G, 0, -EFBIG },
	{ "double 2^63 overflows", 1ULL << 63, 0, U64_MAX, 0, -EFBIG },
	{ "bytes equal to current", 4 * P, 4 * P, SZ_1G, 0, -EINVAL },
	{ "bytes below current", 4 * P, 4 * P - 1, SZ_1G, 0, -EINVAL },
	{ "bytes one above current", 4 * P, 4 * P + 1, SZ_1G, 8 * P, 0 },
	{ "bytes three pages from one", P, 3 * P, SZ_1G, 4 * P, 0 },
	{ "bytes exactly max", P, SZ_1G, SZ_1G, SZ_1G, 0 },
	{ "bytes max plus one", P, SZ_1G + 1, SZ_1G, 0, -EFBIG },
	{ "bytes U64_MAX", P, U64_MAX, SZ_1G, 0, -EFBIG },
	{ "bytes 2^63 plus one", P, (1ULL << 63) + 1, U64_MAX, 0, -EFBIG },
	{ "double 2^62 to 2^63", 1ULL << 62, 0, U64_MAX, 1ULL << 63, 0 },
	{ "EINVAL before EFBIG", SZ_1G, P, SZ_1G, 0, -EINVAL },
};

KUNIT_ARRAY_PARAM(size_grow, grow_cases, size_desc);

static void estack_size_grow_rounds(struct kunit *test)
{
	const struct size_case *c = test->param_value;
	u64 size = 0;

	KUNIT_ASSERT_EQ(test, c->err,
			estack_size_grow(c->cur, c->bytes, c->max, &size));
	if (!c->err)
		KUNIT_EXPECT_EQ(test, c->size, size);
}

static const struct size_case shrink_cases[] = {
	{ "idle halves", 4 * P, 0, 0, 2 * P, 0 },
	{ "just under a quarter halves", 4 * P, P - 1, 0, 2 * P, 0 },
	{ "exactly a quarter stays", 4 * P, P, 0, 4 * P, 0 },
	{ "over a quarter stays", 4 * P, 2 * P, 0, 4 * P, 0 },
	{ "full stays", 4 * P, 4 * P, 0, 4 * P, 0 },
	{ "two pages to one", 2 * P, 0, 0, P, 0 },
	{ "never below a page", P, 0, 0, P, 0 },
	{ "1 GiB halves", SZ_1G, SZ_256M - 1, 0, SZ_512M, 0 },
	{ "1 GiB at a quarter stays", SZ_1G, SZ_256M, 0, SZ_1G, 0 },
};

KUNIT_ARRAY_PARAM(size_shrink, shrink_cases, size_desc);

static void estack_size_shrink_rule(struct kunit *test)
{
	const struct size_case *c = test->param_value;

	KUNIT_EXPECT_EQ(test, c->size, estack_size_shrink(c->cur, c->bytes));
}

/* The check that a move's struct and slot array lie outside the stack. */
struct range_case {
	const char *desc;
	u64 addr;
	u64 len;
	bool meets;
};

#define LO	0x10000ULL
#define HI	0x20000ULL

static const struct range_case range_cases[] = {
	{ "empty inside", LO + 8, 0, false },
	{ "ends at lo", LO - 80, 80, false },
	{ "last byte at lo", LO - 79, 80, true },
	{ "starts at hi", HI, 80, false },
	{ "starts below hi", HI - 1, 80, true },
	{ "inside", LO + 16, 8, true },
	{ "covers it", LO - 1, HI - LO + 2, true },
	/* Ranges copied from user memory never wrap; one that did is ignored. */
	{ "wraps past the top", U64_MAX - 7, LO + 9, false },
	{ "huge below", 0, LO, false },
};

static void range_desc(const struct range_case *c, char *desc)
{
	strscpy(desc, c->desc, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(range, range_cases, range_desc);

static void estack_range_meets_cases(struct kunit *test)
{
	const struct range_case *c = test->param_value;

	KUNIT_EXPECT_EQ(test, c->meets, estack_range_meets(c->addr, c->len,
							   LO, HI));
}

#undef LO
#undef HI

static struct kunit_case estack_size_cases[] = {
	KUNIT_CASE_PARAM(estack_size_alloc_rounds, size_alloc_gen_params),
	KUNIT_CASE_PARAM(estack_size_grow_rounds, size_grow_gen_params),
	KUNIT_CASE_PARAM(estack_size_shrink_rule, size_shrink_gen_params),
	KUNIT_CASE_PARAM(estack_range_meets_cases, range_gen_params),
	{}
};

static struct kunit_suite estack_size_suite = {
	.name = "estack_size",
	.test_cases = estack_size_cases,
};

/* --- estack_params: tunable bounds --- */

struct tunable_case {
	const char *desc;
	struct estack_tunable t;
	unsigned long val;
	int err;
};

#define STACK_T	{ .min = P, .max = SZ_1G, .pow2 = true }
#define COUNT_T	{ .min = 1, .max = 1UL << 24 }

static const struct tunable_case tunable_cases[] = {
	{ "pow2: zero", STACK_T, 0, -EINVAL },
	{ "pow2: below min", STACK_T, P - 1, -EINVAL },
	{ "pow2: min", STACK_T, P, 0 },
	{ "pow2: min plus one", STACK_T, P + 1, -EINVAL },
	{ "pow2: three pages", STACK_T, 3 * P, -EINVAL },
	{ "pow2: two pages", STACK_T, 2 * P, 0 },
	{ "pow2: max", STACK_T, SZ_1G, 0 },
	{ "pow2: max plus one", STACK_T, SZ_1G + 1, -EINVAL },
	{ "pow2: twice max", STACK_T, 2UL * SZ_1G, -EINVAL },
	{ "pow2: ULONG_MAX", STACK_T, ULONG_MAX, -EINVAL },
	{ "count: zero", COUNT_T, 0, -EINVAL },
	{ "count: one", COUNT_T, 1, 0 },
	{ "count: not a power of two", COUNT_T, 12345, 0 },
	{ "count: max", COUNT_T, 1UL << 24, 0 },
	{ "count: max plus one", COUNT_T, (1UL << 24) + 1, -EINVAL },
};

static void tunable_desc(const struct tunable_case *c, char *desc)
{
	strscpy(desc, c->desc, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(tunable, tunable_cases, tunable_desc);

static void estack_params_bounds(struct kunit *test)
{
	const struct tunable_case *c = test->param_value;

	KUNIT_EXPECT_EQ(test, c->err, estack_tunable_check(&c->t, c->val));
}

/* Every shipped default lies within its own bounds. */
static void estack_params_defaults_valid(struct kunit *test)
{
	const struct estack_tunable *all[] = {
		&estack_tunables.max_stack,
		&estack_tunables.max_stacks_per_fd,
		&estack_tunables.max_bytes_per_fd,
		&estack_tunables.max_bytes_per_user,
		&estack_tunables.cache_budget,
		&estack_tunables.pool_reserve,
		&estack_tunables.mapped_cache,
	};
	int i;

	for (i = 0; i < ARRAY_SIZE(all); i++)
		KUNIT_EXPECT_EQ_MSG(test, 0,
				    estack_tunable_check(all[i],
							 estack_tunable_get(all[i])),
				    "tunable %d", i);
	KUNIT_EXPECT_EQ(test, (unsigned long)SZ_1G,
			estack_tunable_get(&estack_tunables.max_stack));
}

/* The byte limits follow RAM: a quarter of it, within the bounds. */
static void estack_params_defaults_fit_ram(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, (unsigned long)SZ_512M,
			estack_default_user_bytes(2UL * SZ_1G));
	KUNIT_EXPECT_EQ(test, 16UL * SZ_1G,
			estack_default_user_bytes(64UL * SZ_1G));
	KUNIT_EXPECT_EQ(test, (unsigned long)PAGE_SIZE,
			estack_default_user_bytes(PAGE_SIZE));
	KUNIT_EXPECT_EQ(test, 1UL << 40, estack_default_user_bytes(~0UL));
	KUNIT_EXPECT_EQ(test, (unsigned long)SZ_128M,
			estack_default_pool_reserve(2UL * SZ_1G));
	KUNIT_EXPECT_EQ(test, (unsigned long)SZ_256M,
			estack_default_pool_reserve(64UL * SZ_1G));
	/* What this machine got, unless insmod said otherwise. */
	if (!estack_tunables.max_bytes_per_user.set)
		KUNIT_EXPECT_EQ(test,
				estack_default_user_bytes(totalram_pages() <<
							  PAGE_SHIFT),
				estack_tunable_get(&estack_tunables.max_bytes_per_user));
}

static struct kunit_case estack_params_cases[] = {
	KUNIT_CASE(estack_params_defaults_fit_ram),
	KUNIT_CASE_PARAM(estack_params_bounds, tunable_gen_params),
	KUNIT_CASE(estack_params_defaults_valid),
	{}
};

static struct kunit_suite estack_params_suite = {
	.name = "estack_params",
	.test_cases = estack_params_cases,
};

kunit_test_suites(&estack_abi_suite, &estack_size_suite, &estack_params_suite);

MODULE_DESCRIPTION("KUnit tests for estack");
MODULE_LICENSE("GPL");
