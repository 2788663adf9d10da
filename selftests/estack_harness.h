/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the estack selftests share that needs the kselftest harness: open
 * /dev/estack or skip. Everything else is in the helper library,
 * tools/lib/util/estack_util.h.
 *
 * A helper that cannot go on skips the test (no module, a module without
 * a feature) or fails it, and in both cases leaves it through the
 * harness's jump: a caller goes on only when it succeeded.
 */
#ifndef ESTACK_HARNESS_H
#define ESTACK_HARNESS_H

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "estack_util.h"

#define ES_ABSENT	DEV_PATH " is absent: is estack.ko loaded?"

/*
 * Skip the test from anywhere: its FIXTURE_SETUP, its body, or a helper
 * either calls. The harness (linux-source-6.1's) runs a test's body after
 * a FIXTURE_SETUP that called SKIP(return, ...), since it checks only
 * _metadata->passed: without the module, such a body then fails instead
 * of skipping. ES_SKIP leaves through the harness's own jump, as a failed
 * ASSERT does; the teardown runs only if the setup completed.
 */
#define ES_SKIP(fmt, ...) \
	SKIP(longjmp(_metadata->env, 1), fmt, ##__VA_ARGS__)

/* Skip the test when the module is not loaded. */
static inline void es_test_present(struct __test_metadata *_metadata)
{
	if (access(DEV_PATH, F_OK))
		ES_SKIP(ES_ABSENT);
}

/*
 * Open /dev/estack into *@fd: skip the test when the module is not loaded,
 * fail it on any other error.
 */
static inline void es_test_open(struct __test_metadata *_metadata, int *fd)
{
	*fd = es_open();
	if (*fd < 0 && errno == ENOENT)
		ES_SKIP(ES_ABSENT);
	ASSERT_LE(0, *fd) TH_LOG("open " DEV_PATH ": %s", strerror(errno));
}

/*
 * es_test_open(), then the handshake into *@api; skip the test when the
 * module lacks the ESTACK_FEATURE_* bits @feat (@what names them).
 */
static inline void es_test_open_with(struct __test_metadata *_metadata,
				     int *fd, struct estack_api *api,
				     __u64 feat, const char *what)
{
	es_test_open(_metadata, fd);
	ASSERT_EQ(0, es_api(*fd, api));
	if ((api->features & feat) != feat)
		ES_SKIP("module without %s", what);
}

/*
 * The end of a test that opened @fd and read stacks_in_use into @in_use
 * (nothing when @fd was never opened): close the file, unmap every arena
 * of this process, and expect the module to hold as many stacks as before.
 */
static inline void es_test_close(struct __test_metadata *_metadata, int fd,
				 long long in_use)
{
	if (fd < 0)
		return;
	close(fd);
	es_unmap_arenas();
	EXPECT_EQ(in_use, es_stat("stacks_in_use"));
}

#endif /* ESTACK_HARNESS_H */
