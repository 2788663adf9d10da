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
/* never returns: the fiber ends in a switch that is never resumed */
void estack__fiber_entry(struct estack_fiber *fiber);

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
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#ifdef ESTACK_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#endif /* ESTACK_FIBER_INTERNAL_H */
