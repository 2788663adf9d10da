/* SPDX-License-Identifier: GPL-2.0 */
/*
 * x86-64 fiber context switch for estack-demo (System V ABI).
 *
 * void fiber_switch(void **save, void *next)
 *	Push the callee-saved registers on the current stack, store the stack
 *	pointer in *save, load next and pop the registers saved there. The
 *	saved rbp is the first push: it sits FIBER_SAVED_RBP bytes above the
 *	saved stack pointer.
 *
 * fiber_trampoline
 *	Where a new fiber's first switch returns to: calls fiber_main(r12).
 */
	.text
	.globl fiber_switch
	.type fiber_switch, @function
fiber_switch:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, (%rdi)
	movq %rsi, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret
	.size fiber_switch, .-fiber_switch

	.globl fiber_trampoline
	.type fiber_trampoline, @function
fiber_trampoline:
	movq %r12, %rdi
	call fiber_main
	ud2
	.size fiber_trampoline, .-fiber_trampoline

	.section .note.GNU-stack, "", @progbits
