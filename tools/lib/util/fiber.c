// SPDX-License-Identifier: GPL-2.0
/*
 * Code running on an estack stack as a fiber (ucontext), for what only a
 * call from the stack itself can show: a GROW or FREE of the running stack.
 */
#include <ucontext.h>

#include "estack_util.h"

/*
 * Run @fn on the stack [@lo, @hi) until it returns, which resumes the
 * caller through @from; @fiber holds the fiber's context meanwhile, for
 * @fn to switch back early. 0, or -1 with errno when a switch failed.
 */
int es_run_on(ucontext_t *from, ucontext_t *fiber, __u64 lo, __u64 hi,
	      void (*fn)(void))
{
	if (getcontext(fiber))
		return -1;
	fiber->uc_stack.ss_sp = U2P(lo);
	fiber->uc_stack.ss_size = hi - lo;
	fiber->uc_link = from;
	makecontext(fiber, fn, 0);
	return swapcontext(from, fiber);
}
