// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * libestack and the tools that watch memory: AddressSanitizer and
 * Valgrind. Both are optional; without them these are empty.
 *
 * Copyright (C) 2026 The estack authors
 *
 * ASan (the library built with -fsanitize=address): a stack's shadow is
 * unpoisoned whenever the stack is freed, cached or moved, so that the
 * next fiber on that memory does not trip over the redzones of frames
 * that are gone. Valgrind (make ESTACK_VALGRIND=1): each live stack is
 * registered with VALGRIND_STACK_REGISTER, deregistered when freed and
 * registered again at its new place after GROW or SHRINK; the id (plus
 * one) lives in the handle's private field.
 */
#include "internal.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ES_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define ES_ASAN 1
#endif

#ifdef ES_ASAN
#include <sanitizer/asan_interface.h>
#endif

#ifdef ESTACK_VALGRIND
#include <valgrind/valgrind.h>
#endif

void es_san_unpoison(uintptr_t lo, size_t len)
{
#ifdef ES_ASAN
	__asan_unpoison_memory_region((void *)lo, len);
#else
	(void)lo;
	(void)len;
#endif
}

unsigned int es_vg_register(uintptr_t lo, uintptr_t hi)
{
#ifdef ESTACK_VALGRIND
	/* 0 means none: valgrind's ids are stored plus one. */
	if (!RUNNING_ON_VALGRIND)
		return 0;
	return (unsigned int)VALGRIND_STACK_REGISTER(lo, hi) + 1;
#else
	(void)lo;
	(void)hi;
	return 0;
#endif
}

void es_vg_deregister(unsigned int id)
{
#ifdef ESTACK_VALGRIND
	if (id)
		VALGRIND_STACK_DEREGISTER(id - 1);
#else
	(void)id;
#endif
}
