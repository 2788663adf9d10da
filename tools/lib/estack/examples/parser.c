// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * parser: a recursive-descent parser of deeply nested JSON-like documents
 * on fibers whose stacks grow to hundreds of KiB and shrink back.
 *
 * Each fiber parses documents of alternating depth: a deep one (up to
 * -d levels, one C frame or two per level) and then shallow ones. The
 * parser calls estack_fiber_check() at every value, so the stack grows as
 * the nesting does; between documents the fiber yields, and the runtime
 * halves a stack that uses less than a quarter of itself, so after a few
 * shallow documents it is small again. Every result is checked against
 * what the generator computed.
 *
 * The parser's state is on the heap and its frames hold no address of a
 * local: relocating the frame-pointer chain and the switch frame is enough
 * here, without the conservative scan (the default of this example; -C
 * turns the scan on to compare).
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

#include <estack.h>
#include <estack/fiber.h>

struct buf {
	char *s;
	size_t len, cap;
};

struct parser {
	const char *p;
	bool bad;
};

/*
 * What a fiber works with lives here, not in locals of parse_docs(): the
 * compiler may keep the address of a local in a callee-saved register
 * across the whole loop (a hoisted lea), deeper frames spill that register
 * where no frame chain names it, and after a move without the conservative
 * scan the address would still name the old stack.
 */
struct job {
	struct estack_fiber *fiber;
	struct buf doc;
	struct parser ps;
	struct estack_stack st;
	unsigned int id;
	unsigned int bad;
	size_t peak;		/* largest stack seen */
	size_t final;		/* stack after the last document */
};

static unsigned int nr_fibers = 64, nr_docs = 8, max_depth = 3000;

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

/* ---- the generator: iterative, so the main stack stays small ---- */

static void put(struct buf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->len + n + 1 > b->cap) {
		b->cap = 2 * (b->len + n + 1);
		b->s = realloc(b->s, b->cap);
		if (!b->s) {
			perror("parser: realloc");
			exit(1);
		}
	}
	memcpy(b->s + b->len, s, n + 1);
	b->len += n;
}

/*
 * A document of @depth containers around a number: even levels are
 * arrays [a,<inner>,b], odd levels objects {"x":<inner>,"y":b}. Returns
 * the value the parser must find: each number times its depth plus one.
 */
static uint64_t generate(struct buf *b, uint64_t seed, unsigned int depth)
{
	uint64_t sum = 0, a, v;
	char num[32];
	unsigned int l;

	b->len = 0;
	put(b, "");
	for (l = 0; l < depth; l++) {
		a = mix(seed + l) % 100000;
		if (l % 2) {
			put(b, "{\"x\":");
		} else {
			snprintf(num, sizeof(num), "[%llu,",
				 (unsigned long long)a);
			put(b, num);
			sum += a * (l + 2);
		}
	}
	v = mix(seed ^ 0x5eed) % 100000;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
	put(b, num);
	sum += v * (depth + 1);
	for (l = depth; l-- > 0;) {
		a = mix(seed + l + 7777) % 100000;
		if (l % 2)
			snprintf(num, sizeof(num), ",\"y\":%llu}",
				 (unsigned long long)a);
		else
			snprintf(num, sizeof(num), ",%llu]",
				 (unsigned long long)a);
		put(b, num);
		sum += a * (l + 2);
	}
	return sum;
}

/* ---- the parser: one value, one array or one object per frame ---- */

static uint64_t parse_value(struct parser *ps, unsigned int depth);

static uint64_t parse_number(struct parser *ps, unsigned int depth)
{
	uint64_t n = 0;

	if (*ps->p < '0' || *ps->p > '9')
		ps->bad = true;
	while (*ps->p >= '0' && *ps->p <= '9')
		n = n * 10 + (uint64_t)(*ps->p++ - '0');
	return n * (depth + 1);
}

static bool expect(struct parser *ps, char c)
{
	if (*ps->p != c) {
		ps->bad = true;
		return false;
	}
	ps->p++;
	return true;
}

static void parse_key(struct parser *ps)
{
	if (!expect(ps, '"'))
		return;
	while (*ps->p && *ps->p != '"')
		ps->p++;
	if (expect(ps, '"'))
		expect(ps, ':');
}

static __attribute__((noinline)) uint64_t parse_array(struct parser *ps,
						      unsigned int depth)
{
	uint64_t sum = 0;

	ps->p++;
	do {
		sum += parse_value(ps, depth + 1);
	} while (!ps->bad && *ps->p == ',' && ps->p++);
	expect(ps, ']');
	return sum;
}

static __attribute__((noinline)) uint64_t parse_object(struct parser *ps,
						       unsigned int depth)
{
	uint64_t sum = 0;

	ps->p++;
	do {
		parse_key(ps);
		sum += parse_value(ps, depth + 1);
	} while (!ps->bad && *ps->p == ',' && ps->p++);
	expect(ps, '}');
	return sum;
}

