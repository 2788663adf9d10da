// SPDX-License-Identifier: GPL-2.0
/*
 * estack-demo: fibers on elastic stacks, through libestack.
 *
 * Many fibers (default 10,000) each run rounds of recursive work of varied
 * depth, on libestack's fiber runtime (<estack/fiber.h>). Every fiber
 * starts on a one-page stack. At each level (a safe point) a fiber calls
 * estack_fiber_check(), which, when the stack runs low, switches to the
 * thread's own stack and grows it there (frame-pointer relocation, the
 * switch frame's registers as slots, and a conservative scan: C compilers
 * keep addresses of locals in callee-saved registers, which get spilled
 * onto the stack where no frame chain names them), as Go's morestack does
 * from g0. Between rounds, back near the top of its stack, a fiber yields
 * and the runtime halves stacks that use less than a quarter. Each fiber's
 * result is checked against the same work done on the main stack, so a
 * wrong copy or relocation fails loudly.
 *
 * With -P (peer mode) every fiber instead recurses exactly DEPTH levels
 * with the same frames, growing as it goes, and parks at the bottom: the
 * time from the first stack allocation until all are parked and the stack
 * bytes they hold then, per fiber, come out as one JSON line, to compare
 * with the Go peer (tools/bench/gopeer: goroutines doing the same work,
 * same results).
 *
 * Without /dev/estack the stacks come from the library's fallback pool
 * (one mmap reservation with guard pages, moves done by copy in user
 * space); the demo says so and runs the same.
 *
 * x86-64 only; built with frame pointers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <estack.h>
#include <estack/fiber.h>

#define FRAME_WORDS	24	/* about 200 bytes of locals per level */

struct fiber {
	struct estack_fiber *f;
	unsigned int seed;
	uint64_t result;
	size_t final_size;	/* its stack after the last round */
};

/* Keep these real calls: the safe points and the recursion are the demo. */
#define DEMO_CALL	__attribute__((noipa))

static unsigned int max_depth = 120, rounds = 4;
static bool peer;		/* -P: recurse max_depth levels and park */

static void die(const char *what, int err)
{
	fprintf(stderr, "estack-demo: %s: %s\n", what, strerror(err));
	exit(1);
}

