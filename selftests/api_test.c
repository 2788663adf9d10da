// SPDX-License-Identifier: GPL-2.0
/*
 * estack selftests: the device, the handshake and the ABI checks every
 * command shares (error order ENOTTY, EPERM, EFAULT, EINVAL/E2BIG).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/estack.h>

#include "estack_harness.h"

#define EXEC_FD_ENV	"ESTACK_TEST_EXEC_FD"

static int api_call(int fd, struct estack_api *api)
{
	memset(api, 0, sizeof(*api));
	api->size = sizeof(*api);
	return es_ioctl(fd, ESTACK_IOC_API, api);
}

/* In a child process: the errno of an API call on an inherited fd. */
static int child_api_errno(int fd, unsigned long cmd, void *arg)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(es_ioctl(fd, cmd, arg));
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

FIXTURE(dev) {
	int fd;
	long page;
};

FIXTURE_SETUP(dev)
{
	self->page = sysconf(_SC_PAGESIZE);
	es_test_open(_metadata, &self->fd);
}

FIXTURE_TEARDOWN(dev)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST(device_node_is_world_rw_misc)
{
	struct stat st;

	if (stat(DEV_PATH, &st) && errno == ENOENT)
		ES_SKIP(ES_ABSENT);
	ASSERT_EQ(0, stat(DEV_PATH, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0666, st.st_mode & 0777);
	EXPECT_EQ(10, major(st.st_rdev));	/* MISC_MAJOR */
}

TEST_F(dev, handshake_values)
{
	struct estack_api api;
	unsigned long max_stack;

	ASSERT_EQ(0, api_call(self->fd, &api));
	EXPECT_EQ(sizeof(api), api.size);
	EXPECT_EQ(0, api.flags);
	EXPECT_EQ(ESTACK_API_VERSION, api.version);
	EXPECT_EQ(self->page, api.page_size);
	EXPECT_EQ(self->page, api.min_stack);
	max_stack = es_param("max_stack");
	ASSERT_LE(0, (long long)max_stack);
	EXPECT_EQ(max_stack, api.max_stack);
	EXPECT_EQ(1UL << 30, api.max_stack);	/* the default */
}

/* Every advertised feature is dispatched and every other command is not. */
TEST_F(dev, features_match_dispatch)
{
	static const struct {
		unsigned long cmd;
		__u64 feature;
	} cmds[] = {
		{ ESTACK_IOC_ALLOC, ESTACK_FEATURE_STACKS },
		{ ESTACK_IOC_FREE, ESTACK_FEATURE_STACKS },
		{ ESTACK_IOC_INFO, ESTACK_FEATURE_STACKS },
		{ ESTACK_IOC_GROW, ESTACK_FEATURE_MOVE },
		{ ESTACK_IOC_SHRINK, ESTACK_FEATURE_MOVE },
		{ ESTACK_IOC_ALLOC_BATCH, ESTACK_FEATURE_BATCH },
		{ ESTACK_IOC_FREE_BATCH, ESTACK_FEATURE_BATCH },
	};
	const __u64 known = ESTACK_FEATURE_STACKS | ESTACK_FEATURE_MOVE |
			       ESTACK_FEATURE_ADJUST_FP |
			       ESTACK_FEATURE_ADJUST_CONSERVATIVE |
			       ESTACK_FEATURE_BATCH;
	struct estack_api api;
	unsigned int i;

	ASSERT_EQ(0, api_call(self->fd, &api));
	EXPECT_EQ(0, api.features & ~known);
	if (api.features & (ESTACK_FEATURE_ADJUST_FP |
			    ESTACK_FEATURE_ADJUST_CONSERVATIVE))
		EXPECT_TRUE(api.features & ESTACK_FEATURE_MOVE);

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		/* A NULL struct: dispatched commands fail later, with EFAULT. */
		int err = es_ioctl(self->fd, cmds[i].cmd, NULL);

		int want = api.features & cmds[i].feature ? EFAULT : ENOTTY;

		EXPECT_EQ(want, err) TH_LOG("cmd nr %lu",
					    _IOC_NR(cmds[i].cmd));
	}
}

TEST_F(dev, unknown_commands_enotty)
{
	struct estack_api api = { .size = sizeof(api) };

	/* Right number, wrong type. */
	EXPECT_EQ(ENOTTY, es_ioctl(self->fd, _IOWR('E', 0, struct estack_api),
				   &api));
	/* Right type, numbers past the last command. */
	EXPECT_EQ(ENOTTY, es_ioctl(self->fd, _IOWR(ESTACK_IOC_MAGIC, 8,
						   struct estack_api), &api));
	EXPECT_EQ(ENOTTY, es_ioctl(self->fd, _IOWR(ESTACK_IOC_MAGIC, 0xff,
						   struct estack_api), &api));
	/* A terminal ioctl on a character device that is not a tty. */
	EXPECT_EQ(ENOTTY, es_ioctl(self->fd, TCGETS, &api));
	/* ENOTTY comes before EFAULT. */
	EXPECT_EQ(ENOTTY, es_ioctl(self->fd, _IO(ESTACK_IOC_MAGIC, 8), NULL));
}

