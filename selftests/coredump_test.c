// SPDX-License-Identifier: GPL-2.0
/*
 * estack selftests: core dumps of a process with arenas. A 64-bit arena
 * is 64 GiB of address space; a dump must cost time and bytes in
 * proportion to what the process has mapped, not to its arenas, whether
 * it goes to a file (where skipped ranges are holes) or through a pipe
 * (where they would be zero bytes), and whatever coredump_filter says.
 *
 * Each test crashes two children that allocated the same stacks, one of
 * which unmapped its arenas before the crash, and compares their dumps.
 * Needs root: it sets kernel.core_pattern and puts it back.
 */
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "estack_harness.h"

#define NR_STACKS	1000
#define STACK_BYTES	4096
#define SLACK		(1024LL * 1024)
/* A hang detector, not a speed target: QEMU TCG is slow. */
#define DUMP_TIMEOUT	300
#define TEST_TIMEOUT	(2 * DUMP_TIMEOUT + 120)

#define CORE_PATTERN	"/proc/sys/kernel/core_pattern"
#define CORE_FILE	"/tmp/estack-core"
#define CORE_HELPER	"/tmp/estack-core-helper"
#define CORE_BYTES	"/tmp/estack-core.bytes"

/* Counts the bytes of the dump on its stdin; renames when complete. */
static const char helper_script[] =
	"#!/bin/sh\n"
	"PATH=/bin:/usr/bin\n"
	"wc -c > " CORE_BYTES ".$1.tmp && mv " CORE_BYTES ".$1.tmp "
	CORE_BYTES ".$1\n";

FIXTURE(core) {
	char old_pattern[256];
	bool saved;
};

FIXTURE_VARIANT(core) {
	/* The crashing child's /proc/self/coredump_filter; NULL: as is. */
	const char *filter;
};

/* The default: anonymous memory, ELF headers, private huge pages. */
FIXTURE_VARIANT_ADD(core, default_filter) {
	.filter = NULL,
};

/* Everything, shared file mappings (as the arena is) included. */
FIXTURE_VARIANT_ADD(core, all_filter) {
	.filter = "0x1ff",
};

FIXTURE_SETUP(core)
{
	int fd;

	es_test_open(_metadata, &fd);
	close(fd);
	if (geteuid())
		ES_SKIP("needs root to set " CORE_PATTERN);
	ASSERT_EQ(0, es_read_file(CORE_PATTERN, self->old_pattern,
				  sizeof(self->old_pattern)));
	self->saved = true;
}

FIXTURE_TEARDOWN(core)
{
	if (self->saved)
		EXPECT_EQ(0, es_write_file(CORE_PATTERN, self->old_pattern));
	unlink(CORE_HELPER);
}

/*
 * The crashing child: NR_STACKS live stacks, each touched; with
 * @keep_arenas false the arenas (and every stack) are unmapped first, for
 * the dump to compare with.
 */
