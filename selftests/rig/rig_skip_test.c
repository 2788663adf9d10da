// SPDX-License-Identifier: GPL-2.0
/*
 * A test that skips on purpose: `make check-rig` adds it to the VM to prove
 * that a skip nobody allowed fails `make check`. Never part of a normal run.
 */
#include "kselftest_harness.h"

TEST(deliberate_skip)
{
	SKIP(return, "this test exists to skip");
}

TEST_HARNESS_MAIN
