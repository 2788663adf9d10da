// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of a move's undo log (take.c, move.h): the words marked, each
 * once, found again by the undo, and nothing left marked for the next
 * attempt although only the summary is cleared between attempts.
 *
 * Copyright (C) 2026 The estack authors
 */

#include <kunit/test.h>
#include <linux/bitmap.h>
#include <linux/sizes.h>
#include <linux/slab.h>

#include "../move.h"

/* A log freed when the case ends, whatever it asserted. */
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
		kvfree(log->map);
}

/* The words estack_undo_log_next() reports, in @seen (nbits bits). */
static void undo_test_collect(struct kunit *test,
			      const struct estack_undo_log *log,
			      unsigned long nbits, unsigned long *seen)
{
	unsigned long bit, last = 0, n = 0;

	bitmap_zero(seen, nbits);
	for (bit = estack_undo_log_next(log, nbits, 0); bit < nbits;
	     bit = estack_undo_log_next(log, nbits, bit + 1)) {
		KUNIT_ASSERT_TRUE(test, !n || bit > last);
		__set_bit(bit, seen);
		last = bit;
		KUNIT_ASSERT_LE(test, ++n, nbits);
	}
	KUNIT_EXPECT_EQ(test, bit, nbits);
}

/* Each word is marked once; the undo finds exactly the words marked. */
static void estack_undo_log_marks_once(struct kunit *test)
{
	static const unsigned long words[] = { 0, 1, 63, 64, 127, 640, 4095 };
	const unsigned long nbits = 4096;
	struct estack_undo_log *log = undo_test_log(test);
	unsigned long *seen;
	unsigned int i;

	seen = kunit_kcalloc(test, BITS_TO_LONGS(nbits), sizeof(long),
			     GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, seen);
	KUNIT_ASSERT_PTR_EQ(test, log, estack_undo_log_reserve(log, nbits));
	KUNIT_EXPECT_GE(test, log->bits, nbits);
	/* Fresh storage is not cleared: nothing reads as marked anyway. */
	KUNIT_EXPECT_EQ(test, estack_undo_log_next(log, nbits, 0), nbits);
	for (i = 0; i < ARRAY_SIZE(words); i++)
		KUNIT_EXPECT_TRUE(test, estack_log_mark(log, words[i]));
	for (i = 0; i < ARRAY_SIZE(words); i++)
		KUNIT_EXPECT_FALSE(test, estack_log_mark(log, words[i]));
	undo_test_collect(test, log, nbits, seen);
	for (i = 0; i < ARRAY_SIZE(words); i++)
		KUNIT_EXPECT_TRUE(test, test_bit(words[i], seen));
	KUNIT_EXPECT_EQ(test, bitmap_weight(seen, nbits), ARRAY_SIZE(words));
	/* From the middle of a word, and past the last word marked. */
	KUNIT_EXPECT_EQ(test, estack_undo_log_next(log, nbits, 2), 63UL);
	KUNIT_EXPECT_EQ(test, estack_undo_log_next(log, nbits, 65), 127UL);
	KUNIT_EXPECT_EQ(test, estack_undo_log_next(log, nbits, 641), 4095UL);
	KUNIT_EXPECT_EQ(test, estack_undo_log_next(log, nbits, nbits), nbits);
}

/*
 * The next attempt, of this move or another of the file, starts with
 * nothing marked although the map still holds the last attempt's bits:
 * a word written whole when its summary bit is set drops them.
 */
static void estack_undo_log_reset_per_attempt(struct kunit *test)
{
	const unsigned long nbits = 2048;
	struct estack_undo_log *log = undo_test_log(test);
	unsigned long *map;

	KUNIT_ASSERT_NOT_NULL(test, estack_undo_log_reserve(log, nbits));
	KUNIT_EXPECT_TRUE(test, estack_log_mark(log, 5));
	KUNIT_EXPECT_TRUE(test, estack_log_mark(log, 6));
	KUNIT_EXPECT_TRUE(test, estack_log_mark(log, 1000));
	map = log->map;

	/* A smaller move: same storage, nothing marked. */
	KUNIT_ASSERT_NOT_NULL(test, estack_undo_log_reserve(log, 100));
	KUNIT_EXPECT_PTR_EQ(test, map, log->map);
	KUNIT_EXPECT_EQ(test, estack_undo_log_next(log, 100, 0), 100UL);
	KUNIT_EXPECT_TRUE(test, estack_log_mark(log, 6));
	KUNIT_EXPECT_EQ(test, estack_undo_log_next(log, 100, 0), 6UL);
	KUNIT_EXPECT_EQ(test, estack_undo_log_next(log, 100, 7), 100UL);

	/* The same size again: word 1000 of the first attempt is gone. */
	KUNIT_ASSERT_NOT_NULL(test, estack_undo_log_reserve(log, nbits));
	KUNIT_EXPECT_EQ(test, estack_undo_log_next(log, nbits, 0), nbits);
	KUNIT_EXPECT_TRUE(test, estack_log_mark(log, 5));
	KUNIT_EXPECT_TRUE(test, estack_log_mark(log, 1000));
	KUNIT_EXPECT_EQ(test, estack_undo_log_next(log, nbits, 0), 5UL);
	KUNIT_EXPECT_EQ(test, estack_undo_log_next(log, nbits, 6), 1000UL);
}

/*
 * The walk's marks, a map word at a time, are the marks of each word: the
 * slots and the scan after it see them, and so does the undo.
 */
