// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * boost-context: boost::context::fiber on estack stacks.
 *
 * Copyright (C) 2026 The estack authors
 *
 *	boost-context [-n FIBERS] [-r ROUNDS] [-s STACK_BYTES] [-d DEPTH]
 *
 * 1. two fibers play ping-pong, resuming each other directly;
 * 2. FIBERS fibers (default 10,000) live at once, each yields ROUNDS
 *    results of a recursive computation DEPTH frames deep on its own
 *    stack, checked against the same computation on the main stack;
 * 3. in a child process a fiber recurses until it hits the guard below
 *    its stack; a SIGSEGV handler on a sigaltstack asks guard_hit() which
 *    stack it was, and the child exits with a code the parent checks;
 * 4. a fiber on a pool of the program's own, without caches
 *    (estack::pooled_stack_allocator): its stack goes straight back.
 *
 * The pool of 1-3 is estack_pool_default(): /dev/estack when the module
 * is loaded, the library's fallback otherwise. The output is TAP; the exit
 * status is 0 when every check passed.
 */
#include <estack/boost.hpp>

#include <boost/context/fiber.hpp>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace ctx = boost::context;

static int test_nr;
static int failures;

static void report(bool ok, const char *what)
{
	std::printf("%s %d %s\n", ok ? "ok" : "not ok", ++test_nr, what);
	if (!ok)
		failures++;
	std::fflush(stdout);
}

static std::size_t live_stacks(struct estack_pool *pool)
{
	struct estack_pool_info info;

	if (estack_pool_query(pool, &info))
		return static_cast<std::size_t>(-1);
	return info.live;
}

/* DEPTH real frames (noinline, a buffer each), so the fiber's stack is used */
__attribute__((noinline))
static std::uint64_t deep(unsigned int depth, std::uint64_t x)
{
	volatile unsigned char pad[64];
	std::uint64_t r;

	pad[depth % 64] = static_cast<unsigned char>(x);
	if (!depth)
		return x ^ 0x9e3779b97f4a7c15ULL;
	r = deep(depth - 1, x * 31 + depth);
	return r + pad[depth % 64];
}

static std::uint64_t expected(unsigned int depth, long fiber, long round)
{
	return deep(depth, static_cast<std::uint64_t>(fiber) << 20 | round);
}

/* 1: ping and pong resume each other directly, N strokes in all. */
static void ping_pong(const estack::stack_allocator &alloc, long n)
{
	struct estack_pool *pool = alloc.pool();
	std::size_t base = live_stacks(pool), live_in_pong = 0;
	long ball = 0, pings = 0, pongs = 0;
	bool unwound = false;

	ctx::fiber ping(std::allocator_arg, alloc,
			[&](ctx::fiber &&main) {
		ctx::fiber pong(std::allocator_arg, alloc,
				[&](ctx::fiber &&peer) {
			struct unwind_mark {
				bool *flag;
				~unwind_mark() { *flag = true; }
			} mark{&unwound};

			live_in_pong = live_stacks(pool);
			while (ball < n) {
				ball++;
				pongs++;
				peer = std::move(peer).resume();
			}
			return std::move(peer);
		});

		while (ball < n) {
			ball++;
			pings++;
			pong = std::move(pong).resume();
		}
		/* pong is suspended: destroying it unwinds its stack */
		return std::move(main);
	});
	ping = std::move(ping).resume();

	std::printf("# ping-pong: %ld strokes, %ld pings, %ld pongs\n",
		    ball, pings, pongs);
	report(!ping && ball == n && pings + pongs == n &&
	       pongs == n / 2 && unwound && live_in_pong == base + 2 &&
	       live_stacks(pool) == base,
	       "ping-pong between two fibers on estack stacks");
}

/* 2: many fibers alive at once, each yielding its results in turn. */
static void many(const estack::stack_allocator &alloc, long nr, long rounds,
		 unsigned int depth)
{
	struct estack_pool *pool = alloc.pool();
	std::size_t base = live_stacks(pool), live_all = 0;
	std::vector<ctx::fiber> fibers;
	std::uint64_t slot = 0;
	long bad = 0, finished = 0;

	fibers.reserve(nr);
	for (long i = 0; i < nr; i++) {
		fibers.emplace_back(std::allocator_arg, alloc,
				    [i, rounds, depth, &slot]
				    (ctx::fiber &&main) {
			for (long r = 0; r < rounds; r++) {
				slot = expected(depth, i, r);
				main = std::move(main).resume();
			}
			return std::move(main);
		});
	}
	for (long r = 0; r < rounds; r++) {
		for (long i = 0; i < nr; i++) {
			fibers[i] = std::move(fibers[i]).resume();
			if (slot != expected(depth, i, r) || !fibers[i])
				bad++;
		}
		if (!r)
			live_all = live_stacks(pool);
	}
	/* the last resume lets each fiber return: its stack goes back */
	for (long i = 0; i < nr; i++) {
		fibers[i] = std::move(fibers[i]).resume();
		if (!fibers[i])
			finished++;
	}
	fibers.clear();

	std::printf("# %ld fibers, %ld rounds at depth %u: %ld bad results, %zu stacks live at once\n",
		    nr, rounds, depth, bad, live_all - base);
	report(!bad && finished == nr &&
	       live_all == base + static_cast<std::size_t>(nr) &&
	       live_stacks(pool) == base,
	       "many fibers at once, every result checked");
}

