// SPDX-License-Identifier: GPL-2.0
/*
 * What the command-line tools share beyond the device: their usage text.
 */
#include <stdio.h>

#include "estack_util.h"

/*
 * Print a tool's usage @text for main() to return @status: to stdout for
 * --help (0), to stderr for a command line it cannot take (2).
 */
int es_usage(const char *text, int status)
{
	fputs(text, status ? stderr : stdout);
	return status;
}
