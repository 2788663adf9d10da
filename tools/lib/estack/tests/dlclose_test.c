// SPDX-License-Identifier: GPL-2.0
/*
 * libestack loaded with dlopen(), used by a thread, then dlclose()d while
 * that thread lives: the library registered a destructor for the thread's
 * cache (and, for fiber runtimes, a SIGSEGV handler), so its code must stay
 * mapped: libestack.so is linked -z nodelete. Without it the thread's exit
 * calls into unmapped code.
 *
 *   dlclose_test PATH-OF-libestack.so.1
 *
 * Prints one TAP line; exits 0 when the thread exited and the process
 * lives on.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "estack.h"

struct lib {
	struct estack_pool *(*pool_default)(void);
	int (*alloc)(struct estack_pool *pool, size_t bytes,
		     struct estack_stack *st);
	int (*free)(struct estack_pool *pool, struct estack_stack *st);
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int step;	/* 1: the thread used the pool; 2: dlclose() done */

static void set_step(int s)
{
	pthread_mutex_lock(&lock);
	step = s;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

static void wait_step(int s)
{
	pthread_mutex_lock(&lock);
	while (step < s)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
}

static void *user(void *arg)
{
	const struct lib *l = arg;
	struct estack_pool *pool = l->pool_default();
	struct estack_stack st;
	long err = -1;

	if (pool && !l->alloc(pool, 0, &st))
		err = l->free(pool, &st);
	set_step(1);
	wait_step(2);
	return (void *)err;	/* and its cache's destructor runs */
}

int main(int argc, char **argv)
{
	struct lib l;
	pthread_t th;
	void *h, *ret;

	printf("TAP version 13\n1..1\n");
	if (argc != 2)
		goto fail;
	h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		printf("# %s\n", dlerror());
		goto fail;
	}
	*(void **)&l.pool_default = dlsym(h, "estack_pool_default");
	*(void **)&l.alloc = dlsym(h, "estack_stack_alloc");
	*(void **)&l.free = dlsym(h, "estack_stack_free");
	if (!l.pool_default || !l.alloc || !l.free ||
	    pthread_create(&th, NULL, user, &l))
		goto fail;
	wait_step(1);
	if (dlclose(h))
		goto fail;
	set_step(2);
	if (pthread_join(th, &ret) || ret)
		goto fail;
	printf("ok 1 dlclose() while a thread that used the pool lives\n");
	return 0;
fail:
	printf("not ok 1 dlclose() while a thread that used the pool lives\n");
	return 1;
}
