// SPDX-License-Identifier: GPL-2.0
/*
 * The bytes of estack stacks and the arenas they live in, as this process
 * sees them: single-byte access that the compiler cannot merge or drop, a
 * probe that survives the fault, a pattern to prove data moved intact, and
 * the /dev/estack mappings of /proc/self/maps.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "estack_util.h"

/* One byte of a stack, read or written exactly once. */
unsigned char es_peek(__u64 addr)
{
	return __atomic_load_n((unsigned char *)U2P(addr), __ATOMIC_RELAXED);
}

void es_poke(__u64 addr, unsigned char val)
{
	__atomic_store_n((unsigned char *)U2P(addr), val, __ATOMIC_RELAXED);
}

static sigjmp_buf probe_env;
static int probe_sig;

static void probe_handler(int sig)
{
	probe_sig = sig;
	siglongjmp(probe_env, 1);
}

/*
 * Touch one byte of this process's memory and tell what happened: 0, or
 * the signal it raised (SIGSEGV, SIGBUS). A write adds 0, so the data is
 * unchanged. Not for use from two threads at once.
 */
int es_probe(__u64 addr, int write)
{
	struct sigaction sa = { .sa_handler = probe_handler };
	struct sigaction old_segv, old_bus;
	unsigned char *p = U2P(addr);

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	probe_sig = 0;
	if (!sigsetjmp(probe_env, 1)) {
		if (write)
			__atomic_fetch_add(p, 0, __ATOMIC_RELAXED);
		else
			(void)__atomic_load_n(p, __ATOMIC_RELAXED);
	}
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	return probe_sig;
}

/*
 * The byte a test writes at @addr: a function of the address, so that a
 * byte copied to the wrong place, or not at all, shows.
 */
unsigned char es_pat(__u64 addr)
{
	return (unsigned char)(addr * 2654435761u >> 13);
}

void es_fill(__u64 lo, __u64 hi)
{
	__u64 a;

	for (a = lo; a < hi; a++)
		es_poke(a, es_pat(a));
}

/*
 * 0 when [@lo, @hi) holds the pattern es_fill() wrote at the addresses
 * @delta lower (0: where it is now; a move's delta: where it was before),
 * else 1 + the offset of the first byte that does not.
 */
long es_check_pat(__u64 lo, __u64 hi, __u64 delta)
{
	__u64 a;

	for (a = lo; a < hi; a++)
		if (es_peek(a) != es_pat(a - delta))
			return (long)(a - lo) + 1;
	return 0;
}

/* 1 when every byte of [@lo, @hi) is zero, else 0. */
int es_zero(__u64 lo, __u64 hi)
{
	__u64 a;

	for (a = lo; a < hi; a++)
		if (es_peek(a))
			return 0;
	return 1;
}

/*
 * Call @w->fn (when set) for each line of /proc/self/maps that @match
 * accepts; the number of such lines, or -1.
 */
static int walk_maps(const char *match, const struct es_arena_walk *w)
{
	unsigned long start, end;
	char line[512];
	FILE *f;
	int n = 0;

	f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (match && !strstr(line, match))
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

/* Calls @w->fn for each /dev/estack mapping of this process; the count. */
int es_walk_arenas(const struct es_arena_walk *w)
{
	return walk_maps(DEV_PATH, w);
}

static void unmap_cb(unsigned long start, unsigned long end, void *arg)
{
	munmap((void *)start, end - start);
}

/* Unmap every arena of this process: all its stacks are freed. */
void es_unmap_arenas(void)
{
	struct es_arena_walk w = { unmap_cb, NULL };

	es_walk_arenas(&w);
}

static void find_cb(unsigned long start, unsigned long end, void *arg)
{
	struct es_range *r = arg;
	unsigned long addr = r->start;

	if (addr >= start && addr < end) {
		r->start = start;
		r->end = end;
	}
}

/* The arena holding @addr: 0, or -1 when there is none. */
int es_arena_of(unsigned long addr, struct es_range *r)
{
	struct es_arena_walk w = { find_cb, r };

	r->start = addr;
	r->end = 0;
	es_walk_arenas(&w);
	return r->end ? 0 : -1;
}

/* The mappings of this process, all of them; or -1. */
int es_count_vmas(void)
{
	return walk_maps(NULL, NULL);
}

/*
 * The line of /proc/self/smaps that starts with @key in the entry of the
 * mapping that starts at @start, copied into @line (@len bytes): 0, or -1
 * when there is no such mapping or no such line.
 */
int es_smaps_line(unsigned long start, const char *key, char *line,
		  size_t len)
{
	unsigned long lo, hi;
	bool in = false;
	int ret = -1;
	FILE *f;

	f = fopen("/proc/self/smaps", "r");
	if (!f)
		return -1;
	while (fgets(line, len, f)) {
		/* An entry's header: "lo-hi perms ..."; fields have no '-'. */
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			if (in)
				break;
			in = lo == start;
			continue;
		}
		if (in && !strncmp(line, key, strlen(key))) {
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}
