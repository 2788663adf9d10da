/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the estack selftests and tools, compiled once into
 * build/lib/util/libestack_util{,_32}.a (64-bit and -m32).
 *
 * The ioctl and file helpers return 0 or a positive errno, so that a test
 * can say ASSERT_EQ(EINVAL, es_alloc(...)); es_read_num() and its users
 * abort instead, for a test that must not compare two failed reads.
 */
#ifndef ESTACK_UTIL_H
#define ESTACK_UTIL_H

#include <stddef.h>
#include <ucontext.h>

#include <linux/estack.h>

/* A __u64 address from the ABI as a pointer, for 32-bit builds too. */
#define U2P(x)		((void *)(unsigned long)(x))

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#define DEV_PATH	"/dev/estack"
#define PARAM_DIR	"/sys/module/estack/parameters/"
#define STATS_DIR	"/sys/class/misc/estack/stats/"

/* dev.c: the device and its ioctls */
int es_open(void);
int es_open_verbose(const char *prog);
int es_ioctl(int fd, unsigned long cmd, void *arg);
int es_api(int fd, struct estack_api *api);
long es_page_size(int fd);
int es_alloc(int fd, __u64 bytes, struct estack_alloc *a);
int es_free(int fd, __u32 id);
int es_info(int fd, __u32 id, struct estack_info *i);
int es_move(int fd, unsigned long cmd, struct estack_move *m);

/* file.c: sysfs, procfs, debugfs and cgroupfs files */
int es_read_file(const char *path, char *buf, size_t len);
int es_write_file(const char *path, const char *val);
int es_write_file_flags(const char *path, const char *val, int flags);
int es_read_ll(const char *path, long long *val);
long long es_read_num(const char *path);
long long es_stat(const char *name);
long long es_param(const char *name);
int es_param_str(const char *name, char *buf, size_t len);
int es_write_param(const char *name, const char *val);
int es_set_param(const char *name, unsigned long long val);

/* mem.c: the bytes of stacks and the arenas of this process */
unsigned char es_peek(__u64 addr);
void es_poke(__u64 addr, unsigned char val);
int es_probe(__u64 addr, int write);
unsigned char es_pat(__u64 addr);
void es_fill(__u64 lo, __u64 hi);
long es_check_pat(__u64 lo, __u64 hi, __u64 delta);
int es_zero(__u64 lo, __u64 hi);

struct es_arena_walk {
	void (*fn)(unsigned long start, unsigned long end, void *arg);
	void *arg;
};

struct es_range {
	unsigned long start, end;
};

int es_walk_arenas(const struct es_arena_walk *w);
void es_unmap_arenas(void);
int es_arena_of(unsigned long addr, struct es_range *r);
int es_count_vmas(void);
int es_smaps_line(unsigned long start, const char *key, char *line,
		  size_t len);

/* fiber.c: run code on a stack */
int es_run_on(ucontext_t *from, ucontext_t *fiber, __u64 lo, __u64 hi,
	      void (*fn)(void));

/* tool.c: command-line tools */
int es_usage(const char *text, int status);

#endif /* ESTACK_UTIL_H */
