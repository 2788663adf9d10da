// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * boost-fiber: Boost.Fiber fibers on estack stacks.
 *
 * Copyright (C) 2026 The estack authors
 *
 *	boost-fiber [-p PRODUCERS] [-k ITEMS] [-f FIBERS] [-i ITERATIONS]
 *
 * 1. PRODUCERS fibers (default 500) each push ITEMS numbers into a
 *    buffered channel that four consumer fibers drain; the sum and the
 *    count are checked, and so is that every fiber's stack came from the
 *    pool;
 * 2. two threads run FIBERS fibers each (default 300) that take a
 *    boost::fibers::mutex shared by both threads ITERATIONS times, yield
 *    while holding it, and check that nobody else got in;
 * 3. once the threads are gone, every stack went back to the pool.
 *
 * Every fiber is made as
 *	boost::fibers::fiber(std::allocator_arg, estack::stack_allocator(),
 *			     fn)
 * The output is TAP; the exit status is 0 when every check passed.
 */
#include <estack/boost.hpp>

#include <boost/fiber/all.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include <unistd.h>

namespace fibers = boost::fibers;

static int test_nr;
static int failures;

static void report(bool ok, const char *what)
{
	std::printf("%s %d %s\n", ok ? "ok" : "not ok", ++test_nr, what);
	if (!ok)
		failures++;
	std::fflush(stdout);
}

static std::size_t live_stacks()
{
	struct estack_pool_info info;

	if (estack_pool_query(estack_pool_default(), &info))
		return static_cast<std::size_t>(-1);
	return info.live;
}

/* 1: producers and consumers over a channel, in a thread of their own. */
static void channel(long producers, long items)
{
	const long consumers = 4;
	std::uint64_t sum = 0, count = 0, want;
	std::size_t base = live_stacks(), most = 0;

	std::thread t([&] {
		fibers::buffered_channel<std::uint64_t> ch(64);
		std::vector<fibers::fiber> prod, cons;
		std::vector<std::uint64_t> sums(consumers), counts(consumers);

		for (long c = 0; c < consumers; c++) {
			cons.emplace_back(std::allocator_arg,
					  estack::stack_allocator(), [&, c] {
				std::uint64_t v;

				while (ch.pop(v) ==
				       fibers::channel_op_status::success) {
					sums[c] += v;
					counts[c]++;
					most = std::max(most, live_stacks());
				}
			});
		}
		for (long p = 0; p < producers; p++) {
			prod.emplace_back(std::allocator_arg,
					  estack::stack_allocator(), [&, p] {
				for (long k = 0; k < items; k++)
					ch.push(static_cast<std::uint64_t>(
						p * items + k));
			});
		}
		for (auto &f : prod)
			f.join();
		ch.close();
		for (auto &f : cons)
			f.join();
		for (long c = 0; c < consumers; c++) {
			sum += sums[c];
			count += counts[c];
		}
	});
	t.join();

	want = static_cast<std::uint64_t>(producers * items);
	std::printf("# channel: %llu items, sum %llu, %zu stacks live at most\n",
		    static_cast<unsigned long long>(count),
		    static_cast<unsigned long long>(sum), most - base);
	report(count == want && sum == want * (want - 1) / 2 &&
	       most >= base + static_cast<std::size_t>(consumers) &&
	       most <= base + static_cast<std::size_t>(producers + consumers),
	       "channel: every item arrived, stacks from the pool");
}

/* 2: one fibers::mutex, fibers of two threads, yielding inside it. */
static void mutex(long nr, long iterations)
{
	fibers::mutex lock;
	std::atomic<long> overlaps(0);
	long counter = 0;
	bool inside = false;
	std::vector<std::thread> threads;

	for (int t = 0; t < 2; t++) {
		threads.emplace_back([&] {
			std::vector<fibers::fiber> fs;

			for (long i = 0; i < nr; i++) {
				fs.emplace_back(std::allocator_arg,
						estack::stack_allocator(16384),
						[&] {
					for (long k = 0; k < iterations; k++) {
						std::unique_lock<fibers::mutex>
							hold(lock);

						if (inside)
							overlaps++;
						inside = true;
						boost::this_fiber::yield();
						counter++;
						inside = false;
					}
				});
			}
			for (auto &f : fs)
				f.join();
		});
	}
	for (auto &t : threads)
		t.join();

	std::printf("# mutex: counter %ld of %ld, %ld overlaps\n",
		    counter, 2 * nr * iterations, overlaps.load());
	report(counter == 2 * nr * iterations && !overlaps,
	       "mutex shared by the fibers of two threads");
}

int main(int argc, char **argv)
{
	long producers = 500, items = 20, nr = 300, iterations = 50;
	struct estack_pool_info info;
	std::size_t base;
	int c;

	while ((c = getopt(argc, argv, "p:k:f:i:")) != -1) {
		switch (c) {
		case 'p':
			producers = std::atol(optarg);
			break;
		case 'k':
			items = std::atol(optarg);
			break;
		case 'f':
			nr = std::atol(optarg);
			break;
		case 'i':
			iterations = std::atol(optarg);
			break;
		default:
			std::fprintf(stderr,
				     "usage: %s [-p PRODUCERS] [-k ITEMS] [-f FIBERS] [-i ITERATIONS]\n",
				     argv[0]);
			return 2;
		}
	}
	if (producers < 1 || items < 1 || nr < 1 || iterations < 1) {
		std::fprintf(stderr, "%s: every count must be positive\n",
			     argv[0]);
		return 2;
	}

	std::printf("TAP version 13\n1..3\n");
	if (!estack_pool_default() ||
	    estack_pool_query(estack_pool_default(), &info)) {
		std::printf("Bail out! no estack pool\n");
		return 1;
	}
	std::printf("# %s mode, %zu-byte default stacks\n",
		    info.mode == ESTACK_MODE_KERNEL ? "kernel" : "fallback",
		    estack::stack_allocator().size());
	base = info.live;

	channel(producers, items);
	mutex(nr, iterations);
	std::printf("# %zu stacks live at the end, %zu at the start\n",
		    live_stacks(), base);
	report(live_stacks() == base,
	       "every stack back in the pool once the threads are gone");
	return failures ? 1 : 0;
}
