// SPDX-License-Identifier: GPL-2.0
/*
 * estack-bench: one stack taken, written into and given back, by estack
 * and by each alternative a fiber library would use instead. The alloc,
 * breakdown, scale and cpus groups time these loops; each passes its own
 * struct stack_env, so that nothing here is shared between groups or
 * threads.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <estack.h>

#include "bench.h"

/* A write the compiler cannot drop: what a fiber's first push does. */
void touch(char *p)
{
	__atomic_store_n(p, 1, __ATOMIC_RELAXED);
}

static int estack_once(void *env, unsigned int i)
{
	struct stack_env *e = env;
	struct estack_alloc a;

	if (timed_alloc(e->dev, e->size, &a))
		return -1;
	touch((char *)(uintptr_t)(a.hi - 8));
	return timed_free(e->dev, a.id);
}

int stack_estack_notouch_once(void *env, unsigned int i)
{
	struct stack_env *e = env;
	struct estack_alloc a;

	if (timed_alloc(e->dev, e->size, &a))
		return -1;
	return timed_free(e->dev, a.id);
}

static int mmap_guard_once(void *env, unsigned int i)
{
	struct stack_env *e = env;
	char *p = mmap(NULL, e->size + e->page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

	if (p == MAP_FAILED || mprotect(p, e->page, PROT_NONE))
		return -1;
	touch(p + e->page + e->size - 8);
	return munmap(p, e->size + e->page);
}

static int mmap_once(void *env, unsigned int i)
{
	struct stack_env *e = env;
	char *p = mmap(NULL, e->size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	touch(p + e->size - 8);
	return munmap(p, e->size);
}

static int malloc_once(void *env, unsigned int i)
{
	struct stack_env *e = env;
	char *p = malloc(e->size);

	if (!p)
		return -1;
	touch(p + e->size - 8);
	free(p);
	return 0;
}

/*
 * The in-process pool: stacks carved from one mapping, kept on a free
 * list (an array, so that no stack page is written to link it); what a
 * runtime does when it never gives stacks back.
 */
int stack_pool_init(struct stack_env *e, unsigned long nr)
{
	e->pool_len = nr * e->size;
	e->pool_base = mmap(NULL, e->pool_len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (e->pool_base == MAP_FAILED)
		return -1;
	e->pool_free = malloc(nr * sizeof(*e->pool_free));
	if (!e->pool_free) {
		munmap(e->pool_base, e->pool_len);
		return -1;
	}
	for (e->pool_nr = 0; e->pool_nr < nr; e->pool_nr++)
		e->pool_free[e->pool_nr] =
			e->pool_base + (nr - 1 - e->pool_nr) * e->size;
	return 0;
}

void stack_pool_fini(struct stack_env *e)
{
	munmap(e->pool_base, e->pool_len);
	free(e->pool_free);
}

char *stack_pool_get(struct stack_env *e)
{
	return e->pool_nr ? e->pool_free[--e->pool_nr] : NULL;
}

static int pool_once(void *env, unsigned int i)
{
	struct stack_env *e = env;
	char *p = stack_pool_get(e);

	if (!p) {
		errno = ENOMEM;
		return -1;
	}
	touch(p + e->size - 8);
	e->pool_free[e->pool_nr++] = p;
	return 0;
}

/*
 * libestack in kernel mode, the way a fiber runtime takes its stacks: the
 * per-thread cache in front of ALLOC_BATCH and FREE_BATCH. The pool is
 * opened without ESTACK_POOL_FALLBACK, so that a missing module fails the
 * case instead of measuring the fallback.
 */
int stack_lib_open(struct stack_env *e)
{
	int err = estack_pool_open(&e->lib, 0);

	if (err) {
		errno = -err;
		return -1;
	}
	return 0;
}

void stack_lib_close(struct stack_env *e)
{
	estack_pool_close(e->lib);
	e->lib = NULL;
}

static int lib_once(void *env, unsigned int i)
{
	struct stack_env *e = env;
	struct estack_stack st;
	int err = estack_stack_alloc(e->lib, e->size, &st);

	if (!err) {
		touch((char *)st.hi - 8);
		err = estack_stack_free(e->lib, &st);
	}
	if (err) {
		errno = -err;
		return -1;
	}
	return 0;
}

const struct stack_kind stack_lib = {
	"libestack", "libestack (its per-thread cache)",
	"estack_stack_alloc(), one store into the top page, estack_stack_free()",
	lib_once,
};

const struct stack_kind stack_estack = {
	"estack", "estack",
	"ALLOC of a stack, one store into its top page, FREE",
	estack_once,
};

const struct stack_kind stack_mmap_guard = {
	"mmap-guard", "mmap + mprotect guard + munmap",
	"mmap, mprotect of a guard page, one store into the top page, munmap (Boost's protected_fixedsize_stack)",
	mmap_guard_once,
};

const struct stack_kind stack_mmap = {
	"mmap", "mmap + munmap",
	"mmap, one store into the top page, munmap",
	mmap_once,
};

const struct stack_kind stack_malloc = {
	"malloc", "malloc + free",
	"malloc, one store into the top page, free",
	malloc_once,
};

const struct stack_kind stack_pool = {
	"pool", "an in-process free-list pool",
	"a stack off an in-process free list, one store into its top page, back on the list",
	pool_once,
};

/*
 * An ioctl that only copies in and out (the handshake), issued directly for
 * the same reason as timed_alloc() (bench.h): es_api() would add its memset, call and
 * errno translation to what is timed.
 */
static inline int timed_api_nop(int fd)
{
	struct estack_api api = { .size = sizeof(api) };

	return ioctl(fd, ESTACK_IOC_API, &api);
}

/* The floor of an estack call: two ioctls that only copy in and out. */
int stack_ioctl2_once(void *env, unsigned int i)
{
	struct stack_env *e = env;

	if (timed_api_nop(e->dev))
		return -1;
	return timed_api_nop(e->dev);
}

/*
 * The kernel's clear_page() as the CPU the benchmark runs on gets it: the
 * kernel patches in rep stosb on CPUs with ERMS, rep stosq on those with
 * REP_GOOD, else a loop of eight moves per 64 bytes. Which it chose is in
 * /proc/cpuinfo's flags ("erms", "rep_good"), read once.
 */
enum clear_kind { CLEAR_UNKNOWN, CLEAR_ERMS, CLEAR_REP, CLEAR_ORIG };

static enum clear_kind clear_kind(void)
{
	static enum clear_kind kind = CLEAR_UNKNOWN;
	char line[8192];
	FILE *f;

	if (kind != CLEAR_UNKNOWN)
		return kind;
	kind = CLEAR_ORIG;
	f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return kind;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		if (strstr(line, " erms"))
			kind = CLEAR_ERMS;
		else if (strstr(line, " rep_good"))
			kind = CLEAR_REP;
		break;
	}
	fclose(f);
	return kind;
}

/* @len: a multiple of 64, at least 64 (a page). */
static void clear_page_like_kernel(void *page, unsigned long len)
{
	unsigned long n;

	switch (clear_kind()) {
	case CLEAR_ERMS:
		n = len;
		__asm__ volatile("rep stosb"
				 : "+D"(page), "+c"(n) : "a"(0UL) : "memory");
		break;
	case CLEAR_REP:
		n = len / 8;
		__asm__ volatile("rep stosq"
				 : "+D"(page), "+c"(n) : "a"(0UL) : "memory");
		break;
	default:
		n = len / 64;
		__asm__ volatile("1:\n\t"
				 "movq %%rax, 0(%0)\n\t"
				 "movq %%rax, 8(%0)\n\t"
				 "movq %%rax, 16(%0)\n\t"
				 "movq %%rax, 24(%0)\n\t"
				 "movq %%rax, 32(%0)\n\t"
				 "movq %%rax, 40(%0)\n\t"
				 "movq %%rax, 48(%0)\n\t"
				 "movq %%rax, 56(%0)\n\t"
				 "leaq 64(%0), %0\n\t"
				 "decq %1\n\t"
				 "jnz 1b"
				 : "+r"(page), "+r"(n) : "a"(0UL)
				 : "memory", "cc");
		break;
	}
}

/*
 * The least an ALLOC + FREE of a stack whose top page the previous user
 * wrote can cost: two ioctls that only copy in and out, and the clear of
 * that page (every byte of a new stack reads as zero), made as the kernel
 * makes it, in a page of @env's that stays mapped.
 */
int stack_floor_once(void *env, unsigned int i)
{
	struct stack_env *e = env;

	if (stack_ioctl2_once(env, i))
		return -1;
	touch(e->clear_page);
	clear_page_like_kernel(e->clear_page, e->page);
	return 0;
}

int stack_getppid2_once(void *env, unsigned int i)
{
	syscall(SYS_getppid);
	syscall(SYS_getppid);
	return 0;
}

int stack_getppid_once(void *env, unsigned int i)
{
	syscall(SYS_getppid);
	return 0;
}
