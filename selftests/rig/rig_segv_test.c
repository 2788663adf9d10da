// SPDX-License-Identifier: GPL-2.0
/*
 * A test program that crashes half-way on purpose: `make check-rig` adds it
 * to the VM to prove that a program that dies after some results, its plan
 * unmet, fails `make check`. Never part of a normal run.
 */
#include <signal.h>
#include <stdio.h>

int main(void)
{
	printf("TAP version 13\n1..2\nok 1 the first case passed\n");
	fflush(stdout);
	raise(SIGSEGV);
	printf("ok 2 never reached\n");
	return 0;
}
