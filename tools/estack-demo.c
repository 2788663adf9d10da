// SPDX-License-Identifier: GPL-2.0
/*
 * estack-demo: a small fiber runtime on elastic stacks.
 *
 * Many fibers (default 10,000) each run rounds of recursive work of varied
 * depth. Every fiber starts on a one-page estack stack. At each level (a
 * safe point) a fiber checks how much stack it has left and, when it runs
 * low, yields to the scheduler, which grows the stack from its own stack
 * (ESTACK_IOC_GROW with frame-pointer relocation, the saved context as
 * slots, and a conservative scan: C compilers keep addresses of locals in
 * callee-saved registers, which get spilled onto the stack where no frame
 * chain names them), as Go's morestack does from g0. Between rounds, back near the top
 * of its stack, a fiber offers to shrink and the scheduler halves stacks that
 * use less than a quarter. Each fiber's result is checked against the same
 * work done on the main stack, so a wrong copy or relocation fails loudly.
 *
 * With -P (peer mode) every fiber instead recurses exactly DEPTH levels with
 * the same frames, growing as it goes, and parks at the bottom: the time
 * from the first ALLOC until all are parked and the stack bytes they hold
 * then, per fiber, come out as one JSON line, to compare with the Go peer
 * (tools/bench/gopeer: goroutines doing the same work, same results).
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
#include <time.h>
#include <unistd.h>

#include "estack_util.h"
#include "fiber-switch.h"

#define FRAME_WORDS	24	/* about 200 bytes of locals per level */
#define GROW_MARGIN	1024	/* grow when less than this is left */

enum request { REQ_NONE, REQ_GROW, REQ_SHRINK, REQ_PARK, REQ_DONE };

struct fiber {
	void *sp;		/* saved stack pointer while suspended */
	__u64 lo, hi;		/* the stack */
	__u32 id;
	enum request req;
	unsigned int seed, rounds;
	__u64 result;
};

/* Keep these real calls: the safe points and the recursion are the demo. */
#define DEMO_CALL	__attribute__((noipa))

static int dev;
static void *sched_sp;
static struct fiber *cur;
static unsigned int max_depth = 120, rounds = 4;
static unsigned long long nr_grows, nr_shrinks, copied, relocated;
static unsigned long long cur_bytes, peak_bytes;
static bool peer;		/* -P: recurse max_depth levels and park */

static void die(const char *what, int err)
{
	fprintf(stderr, "estack-demo: %s: %s\n", what, strerror(err));
	exit(1);
}

static void yield(enum request req)
{
	struct fiber *f = cur;

	f->req = req;
	fiber_switch(&f->sp, sched_sp);
}

/* A safe point: is there room for another level? */
static DEMO_CALL void checkpoint(struct fiber *f)
{
	__u64 fp = (__u64)__builtin_frame_address(0);

	if (f && fp - f->lo < GROW_MARGIN)
		yield(REQ_GROW);
}

static __u64 mix(__u64 x)
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
static DEMO_CALL __u64 work(struct fiber *f, unsigned int depth, __u64 x)
{
	__u64 local[FRAME_WORDS], r;
	unsigned int i;

	checkpoint(f);
	for (i = 0; i < FRAME_WORDS; i++)
		local[i] = mix(x + i);
	/* Peer mode: hold the whole stack until the scheduler resumes us. */
	if (!depth && f && peer)
		yield(REQ_PARK);
	r = depth ? work(f, depth - 1, local[depth % FRAME_WORDS]) : x;
	for (i = 0; i < FRAME_WORDS; i++)
		r += local[i] * (i + 1);
	return r;
}

static unsigned int depth_of(unsigned int seed, unsigned int round)
{
	return mix(seed * 131 + round) % (max_depth + 1);
}

static __u64 run_rounds(struct fiber *f, unsigned int seed)
{
	__u64 acc = seed;
	unsigned int r;

	for (r = 0; r < rounds; r++) {
		acc = work(f, depth_of(seed, r), acc);
		/* Back near the top: a good time to give memory back. */
		if (f)
			yield(REQ_SHRINK);
	}
	return acc;
}

void fiber_main(void *arg)
{
	struct fiber *f = arg;

	if (peer)
		f->result = work(f, max_depth, f->seed);
	else
		f->result = run_rounds(f, f->seed);
	yield(REQ_DONE);
	abort();	/* a finished fiber is never resumed */
}

static void fiber_start(struct fiber *f, unsigned int seed)
{
	struct estack_alloc a;
	__u64 *top;
	int err = es_alloc(dev, 0, &a);

	if (err)
		die("ESTACK_IOC_ALLOC", err);
	f->id = a.id;
	f->lo = a.lo;
	f->hi = a.hi;
	f->seed = seed;
	/* What fiber_switch pops: r15..r12, rbx, rbp, then the return address. */
	top = (__u64 *)(a.hi - (FIBER_FRAME_WORDS + 2) * 8);
	top[0] = 0;				/* r15 */
	top[1] = 0;				/* r14 */
	top[2] = 0;				/* r13 */
	top[3] = (__u64)f;			/* r12: fiber_main's argument */
	top[4] = 0;				/* rbx */
	top[5] = 0;				/* rbp: the frame chain ends here */
	top[6] = (__u64)fiber_trampoline;	/* leaves rsp 16-byte aligned */
	f->sp = top;
	cur_bytes += a.hi - a.lo;
}

