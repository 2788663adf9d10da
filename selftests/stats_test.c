// SPDX-License-Identifier: GPL-2.0
/*
 * estack selftests: the statistics move exactly as the operations say,
 * estack-stat agrees with sysfs, each tracepoint fires with the right
 * fields, debugfs is root only and sysfs is world readable.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "estack_harness.h"

#define TRACEFS		"/sys/kernel/tracing/"
#define DEBUGFS_CTX	"/sys/kernel/debug/estack/contexts"
#define NOBODY		65534

/* The whole of a file (the trace), NUL-terminated; free() it. */
static char *slurp(const char *path)
{
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += n;
		if (cap - len < 4096) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				break;
		}
	}
	close(fd);
	if (buf)
		buf[len] = 0;
	return buf;
}

static int has(const char *s, const char *sub)
{
	return strstr(s, sub) ? 1 : 0;
}

/* Run @fn as uid nobody in a child; its exit status. */
static int as_nobody(int (*fn)(void))
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (!pid) {
		if (setgid(NOBODY) || setuid(NOBODY))
			_exit(99);
		_exit(fn());
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

FIXTURE(st) {
	int fd;
};

FIXTURE_SETUP(st)
{
	es_test_open(_metadata, &self->fd);
}

FIXTURE_TEARDOWN(st)
{
	if (self->fd >= 0)
		close(self->fd);
	es_unmap_arenas();
}

TEST_F(st, counters_move_exactly)
{
	long long allocs = es_stat("allocs"), frees = es_stat("frees");
	long long in_use = es_stat("stacks_in_use");
	long long bytes = es_stat("bytes_in_use");
	long long grows = es_stat("grows"), copied = es_stat("bytes_copied");
	struct estack_alloc a[10];
	struct estack_move m = { .size = sizeof(m) };
	int i;

	for (i = 0; i < 10; i++)
		ASSERT_EQ(0, es_alloc(self->fd, 8192, &a[i]));
	EXPECT_EQ(allocs + 10, es_stat("allocs"));
	EXPECT_EQ(in_use + 10, es_stat("stacks_in_use"));
	EXPECT_EQ(bytes + 10 * 8192, es_stat("bytes_in_use"));

	m.id = a[0].id;
	m.sp = a[0].hi - 1000;
	ASSERT_EQ(0, es_ioctl(self->fd, ESTACK_IOC_GROW, &m));
	EXPECT_EQ(grows + 1, es_stat("grows"));
	EXPECT_EQ(copied + 1000, es_stat("bytes_copied"));
	EXPECT_EQ(bytes + 9 * 8192 + 16384, es_stat("bytes_in_use"));

	for (i = 0; i < 10; i++)
		ASSERT_EQ(0, es_free(self->fd, a[i].id));
	EXPECT_EQ(frees + 11, es_stat("frees"));	/* the GROW freed one */
	EXPECT_EQ(in_use, es_stat("stacks_in_use"));
	EXPECT_EQ(bytes, es_stat("bytes_in_use"));
}

/* "key": value in estack-stat --json. */
static long long json_num(const char *json, const char *key)
{
	char pat[80];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(json, pat);
	return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

/*
 * estack-stat comes from PATH: build/tools in the rig's VM, beside this
 * program in an installed kselftest tree, where it goes first.
 */
static void path_self_first(void)
{
	char self[4096], *slash, *path;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return;
	self[n] = 0;
	slash = strrchr(self, '/');
	if (!slash)
		return;
	*slash = 0;
	if (asprintf(&path, "%s:%s", self, getenv("PATH") ?: "/bin") < 0)
		return;
	setenv("PATH", path, 1);
	free(path);
}

TEST_F(st, tool_json_equals_sysfs)
{
	static const char *const keys[] = {
		"stacks_in_use", "bytes_in_use", "allocs", "frees", "grows",
		"shrinks", "cache_hits", "cache_misses", "bytes_copied",
		"pages_held", "free_slots",
	};
	struct estack_alloc a;
	char json[8192];
	unsigned int i;
	size_t n;
	FILE *p;

	path_self_first();
	ASSERT_EQ(0, es_alloc(self->fd, 16384, &a));
	p = popen("estack-stat --json", "r");
	ASSERT_FALSE(!p);
	n = fread(json, 1, sizeof(json) - 1, p);
	json[n] = 0;
	ASSERT_EQ(0, pclose(p));
	for (i = 0; i < ARRAY_SIZE(keys); i++)
		EXPECT_EQ(es_stat(keys[i]), json_num(json, keys[i]))
			TH_LOG("key %u", i);
	EXPECT_EQ(0, system("estack-stat > /dev/null"));
	EXPECT_EQ(0, system("estack-stat --per-cpu 0.1 2 > /dev/null"));
	EXPECT_EQ(0, system("estack-stat --help > /dev/null"));
	EXPECT_EQ(2 << 8, system("estack-stat --bogus 2> /dev/null"));
	EXPECT_EQ(0, es_free(self->fd, a.id));
}

TEST_F(st, tracepoints_fire_with_fields)
{
	struct estack_alloc a[40];
	struct estack_move m = { .size = sizeof(m) };
	long long mapped_cache = es_param("mapped_cache");
	char want[160], *trace;
	__u64 lo;
	int i;

	if (geteuid())
		ES_SKIP("tracefs needs root");
	/* The churn below must reach the per-CPU caches and the pools. */
	ASSERT_LE(0, mapped_cache);
	ASSERT_EQ(0, es_set_param("mapped_cache", 0));
	if (access(TRACEFS "events/estack", F_OK))
		mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL);
	ASSERT_EQ(0, access(TRACEFS "events/estack/enable", W_OK));
	ASSERT_EQ(0, es_write_file_flags(TRACEFS "trace", "", O_TRUNC));
	ASSERT_EQ(0, es_write_file_flags(TRACEFS "events/estack/enable", "1",
					 O_TRUNC));

	ASSERT_EQ(0, es_alloc(self->fd, 8192, &a[0]));
	lo = a[0].lo;
	m.id = a[0].id;
	m.sp = a[0].hi - 64;
	ASSERT_EQ(0, es_ioctl(self->fd, ESTACK_IOC_GROW, &m));
	m.sp = m.hi - 64;
	ASSERT_EQ(0, es_ioctl(self->fd, ESTACK_IOC_SHRINK, &m));
	ASSERT_EQ(0, es_free(self->fd, a[0].id));
	/* Churn one class past the cache budget, both ways, then reclaim. */
	for (i = 0; i < 40; i++)
		ASSERT_EQ(0, es_alloc(self->fd, 4096, &a[i]));
	for (i = 0; i < 40; i++)
		ASSERT_EQ(0, es_free(self->fd, a[i].id));
	for (i = 0; i < 40; i++)
		ASSERT_EQ(0, es_alloc(self->fd, 4096, &a[i]));
	for (i = 0; i < 40; i++)
		ASSERT_EQ(0, es_free(self->fd, a[i].id));
	ASSERT_EQ(0, es_write_file_flags("/proc/sys/vm/drop_caches", "2",
					 O_TRUNC));

	ASSERT_EQ(0, es_write_file_flags(TRACEFS "events/estack/enable", "0",
					 O_TRUNC));
	trace = slurp(TRACEFS "trace");
	ASSERT_FALSE(!trace);

	snprintf(want, sizeof(want), "estack_alloc: id=%u lo=0x%llx hi=0x%llx size=8192",
		 m.id, (unsigned long long)lo, (unsigned long long)lo + 8192);
	EXPECT_TRUE(has(trace, want)) TH_LOG("no '%s'", want);
	snprintf(want, sizeof(want), "estack_grow: id=%u size=8192->16384", m.id);
	EXPECT_TRUE(has(trace, want)) TH_LOG("no '%s'", want);
	EXPECT_TRUE(has(trace, "copied=64 "));
	snprintf(want, sizeof(want), "estack_shrink: id=%u size=16384->8192",
		 m.id);
	EXPECT_TRUE(has(trace, want)) TH_LOG("no '%s'", want);
	snprintf(want, sizeof(want), "estack_free: id=%u lo=0x%llx", m.id,
		 (unsigned long long)m.lo);
	EXPECT_TRUE(has(trace, want)) TH_LOG("no '%s'", want);
	EXPECT_TRUE(has(trace, "estack_cache_release: cpu="));
	EXPECT_TRUE(has(trace, "estack_cache_refill: cpu="));
	EXPECT_TRUE(has(trace, "estack_shrinker_scan: nid="));
	/* User addresses only: nothing that looks like a kernel pointer. */
	EXPECT_TRUE(!has(trace, "=0xffff"));
	free(trace);
	EXPECT_EQ(0, es_set_param("mapped_cache", mapped_cache));
}

static int open_debugfs(void)
{
	int fd = open(DEBUGFS_CTX, O_RDONLY);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	return errno;
}

static int read_sysfs(void)
{
	return es_stat("stacks_in_use") < 0;
}

TEST_F(st, debugfs_root_only_sysfs_for_all)
{
	struct estack_alloc a;
	char want[32], *table;
	struct stat st;

	if (geteuid())
		ES_SKIP("needs root to compare");
	ASSERT_EQ(0, es_alloc(self->fd, 65536, &a));
	ASSERT_EQ(0, stat(DEBUGFS_CTX, &st));
	EXPECT_EQ(0400, st.st_mode & 0777);
	EXPECT_EQ(EACCES, as_nobody(open_debugfs));
	EXPECT_EQ(0, as_nobody(read_sysfs));

	table = slurp(DEBUGFS_CTX);
	ASSERT_FALSE(!table);
	snprintf(want, sizeof(want), "%8d ", getpid());
	EXPECT_TRUE(has(table, want));
	EXPECT_TRUE(has(table, "65536"));
	free(table);
	table = slurp("/sys/kernel/debug/estack/classes");
	ASSERT_FALSE(!table);
	EXPECT_TRUE(has(table, "64K"));
	free(table);
	EXPECT_EQ(0, es_free(self->fd, a.id));
}

TEST_HARNESS_MAIN
