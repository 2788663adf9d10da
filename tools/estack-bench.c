// SPDX-License-Identifier: GPL-2.0
/*
 * estack-bench: ALLOC+FREE against what a fiber library would do instead,
 * side by side in one run, as ratios.
 *
 * Cases, each timed in batches, repeated, reported as the median cost of
 * one operation and its spread (min..max of the batches):
 *   estack      ALLOC of an 8 KiB stack, touch its top page, FREE
 *   estack-nostats  the same with the module's event counters off
 *   mmap-guard  mmap + mprotect guard page + touch + munmap (Boost's
 *               protected_fixedsize_stack)
 *   getppid2    two null system calls: the floor for two ioctls
 *
 * Absolute times from a QEMU TCG guest mean little; the ratios between
 * cases of one run are the result. Turning the counters off needs root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/estack.h>

#define STACK		8192
#define STATS_PARAM	"/sys/module/estack/parameters/stats"

static int dev;
static unsigned int batch = 2000, reps = 9;

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "estack-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* A write the compiler cannot drop: what a fiber's first push does. */
static void touch(char *p)
{
	__atomic_store_n(p, 1, __ATOMIC_RELAXED);
}

static void estack_once(void)
{
	struct estack_alloc a = { .size = sizeof(a), .bytes = STACK };
	struct estack_free f = { .size = sizeof(f) };

	if (ioctl(dev, ESTACK_IOC_ALLOC, &a))
		die("ESTACK_IOC_ALLOC");
	touch((char *)(unsigned long)(a.hi - 8));
	f.id = a.id;
	if (ioctl(dev, ESTACK_IOC_FREE, &f))
		die("ESTACK_IOC_FREE");
}

static void mmap_guard_once(void)
{
	long page = 4096;
	char *p = mmap(NULL, STACK + page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	if (mprotect(p, page, PROT_NONE))
		die("mprotect");
	touch(p + page + STACK - 8);
	munmap(p, STACK + page);
}

static void getppid2_once(void)
{
	syscall(SYS_getppid);
	syscall(SYS_getppid);
}

static int set_stats(int on)
{
	int fd = open(STATS_PARAM, O_WRONLY), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, on ? "Y" : "N", 1) == 1;
	close(fd);
	return ok ? 0 : -1;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct result {
	const char *name;
	double med, min, max;	/* nanoseconds per operation */
};

static void run(struct result *r, const char *name, void (*fn)(void),
		int stats)
{
	double t[64], t0;
	unsigned int i, j;

	for (j = 0; j < batch / 4; j++)	/* warm caches and pools */
		fn();
	for (i = 0; i < reps; i++) {
		if (stats >= 0 && set_stats(stats))
			die("setting " STATS_PARAM);
		t0 = now();
		for (j = 0; j < batch; j++)
			fn();
		t[i] = (now() - t0) / batch * 1e9;
	}
	if (stats >= 0)
		set_stats(1);
	qsort(t, reps, sizeof(t[0]), cmp);
	r->name = name;
	r->med = t[reps / 2];
	r->min = t[0];
	r->max = t[reps - 1];
}

int main(int argc, char **argv)
{
	struct result r[4];
	int n = 0, opt, i, stats = !access(STATS_PARAM, W_OK);

	while ((opt = getopt(argc, argv, "b:r:h")) != -1) {
		switch (opt) {
		case 'b':
			batch = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			reps = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(opt == 'h' ? stdout : stderr,
				"Usage: estack-bench [-b BATCH] [-r REPEATS]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (!batch || !reps || reps > 64) {
		fprintf(stderr, "estack-bench: bad -b or -r\n");
		return 2;
	}
	dev = open("/dev/estack", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		fprintf(stderr,
			"estack-bench: cannot open /dev/estack: %s%s\n",
			strerror(errno),
			errno == ENOENT ? " (is the estack module loaded?)" : "");
		return 1;
	}

	run(&r[n++], "getppid2", getppid2_once, -1);
	run(&r[n++], "estack", estack_once, stats ? 1 : -1);
	if (stats)
		run(&r[n++], "estack-nostats", estack_once, 0);
	run(&r[n++], "mmap-guard", mmap_guard_once, -1);

	printf("ALLOC+FREE of an 8 KiB stack, top page touched; %u x %u ops\n",
	       reps, batch);
	printf("%-16s %12s %12s %12s %10s %10s\n", "case", "median_ns",
	       "min_ns", "max_ns", "/getppid2", "/estack");
	for (i = 0; i < n; i++)
		printf("%-16s %12.0f %12.0f %12.0f %10.2f %10.3f\n", r[i].name,
		       r[i].med, r[i].min, r[i].max, r[i].med / r[0].med,
		       r[i].med / r[1].med);
	printf("(QEMU TCG: only the ratios of one run mean anything)\n");
	return 0;
}