/* Commands are matched on type and number; size and direction bits are ignored. */
TEST_F(dev, command_matched_on_type_and_number)
{
	struct estack_api api = { .size = sizeof(api) };

	EXPECT_EQ(0, es_ioctl(self->fd, _IO(ESTACK_IOC_MAGIC, 0), &api));
	EXPECT_EQ(ESTACK_API_VERSION, api.version);
	memset(&api, 0, sizeof(api));
	api.size = sizeof(api);
	EXPECT_EQ(0, es_ioctl(self->fd, _IOR(ESTACK_IOC_MAGIC, 0, char[8]), &api));
	EXPECT_EQ(ESTACK_API_VERSION, api.version);
}

TEST_F(dev, bad_pointer_efault)
{
	struct estack_api *api;
	char *map;

	EXPECT_EQ(EFAULT, es_ioctl(self->fd, ESTACK_IOC_API, NULL));
	EXPECT_EQ(EFAULT, es_ioctl(self->fd, ESTACK_IOC_API, (void *)-4096L));

	/* The size field readable, the rest of the struct not. */
	map = mmap(NULL, 2 * self->page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	ASSERT_EQ(0, mprotect(map + self->page, self->page, PROT_NONE));
	api = (struct estack_api *)(map + self->page - 8);
	api->size = sizeof(*api);
	api->flags = 0;
	EXPECT_EQ(EFAULT, es_ioctl(self->fd, ESTACK_IOC_API, api));

	/* Readable but not writable: the result cannot be copied out. */
	api = (struct estack_api *)map;
	memset(api, 0, sizeof(*api));
	api->size = sizeof(*api);
	ASSERT_EQ(0, mprotect(map, self->page, PROT_READ));
	EXPECT_EQ(EFAULT, es_ioctl(self->fd, ESTACK_IOC_API, api));
	munmap(map, 2 * self->page);
}

TEST_F(dev, size_below_first_version_einval)
{
	static const __u32 sizes[] = { 0, 4, 8, 39 };
	struct estack_api api;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		memset(&api, 0, sizeof(api));
		api.size = sizes[i];
		EXPECT_EQ(EINVAL, es_ioctl(self->fd, ESTACK_IOC_API, &api))
			TH_LOG("size %u", sizes[i]);
		EXPECT_EQ(0, api.version) TH_LOG("written back on error");
	}
}

/* A newer caller's longer struct: zero tail accepted, output not overrun. */
TEST_F(dev, larger_struct_zero_tail_ok)
{
	struct {
		struct estack_api api;
		__u64 tail[4];
	} big;

	memset(&big, 0, sizeof(big));
	big.api.size = sizeof(big);
	ASSERT_EQ(0, es_ioctl(self->fd, ESTACK_IOC_API, &big));
	EXPECT_EQ(ESTACK_API_VERSION, big.api.version);
	EXPECT_EQ(sizeof(big), big.api.size);
	EXPECT_EQ(0, big.tail[0] | big.tail[1] | big.tail[2] | big.tail[3]);
}

TEST_F(dev, larger_struct_nonzero_tail_e2big)
{
	struct {
		struct estack_api api;
		__u64 tail[4];
	} big;

	memset(&big, 0, sizeof(big));
	big.api.size = sizeof(big);
	big.tail[3] = 1;
	EXPECT_EQ(E2BIG, es_ioctl(self->fd, ESTACK_IOC_API, &big));
	EXPECT_EQ(0, big.api.version);
}

TEST_F(dev, size_over_a_page_e2big)
{
	size_t len = 2 * self->page;
	struct estack_api *api = calloc(1, len);

	ASSERT_FALSE(!api);
	api->size = self->page + 8;
	EXPECT_EQ(E2BIG, es_ioctl(self->fd, ESTACK_IOC_API, api));
	api->size = UINT32_MAX;
	EXPECT_EQ(E2BIG, es_ioctl(self->fd, ESTACK_IOC_API, api));
	/* Exactly a page, all zero past the struct, is still a valid size. */
	api->size = self->page;
	EXPECT_EQ(0, es_ioctl(self->fd, ESTACK_IOC_API, api));
	free(api);
}

TEST_F(dev, unknown_flags_einval)
{
	struct estack_api api;
	unsigned int bit;

	for (bit = 0; bit < 32; bit++) {
		memset(&api, 0, sizeof(api));
		api.size = sizeof(api);
		api.flags = 1U << bit;
		EXPECT_EQ(EINVAL, es_ioctl(self->fd, ESTACK_IOC_API, &api))
			TH_LOG("flag bit %u", bit);
	}
}