/* A safe point: is there room for another level? Grows when not. */
static DEMO_CALL void checkpoint(bool on_fiber)
{
	int err;

	if (!on_fiber)
		return;
	err = estack_fiber_check(0);
	if (err)
		die("estack_fiber_check", -err);
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

/*
 * The work: recursion with a 200-byte frame. gcc keeps &local in a
 * callee-saved register across the recursive call, so copies of it sit in
 * deeper frames' register saves: the conservative scan relocates them.
 */
static DEMO_CALL uint64_t work(bool on_fiber, unsigned int depth, uint64_t x)
{
	uint64_t local[FRAME_WORDS], r;
	unsigned int i;

	checkpoint(on_fiber);
	for (i = 0; i < FRAME_WORDS; i++)
		local[i] = mix(x + i);
	/* Peer mode: hold the whole stack until the scheduler wakes us. */
	if (!depth && on_fiber && peer)
		estack_fiber_park();
	r = depth ? work(on_fiber, depth - 1, local[depth % FRAME_WORDS]) : x;
	for (i = 0; i < FRAME_WORDS; i++)
		r += local[i] * (i + 1);
	return r;
}

static unsigned int depth_of(unsigned int seed, unsigned int round)
{
	return mix(seed * 131 + round) % (max_depth + 1);
}

static uint64_t run_rounds(bool on_fiber, unsigned int seed)
{
	uint64_t acc = seed;
	unsigned int r;

	for (r = 0; r < rounds; r++) {
		acc = work(on_fiber, depth_of(seed, r), acc);
		/* Back near the top: a good time to give memory back. */
		if (on_fiber)
			estack_fiber_yield();
	}
	return acc;
}

static void *fiber_main(void *arg)
{
	struct fiber *f = arg;
	struct estack_stack st;

	if (peer) {
		f->result = work(true, max_depth, f->seed);
	} else {
		f->result = run_rounds(true, f->seed);
		if (!estack_fiber_stack(f->f, &st))
			f->final_size = estack_stack_size(&st);
	}
	return NULL;
}

static void start_all(struct fiber *fibers, unsigned int nr, size_t size)
{
	unsigned int i;
	int err;

	for (i = 0; i < nr; i++) {
		fibers[i].seed = i + 1;
		err = estack_fiber_create(&fibers[i].f, size, 0, fiber_main,
					  &fibers[i]);
		if (err)
			die("estack_fiber_create", -err);
	}
}

static void join_all(struct fiber *fibers, unsigned int nr)
{
	unsigned int i;
	int err;

	for (i = 0; i < nr; i++) {
		err = estack_fiber_join(fibers[i].f, NULL);
		if (err)
			die("estack_fiber_join", -err);
	}
}

static double seconds(const struct timespec *t0, const struct timespec *t1)
{
	return (t1->tv_sec - t0->tv_sec) + (t1->tv_nsec - t0->tv_nsec) / 1e9;
}

/* Bytes of [lo, hi) that are in memory (mincore: either pool mode). */
static unsigned long long resident_of(const struct estack_stack *st,
				      unsigned int page)
{
	size_t pages = estack_stack_size(st) / page, i;
	unsigned char vec[256];
	unsigned long long n = 0;

	for (i = 0; i < pages; i += sizeof(vec)) {
		size_t k = pages - i < sizeof(vec) ? pages - i : sizeof(vec), j;

		if (mincore((char *)st->lo + i * page, k * page, vec))
			die("mincore", errno);
		for (j = 0; j < k; j++)
			n += vec[j] & 1;
	}
	return n * page;
}

/*
 * -P: time from the first stack allocation until all fibers are parked at
 * full depth, and the stacks they hold then (and how much of them is in
 * memory). Then let them finish and check their results.
 */
static int peer_main(struct fiber *fibers, unsigned int nr, size_t size,
		     unsigned int page)
{
	unsigned long long stack, resident = 0, sum = 0;
	struct estack_sched_stats st;
	struct estack_stack s;
	unsigned int i, bad = 0;
	struct timespec t0, t1;
	int parked;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	start_all(fibers, nr, size);
	parked = estack_sched_run();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (parked != (int)nr) {
		fprintf(stderr, "estack-demo: %d of %u fibers parked\n",
			parked, nr);
		return 1;
	}
	estack_sched_stats(&st);
	stack = st.stack_bytes;

	for (i = 0; i < nr; i++) {
		if (estack_fiber_stack(fibers[i].f, &s))
			die("estack_fiber_stack", EINVAL);
		resident += resident_of(&s, page);
		estack_fiber_wake(fibers[i].f);
	}
	join_all(fibers, nr);
	for (i = 0; i < nr; i++) {
		if (fibers[i].result != work(false, max_depth, fibers[i].seed))
			bad++;
		sum ^= fibers[i].result;
	}

	printf("{\"impl\":\"estack\",\"procs\":1,\"n\":%u,\"depth\":%u,",
	       nr, max_depth);
	printf("\"frame\":%d,\"ns_per_fiber\":%.1f,", FRAME_WORDS * 8,
	       seconds(&t0, &t1) * 1e9 / nr);
	printf("\"stack_bytes_per_fiber\":%.1f,", (double)stack / nr);
	printf("\"resident_bytes_per_fiber\":%.1f,", (double)resident / nr);
	printf("\"grows\":%llu,\"bytes_copied\":%llu,",
	       (unsigned long long)st.grows,
	       (unsigned long long)st.bytes_copied);
	printf("\"checksum\":\"0x%016llx\",\"results_ok\":%s}\n", sum,
	       bad ? "false" : "true");
	return bad;
}

static const char usage[] =
	"Usage: estack-demo [-n FIBERS] [-d MAX_DEPTH] [-r ROUNDS]\n"
	"       estack-demo -P [-n FIBERS] [-d DEPTH]\n"
	"Run FIBERS fibers (default 10000), each doing ROUNDS rounds\n"
	"(default 4) of recursion up to MAX_DEPTH levels (default 120)\n"
	"on estack stacks that grow and shrink, and check every result.\n"
	"-P (peer mode): each fiber recurses DEPTH levels (default 120)\n"
	"and parks there; print the time and the stack memory per fiber\n"
	"until all are parked as one JSON line, as estack-gopeer does.\n"
	"Without /dev/estack the library's fallback pool is used.\n"
	"  -n, --fibers FIBERS   -d, --depth DEPTH   -r, --rounds ROUNDS\n"
	"  -P, --peer            -h, --help\n";

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fibers", required_argument, NULL, 'n' },
		{ "depth", required_argument, NULL, 'd' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "peer", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	unsigned int nr = 10000, i, bad = 0;
	struct estack_sched_stats st;
	struct estack_pool_info info;
	unsigned long long final = 0;
	struct estack_pool *pool;
	struct fiber *fibers;
	struct timespec t0, t1;
	int opt, err;

	while ((opt = getopt_long(argc, argv, "n:d:r:Ph", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			nr = strtoul(optarg, NULL, 0);
			break;
		case 'd':
			max_depth = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			rounds = strtoul(optarg, NULL, 0);
			break;
		case 'P':
			peer = true;
			break;
		default:
			fputs(usage, opt == 'h' ? stdout : stderr);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (optind < argc) {
		fputs(usage, stderr);
		return 2;
	}

	err = estack_pool_open(&pool, ESTACK_POOL_FALLBACK);
	if (err)
		die("estack_pool_open", -err);
	err = estack_pool_query(pool, &info);
	if (err)
		die("estack_pool_query", -err);
	if (info.mode == ESTACK_MODE_FALLBACK)
		fputs("estack-demo: /dev/estack is absent or cannot move stacks:\n"
		      "running on libestack's fallback pool\n", stderr);
	/* the work keeps &local in registers: conservative relocation */
	err = estack_sched_init(pool, ESTACK_FIBER_CONSERVATIVE |
				ESTACK_SCHED_CATCH_OVERFLOW);
	if (err)
		die("estack_sched_init", -err);

	fibers = calloc(nr, sizeof(*fibers));
	if (!fibers)
		die("calloc", errno);
	if (peer) {
		bad = peer_main(fibers, nr, info.min_stack, info.page_size);
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	start_all(fibers, nr, info.min_stack);
	if (estack_sched_run())
		die("estack_sched_run", EDEADLK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	estack_sched_stats(&st);
	join_all(fibers, nr);

	for (i = 0; i < nr; i++) {
		if (fibers[i].result != run_rounds(false, fibers[i].seed))
			bad++;
		final += fibers[i].final_size;
	}

	printf("pool              %s\n", info.mode == ESTACK_MODE_KERNEL ?
	       "kernel (/dev/estack)" : "fallback (libestack mmap)");
	printf("fibers            %u (%u rounds, depth 0..%u, %d-byte frames)\n",
	       nr, rounds, max_depth, FRAME_WORDS * 8);
	printf("results checked   %u ok, %u wrong\n", nr - bad, bad);
	printf("grows             %llu%s\n", (unsigned long long)st.grows,
	       info.mode == ESTACK_MODE_KERNEL ?
	       " (up to 64 KiB copied by libestack, larger by ESTACK_IOC_GROW)" :
	       "");
	printf("shrinks           %llu\n", (unsigned long long)st.shrinks);
	printf("bytes copied      %llu\n", (unsigned long long)st.bytes_copied);
	printf("context switches  %llu\n", (unsigned long long)st.switches);
	printf("stack memory      start %llu KiB, peak %llu KiB, final %llu KiB\n",
	       (unsigned long long)nr * info.min_stack >> 10,
	       (unsigned long long)st.peak_stack_bytes >> 10, final >> 10);
	printf("time              %.2f s%s\n", seconds(&t0, &t1),
	       info.mode == ESTACK_MODE_KERNEL ?
	       " (under QEMU TCG: not a performance figure)" : "");

out:
	free(fibers);
	err = estack_sched_fini();
	if (err)
		die("estack_sched_fini", -err);
	estack_pool_close(pool);
	return bad ? 1 : 0;
}
