// SPDX-License-Identifier: GPL-2.0
/*
 * estack_rig_kunit: a KUnit suite with a case that fails on purpose, so that
 * `make check-rig` can prove a failing KUnit case fails `make check`.
 * Never installed; built only with CONFIG_ESTACK_RIG=m.
 *
 * Copyright (C) 2026 The estack authors
 */

#include <kunit/test.h>

static void estack_rig_passes(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, 1, 1);
}

static void estack_rig_fails(struct kunit *test)
{
	KUNIT_EXPECT_EQ_MSG(test, 0, 1, "this case exists to fail");
}

static struct kunit_case estack_rig_cases[] = {
	KUNIT_CASE(estack_rig_passes),
	KUNIT_CASE(estack_rig_fails),
	{}
};

static struct kunit_suite estack_rig_suite = {
	.name = "estack_rig",
	.test_cases = estack_rig_cases,
};

kunit_test_suite(estack_rig_suite);

MODULE_DESCRIPTION("estack test rig: a failing KUnit case");
MODULE_LICENSE("GPL");
