// SPDX-License-Identifier: GPL-2.0
/*
 * estack-bench: estack against what a fiber library would use instead,
 * side by side in one run.
 *
 * Groups of cases (see Documentation/benchmarks.rst for the method):
 *   alloc      ALLOC + touch of the top page + FREE of 8, 16 and 64 KiB
 *              stacks, against mmap + mprotect guard + munmap (Boost's
 *              protected_fixedsize_stack), mmap + munmap, malloc/free and
 *              an in-process free-list pool; getppid x 2 is the floor
 *   breakdown  the same 8 KiB ALLOC+FREE with the module's layers turned
 *              off one by one: mapped cache, per-CPU cache, pools
 *   grow       GROW with 2, 8, 64 and 512 KiB live, against memcpy of the
 *              live bytes, mremap(MREMAP_MAYMOVE) and mmap + copy + munmap
 *   shrink     SHRINK of a stack using an eighth of itself, against
 *              madvise(MADV_DONTNEED) of the unused half
 *   scale      8 KiB ALLOC+FREE with 1 k, 10 k, 100 k and 1 M stacks live
 *   cpus       ALLOC+FREE throughput of 1 and 2 threads
 *
 * Every case runs in batches, repeated; a case reports the median cost of
 * one operation and the spread (min..max) of its batches, in nanoseconds.
 * The results go to stdout as JSON (-j) or as a table; the ratios and the
 * targets are computed from them by tools/bench/report.py. Under QEMU TCG
 * absolute times mean little: only ratios of one run do.
 *
 * The breakdown changes module parameters and needs root; everything else
 * runs as any user.
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
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/estack.h>

#define KIB		1024UL
#define PAGE		4096UL
#define MAX_REPS	64
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define PARAM_DIR	"/sys/module/estack/parameters/"

static unsigned int batch = 2000, reps = 9, max_live = 1000000;
static int json;
static int dev;

/* One result: a case of a group, with its parameter (KiB or count). */
struct result {
	const char *group;
	const char *name;
	unsigned long param;
	double med, min, max;	/* ns per operation */
	unsigned int reps, batch;
	char error[96];
};

static struct result results[256];
static unsigned int nr_results;

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
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

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct result *result_new(const char *group, const char *name,
				 unsigned long param)
{
	struct result *r;

	if (nr_results == ARRAY_SIZE(results)) {
		fprintf(stderr, "estack-bench: too many results\n");
		exit(1);
	}
	r = &results[nr_results++];
	r->group = group;
	r->name = name;
	r->param = param;
	return r;
}

static void result_set(struct result *r, double *t, unsigned int n,
		       unsigned int b)
{
	qsort(t, n, sizeof(t[0]), cmp_double);
	r->med = t[n / 2];
	r->min = t[0];
	r->max = t[n - 1];
	r->reps = n;
	r->batch = b;
}

/*
 * A case: @prep (untimed) sets up what @op needs for @n operations, @op
 * does operation @i, @done (untimed) cleans up. Any may be NULL. A
 * callback that cannot go on returns non-zero with errno set: the case is
 * reported as failed with that error.
 */
struct bench_case {
	int (*prep)(unsigned int n);
	int (*op)(unsigned int i);
	int (*done)(unsigned int n);
};

static void run(const char *group, const char *name, unsigned long param,
		const struct bench_case *c, unsigned int n)
{
	struct result *r = result_new(group, name, param);
	double t[MAX_REPS], t0;
	unsigned int rep, i;

	for (rep = 0; rep <= reps; rep++) {	/* rep 0 warms up */
		if (c->prep && c->prep(n))
			goto fail;
		t0 = now_ns();
		for (i = 0; i < n; i++)
			if (c->op(i))
				goto fail;
		if (rep)
			t[rep - 1] = (now_ns() - t0) / n;
		if (c->done && c->done(n))
			goto fail;
	}
	result_set(r, t, reps, n);
	return;
fail:
	snprintf(r->error, sizeof(r->error), "%s", strerror(errno));
	fprintf(stderr, "estack-bench: %s/%s/%lu: %s\n", group, name, param,
		r->error);
}