/* 3: overflow, reported by a SIGSEGV handler through guard_hit(). */
static estack::stack_allocator *overflow_alloc;
static char *volatile overflow_local;
static volatile int never;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	static const char hit[] = "# child: the fiber hit its guard page\n";
	ctx::stack_context sctx;
	char *lo;

	(void)sig;
	(void)uc;
	if (!overflow_alloc->guard_hit(si->si_addr, &sctx))
		_exit(1);
	/* it must be the stack the fiber started on */
	lo = static_cast<char *>(sctx.sp) - sctx.size;
	if (overflow_local < lo || overflow_local >= sctx.sp)
		_exit(2);
	(void)!write(1, hit, sizeof(hit) - 1);
	_exit(42);
}

__attribute__((noinline))
static long recurse(long n)
{
	volatile char pad[256];

	pad[n % 256] = static_cast<char>(n);
	if (never)
		return pad[0];
	return recurse(n + 1) + pad[n % 256];
}

static int overflow_child(std::size_t bytes)
{
	static char altstack[64 * 1024];
	estack::stack_allocator alloc(bytes);
	stack_t ss = {};
	struct sigaction sa = {};

	overflow_alloc = &alloc;
	ss.ss_sp = altstack;
	ss.ss_size = sizeof(altstack);
	if (sigaltstack(&ss, nullptr))
		return 3;
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, nullptr))
		return 3;

	ctx::fiber f(std::allocator_arg, alloc, [](ctx::fiber &&main) {
		char here;

		overflow_local = &here;
		recurse(0);
		return std::move(main);
	});
	f = std::move(f).resume();
	return 4;	/* the fiber came back: no guard page stopped it */
}

static void overflow(std::size_t bytes)
{
	int status = 0;
	pid_t pid;

	std::fflush(stdout);
	pid = fork();	/* from the main stack, as libestack(3) asks */
	if (pid == 0) {
		std::fflush(stdout);
		_exit(overflow_child(bytes));
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		status = -1;
	std::printf("# child status 0x%x\n", status);
	report(pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 42,
	       "overflow caught by the guard, named by guard_hit()");
}

/* 4: estack::pooled_stack_allocator over a pool without caches. */
static void own_pool(std::size_t bytes)
{
	struct estack_pool_info info = {};
	struct estack_pool *pool;
	std::size_t live_in = 0;
	long sum = 0;
	int err;

	err = estack_pool_open(&pool, ESTACK_POOL_FALLBACK |
			       ESTACK_POOL_NO_CACHE);
	if (err) {
		std::printf("# estack_pool_open: %d\n", err);
		report(false, "a fiber on a pool of its own, no caches");
		return;
	}
	{
		estack::pooled_stack_allocator alloc(pool, bytes);
		ctx::fiber f(std::allocator_arg, alloc,
			     [&](ctx::fiber &&main) {
			live_in = live_stacks(pool);
			for (int i = 1; i <= 100; i++) {
				sum += i;
				main = std::move(main).resume();
			}
			return std::move(main);
		});

		while (f)
			f = std::move(f).resume();
	}
	err = estack_pool_query(pool, &info);
	std::printf("# own pool: sum %ld, %zu live inside, %zu live and %zu cached after\n",
		    sum, live_in, info.live, info.cached);
	report(!err && live_in == 1 && sum == 5050 && !info.live &&
	       !info.cached, "a fiber on a pool of its own, no caches");
	estack_pool_close(pool);
}

int main(int argc, char **argv)
{
	long nr = 10000, rounds = 4;
	std::size_t bytes = 16 * 1024;
	unsigned int depth = 40;
	struct estack_pool_info info;
	int c;

	while ((c = getopt(argc, argv, "n:r:s:d:")) != -1) {
		switch (c) {
		case 'n':
			nr = std::atol(optarg);
			break;
		case 'r':
			rounds = std::atol(optarg);
			break;
		case 's':
			bytes = std::strtoul(optarg, nullptr, 0);
			break;
		case 'd':
			depth = std::strtoul(optarg, nullptr, 0);
			break;
		default:
			std::fprintf(stderr,
				     "usage: %s [-n FIBERS] [-r ROUNDS] [-s STACK_BYTES] [-d DEPTH]\n",
				     argv[0]);
			return 2;
		}
	}
	if (nr < 1 || rounds < 1) {
		std::fprintf(stderr, "%s: -n and -r take positive counts\n",
			     argv[0]);
		return 2;
	}

	std::printf("TAP version 13\n1..4\n");
	estack::stack_allocator alloc(bytes);

	if (!alloc.pool() || estack_pool_query(alloc.pool(), &info)) {
		std::printf("Bail out! no estack pool\n");
		return 1;
	}
	std::printf("# %s mode, %zu-byte stacks (%zu for Boost), %zu-byte guards\n",
		    info.mode == ESTACK_MODE_KERNEL ? "kernel" : "fallback",
		    alloc.size(), alloc.size() - estack::record_bytes,
		    info.guard_size);

	ping_pong(alloc, 100000);
	many(alloc, nr, rounds, depth);
	overflow(bytes);
	own_pool(bytes);
	return failures ? 1 : 0;
}
