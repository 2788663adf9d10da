// SPDX-License-Identifier: GPL-2.0
/*
 * estack selftests: cached memory goes back under pressure. drop_caches
 * empties the caches and pools; a memory cgroup at its limit reclaims its
 * own cached stacks instead of running into the OOM killer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "estack_harness.h"

#define CG_ROOT		"/sys/fs/cgroup"
#define CG		CG_ROOT "/estack-selftest"

/* "key value" lines, as in memory.events. */
static long long read_key(const char *path, const char *key)
{
	char line[256], k[64];
	long long v = -1, n;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %lld", k, &n) == 2 && !strcmp(k, key))
			v = n;
	fclose(f);
	return v;
}

/* In a forked child: join CG and open the device there (exit 100, 101). */
static int cg_child_open(void)
{
	char buf[32];
	int fd;

	snprintf(buf, sizeof(buf), "%d", getpid());
	if (es_write_file(CG "/cgroup.procs", buf))
		_exit(100);
	fd = open(DEV_PATH, O_RDWR);
	if (fd < 0)
		_exit(101);
	return fd;
}

FIXTURE(reclaim) {
	int fd;
	long long mapped_cache;
};

FIXTURE_SETUP(reclaim)
{
	struct estack_api api;

	self->mapped_cache = -1;
	es_test_open_with(_metadata, &self->fd, &api,
			  ESTACK_FEATURE_STACKS, "ALLOC/FREE/INFO");
	if (geteuid())
		ES_SKIP("needs root for drop_caches and cgroups");
	/* What the files keep mapped is not the shrinker's: keep none. */
	self->mapped_cache = es_param("mapped_cache");
	ASSERT_LE(0, self->mapped_cache);
	ASSERT_EQ(0, es_set_param("mapped_cache", 0));
}

FIXTURE_TEARDOWN(reclaim)
{
	if (self->fd >= 0)
		close(self->fd);
	es_unmap_arenas();
	if (self->mapped_cache >= 0)
		EXPECT_EQ(0, es_set_param("mapped_cache", self->mapped_cache));
}

TEST_F(reclaim, drop_caches_empties_caches)
{
	struct estack_alloc a[96];
	long long freed = es_stat("shrinker_freed");
	int i;

	for (i = 0; i < 96; i++)
		ASSERT_EQ(0, es_alloc(self->fd, 4096 << (i % 6), &a[i]));
	for (i = 0; i < 96; i++)
		ASSERT_EQ(0, es_free(self->fd, a[i].id));
	EXPECT_LT(0, es_stat("bytes_cached"));

	ASSERT_EQ(0, es_write_file("/proc/sys/vm/drop_caches", "2"));
	EXPECT_EQ(0, es_stat("bytes_cached"));
	EXPECT_LT(freed, es_stat("shrinker_freed"));
	/* Nothing in use was touched. */
	EXPECT_EQ(es_stat("pages_held"), es_stat("bytes_in_use") / 4096);
}

/*
 * Stacks a process in another cgroup frees, few enough for the per-CPU
 * caches to keep them all, go back on drop_caches too. Reclaim calls a
 * memcg-aware shrinker for such a cgroup only once one of the cgroup's
 * objects went on one of the shrinker's lists, which the per-CPU caches
 * are not: here the pools hold nothing of it, so only the call for the
 * root cgroup, which reclaim makes with every shrinker, can reach them.
 */
TEST_F(reclaim, drop_caches_empties_a_cgroups_cpu_caches)
{
	int status, fd, i;
	pid_t pid;

	if (access(CG_ROOT "/cgroup.controllers", R_OK))
		ES_SKIP("no cgroup v2 at " CG_ROOT);
	es_write_file(CG_ROOT "/cgroup.subtree_control", "+memory");
	rmdir(CG);
	ASSERT_EQ(0, mkdir(CG, 0755));
	/* Its own memory cgroup, or the child's spans would be the root's. */
	ASSERT_EQ(0, access(CG "/memory.current", F_OK));
	/* Every class empty: the child's spans are the caches' only ones. */
	ASSERT_EQ(0, es_write_file("/proc/sys/vm/drop_caches", "2"));
	ASSERT_EQ(0, es_stat("bytes_cached"));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct estack_alloc a[8];

		fd = cg_child_open();
		/* 32 KiB: a quarter of one class's budget on one CPU. */
		for (i = 0; i < 8; i++)
			if (es_alloc(fd, 4096, &a[i]))
				_exit(102);
		for (i = 0; i < 8; i++)
			if (es_free(fd, a[i].id))
				_exit(103);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(8 * 4096, es_stat("bytes_cached"));

	ASSERT_EQ(0, es_write_file("/proc/sys/vm/drop_caches", "2"));
	EXPECT_EQ(0, es_stat("bytes_cached"));
	EXPECT_EQ(0, rmdir(CG));
}

/* Allocate @bytes in stacks of @size, then free them all. */
static int churn(int fd, unsigned long bytes, unsigned long size)
{
	unsigned long n = bytes / size, i;
	struct estack_alloc a;
	__u32 *ids = calloc(n, sizeof(*ids));
	int err = 0;

	if (!ids)
		return 1;
	for (i = 0; i < n && !err; i++) {
		err = es_alloc(fd, size, &a);
		if (!err) {
			ids[i] = a.id;
			es_poke(a.lo, 1);
		}
	}
	for (i = 0; i < n; i++)
		if (ids[i])
			es_free(fd, ids[i]);
	free(ids);
	return err;
}

/*
 * In a cgroup with memory.max of 32 MiB: 20 MiB of 4 KiB stacks, freed
 * (and so cached, charged to the cgroup), then 20 MiB of 64 KiB stacks,
 * which the cache cannot serve. That only fits if reclaim in the cgroup
 * takes the cached stacks back.
 */
TEST_F_TIMEOUT(reclaim, cgroup_limit_reclaims_own_cache, 600)
{
	long long freed = es_stat("shrinker_freed");
	int status, err;
	pid_t pid;

	ASSERT_LE(0, freed);
	if (access(CG_ROOT "/cgroup.controllers", R_OK))
		ES_SKIP("no cgroup v2 at " CG_ROOT);
	es_write_file(CG_ROOT "/cgroup.subtree_control", "+memory");
	rmdir(CG);
	ASSERT_EQ(0, mkdir(CG, 0755));
	ASSERT_EQ(0, es_write_file(CG "/memory.max", "32M"));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int fd = cg_child_open();

		err = churn(fd, 20 << 20, 4096);
		if (err)
			_exit(err);
		_exit(churn(fd, 20 << 20, 65536));
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status))
		TH_LOG("killed by signal %d", WTERMSIG(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child error %d", WEXITSTATUS(status));
	EXPECT_EQ(0, read_key(CG "/memory.events", "oom_kill"));
	/* The limit was hit, and reclaim took cached stacks back. */
	EXPECT_LT(0, read_key(CG "/memory.events", "max"));
	/* 40 MiB went through 32: at least 8 MiB came from the caches. */
	EXPECT_LE(freed + (8 << 20) / 4096, es_stat("shrinker_freed"));
	TH_LOG("memory.max hit %lld times, shrinker freed %lld pages",
	       read_key(CG "/memory.events", "max"),
	       es_stat("shrinker_freed") - freed);
	EXPECT_EQ(0, rmdir(CG));
}

TEST_HARNESS_MAIN