/* ---- the operations ---------------------------------------------------- */

static unsigned long stack_size = 8 * KIB;

static int estack_alloc(unsigned long bytes, struct estack_alloc *a)
{
	*a = (struct estack_alloc){ .size = sizeof(*a), .bytes = bytes };
	return ioctl(dev, ESTACK_IOC_ALLOC, a);
}

static int estack_free(int fd, __u32 id)
{
	struct estack_free f = { .size = sizeof(f), .id = id };

	return ioctl(fd, ESTACK_IOC_FREE, &f);
}

static int estack_once(unsigned int i)
{
	struct estack_alloc a;

	if (estack_alloc(stack_size, &a))
		return -1;
	touch((char *)(uintptr_t)(a.hi - 8));
	return estack_free(dev, a.id);
}

static int estack_notouch_once(unsigned int i)
{
	struct estack_alloc a;

	if (estack_alloc(stack_size, &a))
		return -1;
	return estack_free(dev, a.id);
}

static int mmap_guard_once(unsigned int i)
{
	char *p = mmap(NULL, stack_size + PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

	if (p == MAP_FAILED || mprotect(p, PAGE, PROT_NONE))
		return -1;
	touch(p + PAGE + stack_size - 8);
	return munmap(p, stack_size + PAGE);
}

static int mmap_once(unsigned int i)
{
	char *p = mmap(NULL, stack_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	touch(p + stack_size - 8);
	return munmap(p, stack_size);
}

static int malloc_once(unsigned int i)
{
	char *p = malloc(stack_size);

	if (!p)
		return -1;
	touch(p + stack_size - 8);
	free(p);
	return 0;
}

/*
 * The in-process pool: stacks carved from one mapping, kept on a free
 * list (an array, so that no stack page is written to link it); what a
 * runtime does when it never gives stacks back.
 */
static char *pool_base, **pool_free;
static unsigned long pool_nr;
static size_t pool_len;

static int pool_init(unsigned long nr)
{
	pool_len = nr * stack_size;
	pool_base = mmap(NULL, pool_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (pool_base == MAP_FAILED)
		return -1;
	pool_free = malloc(nr * sizeof(*pool_free));
	if (!pool_free) {
		munmap(pool_base, pool_len);
		return -1;
	}
	for (pool_nr = 0; pool_nr < nr; pool_nr++)
		pool_free[pool_nr] = pool_base + (nr - 1 - pool_nr) * stack_size;
	return 0;
}

static void pool_fini(void)
{
	munmap(pool_base, pool_len);
	free(pool_free);
}

static char *pool_get(void)
{
	return pool_nr ? pool_free[--pool_nr] : NULL;
}

static void pool_put(char *p)
{
	pool_free[pool_nr++] = p;
}

static int pool_once(unsigned int i)
{
	char *p = pool_get();

	if (!p) {
		errno = ENOMEM;
		return -1;
	}
	touch(p + stack_size - 8);
	pool_put(p);
	return 0;
}

/* The floor of an estack call: two ioctls that only copy in and out. */
static int ioctl2_once(unsigned int i)
{
	struct estack_api api = { .size = sizeof(api) };

	if (ioctl(dev, ESTACK_IOC_API, &api))
		return -1;
	return ioctl(dev, ESTACK_IOC_API, &api);
}

static int getppid2_once(unsigned int i)
{
	syscall(SYS_getppid);
	syscall(SYS_getppid);
	return 0;
}

static int getppid_once(unsigned int i)
{
	syscall(SYS_getppid);
	return 0;
}

/* ---- module parameters (breakdown) -------------------------------------- */

static int param_open(const char *name, int flags)
{
	char path[128];

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	return open(path, flags);
}

static int param_read(const char *name, char *buf, size_t len)
{
	int fd = param_open(name, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static int param_write(const char *name, const char *val)
{
	int fd = param_open(name, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

static const char *const params[] = {
	"mapped_cache", "cache_budget", "pool_reserve", "stats",
};

static char saved[ARRAY_SIZE(params)][32];

static int params_save(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(params); i++)
		if (param_read(params[i], saved[i], sizeof(saved[i])))
			return -1;
	return 0;
}

static void params_restore(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(params); i++)
		if (param_write(params[i], saved[i]))
			fprintf(stderr, "estack-bench: cannot restore %s\n",
				params[i]);
}

/* Drop what the caches hold, so that a case starts from its own state. */
static int estack_reopen(void)
{
	int fd = open("/dev/estack", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -1;
	/* The old file's arena stays mapped; it is empty by now. */
	close(dev);
	dev = fd;
	return 0;
}

/* ---- groups ----------------------------------------------------------- */

static const struct bench_case c_estack = { .op = estack_once };
static const struct bench_case c_notouch = { .op = estack_notouch_once };
static const struct bench_case c_mmap_guard = { .op = mmap_guard_once };
static const struct bench_case c_mmap = { .op = mmap_once };
static const struct bench_case c_malloc = { .op = malloc_once };
static const struct bench_case c_getppid2 = { .op = getppid2_once };
static const struct bench_case c_getppid = { .op = getppid_once };
static const struct bench_case c_ioctl2 = { .op = ioctl2_once };

static int pool_prep(unsigned int n)
{
	return pool_init(1);
}

static int pool_done(unsigned int n)
{
	pool_fini();
	return 0;
}

static const struct bench_case c_pool = {
	.prep = pool_prep, .op = pool_once, .done = pool_done,
};

static void group_alloc(void)
{
	static const unsigned long sizes[] = { 8, 16, 64 };
	unsigned int i;

	run("alloc", "getppid2", 0, &c_getppid2, batch);
	for (i = 0; i < 3; i++) {
		stack_size = sizes[i] * KIB;
		run("alloc", "estack", sizes[i], &c_estack, batch);
		run("alloc", "mmap-guard", sizes[i], &c_mmap_guard, batch);
		run("alloc", "mmap", sizes[i], &c_mmap, batch);
		run("alloc", "malloc", sizes[i], &c_malloc, batch);
		run("alloc", "pool", sizes[i], &c_pool, batch);
	}
	stack_size = 8 * KIB;
}

struct layer {
	const char *name;
	const char *mapped, *cache, *reserve, *stats;
	const struct bench_case *c;
};

static void group_breakdown(void)
{
	static const struct layer layers[] = {
		{ "ioctl2", NULL, NULL, NULL, NULL, &c_ioctl2 },
		{ "mapped-hit", NULL, NULL, NULL, NULL, &c_estack },
		{ "mapped-hit-untouched", NULL, NULL, NULL, NULL, &c_notouch },
		{ "mapped-hit-nostats", NULL, NULL, NULL, "N", &c_estack },
		{ "cpu-cache-hit", "0", NULL, NULL, NULL, &c_estack },
		{ "pool-refill", "0", "0", NULL, NULL, &c_estack },
		{ "page-allocator", "0", "0", "0", NULL, &c_estack },
	};
	unsigned int i;

	if (params_save()) {
		fprintf(stderr,
			"estack-bench: cannot read %s: no breakdown (%s)\n",
			PARAM_DIR, strerror(errno));
		return;
	}
	stack_size = 8 * KIB;
	for (i = 0; i < ARRAY_SIZE(layers); i++) {
		const struct layer *l = &layers[i];

		if ((l->mapped && param_write("mapped_cache", l->mapped)) ||
		    (l->cache && param_write("cache_budget", l->cache)) ||
		    (l->reserve && param_write("pool_reserve", l->reserve)) ||
		    (l->stats && param_write("stats", l->stats)) ||
		    estack_reopen()) {
			struct result *r = result_new("breakdown", l->name, 8);

			snprintf(r->error, sizeof(r->error), "%s",
				 strerror(errno));
		} else {
			run("breakdown", l->name, 8, l->c, batch);
		}
		params_restore();
	}
}

/* -- grow and shrink: K stacks prepared, one move each timed -- */

#define MOVE_MAX	256

static struct estack_alloc moving[MOVE_MAX];
static char *maps[MOVE_MAX];
static unsigned long live, from_size;
static char *copy_src, *copy_dst;

static int grow_prep(unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (estack_alloc(from_size, &moving[i]))
			return -1;
		memset((char *)(uintptr_t)(moving[i].hi - live), 0x5a, live);
	}
	return 0;
}

static int move_op(unsigned int i, unsigned long cmd)
{
	struct estack_move m = {
		.size = sizeof(m), .id = moving[i].id,
		.sp = moving[i].hi - live,
	};

	return ioctl(dev, cmd, &m);
}

static int grow_op(unsigned int i)
{
	return move_op(i, ESTACK_IOC_GROW);
}

static int moving_done(unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (estack_free(dev, moving[i].id))
			return -1;
	return 0;
}

static int memcpy_op(unsigned int i)
{
	memcpy(copy_dst, copy_src, live);
	__asm__ volatile("" : : "r"(copy_dst) : "memory");
	return 0;
}

static int maps_prep(unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		maps[i] = mmap(NULL, from_size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (maps[i] == MAP_FAILED)
			return -1;
		memset(maps[i] + from_size - live, 0x5a, live);
	}
	return 0;
}

static int mremap_op(unsigned int i)
{
	char *p = mremap(maps[i], from_size, 2 * from_size, MREMAP_MAYMOVE);

	if (p == MAP_FAILED)
		return -1;
	maps[i] = p;
	return 0;
}

static int mmap_copy_op(unsigned int i)
{
	char *p = mmap(NULL, 2 * from_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	memcpy(p + 2 * from_size - live, maps[i] + from_size - live, live);
	munmap(maps[i], from_size);
	maps[i] = p;
	return 0;
}

static int maps_done_2x(unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		munmap(maps[i], 2 * from_size);
	return 0;
}

static unsigned long pow2_at_least(unsigned long v)
{
	unsigned long s = PAGE;

	while (s < v)
		s <<= 1;
	return s;
}

static void group_grow(void)
{
	static const unsigned long lives[] = { 2, 8, 64, 512 };
	const struct bench_case c_grow = {
		.prep = grow_prep, .op = grow_op, .done = moving_done,
	};
	const struct bench_case c_memcpy = { .op = memcpy_op };
	const struct bench_case c_mremap = {
		.prep = maps_prep, .op = mremap_op, .done = maps_done_2x,
	};
	const struct bench_case c_mmap_copy = {
		.prep = maps_prep, .op = mmap_copy_op, .done = maps_done_2x,
	};
	unsigned int i, n;

	copy_src = malloc(512 * KIB);
	copy_dst = malloc(512 * KIB);
	if (!copy_src || !copy_dst)
		die("malloc");
	memset(copy_src, 0x5a, 512 * KIB);
	memset(copy_dst, 0, 512 * KIB);
	run("grow", "getppid", 0, &c_getppid, batch);
	for (i = 0; i < 4; i++) {
		live = lives[i] * KIB;
		from_size = pow2_at_least(live);
		n = live >= 512 * KIB ? 32 : MOVE_MAX;
		run("grow", "estack", lives[i], &c_grow, n);
		run("grow", "memcpy", lives[i], &c_memcpy, n);
		run("grow", "mremap", lives[i], &c_mremap, n);
		run("grow", "mmap-copy", lives[i], &c_mmap_copy, n);
	}
	free(copy_src);
	free(copy_dst);
}

static int shrink_prep(unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (estack_alloc(from_size, &moving[i]))
			return -1;
		/* Once deep, now shallow: every page was written. */
		memset((char *)(uintptr_t)moving[i].lo, 0x5a, from_size);
	}
	return 0;
}

static int shrink_op(unsigned int i)
{
	return move_op(i, ESTACK_IOC_SHRINK);
}

static int dontneed_prep(unsigned int n)
{
	unsigned int i;

	if (maps_prep(n))
		return -1;
	for (i = 0; i < n; i++)
		memset(maps[i], 0x5a, from_size);
	return 0;
}

static int dontneed_op(unsigned int i)
{
	return madvise(maps[i], from_size / 2, MADV_DONTNEED);
}

static int maps_done(unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		munmap(maps[i], from_size);
	return 0;
}

static void group_shrink(void)
{
	static const unsigned long sizes[] = { 16, 64, 512 };
	const struct bench_case c_shrink = {
		.prep = shrink_prep, .op = shrink_op, .done = moving_done,
	};
	const struct bench_case c_dontneed = {
		.prep = dontneed_prep, .op = dontneed_op, .done = maps_done,
	};
	unsigned int i, n;

	for (i = 0; i < 3; i++) {
		from_size = sizes[i] * KIB;
		live = from_size / 8;
		n = from_size >= 512 * KIB ? 32 : MOVE_MAX;
		run("shrink", "estack", sizes[i], &c_shrink, n);
		run("shrink", "madvise", sizes[i], &c_dontneed, n);
	}
}

/* -- scale: N stacks live while the timed ALLOC+FREE runs -- */

static __u32 *live_ids;
static void **live_ptrs;

static int live_estack(unsigned long n)
{
	struct estack_alloc a;
	unsigned long i;

	for (i = 0; i < n; i++) {
		if (estack_alloc(stack_size, &a))
			return -1;
		touch((char *)(uintptr_t)(a.hi - 8));
		live_ids[i] = a.id;
	}
	return 0;
}

static void unlive_estack(unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		estack_free(dev, live_ids[i]);
}

static int live_mmap(unsigned long n, int guard)
{
	unsigned long len = stack_size + (guard ? PAGE : 0), i;
	char *p;

	for (i = 0; i < n; i++) {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (p == MAP_FAILED)
			goto fail;
		if (guard && mprotect(p, PAGE, PROT_NONE)) {
			munmap(p, len);
			goto fail;
		}
		touch(p + len - 8);
		live_ptrs[i] = p;
	}
	return 0;
fail:
	fprintf(stderr, "estack-bench: mmap%s stack %lu: %s\n",
		guard ? "-guard" : "", i + 1, strerror(errno));
	while (i--)
		munmap(live_ptrs[i], len);
	return -1;
}

static void unlive_mmap(unsigned long n, int guard)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		munmap(live_ptrs[i], stack_size + (guard ? PAGE : 0));
}

static int live_malloc(unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		live_ptrs[i] = malloc(stack_size);
		if (!live_ptrs[i])
			return -1;
		touch((char *)live_ptrs[i] + stack_size - 8);
	}
	return 0;
}

static void unlive_malloc(unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		free(live_ptrs[i]);
}

static int live_pool(unsigned long n)
{
	unsigned long i;

	if (pool_init(n + 1))
		return -1;
	for (i = 0; i < n; i++) {
		live_ptrs[i] = pool_get();
		touch((char *)live_ptrs[i] + stack_size - 8);
	}
	return 0;
}

static void scale_one(const char *name, unsigned long n,
		      const struct bench_case *c, int (*setup)(unsigned long),
		      void (*teardown)(unsigned long))
{
	if (setup(n)) {
		struct result *r = result_new("scale", name, n);

		snprintf(r->error, sizeof(r->error), "%s", strerror(errno));
		return;
	}
	run("scale", name, n, c, batch);
	teardown(n);
}

static int live_mmap_guard(unsigned long n)
{
	return live_mmap(n, 1);
}

static void unlive_mmap_guard(unsigned long n)
{
	unlive_mmap(n, 1);
}

static int live_mmap_plain(unsigned long n)
{
	return live_mmap(n, 0);
}

static void unlive_mmap_plain(unsigned long n)
{
	unlive_mmap(n, 0);
}

static void unlive_pool(unsigned long n)
{
	pool_fini();
}

static const struct bench_case c_pool_live = { .op = pool_once };

static void group_scale(void)
{
	unsigned long n;

	stack_size = 8 * KIB;
	live_ids = calloc(max_live, sizeof(*live_ids));
	live_ptrs = calloc(max_live, sizeof(*live_ptrs));
	if (!live_ids || !live_ptrs)
		die("calloc");
	for (n = 1000; n <= max_live; n *= 10) {
		scale_one("estack", n, &c_estack, live_estack, unlive_estack);
		scale_one("mmap-guard", n, &c_mmap_guard, live_mmap_guard,
			  unlive_mmap_guard);
		scale_one("mmap", n, &c_mmap, live_mmap_plain,
			  unlive_mmap_plain);
		scale_one("malloc", n, &c_malloc, live_malloc, unlive_malloc);
		scale_one("pool", n, &c_pool_live, live_pool, unlive_pool);
	}
	free(live_ids);
	free(live_ptrs);
}

/* -- CPUs: the same loop on 1 and on 2 threads -- */

struct worker {
	pthread_t thread;
	int (*op)(unsigned int i);
	int fd;		/* own file, or -1 to share dev */
	int err;
};

static __thread int thread_dev = -1;
static pthread_barrier_t start_line, finish_line;

static int estack_thread_once(unsigned int i)
{
	struct estack_alloc a = { .size = sizeof(a), .bytes = stack_size };
	int fd = thread_dev >= 0 ? thread_dev : dev;

	if (ioctl(fd, ESTACK_IOC_ALLOC, &a))
		return -1;
	touch((char *)(uintptr_t)(a.hi - 8));
	return estack_free(fd, a.id);
}

/* Every repetition starts and ends on a barrier with the main thread. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned int rep, i;

	thread_dev = w->fd;
	for (rep = 0; rep <= reps; rep++) {
		pthread_barrier_wait(&start_line);
		for (i = 0; i < batch && !w->err; i++)
			if (w->op(i))
				w->err = errno;
		pthread_barrier_wait(&finish_line);
	}
	return NULL;
}

static void run_threads(const char *name, int (*op)(unsigned int),
			unsigned int nr, int own_fd)
{
	struct result *r = result_new("cpus", name, nr);
	struct worker w[2];
	double t[MAX_REPS], t0;
	unsigned int rep, i;
	int err = 0;

	if (pthread_barrier_init(&start_line, NULL, nr + 1) ||
	    pthread_barrier_init(&finish_line, NULL, nr + 1))
		die("pthread_barrier_init");
	for (i = 0; i < nr; i++) {
		w[i].op = op;
		w[i].err = 0;
		w[i].fd = own_fd ? open("/dev/estack", O_RDWR | O_CLOEXEC) : -1;
		if (own_fd && w[i].fd < 0)
			die("open /dev/estack");
		if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]))
			die("pthread_create");
	}
	for (rep = 0; rep <= reps; rep++) {	/* rep 0 warms up */
		pthread_barrier_wait(&start_line);
		t0 = now_ns();
		pthread_barrier_wait(&finish_line);
		/* Wall time per operation of all threads: 1/throughput. */
		if (rep)
			t[rep - 1] = (now_ns() - t0) / (batch * nr);
	}
	for (i = 0; i < nr; i++) {
		pthread_join(w[i].thread, NULL);
		if (w[i].err)
			err = w[i].err;
		if (w[i].fd >= 0)
			close(w[i].fd);
	}
	pthread_barrier_destroy(&start_line);
	pthread_barrier_destroy(&finish_line);
	if (err)
		snprintf(r->error, sizeof(r->error), "%s", strerror(err));
	else
		result_set(r, t, reps, batch);
}

static void group_cpus(void)
{
	unsigned int nr;

	stack_size = 8 * KIB;
	for (nr = 1; nr <= 2; nr++) {
		run_threads("estack-own-fd", estack_thread_once, nr, 1);
		run_threads("estack-shared-fd", estack_thread_once, nr, 0);
		run_threads("mmap-guard", mmap_guard_once, nr, 0);
		run_threads("malloc", malloc_once, nr, 0);
	}
}

/* ---- output ----------------------------------------------------------- */

static void print_json(void)
{
	unsigned int i;

	printf("{\"tool\": \"estack-bench\", \"reps\": %u, ", reps);
	printf("\"batch\": %u, \"cpus\": %ld, \"results\": [\n", batch,
	       sysconf(_SC_NPROCESSORS_ONLN));
	for (i = 0; i < nr_results; i++) {
		const struct result *r = &results[i];

		printf("  {\"group\": \"%s\", \"case\": \"%s\", \"param\": %lu, ",
		       r->group, r->name, r->param);
		if (r->error[0]) {
			printf("\"error\": \"%s\"}", r->error);
		} else {
			printf("\"median_ns\": %.1f, \"min_ns\": %.1f, ",
			       r->med, r->min);
			printf("\"max_ns\": %.1f, \"reps\": %u, \"batch\": %u}",
			       r->max, r->reps, r->batch);
		}
		printf("%s\n", i + 1 < nr_results ? "," : "");
	}
	printf("]}\n");
}

static void print_table(void)
{
	unsigned int i;

	printf("%-10s %-22s %8s %12s %12s %12s\n", "group", "case", "param",
	       "median_ns", "min_ns", "max_ns");
	for (i = 0; i < nr_results; i++) {
		const struct result *r = &results[i];

		if (r->error[0])
			printf("%-10s %-22s %8lu  failed: %s\n", r->group,
			       r->name, r->param, r->error);
		else
			printf("%-10s %-22s %8lu %12.0f %12.0f %12.0f\n",
			       r->group, r->name, r->param, r->med, r->min,
			       r->max);
	}
	printf("(QEMU TCG: only ratios within one run mean anything)\n");
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: estack-bench [-j] [-b BATCH] [-r REPEATS] [-n MAX_LIVE] [GROUP...]\n"
		"Groups: alloc breakdown grow shrink scale cpus (default: all).\n"
		"  -j  JSON on stdout (for tools/bench/report.py)\n"
		"  -n  largest number of live stacks in the scale group\n"
		"      (default 1000000)\n");
}

