// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of a move's undo log (take.c, move.h): a bitmap of the words
 * a move relocated, in the move itself or allocated, clear when reserved,
 * each word marked once.
 *
 * Copyright (C) 2026 The estack authors
 */

#include <kunit/test.h>
#include <linux/bitmap.h>
#include <linux/slab.h>

#include "../move.h"

/* A log given back when the case ends, whatever it asserted. */
static struct estack_undo_log *undo_test_log(struct kunit *test)
{
	struct estack_undo_log *log = kunit_kzalloc(test, sizeof(*log),
						    GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, log);
	test->priv = log;
	return log;
}

static void undo_test_exit(struct kunit *test)
{
	struct estack_undo_log *log = test->priv;

	if (log)
		estack_undo_log_free(log);
}

/* Two pages taken over fit in the log itself; more are allocated. */
static void estack_undo_log_reserve_clear(struct kunit *test)
{
	const unsigned long small = 2 * PAGE_SIZE / sizeof(u64);
	const unsigned long big = 64 * PAGE_SIZE / sizeof(u64);
	struct estack_undo_log *log = undo_test_log(test);
	unsigned long *map;

	map = estack_undo_log_reserve(log, small);
	KUNIT_ASSERT_NOT_NULL(test, map);
	KUNIT_EXPECT_PTR_EQ(test, map, &log->inline_map[0]);
	KUNIT_EXPECT_TRUE(test, bitmap_empty(map, small));

	map = estack_undo_log_reserve(log, big);
	KUNIT_ASSERT_NOT_NULL(test, map);
	KUNIT_EXPECT_PTR_NE(test, map, &log->inline_map[0]);
	KUNIT_EXPECT_GE(test, log->bits, big);
	KUNIT_EXPECT_TRUE(test, bitmap_empty(map, big));

	/* Kept across the attempts of one move. */
	KUNIT_EXPECT_PTR_EQ(test, map, estack_undo_log_reserve(log, small));
}

/* Each word is marked once. */
static void estack_undo_log_marks_once(struct kunit *test)
{
	static const unsigned long words[] = { 0, 1, 63, 64, 127, 640, 4095 };
	const unsigned long nbits = 4096;
	struct estack_undo_log *log = undo_test_log(test);
	unsigned long *map = estack_undo_log_reserve(log, nbits);
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, map);
	for (i = 0; i < ARRAY_SIZE(words); i++)
		KUNIT_EXPECT_TRUE(test, estack_log_mark(map, words[i]));
	for (i = 0; i < ARRAY_SIZE(words); i++)
		KUNIT_EXPECT_FALSE(test, estack_log_mark(map, words[i]));
	for (i = 0; i < ARRAY_SIZE(words); i++)
		KUNIT_EXPECT_TRUE(test, test_bit(words[i], map));
	KUNIT_EXPECT_EQ(test, bitmap_weight(map, nbits), ARRAY_SIZE(words));
}

static struct kunit_case estack_undo_log_cases[] = {
	KUNIT_CASE(estack_undo_log_reserve_clear),
	KUNIT_CASE(estack_undo_log_marks_once),
	{}
};

static struct kunit_suite estack_undo_log_suite = {
	.name = "estack_undo_log",
	.exit = undo_test_exit,
	.test_cases = estack_undo_log_cases,
};

kunit_test_suites(&estack_undo_log_suite);
