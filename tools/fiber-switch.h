/* SPDX-License-Identifier: GPL-2.0 */
/* x86-64 fiber context switch for estack-demo: see fiber-switch.S. */
#ifndef FIBER_SWITCH_H
#define FIBER_SWITCH_H

/* fiber_switch() pushes rbp first: the saved rbp is 5 words above sp. */
#define FIBER_SAVED_RBP		(5 * 8)
/* The frame fiber_switch() pops: r15, r14, r13, r12, rbx, rbp, return. */
#define FIBER_FRAME_WORDS	7

void fiber_switch(void **save, void *next);
void fiber_trampoline(void);
/* Called by fiber_trampoline with the r12 of the fiber's first frame. */
void fiber_main(void *arg);

#endif /* FIBER_SWITCH_H */