static const struct {
	const char *name;
	void (*fn)(void);
} groups[] = {
	{ "alloc", group_alloc },
	{ "breakdown", group_breakdown },
	{ "grow", group_grow },
	{ "shrink", group_shrink },
	{ "scale", group_scale },
	{ "cpus", group_cpus },
};

#define NR_GROUPS	ARRAY_SIZE(groups)

int main(int argc, char **argv)
{
	unsigned int i;
	int opt, g;

	while ((opt = getopt(argc, argv, "jb:r:n:h")) != -1) {
		switch (opt) {
		case 'j':
			json = 1;
			break;
		case 'b':
			batch = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			reps = strtoul(optarg, NULL, 0);
			break;
		case 'n':
			max_live = strtoul(optarg, NULL, 0);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!batch || !reps || reps > MAX_REPS || max_live < 1000) {
		fprintf(stderr, "estack-bench: bad -b, -r or -n\n");
		return 2;
	}
	for (g = optind; g < argc; g++) {
		for (i = 0; i < NR_GROUPS; i++)
			if (!strcmp(argv[g], groups[i].name))
				break;
		if (i == NR_GROUPS) {
			fprintf(stderr, "estack-bench: no group %s\n", argv[g]);
			return 2;
		}
	}
	dev = open("/dev/estack", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		fprintf(stderr,
			"estack-bench: cannot open /dev/estack: %s%s\n",
			strerror(errno),
			errno == ENOENT ? " (is the estack module loaded?)" : "");
		return 1;
	}
	for (i = 0; i < NR_GROUPS; i++) {
		int wanted = optind == argc;

		for (g = optind; g < argc; g++)
			wanted |= !strcmp(argv[g], groups[i].name);
		if (!wanted)
			continue;
		fprintf(stderr, "estack-bench: %s\n", groups[i].name);
		groups[i].fn();
	}
	if (json)
		print_json();
	else
		print_table();
	return 0;
}
