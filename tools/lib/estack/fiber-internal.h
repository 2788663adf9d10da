/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libestack's fiber runtime: what fiber.c shares with its context switch
 * (arch/<arch>/switch.S) and with the sanitizer hooks.
 *
 * Copyright (C) 2026 The estack authors
 */
#ifndef ESTACK_FIBER_INTERNAL_H
#define ESTACK_FIBER_INTERNAL_H

#include <stddef.h>

/* the library builds with -fvisibility=hidden: the API is marked */
#define EF_EXPORT	__attribute__((visibility("default")))

/*
 * The frame estack__switch() leaves at the saved stack pointer, in bytes
 * from it (arch/x86_64/switch.S): the control words, then r15 .. rbx, the
 * saved rbp and the return address.
 */
#define ESTACK_SWITCH_CTRL	0
#define ESTACK_SWITCH_R15	8
#define ESTACK_SWITCH_R14	16
#define ESTACK_SWITCH_R13	24
#define ESTACK_SWITCH_R12	32
#define ESTACK_SWITCH_RBX	40
#define ESTACK_SWITCH_RBP	48
#define ESTACK_SWITCH_RET	56
#define ESTACK_SWITCH_FRAME	64
/* the callee-saved register slots that relocation rewrites */
#define ESTACK_SWITCH_NR_REGS	6

/* MXCSR and x87 control word of a new context: the ABI's defaults */
#define ESTACK_MXCSR_INIT	0x1f80u
#define ESTACK_FPUCW_INIT	0x037fu

struct estack_fiber;

void estack__switch(void **save, void *next);
void estack__fiber_trampoline(void);
void estack__fiber_entry(struct estack_fiber *fiber)
	__attribute__((noreturn));

#if defined(__SANITIZE_ADDRESS__)
#define ESTACK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ESTACK_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define ESTACK_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ESTACK_TSAN 1
#endif
#endif

#ifdef ESTACK_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save,
				    const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save,
				     const void **bottom_old,
				     size_t *size_old);
void __asan_unpoison_memory_region(const volatile void *addr, size_t size);
#endif

#ifdef ESTACK_TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned int flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned int flags);
#endif

#endif /* ESTACK_FIBER_INTERNAL_H */