static void estack_undo_log_put_words(struct kunit *test)
{
	const unsigned long nbits = 1024;
	struct estack_undo_log *log = undo_test_log(test);

	KUNIT_ASSERT_NOT_NULL(test, estack_undo_log_reserve(log, nbits));
	KUNIT_EXPECT_TRUE(test, estack_log_mark(log, 70));
	estack_log_put(log, 0, BIT(3) | BIT(40));
	estack_log_put(log, 1, BIT(0) | BIT(9));	/* words 64 and 73 */
	estack_log_put(log, 15, BIT(63));		/* word 1023 */
	KUNIT_EXPECT_FALSE(test, estack_log_mark(log, 3));
	KUNIT_EXPECT_FALSE(test, estack_log_mark(log, 73));
	KUNIT_EXPECT_FALSE(test, estack_log_mark(log, 70));
	KUNIT_EXPECT_TRUE(test, estack_log_mark(log, 4));
	KUNIT_EXPECT_EQ(test, estack_undo_log_next(log, nbits, 0), 3UL);
	KUNIT_EXPECT_EQ(test, estack_undo_log_next(log, nbits, 5), 40UL);
	KUNIT_EXPECT_EQ(test, estack_undo_log_next(log, nbits, 41), 64UL);
	KUNIT_EXPECT_EQ(test, estack_undo_log_next(log, nbits, 65), 70UL);
	KUNIT_EXPECT_EQ(test, estack_undo_log_next(log, nbits, 71), 73UL);
	KUNIT_EXPECT_EQ(test, estack_undo_log_next(log, nbits, 74), 1023UL);

	/* The next attempt: none of it. */
	KUNIT_ASSERT_NOT_NULL(test, estack_undo_log_reserve(log, nbits));
	estack_log_put(log, 1, BIT(1));
	KUNIT_EXPECT_EQ(test, estack_undo_log_next(log, nbits, 0), 65UL);
	KUNIT_EXPECT_EQ(test, estack_undo_log_next(log, nbits, 66), nbits);
}

/* Grown for a larger move; a log larger than a context keeps is freed. */
static void estack_undo_log_grows_and_trims(struct kunit *test)
{
	struct estack_undo_log *log = undo_test_log(test);
	const unsigned long big = SZ_4M / sizeof(u64);

	KUNIT_ASSERT_NOT_NULL(test, estack_undo_log_reserve(log, 3));
	KUNIT_EXPECT_GE(test, log->bits, 2 * PAGE_SIZE / sizeof(u64));
	estack_undo_log_trim(log);
	KUNIT_EXPECT_NOT_NULL(test, log->map);

	KUNIT_ASSERT_NOT_NULL(test, estack_undo_log_reserve(log, big - 1));
	KUNIT_EXPECT_EQ(test, log->bits, big);
	KUNIT_EXPECT_TRUE(test, estack_log_mark(log, big - 2));
	KUNIT_EXPECT_EQ(test, estack_undo_log_next(log, big - 1, 0), big - 2);
	estack_undo_log_trim(log);
	KUNIT_EXPECT_NULL(test, log->map);
	KUNIT_EXPECT_EQ(test, log->bits, 0UL);

	/* And allocated again by the next move. */
	KUNIT_ASSERT_NOT_NULL(test, estack_undo_log_reserve(log, 700));
	KUNIT_EXPECT_EQ(test, estack_undo_log_next(log, 700, 0), 700UL);
}

/* Random marks over several attempts, against a plain bitmap. */
static void estack_undo_log_random(struct kunit *test)
{
	const unsigned long max = 3000;
	struct estack_undo_log *log = undo_test_log(test);
	unsigned long *ref, *seen, nbits, bit;
	unsigned int attempt, i;
	u32 x = 2463534242u;

	ref = kunit_kcalloc(test, BITS_TO_LONGS(max), sizeof(long), GFP_KERNEL);
	seen = kunit_kcalloc(test, BITS_TO_LONGS(max), sizeof(long),
			     GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ref);
	KUNIT_ASSERT_NOT_NULL(test, seen);
	for (attempt = 0; attempt < 40; attempt++) {
		/* xorshift32: the same sequence every run. */
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		nbits = 1 + x % max;
		KUNIT_ASSERT_NOT_NULL(test, estack_undo_log_reserve(log, nbits));
		bitmap_zero(ref, max);
		for (i = 0; i < nbits / 4 + 1; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			bit = x % nbits;
			KUNIT_EXPECT_EQ(test, estack_log_mark(log, bit),
					!__test_and_set_bit(bit, ref));
		}
		undo_test_collect(test, log, nbits, seen);
		KUNIT_EXPECT_TRUE(test, bitmap_equal(ref, seen, nbits));
	}
}

static struct kunit_case estack_undo_log_cases[] = {
	KUNIT_CASE(estack_undo_log_marks_once),
	KUNIT_CASE(estack_undo_log_reset_per_attempt),
	KUNIT_CASE(estack_undo_log_put_words),
	KUNIT_CASE(estack_undo_log_grows_and_trims),
	KUNIT_CASE(estack_undo_log_random),
	{}
};

static struct kunit_suite estack_undo_log_suite = {
	.name = "estack_undo_log",
	.exit = undo_test_exit,
	.test_cases = estack_undo_log_cases,
};

kunit_test_suites(&estack_undo_log_suite);