/* GROW or SHRINK a suspended fiber's stack from the scheduler's stack. */
static void move(struct fiber *f, unsigned long cmd)
{
	__u64 sp = (__u64)f->sp;
	__u64 slots[2] = { (__u64)&f->sp, sp + FIBER_SAVED_RBP };
	struct estack_move m = {
		.flags = ESTACK_MOVE_ADJUST_FP | ESTACK_MOVE_ADJUST_CONSERVATIVE,
		.id = f->id,
		.nr_slots = 2,
		.sp = sp,
		.fp = *(__u64 *)(sp + FIBER_SAVED_RBP),
		.slots = (__u64)slots,
	};

	int err = es_move(dev, cmd, &m);

	if (err)
		die(cmd == ESTACK_IOC_GROW ? "ESTACK_IOC_GROW" :
		    "ESTACK_IOC_SHRINK", err);
	if (!m.delta)
		return;
	if ((__u64)f->sp != sp + m.delta) {
		fprintf(stderr, "estack-demo: saved sp not relocated\n");
		exit(1);
	}
	cur_bytes += (m.hi - m.lo) - (f->hi - f->lo);
	if (cur_bytes > peak_bytes)
		peak_bytes = cur_bytes;
	f->lo = m.lo;
	f->hi = m.hi;
	copied += f->hi - sp - m.delta;
	relocated += m.adjusted;
	if (cmd == ESTACK_IOC_GROW)
		nr_grows++;
	else
		nr_shrinks++;
}

/* Round robin until every fiber has yielded @until, growing and shrinking. */
static void schedule(struct fiber *fibers, unsigned int nr,
		     enum request until)
{
	unsigned int i, left = nr;

	while (left) {
		for (i = 0; i < nr; i++) {
			struct fiber *f = &fibers[i];

			if (f->req == until)
				continue;
			cur = f;
			fiber_switch(&sched_sp, f->sp);
			switch (f->req) {
			case REQ_GROW:
				move(f, ESTACK_IOC_GROW);
				break;
			case REQ_SHRINK:
				move(f, ESTACK_IOC_SHRINK);
				break;
			case REQ_PARK:
			case REQ_DONE:
			case REQ_NONE:
				break;
			}
			if (f->req == until)
				left--;
		}
	}
}

static double seconds(const struct timespec *t0, const struct timespec *t1)
{
	return (t1->tv_sec - t0->tv_sec) + (t1->tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * -P: time from the first ALLOC until all fibers are parked at full depth,
 * and the stacks they hold then (stacks up to 32 KiB are populated whole
 * by ALLOC and GROW; INFO's resident count checks it). Then let
 * them finish and check their results.
 */
static int peer_main(struct fiber *fibers, unsigned int nr)
{
	unsigned long long stack, resident = 0, sum = 0;
	unsigned int i, bad = 0;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < nr; i++)
		fiber_start(&fibers[i], i + 1);
	schedule(fibers, nr, REQ_PARK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	stack = cur_bytes;

	for (i = 0; i < nr; i++) {
		struct estack_info in;
		int err = es_info(dev, fibers[i].id, &in);

		if (err)
			die("ESTACK_IOC_INFO", err);
		resident += in.resident;
	}

	schedule(fibers, nr, REQ_DONE);
	for (i = 0; i < nr; i++) {
		if (fibers[i].result != work(NULL, max_depth, fibers[i].seed))
			bad++;
		sum ^= fibers[i].result;
	}

	printf("{\"impl\":\"estack\",\"procs\":1,\"n\":%u,\"depth\":%u,",
	       nr, max_depth);
	printf("\"frame\":%d,\"ns_per_fiber\":%.1f,", FRAME_WORDS * 8,
	       seconds(&t0, &t1) * 1e9 / nr);
	printf("\"stack_bytes_per_fiber\":%.1f,", (double)stack / nr);
	printf("\"resident_bytes_per_fiber\":%.1f,", (double)resident / nr);
	printf("\"grows\":%llu,\"bytes_copied\":%llu,", nr_grows, copied);
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
	struct estack_api api;
	unsigned int nr = 10000, i, bad = 0;
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
			return es_usage(usage, opt == 'h' ? 0 : 2);
		}
	}
	if (optind < argc)
		return es_usage(usage, 2);

	dev = es_open_verbose("estack-demo");
	if (dev < 0)
		return 1;
	err = es_api(dev, &api);
	if (err)
		die("ESTACK_IOC_API", err);
	if (!(api.features & ESTACK_FEATURE_MOVE)) {
		fprintf(stderr, "estack-demo: module cannot grow stacks\n");
		return 1;
	}

	fibers = calloc(nr, sizeof(*fibers));
	if (!fibers)
		die("calloc", errno);
	if (peer) {
		bad = peer_main(fibers, nr);
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < nr; i++)
		fiber_start(&fibers[i], i + 1);
	peak_bytes = cur_bytes;

	schedule(fibers, nr, REQ_DONE);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	for (i = 0; i < nr; i++)
		if (fibers[i].result != run_rounds(NULL, fibers[i].seed))
			bad++;

	printf("fibers            %u (%u rounds, depth 0..%u, %d-byte frames)\n",
	       nr, rounds, max_depth, FRAME_WORDS * 8);
	printf("results checked   %u ok, %u wrong\n", nr - bad, bad);
	printf("grows             %llu\n", nr_grows);
	printf("shrinks           %llu\n", nr_shrinks);
	printf("bytes copied      %llu\n", copied);
	printf("words relocated   %llu\n", relocated);
	printf("stack memory      start %llu KiB, peak %llu KiB, final %llu KiB\n",
	       (unsigned long long)nr * api.page_size >> 10, peak_bytes >> 10,
	       cur_bytes >> 10);
	printf("time              %.2f s (under QEMU TCG: not a performance figure)\n",
	       seconds(&t0, &t1));

out:
	for (i = 0; i < nr; i++) {
		err = es_free(dev, fibers[i].id);
		if (err)
			die("ESTACK_IOC_FREE", err);
	}
	free(fibers);
	close(dev);
	return bad ? 1 : 0;
}