static void crash_child(bool keep_arenas, const char *filter)
{
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	struct estack_alloc a;
	void *no_access;
	int fd, i;

	if (filter && es_write_file("/proc/self/coredump_filter", filter))
		_exit(10);
	fd = es_open();
	if (fd < 0)
		_exit(11);
	for (i = 0; i < NR_STACKS; i++) {
		if (es_alloc(fd, STACK_BYTES, &a))
			_exit(12);
		es_poke(a.hi - 1, 0x5a);
		es_poke(a.lo, 0xa5);
	}
	if (!keep_arenas) {
		es_unmap_arenas();
		if (es_walk_arenas(NULL))
			_exit(13);
	}
	no_access = mmap(NULL, sysconf(_SC_PAGESIZE), PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (no_access == MAP_FAILED || setrlimit(RLIMIT_CORE, &unlimited))
		_exit(14);
	signal(SIGSEGV, SIG_DFL);
	/* A real fault, as a crashing program has. */
	es_poke((unsigned long)no_access, 1);
	raise(SIGSEGV);
	_exit(15);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Crash a child and wait for it, killing it after DUMP_TIMEOUT seconds.
 * Return: its wait status, or -1 when it was killed (or fork failed).
 * *@pid is the child's, *@secs how long it took.
 */
static int crash(bool keep_arenas, const char *filter, pid_t *pid,
		 double *secs)
{
	double start = now();
	int status;
	pid_t ret;

	*pid = fork();
	if (*pid < 0)
		return -1;
	if (!*pid)
		crash_child(keep_arenas, filter);
	for (;;) {
		ret = waitpid(*pid, &status, WNOHANG);
		*secs = now() - start;
		if (ret == *pid)
			return status;
		if (ret < 0 && errno != EINTR)
			return -1;
		if (*secs > DUMP_TIMEOUT) {
			kill(*pid, SIGKILL);
			waitpid(*pid, &status, 0);
			return -1;
		}
		usleep(50 * 1000);
	}
}

static bool dumped_core(int status)
{
	return status >= 0 && WIFSIGNALED(status) &&
	       WTERMSIG(status) == SIGSEGV && WCOREDUMP(status);
}

/* Bytes of memory the dump with arenas may hold beyond the one without. */
static long long stack_bytes(void)
{
	return (long long)NR_STACKS * STACK_BYTES;
}

struct dump_size {
	long long blocks;	/* bytes the file occupies (st_blocks) */
	long long size;		/* its length, holes included */
	double secs;
	int status;		/* the child's wait status, -1: killed */
};

/* A crash dumped to a file; 0, or what went wrong (for the log). */
static const char *dump_to_file(bool keep_arenas, const char *filter,
				struct dump_size *d)
{
	char path[64];
	struct stat st;
	pid_t pid;
	int status;

	status = crash(keep_arenas, filter, &pid, &d->secs);
	d->status = status;
	snprintf(path, sizeof(path), CORE_FILE ".%d", (int)pid);
	if (stat(path, &st)) {
		unlink(path);
		return status < 0 ? "no core file: the dump timed out" :
				    "no core file";
	}
	unlink(path);
	d->blocks = (long long)st.st_blocks * 512;
	d->size = st.st_size;
	if (status < 0)
		return "the dump timed out";
	if (!dumped_core(status))
		return "the child did not dump core";
	return NULL;
}

/* A crash dumped through a pipe to CORE_HELPER, which counts the bytes. */
static const char *dump_to_pipe(bool keep_arenas, const char *filter,
				struct dump_size *d)
{
	char path[64], buf[64];
	double start;
	pid_t pid;
	int status, err;

	status = crash(keep_arenas, filter, &pid, &d->secs);
	d->status = status;
	snprintf(path, sizeof(path), CORE_BYTES ".%d", (int)pid);
	/* The kernel does not wait for the helper: give it time to count. */
	start = now();
	while ((err = es_read_file(path, buf, sizeof(buf))) &&
	       now() - start < 60)
		usleep(50 * 1000);
	unlink(path);
	if (!err) {
		d->size = strtoll(buf, NULL, 10);
		d->blocks = d->size;
	}
	if (status < 0)
		return "the dump timed out";
	if (!dumped_core(status))
		return "the child did not dump core";
	if (err || !buf[0])
		return "the helper reported no count";
	return NULL;
}

static void log_dump(struct __test_metadata *_metadata, const char *what,
		     const struct dump_size *d)
{
	TH_LOG("%s: %lld bytes, %lld occupied, %.1f s, status %#x", what,
	       d->size, d->blocks, d->secs, d->status);
}

TEST_F_TIMEOUT(core, to_file, TEST_TIMEOUT)
{
	struct dump_size with = { 0 }, without = { 0 };
	const char *err;

	ASSERT_EQ(0, es_write_file(CORE_PATTERN, CORE_FILE ".%p"));

	err = dump_to_file(false, variant->filter, &without);
	log_dump(_metadata, "arenas unmapped", &without);
	ASSERT_TRUE(!err) TH_LOG("%s", err);

	err = dump_to_file(true, variant->filter, &with);
	log_dump(_metadata, "arenas mapped", &with);
	ASSERT_TRUE(!err) TH_LOG("%s", err);

	/* Holes are free: the space the dump takes. */
	EXPECT_GE(stack_bytes() + SLACK + without.blocks, with.blocks);
	/* A 64 GiB sparse file is still a problem for whoever copies it. */
	EXPECT_GE(stack_bytes() + SLACK + without.size, with.size);
}

TEST_F_TIMEOUT(core, to_pipe, TEST_TIMEOUT)
{
	struct dump_size with = { 0 }, without = { 0 };
	const char *err;
	int fd;

	fd = open(CORE_HELPER, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	ASSERT_LE(0, fd);
	ASSERT_EQ(sizeof(helper_script) - 1,
		  write(fd, helper_script, sizeof(helper_script) - 1));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, es_write_file(CORE_PATTERN, "|" CORE_HELPER " %p"));

	err = dump_to_pipe(false, variant->filter, &without);
	log_dump(_metadata, "arenas unmapped", &without);
	ASSERT_TRUE(!err) TH_LOG("%s", err);

	err = dump_to_pipe(true, variant->filter, &with);
	log_dump(_metadata, "arenas mapped", &with);
	ASSERT_TRUE(!err) TH_LOG("%s", err);

	/* Nothing is a hole in a pipe: every byte was written. */
	EXPECT_GE(stack_bytes() + SLACK + without.size, with.size);
}

/*
 * Whether smaps gives the mapping at @start the flag "dd" (VM_DONTDUMP):
 * 1 or 0; -1 when it has no such mapping.
 */
static int dont_dump(unsigned long start)
{
	char line[512];

	if (es_smaps_line(start, "VmFlags:", line, sizeof(line)))
		return -1;
	return !!strstr(line, " dd ");
}

/* The arena is marked for no dump ("dd"), and MADV_DODUMP cannot undo it. */
TEST_F(core, arena_not_dumped)
{
	struct estack_alloc a;
	struct es_range r;
	int fd;

	fd = es_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, es_alloc(fd, STACK_BYTES, &a));
	ASSERT_EQ(0, es_arena_of(a.lo, &r));
	EXPECT_EQ(1, dont_dump(r.start));
	EXPECT_EQ(-1, madvise(U2P(r.start), r.end - r.start, MADV_DODUMP));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(1, dont_dump(r.start));
	EXPECT_EQ(0, es_free(fd, a.id));
	close(fd);
	es_unmap_arenas();
}

TEST_HARNESS_MAIN
