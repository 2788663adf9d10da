#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# libestack's fiber runtime tests on the fallback pool, with the module
# loaded: the library's own mapping and its user-space moves.
# An installed kselftest tree keeps the program beside this script.
PATH=$(cd "$(dirname "$0")" && pwd):$PATH
ESTACK_TEST_MODE=fallback exec fiber_test "$@"
