/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the estack selftests: ioctl wrappers that return 0 or
 * the errno, module statistics and parameters, the arenas of this process.
 */
#ifndef ESTACK_UTIL_H
#define ESTACK_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/estack.h>

/* A __u64 address from the ABI as a pointer, for 32-bit builds too. */
#define U2P(x)		((void *)(unsigned long)(x))

#define DEV_PATH	"/dev/estack"
#define PARAM_DIR	"/sys/module/estack/parameters/"
#define STATS_DIR	"/sys/class/misc/estack/stats/"

/* One byte of a stack, read or written exactly once. */
static inline unsigned char es_peek(__u64 addr)
{
	return __atomic_load_n((unsigned char *)U2P(addr), __ATOMIC_RELAXED);
}

static inline void es_poke(__u64 addr, unsigned char val)
{
	__atomic_store_n((unsigned char *)U2P(addr), val, __ATOMIC_RELAXED);
}

static sigjmp_buf es_probe_env;
static int es_probe_sig;

static void es_probe_handler(int sig)
{
	es_probe_sig = sig;
	siglongjmp(es_probe_env, 1);
}

/*
 * Touch one byte of this process's memory and tell what happened: 0, or
 * the signal it raised (SIGSEGV, SIGBUS). A write adds 0, so the data is
 * unchanged. Not for use from two threads at once.
 */
static inline int es_probe(__u64 addr, int write)
{
	struct sigaction sa = { .sa_handler = es_probe_handler };
	struct sigaction old_segv, old_bus;
	unsigned char *p = U2P(addr);

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	es_probe_sig = 0;
	if (!sigsetjmp(es_probe_env, 1)) {
		if (write)
			__atomic_fetch_add(p, 0, __ATOMIC_RELAXED);
		else
			(void)__atomic_load_n(p, __ATOMIC_RELAXED);
	}
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	return es_probe_sig;
}

static inline int es_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? errno : 0;
}

static inline int es_alloc(int fd, __u64 bytes, struct estack_alloc *a)
{
	memset(a, 0, sizeof(*a));
	a->size = sizeof(*a);
	a->bytes = bytes;
	return es_ioctl(fd, ESTACK_IOC_ALLOC, a);
}

static inline int es_free(int fd, __u32 id)
{
	struct estack_free f = { .size = sizeof(f), .id = id };

	return es_ioctl(fd, ESTACK_IOC_FREE, &f);
}

static inline int es_info(int fd, __u32 id, struct estack_info *i)
{
	memset(i, 0, sizeof(*i));
	i->size = sizeof(*i);
	i->id = id;
	return es_ioctl(fd, ESTACK_IOC_INFO, i);
}

/*
 * A whole-number sysfs file. One that cannot be read ends the test case
 * at once (abort: the harness reports the case failed): a baseline of -1
 * compared with another -1 would otherwise pass.
 */
static inline long long es_read_num(const char *path)
{
	char buf[256];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		goto err;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		goto err;
	buf[n] = 0;
	return strtoll(buf, NULL, 0);
err:
	fprintf(stderr, "# cannot read %s: %s\n", path, strerror(errno));
	abort();
}

static inline long long es_stat(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), STATS_DIR "%s", name);
	return es_read_num(path);
}

static inline long long es_param(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	return es_read_num(path);
}

/* Write @val to a file (sysfs, procfs, cgroupfs); 0 or the errno. */
static inline int es_write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ret = 0;

	if (fd < 0)
		return errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = errno;
	close(fd);
	return ret;
}

/* Write a module parameter as given (root); 0 or the errno. */
static inline int es_write_param(const char *name, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	return es_write_file(path, val);
}

static inline int es_set_param(const char *name, unsigned long long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", val);
	return es_write_param(name, buf);
}

/* Calls @fn for each /dev/estack mapping of this process; returns count. */
struct es_arena_walk {
	void (*fn)(unsigned long start, unsigned long end, void *arg);
	void *arg;
};

static inline int es_walk_arenas(const struct es_arena_walk *w)
{
	unsigned long start, end;
	char line[512];
	FILE *f;
	int n = 0;

	f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, DEV_PATH))
			continue;
		if (sscanf(line, "%lx-%lx", &start, &end) != 2)
			continue;
		n++;
		if (w && w->fn)
			w->fn(start, end, w->arg);
	}
	fclose(f);
	return n;
}

static inline void es_unmap_cb(unsigned long start, unsigned long end,
			       void *arg)
{
	munmap((void *)start, end - start);
}

/* Unmap every arena of this process: all its stacks are freed. */
static inline void es_unmap_arenas(void)
{
	struct es_arena_walk w = { es_unmap_cb, NULL };

	es_walk_arenas(&w);
}

struct es_range {
	unsigned long start, end;
};

static inline void es_find_cb(unsigned long start, unsigned long end,
			      void *arg)
{
	struct es_range *r = arg;
	unsigned long addr = r->start;

	if (addr >= start && addr < end) {
		r->start = start;
		r->end = end;
	}
}

/* The arena holding @addr: 0, or -1 when there is none. */
static inline int es_arena_of(unsigned long addr, struct es_range *r)
{
	struct es_arena_walk w = { es_find_cb, r };

	r->start = addr;
	r->end = 0;
	es_walk_arenas(&w);
	return r->end ? 0 : -1;
}

static inline int es_count_vmas(void)
{
	char line[512];
	FILE *f;
	int n = 0;

	f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

#endif /* ESTACK_UTIL_H */
