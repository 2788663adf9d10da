/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libestack's fiber context switch, x86-64 System V.
 *
 * Copyright (C) 2026 The estack authors
 *
 * void estack__switch(void **save, void *next)
 *	Push the callee-saved registers and the x87/SSE control words on the
 *	current stack, store the stack pointer in *save, load next and pop
 *	what is saved there. The frame, from the saved stack pointer up:
 *	  +0  MXCSR (4 bytes) and the x87 control word (2 bytes)
 *	  +8  r15, +16 r14, +24 r13, +32 r12, +40 rbx, +48 rbp, +56 return
 *	fiber.c builds a new fiber's first frame in this layout and names
 *	these slots for relocation (ESTACK_SWITCH_* in fiber-internal.h).
 *
 * estack__fiber_trampoline
 *	Where a new fiber's first switch returns to: calls
 *	estack__fiber_entry(r12), which never returns. rbp is 0 there, so
 *	the frame-pointer chain and unwinders stop at it.
 */
	.text
	.globl estack__switch
	.hidden estack__switch
	.type estack__switch, @function
	.p2align 4
estack__switch:
	.cfi_startproc
#ifdef __CET__
	endbr64
#endif
	pushq %rbp
	.cfi_adjust_cfa_offset 8
	pushq %rbx
	.cfi_adjust_cfa_offset 8
	pushq %r12
	.cfi_adjust_cfa_offset 8
	pushq %r13
	.cfi_adjust_cfa_offset 8
	pushq %r14
	.cfi_adjust_cfa_offset 8
	pushq %r15
	.cfi_adjust_cfa_offset 8
	subq $8, %rsp
	.cfi_adjust_cfa_offset 8
	stmxcsr (%rsp)
	fnstcw 4(%rsp)
	movq %rsp, (%rdi)
	movq %rsi, %rsp
	ldmxcsr (%rsp)
	fldcw 4(%rsp)
	addq $8, %rsp
	.cfi_adjust_cfa_offset -8
	popq %r15
	.cfi_adjust_cfa_offset -8
	popq %r14
	.cfi_adjust_cfa_offset -8
	popq %r13
	.cfi_adjust_cfa_offset -8
	popq %r12
	.cfi_adjust_cfa_offset -8
	popq %rbx
	.cfi_adjust_cfa_offset -8
	popq %rbp
	.cfi_adjust_cfa_offset -8
	ret
	.cfi_endproc
	.size estack__switch, .-estack__switch

	.globl estack__fiber_trampoline
	.hidden estack__fiber_trampoline
	.type estack__fiber_trampoline, @function
	.p2align 4
estack__fiber_trampoline:
	.cfi_startproc
	.cfi_undefined rip
#ifdef __CET__
	endbr64
#endif
	movq %r12, %rdi
	call estack__fiber_entry
	ud2
	.cfi_endproc
	.size estack__fiber_trampoline, .-estack__fiber_trampoline

	.section .note.GNU-stack, "", @progbits
