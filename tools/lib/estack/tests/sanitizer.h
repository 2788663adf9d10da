/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Is this test built with AddressSanitizer? GCC says so with
 * __SANITIZE_ADDRESS__, clang only through __has_feature(): TEST_ASAN is 1
 * under either, else 0. The library has its own (ESTACK_ASAN,
 * fiber-internal.h), which the tests do not see.
 */
#ifndef ESTACK_TESTS_SANITIZER_H
#define ESTACK_TESTS_SANITIZER_H

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN	1
#endif
#endif
#ifndef TEST_ASAN
#define TEST_ASAN	0
#endif

#endif /* ESTACK_TESTS_SANITIZER_H */
