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

#ifdef ES_ASAN
#include <sanitizer/asan_interface.h>
#endif

#ifdef ESTACK_VALGRIND
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#endif

#ifdef ES_ASAN
void es_san_unpoison(uintptr_t lo, size_t len)
{
	__asan_unpoison_memory_region((void *)lo, len);
}
#endif

#ifdef ESTACK_VALGRIND
unsigned int es_vg_register(uintptr_t lo, uintptr_t hi)
{
	/* 0 means none: valgrind's ids are stored plus one. */
	if (!RUNNING_ON_VALGRIND)
		return 0;
	return (unsigned int)VALGRIND_STACK_REGISTER(lo, hi) + 1;
}

void es_vg_deregister(unsigned int id)
{
	if (id)
		VALGRIND_STACK_DEREGISTER(id - 1);
}

/*
 * Memcheck marks the part of a stack below a fiber's last stack pointer
 * no-access, and padding in frames undefined. A move makes the whole new
 * stack defined (it reads as zero below the copy, and the copy takes the
 * old bytes) and reads every word of the live part (the conservative scan
 * reads padding on purpose): tell memcheck so, rather than have it report
 * the library's own copy.
 */
void es_vg_mem(uintptr_t lo, size_t len, bool defined)
{
	if (defined)
		VALGRIND_MAKE_MEM_DEFINED(lo, len);
	else
		VALGRIND_MAKE_MEM_UNDEFINED(lo, len);
}
#endif
