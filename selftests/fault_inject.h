/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fault injection for estack selftests: make the n-th fault site (slab
 * allocation, page allocation, user copy) of the next system call of this
 * thread fail, through /proc/thread-self/fail-nth.
 *
 * Needs CONFIG_FAULT_INJECTION with FAILSLAB, FAIL_PAGE_ALLOC,
 * FAULT_INJECTION_USERCOPY and FAULT_INJECTION_DEBUG_FS (the debug kernel).
 * fi_setup() makes sleeping and order-0 allocations eligible (by default
 * both are skipped, which would leave most of estack's allocations out).
 *
 * A sweep calls the operation with n = 1, 2, ... until a call no longer
 * reaches its n-th site: then every site of that path has failed once.
 */
#ifndef ESTACK_FAULT_INJECT_H
#define ESTACK_FAULT_INJECT_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "estack_util.h"

#define FI_DEBUGFS	"/sys/kernel/debug/"
#define FI_NTH		"/proc/thread-self/fail-nth"

/* 0 when fault injection is available and configured, else -1. */
static inline int fi_setup(void)
{
	static const char *const knobs[][2] = {
		{ FI_DEBUGFS "failslab/ignore-gfp-wait", "N" },
		{ FI_DEBUGFS "fail_page_alloc/ignore-gfp-wait", "N" },
		{ FI_DEBUGFS "fail_page_alloc/min-order", "0" },
		/* One line per injected fault, no stack dump. */
		{ FI_DEBUGFS "failslab/verbose", "1" },
		{ FI_DEBUGFS "fail_page_alloc/verbose", "1" },
		{ FI_DEBUGFS "fail_usercopy/verbose", "1" },
	};
	unsigned int i;

	if (access(FI_NTH, W_OK))
		return -1;
	for (i = 0; i < ARRAY_SIZE(knobs); i++)
		if (es_write_file(knobs[i][0], knobs[i][1]))
			return -1;
	return 0;
}

/* Open this thread's fail-nth once, before arming: opening allocates. */
static inline int fi_open(void)
{
	return open(FI_NTH, O_RDWR | O_CLOEXEC);
}

/* Make the @nth fault site from now on fail. */
static inline int fi_arm(int fd, unsigned int nth)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", nth);

	return pwrite(fd, buf, len, 0) == len ? 0 : -1;
}

/*
 * Disarm and tell whether the armed fault fired. The kernel reports the
 * count still to go; reading it is itself a user copy, and so may consume
 * or fail when the count was not yet zero. Either way it had not fired.
 */
static inline bool fi_disarm(int fd)
{
	char buf[16] = "";
	bool fired;
	int i;

	fired = pread(fd, buf, sizeof(buf) - 1, 0) > 0 && buf[0] == '0';
	/* The write is a user copy too: repeat until the count is zero. */
	for (i = 0; i < 4; i++)
		if (pwrite(fd, "0", 1, 0) == 1)
			break;
	return fired;
}

/*
 * fail_function: make one function of the module return what a test asks
 * (it must be marked ALLOW_ERROR_INJECTION), for this thread only
 * (task-filter and make-it-fail), @times times, after @space calls that go
 * through.
 */
#define FF_DIR		FI_DEBUGFS "fail_function/"
#define FF_SELF		"/proc/thread-self/make-it-fail"

static inline int ff_arm(const char *func, long long retval,
			 unsigned int space, unsigned int times)
{
	char path[128], buf[32];

	es_write_file(FF_DIR "inject", " ");	/* nothing armed before */
	snprintf(buf, sizeof(buf), "!%s", func);
	es_write_file(FF_DIR "inject", buf);
	if (es_write_file(FF_DIR "inject", func))
		return -1;
	snprintf(path, sizeof(path), FF_DIR "%s/retval", func);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)retval);
	if (es_write_file(path, buf) ||
	    es_write_file(FF_DIR "task-filter", "Y") ||
	    es_write_file(FF_DIR "probability", "100") ||
	    es_write_file(FF_DIR "interval", "1") ||
	    es_write_file(FF_DIR "verbose", "1"))
		return -1;
	snprintf(buf, sizeof(buf), "%u", times);
	if (es_write_file(FF_DIR "times", buf))
		return -1;
	snprintf(buf, sizeof(buf), "%u", space);
	if (es_write_file(FF_DIR "space", buf))
		return -1;
	return es_write_file(FF_SELF, "1") ? -1 : 0;
}

/* Disarm; true when the injection fired (all its times were used). */
static inline bool ff_disarm(const char *func)
{
	char buf[32] = "";
	bool fired;

	es_write_file(FF_SELF, "0");
	fired = !es_read_file(FF_DIR "times", buf, sizeof(buf)) &&
		buf[0] == '0';
	snprintf(buf, sizeof(buf), "!%s", func);
	es_write_file(FF_DIR "inject", buf);
	return fired;
}

#endif /* ESTACK_FAULT_INJECT_H */