/* EINVAL for the struct comes after EFAULT for the pointer. */
TEST_F(dev, efault_before_einval)
{
	char *map;
	__u32 *size;

	map = mmap(NULL, 2 * self->page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	ASSERT_EQ(0, mprotect(map + self->page, self->page, PROT_NONE));
	/* A valid size with bad flags, but the flags word is unreadable. */
	size = (__u32 *)(map + self->page - 4);
	*size = sizeof(struct estack_api);
	EXPECT_EQ(EFAULT, es_ioctl(self->fd, ESTACK_IOC_API, size));
	munmap(map, 2 * self->page);
}

TEST_F(dev, forked_child_eperm)
{
	struct estack_api api = { .size = sizeof(api) };

	EXPECT_EQ(EPERM, child_api_errno(self->fd, ESTACK_IOC_API, &api));
	/* EPERM comes before EFAULT... */
	EXPECT_EQ(EPERM, child_api_errno(self->fd, ESTACK_IOC_API, NULL));
	/* ...and after ENOTTY. */
	EXPECT_EQ(ENOTTY, child_api_errno(self->fd, _IO(ESTACK_IOC_MAGIC, 0x40),
					  NULL));
	/* The parent is unaffected. */
	EXPECT_EQ(0, api_call(self->fd, &api));
}

/*
 * exec without O_CLOEXEC: the fd survives into a new mm. The test re-runs
 * this binary, whose main() notices EXEC_FD_ENV and reports the errno.
 */
TEST(exec_without_cloexec_eperm)
{
	char buf[16];
	int fd, status;
	pid_t pid;

	fd = open(DEV_PATH, O_RDWR);
	if (fd < 0 && errno == ENOENT)
		ES_SKIP(ES_ABSENT);
	ASSERT_LE(0, fd);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		snprintf(buf, sizeof(buf), "%d", fd);
		setenv(EXEC_FD_ENV, buf, 1);
		execl("/proc/self/exe", "api_test", NULL);
		_exit(100);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(EPERM, WEXITSTATUS(status));
	close(fd);
}

struct thread_arg {
	int fd;
	int err;
};

static void *thread_api(void *p)
{
	struct thread_arg *arg = p;
	struct estack_api api;
	int i;

	for (i = 0; i < 1000 && !arg->err; i++)
		arg->err = api_call(arg->fd, &api);
	return NULL;
}

/* Threads share the mm, so they share the fd. */
TEST_F(dev, threads_share_context)
{
	struct thread_arg args[4];
	pthread_t tids[4];
	int i;

	for (i = 0; i < 4; i++) {
		args[i].fd = self->fd;
		args[i].err = 0;
		ASSERT_EQ(0, pthread_create(&tids[i], NULL, thread_api,
					    &args[i]));
	}
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, pthread_join(tids[i], NULL));
		EXPECT_EQ(0, args[i].err);
	}
}

TEST_F(dev, not_seekable_not_readable)
{
	char c;

	EXPECT_EQ(-1, lseek(self->fd, 0, SEEK_SET));
	EXPECT_EQ(ESPIPE, errno);
	EXPECT_EQ(-1, read(self->fd, &c, 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, write(self->fd, &c, 1));
	EXPECT_EQ(EINVAL, errno);
}

/* Module parameters refuse values outside their bounds. */
TEST_F(dev, params_bounded)
{
	static const struct {
		const char *name;
		const char *bad;
	} cases[] = {
		{ "max_stack", "0" },
		{ "max_stack", "4095" },
		{ "max_stack", "12288" },		/* not a power of two */
		{ "max_stack", "2147483648" },		/* above 1 GiB */
		{ "max_stack", "junk" },
		{ "max_stacks_per_fd", "0" },
		{ "max_stacks_per_fd", "16777217" },
		{ "max_bytes_per_fd", "0" },
		{ "max_bytes_per_fd", "1099511627777" },
		{ "max_bytes_per_user", "0" },
		{ "max_bytes_per_user", "1099511627777" },
		{ "mapped_cache", "16777217" },
		{ "mapped_cache", "-1" },
	};
	unsigned long before, after;
	struct estack_api api;
	unsigned int i;

	if (geteuid())
		ES_SKIP("writing module parameters needs root");

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		before = es_param(cases[i].name);
		ASSERT_LE(0, (long long)before);
		EXPECT_EQ(EINVAL, es_write_param(cases[i].name, cases[i].bad))
			TH_LOG("%s=%s", cases[i].name, cases[i].bad);
		after = es_param(cases[i].name);
		ASSERT_LE(0, (long long)after);
		EXPECT_EQ(before, after);
	}

	/* A valid value takes effect at once and can be restored. */
	before = es_param("max_stack");
	ASSERT_LE(0, (long long)before);
	ASSERT_EQ(0, es_write_param("max_stack", "65536"));
	ASSERT_EQ(0, api_call(self->fd, &api));
	EXPECT_EQ(65536, api.max_stack);
	ASSERT_EQ(0, es_write_param("max_stack", "1073741824"));
	ASSERT_EQ(0, api_call(self->fd, &api));
	EXPECT_EQ(before, api.max_stack);
}

int main(int argc, char **argv)
{
	const char *fd_env = getenv(EXEC_FD_ENV);
	struct estack_api api;

	if (fd_env)
		return api_call(atoi(fd_env), &api);
	return test_harness_run(argc, argv);
}
