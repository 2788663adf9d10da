#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# libestack's tests in fallback mode, with the module loaded: the library's
# own mapping, guards by mprotect where the kernel has no
# MADV_GUARD_INSTALL (6.1, 6.12), and ESTACK_POOL_FALLBACK pools that
# still pick the module.
# An installed kselftest tree keeps the program beside this script.
PATH=$(cd "$(dirname "$0")" && pwd):$PATH
ESTACK_TEST_MODE=fallback exec lib_test "$@"
