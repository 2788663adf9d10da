// SPDX-License-Identifier: GPL-2.0
/*
 * A test that fails on purpose: `make check-rig` adds it to the VM to prove
 * that a failing selftest fails `make check`. Never part of a normal run.
 */
#include "kselftest_harness.h"

TEST(deliberate_failure)
{
	EXPECT_EQ(0, 1) TH_LOG("this test exists to fail");
}

TEST_HARNESS_MAIN