static __attribute__((noinline)) uint64_t parse_value(struct parser *ps,
						      unsigned int depth)
{
	int err = estack_fiber_check(0);	/* the safe point */

	if (err) {
		fprintf(stderr, "parser: estack_fiber_check: %s\n",
			strerror(-err));
		ps->bad = true;
		return 0;
	}
	if (ps->bad)
		return 0;
	if (*ps->p == '[')
		return parse_array(ps, depth);
	if (*ps->p == '{')
		return parse_object(ps, depth);
	return parse_number(ps, depth);
}

/* ---- the fibers ---- */

static void note_stack(struct job *j)
{
	if (!estack_fiber_stack(j->fiber, &j->st) &&
	    estack_stack_size(&j->st) > j->peak)
		j->peak = estack_stack_size(&j->st);
}

static void *parse_docs(void *arg)
{
	struct job *j = arg;
	struct parser *ps = &j->ps;
	unsigned int d, depth;
	uint64_t want, got;

	for (d = 0; d < nr_docs; d++) {
		/* deep, then shallow ones, so that the stack shrinks back */
		if (d % 4 == 0)
			depth = max_depth / 2 + mix(j->id * 31 + d) %
				(max_depth / 2 + 1);
		else
			depth = 1 + mix(j->id * 31 + d) % 8;
		want = generate(&j->doc, j->id * 1000003ULL + d, depth);
		ps->p = j->doc.s;
		ps->bad = false;
		got = parse_value(ps, 0);
		note_stack(j);
		if (ps->bad || *ps->p || got != want)
			j->bad++;
		estack_fiber_yield();	/* may shrink */
	}
	if (!estack_fiber_stack(j->fiber, &j->st))
		j->final = estack_stack_size(&j->st);
	free(j->doc.s);
	return NULL;
}

static const char usage[] =
	"Usage: parser [-n FIBERS] [-r DOCUMENTS] [-d MAX_DEPTH] [-C]\n"
	"Parse DOCUMENTS (default 8) nested JSON-like documents on each of\n"
	"FIBERS fibers (default 64), every fourth up to MAX_DEPTH levels\n"
	"deep (default 3000), the others a few levels, checking every\n"
	"result; report how far the stacks grew and where they ended.\n"
	"-C: relocate with the conservative scan too.\n";

int main(int argc, char **argv)
{
	struct estack_sched_stats st;
	struct estack_pool *pool;
	struct timespec t0, t1;
	size_t peak = 0, final = 0;
	unsigned int i, bad = 0, flags = 0;
	struct job *jobs;
	int opt, err;

	while ((opt = getopt(argc, argv, "n:r:d:Ch")) != -1) {
		switch (opt) {
		case 'n':
			nr_fibers = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			nr_docs = strtoul(optarg, NULL, 0);
			break;
		case 'd':
			max_depth = strtoul(optarg, NULL, 0);
			break;
		case 'C':
			flags |= ESTACK_FIBER_CONSERVATIVE;
			break;
		default:
			fputs(usage, opt == 'h' ? stdout : stderr);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (!max_depth)
		max_depth = 1;
	err = estack_pool_open(&pool, ESTACK_POOL_FALLBACK);
	if (!err)
		err = estack_sched_init(pool, flags |
					ESTACK_SCHED_CATCH_OVERFLOW);
	if (err) {
		fprintf(stderr, "parser: libestack: %s\n", strerror(-err));
		return 1;
	}
	jobs = calloc(nr_fibers, sizeof(*jobs));
	if (!jobs)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < nr_fibers; i++) {
		jobs[i].id = i;
		/* a fixed small start: the learned size would hide the growth */
		err = estack_fiber_create(&jobs[i].fiber, 4096, 0, parse_docs,
					  &jobs[i]);
		if (err) {
			fprintf(stderr, "parser: estack_fiber_create: %s\n",
				strerror(-err));
			return 1;
		}
	}
	if (estack_sched_run()) {
		fprintf(stderr, "parser: fibers left parked\n");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	estack_sched_stats(&st);
	for (i = 0; i < nr_fibers; i++) {
		void *r;

		err = estack_fiber_join(jobs[i].fiber, &r);
		if (err || r)
			bad++;
		bad += jobs[i].bad;
		if (jobs[i].peak > peak)
			peak = jobs[i].peak;
		if (jobs[i].final > final)
			final = jobs[i].final;
	}
	printf("parser: %s: %u fibers x %u documents, depth up to %u, %u wrong; stack per fiber: started 4 KiB, peak %zu KiB, final %zu KiB (largest); all fibers: peak %zu KiB; %llu grows, %llu shrinks, %llu KiB copied, %.2f s\n",
	       bad ? "FAILED" : "ok", nr_fibers, nr_docs, max_depth, bad,
	       peak >> 10, final >> 10, st.peak_stack_bytes >> 10,
	       (unsigned long long)st.grows, (unsigned long long)st.shrinks,
	       (unsigned long long)st.bytes_copied >> 10,
	       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	free(jobs);
	estack_sched_fini();
	estack_pool_close(pool);
	/* grown to hundreds of KiB and back: otherwise the example failed */
	if (!bad && max_depth >= 1000 && (peak < 128 * 1024 ||
					  final > peak / 8)) {
		fprintf(stderr, "parser: stacks did not grow and shrink back\n");
		return 1;
	}
	return bad ? 1 : 0;
}
