// SPDX-License-Identifier: GPL-2.0
/*
 * estack selftests: pages MADV_DONTNEED takes out of a process's RSS.
 *
 * MADV_DONTNEED on a live stack unmaps its pages, but the module keeps
 * them (the next touch gets the old data back), so they leave the RSS the
 * OOM killer reads. An unprivileged process that allocates stacks up to
 * its limit and drops them that way must still be the one the OOM killer
 * picks, not a bystander that holds less ordinary memory: before the OOM
 * killer chooses, the module maps those pages back.
 *
 * That is the case the module's OOM notifier covers: a process that drops
 * its pages and waits, or drops them again as soon as it has seen an OOM
 * kill. One that keeps dropping them from another thread, or keeps its
 * locks busy, can still evade it (the admin guide says so).
 *
 * The OOM killer is started with sysrq 'f', which kills one task, the one
 * with the highest badness, without any real shortage of memory. The test
 * process and its children of the test's own making are the candidates:
 * the test process makes itself unkillable (oom_score_adj -1000), the
 * hider and the bystander reset their own to 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "estack_harness.h"

#define HIDER_MB	256
#define BYSTANDER_MB	128
#define STACK_MB	4
#define STACKS		(HIDER_MB / STACK_MB)

static int set_oom_score_adj(const char *val)
{
	return es_write_file("/proc/self/oom_score_adj", val);
}

/*
 * In a child: keep only the ends it uses, and die with the test process,
 * so that a failed assertion leaves no child holding memory behind.
 * After any setuid(), which clears the parent-death signal.
 */
static int child_setup(int unused_read, int unused_write)
{
	close(unused_read);
	close(unused_write);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL))
		return -1;
	/* The parent may have gone before the call. */
	return getppid() == 1 ? -1 : 0;
}

/* The calling process's resident pages, in MiB; -1 on error. */
static long rss_mb(void)
{
	unsigned long size, resident;
	FILE *f = fopen("/proc/self/statm", "r");
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "%lu %lu", &size, &resident);
	fclose(f);
	return n == 2 ? (long)(resident * sysconf(_SC_PAGESIZE) >> 20) : -1;
}

/*
 * As nobody: STACKS stacks of STACK_MB, every page written, then all of
 * them dropped with MADV_DONTNEED. Reports its RSS on @ready, then waits
 * for a byte on @go and checks that the data came back (the module kept
 * the pages). Exit codes above 90 say what went wrong before the wait.
 */
static void hider(int ready, int go, int ready_r, int go_w)
{
	struct estack_alloc a[STACKS];
	size_t len = (size_t)STACK_MB << 20;
	long rss;
	int fd, i;
	char c;

	if (set_oom_score_adj("0"))
		_exit(90);
	if (setgid(65534) || setuid(65534))
		_exit(91);
	if (child_setup(ready_r, go_w))
		_exit(89);
	fd = es_open();
	if (fd < 0)
		_exit(92);
	for (i = 0; i < STACKS; i++) {
		if (es_alloc(fd, len, &a[i]))
			_exit(93);
		memset((void *)(unsigned long)a[i].lo, 0x5a, len);
		if (madvise((void *)(unsigned long)a[i].lo, len, MADV_DONTNEED))
			_exit(94);
	}
	rss = rss_mb();
	if (write(ready, &rss, sizeof(rss)) != sizeof(rss))
		_exit(95);
	if (read(go, &c, 1) != 1)
		_exit(96);
	for (i = 0; i < STACKS; i++) {
		char *p = (char *)(unsigned long)a[i].lo;

		if (p[0] != 0x5a || p[len - 1] != 0x5a)
			_exit(97);
	}
	_exit(0);
}

/* BYSTANDER_MB of touched anonymous memory, until told to go. */
static void bystander(int ready, int go, int ready_r, int go_w)
{
	size_t len = (size_t)BYSTANDER_MB << 20;
	char *p;
	long rss;
	char c;

	if (set_oom_score_adj("0"))
		_exit(90);
	if (child_setup(ready_r, go_w))
		_exit(89);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		_exit(92);
	memset(p, 0x5a, len);
	rss = rss_mb();
	if (write(ready, &rss, sizeof(rss)) != sizeof(rss))
		_exit(95);
	if (read(go, &c, 1) != 1)
		_exit(96);
	_exit(p[0] == 0x5a && p[len - 1] == 0x5a ? 0 : 97);
}

/* Wait up to @ms for @pid to end; its status, or -1 if it did not. */
static int wait_for(pid_t pid, int ms)
{
	int status, i;

	for (i = 0; i < ms / 10; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		usleep(10000);
	}
	return -1;
}

FIXTURE(hidden) {
	long long in_use;
	long long user_bytes;
	long long fd_bytes;
};

FIXTURE_SETUP(hidden)
{
	es_test_present(_metadata);
	if (geteuid())
		ES_SKIP("needs root for sysrq and processes of another uid");
	if (access("/proc/sysrq-trigger", W_OK))
		ES_SKIP("no /proc/sysrq-trigger (CONFIG_MAGIC_SYSRQ)");
	self->in_use = es_stat("stacks_in_use");
	self->user_bytes = es_param("max_bytes_per_user");
	self->fd_bytes = es_param("max_bytes_per_fd");
	ASSERT_LE(0, self->in_use);
	ASSERT_LT(0, self->user_bytes);
	ASSERT_LT(0, self->fd_bytes);
	/* Room for the hider whatever the guest's RAM. */
	ASSERT_EQ(0, es_set_param("max_bytes_per_user", (HIDER_MB + 16ULL) << 20));
	ASSERT_EQ(0, es_set_param("max_bytes_per_fd", (HIDER_MB + 16ULL) << 20));
}

FIXTURE_TEARDOWN(hidden)
{
	/*
	 * The stacks freed here fill the module's pools: give them back, as
	 * the shrinker would, so that the next test finds the caches as
	 * they were.
	 */
	es_write_file_flags("/proc/sys/vm/drop_caches", "2", O_TRUNC);
	if (self->user_bytes > 0)
		es_set_param("max_bytes_per_user", self->user_bytes);
	if (self->fd_bytes > 0)
		es_set_param("max_bytes_per_fd", self->fd_bytes);
}

TEST_F_TIMEOUT(hidden, oom_killer_picks_the_holder, 300)
{
	int ready[2], go[2], hs = -1, bs = -1;
	long hider_rss, by_rss;
	pid_t h, by;
	char c = 0;

	ASSERT_EQ(0, set_oom_score_adj("-1000"));
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	by = fork();
	ASSERT_LE(0, by);
	if (!by)
		bystander(ready[1], go[0], ready[0], go[1]);
	ASSERT_EQ(sizeof(by_rss), read(ready[0], &by_rss, sizeof(by_rss)));
	h = fork();
	ASSERT_LE(0, h);
	if (!h)
		hider(ready[1], go[0], ready[0], go[1]);
	/* Only the children write it: a child that dies early gives EOF. */
	close(ready[1]);
	ASSERT_EQ(sizeof(hider_rss), read(ready[0], &hider_rss, sizeof(hider_rss)))
		TH_LOG("hider: status %#x", wait_for(h, 1000));
	TH_LOG("RSS: hider %ld MiB (holds %d MiB of stacks), bystander %ld MiB",
	       hider_rss, HIDER_MB, by_rss);
	/* The setup works: the pages are out of the hider's RSS. */
	ASSERT_GT(by_rss, hider_rss);

	ASSERT_EQ(0, es_write_file("/proc/sysrq-trigger", "f"));
	/* sysrq 'f' runs the OOM killer from a workqueue: wait for its kill. */
	hs = wait_for(h, 30000);
	if (hs == -1)
		bs = wait_for(by, 100);
	EXPECT_TRUE(hs != -1 && WIFSIGNALED(hs) && WTERMSIG(hs) == SIGKILL)
		TH_LOG("the hider was not OOM-killed: status %#x", hs);
	EXPECT_EQ(-1, bs) TH_LOG("the bystander ended: status %#x", bs);

	/* Both children hold the pipe open: one byte each. */
	ASSERT_EQ(1, write(go[1], &c, 1));
	ASSERT_EQ(1, write(go[1], &c, 1));
	if (hs == -1) {
		ASSERT_EQ(h, waitpid(h, &hs, 0));
		TH_LOG("hider: status %#x", hs);
	}
	if (bs == -1) {
		ASSERT_EQ(by, waitpid(by, &bs, 0));
		EXPECT_TRUE(WIFEXITED(bs) && WEXITSTATUS(bs) == 0)
			TH_LOG("bystander: status %#x", bs);
	}
	EXPECT_EQ(self->in_use, es_stat("stacks_in_use"));
	close(ready[0]);
	close(go[0]);
	close(go[1]);
}

/*
 * A child that sleeps until killed, the OOM killer's first choice; back
 * once it is (its oom_score_adj is set), -1 on error.
 */
static pid_t sacrifice(void)
{
	int ready[2];
	pid_t pid;
	char c = 0;

	if (pipe(ready))
		return -1;
	pid = fork();
	if (!pid) {
		if (set_oom_score_adj("1000"))
			_exit(90);
		close(ready[0]);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() == 1)
			_exit(89);
		if (write(ready[1], &c, 1) != 1)
			_exit(95);
		for (;;)
			pause();
	}
	close(ready[1]);
	if (pid > 0 && read(ready[0], &c, 1) != 1) {
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(ready[0]);
	return pid;
}

/*
 * What the notifier maps back is what the process had: a live stack's
 * data, and a stack of the mapped cache that must read as zero when ALLOC
 * takes it again (the zap marked its written page dirty).
 */
TEST_F_TIMEOUT(hidden, mapped_back_pages_keep_their_data, 300)
{
	size_t len = (size_t)STACK_MB << 20, small = 8192, i;
	struct estack_alloc a[4], c, again;
	struct estack_info info;
	long before, after;
	int fd, status;
	char *p;
	pid_t victim;

	/*
	 * After a walk the notifier waits twice that walk's length: let the
	 * walk of the OOM the test above started (256 MiB) age.
	 */
	sleep(2);
	ASSERT_EQ(0, set_oom_score_adj("-1000"));
	fd = es_open();
	ASSERT_LE(0, fd);
	before = rss_mb();
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, es_alloc(fd, len, &a[i]));
		p = (char *)(unsigned long)a[i].lo;
		memset(p, 0x40 + i, len);
		ASSERT_EQ(0, madvise(p, len, MADV_DONTNEED));
	}
	/* A small stack written, freed into the mapped cache, dropped. */
	ASSERT_EQ(0, es_alloc(fd, small, &c));
	memset((void *)(unsigned long)c.lo, 0x77, small);
	ASSERT_EQ(0, es_free(fd, c.id));
	ASSERT_EQ(0, madvise((void *)(unsigned long)c.lo, small, MADV_DONTNEED));
	after = rss_mb();
	ASSERT_GT(before + 4 * STACK_MB / 2, after);

	victim = sacrifice();
	ASSERT_LE(0, victim);
	ASSERT_EQ(0, es_write_file("/proc/sysrq-trigger", "f"));
	status = wait_for(victim, 30000);
	if (status == -1)
		kill(victim, SIGKILL);
	ASSERT_TRUE(status != -1 && WIFSIGNALED(status))
		TH_LOG("the sacrifice was not OOM-killed: status %#x", status);

	/* In the RSS again, without a touch, and every page resident. */
	after = rss_mb();
	EXPECT_LE(before + 4 * STACK_MB, after)
		TH_LOG("RSS %ld MiB, %ld MiB before the stacks", after, before);
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, es_info(fd, a[i].id, &info));
		EXPECT_EQ(len, info.resident);
	}
	for (i = 0; i < 4; i++) {
		size_t j;

		p = (char *)(unsigned long)a[i].lo;
		for (j = 0; j < len && p[j] == (char)(0x40 + i); j++)
			;
		EXPECT_EQ(len, j) TH_LOG("stack %zu: byte %zu lost", i, j);
	}
	/* The mapped cache gives the small stack back, cleared. */
	ASSERT_EQ(0, es_alloc(fd, small, &again));
	EXPECT_EQ(c.lo, again.lo);
	EXPECT_EQ(1, es_zero(again.lo, again.hi));
	for (i = 0; i < 4; i++)
		EXPECT_EQ(0, es_free(fd, a[i].id));
	EXPECT_EQ(0, es_free(fd, again.id));
	close(fd);
	EXPECT_EQ(self->in_use, es_stat("stacks_in_use"));
}

/*
 * Wait up to @ms for one of the test process's children to end, polling
 * every millisecond: as fast as a process that watches for the OOM kill.
 * Its pid, with its status in *@status, or -1.
 */
static pid_t wait_any(int ms, int *status)
{
	pid_t pid;
	int i;

	for (i = 0; i < ms; i++) {
		pid = waitpid(-1, status, WNOHANG);
		if (pid)
			return pid;
		usleep(1000);
	}
	return -1;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * A process that drops its pages again as soon as the OOM killer has
 * chosen is blind to the OOM killer for no longer than twice a walk: the
 * notifier waits that long after each walk, with no floor (there was one
 * of 100 ms). An OOM kill takes longer than the walk before it, so twice
 * that, and a tick of the clock the wait is kept in, is long enough.
 */
TEST_F_TIMEOUT(hidden, dropped_again_right_after_a_walk, 300)
{
	size_t len = (size_t)STACK_MB << 20, i;
	long long start, end = 0, wait = 0;
	struct estack_alloc a[4];
	int fd, round, status;
	long before, after;
	pid_t v[2], pid;

	ASSERT_EQ(0, set_oom_score_adj("-1000"));
	fd = es_open();
	ASSERT_LE(0, fd);
	before = rss_mb();
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, es_alloc(fd, len, &a[i]));
		memset((void *)(unsigned long)a[i].lo, 0x40 + i, len);
	}
	/* One for each OOM: the OOM killer's first choice each time. */
	for (i = 0; i < 2; i++) {
		v[i] = sacrifice();
		ASSERT_LE(0, v[i]);
	}
	for (round = 0; round < 2; round++) {
		for (i = 0; i < 4; i++)
			ASSERT_EQ(0, madvise((void *)(unsigned long)a[i].lo,
					     len, MADV_DONTNEED));
		after = rss_mb();
		ASSERT_GT(before + 4 * STACK_MB / 2, after);
		while (now_ms() < end + wait)
			usleep(1000);
		start = now_ms();
		ASSERT_EQ(0, es_write_file("/proc/sysrq-trigger", "f"));
		pid = wait_any(30000, &status);
		end = now_ms();
		/* 10 ms: a tick at HZ=100, the coarsest. */
		wait = 2 * (end - start) + 2 * 10 + 5;
		ASSERT_TRUE(pid == v[0] || pid == v[1])
			TH_LOG("round %d: no sacrifice ended (%d)", round, pid);
		EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			TH_LOG("round %d: status %#x", round, status);
		after = rss_mb();
		TH_LOG("round %d: the OOM kill took %lld ms", round, end - start);
		EXPECT_LE(before + 4 * STACK_MB, after)
			TH_LOG("round %d: RSS %ld MiB, %ld MiB before the stacks",
			       round, after, before);
	}
	for (i = 0; i < 4; i++)
		EXPECT_EQ(0, es_free(fd, a[i].id));
	close(fd);
	EXPECT_EQ(self->in_use, es_stat("stacks_in_use"));
}

/*
 * Moves that wait. A GROW or SHRINK allocates its new stack and copies
 * its slot array in, then may drop every lock to fault user memory in (a
 * slot it reads, the struct it writes) and try again. A fault can wait as
 * long as the user likes: on a userfaultfd page, as here, or on a file of
 * the user's own FUSE mount, which needs no privilege. Each thread below
 * SHRINKs a stack with its first slot on a userfaultfd page of its own,
 * and stays in that fault until the test lets it go.
 */
#define STALL_MAX	64

struct staller {
	int fd;
	int done;	/* where it writes its index when its SHRINK returns */
	int idx;
	__u32 id;
	__u64 hi;
	__u64 *slots;	/* slots[0] is on its userfaultfd page */
	unsigned int nr_slots;
	__u64 grow;	/* 0: SHRINK; else GROW to that many bytes */
	int err;
};

struct stall {
	int uffd;
	int done[2];
	char *region;	/* a userfaultfd page per thread */
	long page;
	unsigned int nr;
	int stalled, refused;
	pthread_t th[STALL_MAX];
	struct staller t[STALL_MAX];
};

static void *staller(void *arg)
{
	struct staller *t = arg;
	struct estack_move m = {
		.id = t->id,
		.sp = t->hi,
		.nr_slots = t->nr_slots,
		.slots = (__u64)(unsigned long)t->slots,
		.bytes = t->grow,
	};

	t->err = es_move(t->fd, t->grow ? ESTACK_IOC_GROW : ESTACK_IOC_SHRINK,
			 &m);
	if (write(t->done, &t->idx, sizeof(t->idx)) != sizeof(t->idx))
		abort();
	return NULL;
}

/* Room for @nr threads, or skip where the kernel has no userfaultfd. */
static void stall_init(struct __test_metadata *_metadata, struct stall *s,
		       unsigned int nr)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {};

	ASSERT_GE(STALL_MAX, nr);
	memset(s, 0, sizeof(*s));
	s->nr = nr;
	s->page = sysconf(_SC_PAGESIZE);
	s->uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (s->uffd < 0)
		ES_SKIP("userfaultfd: %s (CONFIG_USERFAULTFD)", strerror(errno));
	ASSERT_EQ(0, ioctl(s->uffd, UFFDIO_API, &api));
	s->region = mmap(NULL, nr * s->page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, s->region);
	reg.range.start = (unsigned long)s->region;
	reg.range.len = nr * s->page;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	ASSERT_EQ(0, ioctl(s->uffd, UFFDIO_REGISTER, &reg));
	ASSERT_EQ(0, pipe(s->done));
}

/* The word on thread @i's userfaultfd page. */
static __u64 stall_word(struct stall *s, unsigned int i)
{
	return (unsigned long)s->region + i * s->page;
}

/*
 * Start thread @i on @t's move and wait until it stalls in its fault
 * (true) or its SHRINK returns (false).
 */
static bool stall_one(struct __test_metadata *_metadata, struct stall *s,
		      unsigned int i, const struct staller *t)
{
	struct pollfd p[2] = {
		{ .fd = s->uffd, .events = POLLIN },
		{ .fd = s->done[0], .events = POLLIN },
	};
	struct uffd_msg msg;
	int idx;

	s->t[i] = *t;
	s->t[i].done = s->done[1];
	s->t[i].idx = i;
	ASSERT_EQ(0, pthread_create(&s->th[i], NULL, staller, &s->t[i]));
	ASSERT_EQ(1, poll(p, 2, 30000))
		TH_LOG("thread %u neither stalled nor returned", i);
	if (p[0].revents & POLLIN) {
		ASSERT_EQ(sizeof(msg), read(s->uffd, &msg, sizeof(msg)));
		ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);
		EXPECT_EQ(t->slots[0], msg.arg.pagefault.address &
			  ~(__u64)(s->page - 1));
		s->stalled++;
		return true;
	}
	ASSERT_EQ(sizeof(idx), read(s->done[0], &idx, sizeof(idx)));
	ASSERT_EQ(i, idx);
	s->refused++;
	return false;
}

/*
 * Let threads [@from, @to) go: their pages read as zeros, which relocates
 * nothing. The first to commit moves the stack from the others' sp.
 */
static void stall_release(struct __test_metadata *_metadata, struct stall *s,
			  unsigned int from, unsigned int to)
{
	unsigned int i;

	for (i = from; i < to; i++) {
		struct uffdio_zeropage z = {
			.range = { stall_word(s, i), s->page },
		};

		if (ioctl(s->uffd, UFFDIO_ZEROPAGE, &z))
			EXPECT_EQ(EEXIST, errno);
	}
	for (i = from; i < to; i++) {
		ASSERT_EQ(0, pthread_join(s->th[i], NULL));
		EXPECT_TRUE(!s->t[i].err || s->t[i].err == EINVAL ||
			    s->t[i].err == ENOSPC)
			TH_LOG("thread %u: %s", i, strerror(s->t[i].err));
	}
	/* What the threads that stalled wrote when they returned. */
	for (;;) {
		struct pollfd p = { .fd = s->done[0], .events = POLLIN };
		int idx;

		if (poll(&p, 1, 0) != 1)
			break;
		ASSERT_EQ(sizeof(idx), read(s->done[0], &idx, sizeof(idx)));
	}
}

static void stall_fini(struct stall *s)
{
	close(s->done[0]);
	close(s->done[1]);
	munmap(s->region, s->nr * s->page);
	close(s->uffd);
}

/*
 * A move that waits on user memory holds no new stack while it waits: the
 * stack would be mapped nowhere, in no process's RSS, so the OOM killer
 * could not pin it on anyone, and a user's threads could hold as many as
 * the limits allow for as long as they like. Eight threads SHRINK the one
 * stack of a file at a byte limit with room for one more move, and stall:
 * every one stalls (none is refused room), and the file holds what it held
 * before. Then one GROWs it to 16 MiB, under the fixture's limits, and
 * stalls, holding nothing either. (The fixture puts the limit back.)
 */
#define STALL_THREADS	8
#define STALL_STACK	65536
#define STALL_GROW	(16 << 20)

TEST_F(hidden, stalled_moves_hold_no_stack)
{
	long long before, held;
	struct estack_alloc a;
	__u64 slot[STALL_THREADS + 1];
	struct staller grow;
	struct stall s;
	unsigned int i;
	int fd;

	stall_init(_metadata, &s, STALL_THREADS + 1);
	es_test_open(_metadata, &fd);
	ASSERT_EQ(0, es_alloc(fd, STALL_STACK, &a));
	grow = (struct staller){
		.fd = fd, .id = a.id, .hi = a.hi, .nr_slots = 1,
		.grow = STALL_GROW,
	};
	ASSERT_EQ(0, es_set_param("max_bytes_per_fd", 2 * STALL_STACK));
	before = es_stat("bytes_in_use");

	for (i = 0; i < STALL_THREADS; i++) {
		struct staller t = {
			.fd = fd, .id = a.id, .hi = a.hi,
			.slots = &slot[i], .nr_slots = 1,
		};

		slot[i] = stall_word(&s, i);
		if (!stall_one(_metadata, &s, i, &t))
			TH_LOG("thread %u: %s", i, strerror(s.t[i].err));
	}
	held = es_stat("bytes_in_use") - before;
	TH_LOG("%d SHRINKs stalled, %d refused, %lld bytes held by them",
	       s.stalled, s.refused, held);
	EXPECT_EQ(STALL_THREADS, s.stalled);
	EXPECT_EQ(0, held);
	ASSERT_EQ(0, es_set_param("max_bytes_per_fd", (HIDER_MB + 16ULL) << 20));

	slot[i] = stall_word(&s, i);
	grow.slots = &slot[i];
	EXPECT_TRUE(stall_one(_metadata, &s, i, &grow))
		TH_LOG("GROW: %s", strerror(s.t[i].err));
	held = es_stat("bytes_in_use") - before;
	TH_LOG("with a GROW to %d MiB stalled too, %lld bytes held",
	       STALL_GROW >> 20, held);
	EXPECT_EQ(0, held);

	stall_release(_metadata, &s, 0, STALL_THREADS + 1);
	EXPECT_EQ(0, es_free(fd, a.id));
	close(fd);
	es_unmap_arenas();
	stall_fini(&s);
}

/*
 * A wait for the mmap lock is one a user can make as long as they like: a
 * thread holding it for reading while it faults on a file of their own
 * FUSE mount that never answers, and a writer queued behind, make every
 * other taker wait. ALLOC must not hold its new stack's pages (mapped
 * nowhere, in no RSS) across that wait. Here the reader is a
 * MADV_POPULATE_READ of some GiB (the zero page in 4 KiB PTEs, one read
 * hold of the lock for the whole range), the writer an mmap(), and the
 * ALLOC is of LOCK_STACK bytes, made after both; while it waits in the
 * module, no page may be held for it. Every thread exists, its stack
 * touched, before the lock is held: a new thread's stack is an mmap(),
 * and a fault on it would wait for the lock too. A populate that ends
 * too soon to make the ALLOC wait (a fast machine) is tried again twice
 * as large, up to 64 GiB.
 */
#define LOCK_STACK	(1024 * 1024)

struct lock_step {
	int go[2];		/* a byte: start */
	pid_t tid;
	int done;
	int err;
};

static struct lock_waiters {
	struct lock_step reader, writer, alloc;
	char *range;
	size_t len;
	int fd;
	struct estack_alloc a;
} lw;

static void touch_stack(void)
{
	char buf[64 * 1024];

	memset(buf, 0, sizeof(buf));
	__asm__ __volatile__("" : : "r" (buf) : "memory");
}

static void lock_step_wait(struct lock_step *st)
{
	char c;

	touch_stack();
	__atomic_store_n(&st->tid, (pid_t)syscall(SYS_gettid),
			 __ATOMIC_RELEASE);
	while (read(st->go[0], &c, 1) < 0 && errno == EINTR)
		;
}

static void lock_step_end(struct lock_step *st, int err)
{
	st->err = err;
	__atomic_store_n(&st->done, 1, __ATOMIC_RELEASE);
}

static void *lock_reader_fn(void *arg)
{
	lock_step_wait(&lw.reader);
	lock_step_end(&lw.reader, madvise(lw.range, lw.len,
					  MADV_POPULATE_READ) ? errno : 0);
	return NULL;
}

static void *lock_writer_fn(void *arg)
{
	void *p;

	lock_step_wait(&lw.writer);
	p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	lock_step_end(&lw.writer, p == MAP_FAILED ? errno : munmap(p, 4096));
	return NULL;
}

static void *lock_alloc_fn(void *arg)
{
	lock_step_wait(&lw.alloc);
	lock_step_end(&lw.alloc, es_alloc(lw.fd, LOCK_STACK, &lw.a));
	return NULL;
}

/* The state letter of thread @tid (R, S, D, ...), or 0. */
static char task_state(pid_t tid)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	if (es_read_file(path, buf, sizeof(buf)))
		return 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* The whole of a small file (es_read_file() keeps its first line). */
static int read_whole(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return 0;
}

/*
 * Does thread @tid sleep in the module? Its kernel stack says, where the
 * kernel shows it (root, CONFIG_STACKTRACE); else its state must do.
 */
static bool in_estack(pid_t tid)
{
	char path[64], buf[4096];

	snprintf(path, sizeof(path), "/proc/self/task/%d/stack", tid);
	if (read_whole(path, buf, sizeof(buf)))
		return true;
	return strstr(buf, "estack");
}

/* KiB of the process's page tables (VmPTE), or -1. */
static long vm_pte_kb(void)
{
	char buf[4096], *p;

	if (read_whole("/proc/self/status", buf, sizeof(buf)))
		return -1;
	p = strstr(buf, "VmPTE:");
	return p ? strtol(p + 6, NULL, 10) : -1;
}

/* Wait up to 20 s for @st to sleep in the kernel uninterruptibly. */
static bool lock_step_blocked(struct lock_step *st)
{
	int i;

	for (i = 0; i < 2000; i++) {
		if (__atomic_load_n(&st->done, __ATOMIC_ACQUIRE))
			return false;
		if (task_state(st->tid) == 'D')
			return true;
		usleep(10000);
	}
	return false;
}

static void lock_step_go(struct lock_step *st)
{
	char c = 1;

	while (write(st->go[1], &c, 1) < 0 && errno == EINTR)
		;
}

/*
 * One round with a populate of @gib GiB: true when the ALLOC waited for
 * the lock in the module, with *@held the bytes held for it meanwhile.
 */
static bool lock_round(struct __test_metadata *_metadata,
		       unsigned long long gib, long long *held)
{
	static void *(*const fns[])(void *) = {
		lock_reader_fn, lock_writer_fn, lock_alloc_fn,
	};
	struct lock_step *steps[] = { &lw.reader, &lw.writer, &lw.alloc };
	bool stalled = false;
	long long before, t0;
	pthread_t th[3];
	long pte;
	unsigned int i;

	memset(&lw.reader, 0, 3 * sizeof(lw.reader));
	lw.len = gib << 30;
	lw.range = mmap(NULL, lw.len, PROT_READ,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (lw.range == MAP_FAILED)
		return false;
	/*
	 * A fault per 4 KiB page, not one per 2 MiB (the huge zero page);
	 * EINVAL without THP (the debug kernel), where there is none.
	 */
	madvise(lw.range, lw.len, MADV_NOHUGEPAGE);
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(0, pipe(steps[i]->go));
		EXPECT_EQ(0, pthread_create(&th[i], NULL, fns[i], NULL));
	}
	for (i = 0; i < 3; i++)
		while (!__atomic_load_n(&steps[i]->tid, __ATOMIC_ACQUIRE))
			usleep(1000);
	before = es_stat("bytes_in_use");
	*held = -1;

	/*
	 * The reader holds the lock (its page tables grow: 256 KiB of them
	 * map 128 MiB, a small part of the range); the writer queues;
	 * ALLOC waits.
	 */
	pte = vm_pte_kb();
	t0 = now_ms();
	lock_step_go(&lw.reader);
	for (i = 0; i < 2000 && vm_pte_kb() < pte + 256 &&
	     !__atomic_load_n(&lw.reader.done, __ATOMIC_ACQUIRE); i++)
		usleep(10000);
	lock_step_go(&lw.writer);
	if (lock_step_blocked(&lw.writer)) {
		lock_step_go(&lw.alloc);
		if (lock_step_blocked(&lw.alloc)) {
			*held = es_stat("bytes_in_use") - before;
			/* Still behind the reader, so a wait: not done. */
			stalled = !__atomic_load_n(&lw.reader.done,
						   __ATOMIC_ACQUIRE) &&
				  task_state(lw.alloc.tid) == 'D' &&
				  in_estack(lw.alloc.tid);
		}
	} else {
		lock_step_go(&lw.alloc);
	}
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(0, pthread_join(th[i], NULL));
		close(steps[i]->go[0]);
		close(steps[i]->go[1]);
		if (!i)
			TH_LOG("a populate of %llu GiB took %lld ms", gib,
			       now_ms() - t0);
	}
	munmap(lw.range, lw.len);
	EXPECT_EQ(0, lw.reader.err);
	EXPECT_EQ(0, lw.writer.err);
	EXPECT_EQ(0, lw.alloc.err);
	if (!lw.alloc.err) {
		EXPECT_EQ(1, es_zero(lw.a.lo, lw.a.hi));
		EXPECT_EQ(0, es_free(lw.fd, lw.a.id));
	}
	return stalled;
}

TEST_F_TIMEOUT(hidden, mmap_lock_waits_hold_no_stack, 600)
{
	unsigned long long gib;
	bool stalled = false;
	long long held = -1;

	memset(&lw, 0, sizeof(lw));
	es_test_open(_metadata, &lw.fd);
	/* An arena with room: else ALLOC waits to map one, holding nothing. */
	ASSERT_EQ(0, es_alloc(lw.fd, LOCK_STACK, &lw.a));
	ASSERT_EQ(0, es_free(lw.fd, lw.a.id));
	for (gib = 8; gib <= 64 && !stalled; gib *= 2)
		stalled = lock_round(_metadata, gib, &held);
	TH_LOG("ALLOC of %d KiB %s, %lld bytes held meanwhile",
	       LOCK_STACK >> 10,
	       stalled ? "waited for the mmap lock" : "never waited", held);
	ASSERT_TRUE(stalled)
		TH_LOG("no populate held the lock long enough");
	EXPECT_EQ(0, held);
	close(lw.fd);
	es_unmap_arenas();
}

/*
 * What a stalled move keeps in the kernel besides its stack: its copy of
 * the slot array and the record of each slot's old value, up to 128 KiB
 * for ESTACK_MAX_SLOTS slots, which the user holds for as long as the
 * fault waits, in as many threads as it has. Like the stacks, it must be
 * charged to the memory cgroup. The same threads stall twice, with one
 * slot and with ESTACK_MAX_SLOTS, in a cgroup of their own: the second
 * time the cgroup must hold at least the copies of the slot arrays more.
 */
#define ACCT_THREADS	32
#define ACCT_CG		"/sys/fs/cgroup/estack-hidden"

static long long acct_stall(struct __test_metadata *_metadata,
			    struct stall *s, unsigned int first, int fd,
			    __u64 *slots, unsigned int nr_slots)
{
	long long before, held;
	struct estack_alloc a;
	unsigned int i;

	ASSERT_EQ(0, es_alloc(fd, 8192, &a));
	before = es_read_num(ACCT_CG "/memory.current");
	ASSERT_LT(0, before);
	for (i = first; i < first + ACCT_THREADS; i++) {
		__u64 *own = slots + (i - first) * ESTACK_MAX_SLOTS;
		struct staller t = {
			.fd = fd, .id = a.id, .hi = a.hi,
			.slots = own, .nr_slots = nr_slots,
		};

		own[0] = stall_word(s, i);
		ASSERT_TRUE(stall_one(_metadata, s, i, &t))
			TH_LOG("thread %u: %s", i, strerror(s->t[i].err));
	}
	held = es_read_num(ACCT_CG "/memory.current") - before;
	stall_release(_metadata, s, first, first + ACCT_THREADS);
	EXPECT_EQ(0, es_free(fd, a.id));
	return held;
}

TEST_F(hidden, stalled_moves_charge_their_slots)
{
	size_t len = (size_t)ACCT_THREADS * ESTACK_MAX_SLOTS * sizeof(__u64);
	long long one, all;
	struct stall s;
	__u64 *slots, dummy = 0;
	char pid[32];
	size_t i;
	int fd;

	stall_init(_metadata, &s, 2 * ACCT_THREADS);
	if (access("/sys/fs/cgroup/cgroup.controllers", R_OK))
		ES_SKIP("no cgroup v2 at /sys/fs/cgroup");
	es_write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
	rmdir(ACCT_CG);
	ASSERT_EQ(0, mkdir(ACCT_CG, 0755));
	snprintf(pid, sizeof(pid), "%d", getpid());
	ASSERT_EQ(0, es_write_file(ACCT_CG "/cgroup.procs", pid));

	/* Every page of the slot arrays touched before anything is counted. */
	slots = malloc(len);
	ASSERT_NE(NULL, slots);
	for (i = 0; i < len / sizeof(*slots); i++)
		slots[i] = (unsigned long)&dummy;
	es_test_open(_metadata, &fd);

	one = acct_stall(_metadata, &s, 0, fd, slots, 1);
	all = acct_stall(_metadata, &s, ACCT_THREADS, fd, slots,
			 ESTACK_MAX_SLOTS);
	TH_LOG("%d stalled threads: the cgroup grew by %lld KiB", ACCT_THREADS,
	       one >> 10);
	TH_LOG("with one slot each, by %lld KiB with %d", all >> 10,
	       ESTACK_MAX_SLOTS);
	EXPECT_LE((long long)len, all - one);

	close(fd);
	es_unmap_arenas();
	free(slots);
	stall_fini(&s);
	EXPECT_EQ(0, es_write_file("/sys/fs/cgroup/cgroup.procs", pid));
	EXPECT_EQ(0, rmdir(ACCT_CG));
}

/*
 * A freed stack's slot (its struct and its range in the arena's tree) is
 * kept for the next stack of its order: kernel memory that no limit
 * counts and no RSS shows. A user who fills a file, empties it and goes
 * on to the next would keep one per stack it ever had. A user keeps at
 * most max_bytes_per_user / 8 KiB (for 4 KiB pages); past that, freed
 * slots are discarded, and their ranges are carved again first, so that
 * a file that churns after them grows neither its address space nor its
 * page tables.
 */
#define SLOT_FILES	4
#define SLOT_STACKS	64	/* of one page: the user's whole limit */
#define SLOT_CHURN	200

struct slot_report {
	long long kept[SLOT_FILES];	/* free_slots after each file */
	int churn_addrs;		/* distinct lo of SLOT_CHURN cycles */
	int churn_above;		/* of them above every earlier stack */
};

/* As a user of its own: fill and empty each file, then churn on the last. */
static void slot_user(int out, long long base)
{
	long page = sysconf(_SC_PAGESIZE);
	struct slot_report r = { { 0 } };
	__u64 seen[SLOT_CHURN], top = 0;
	int fd[SLOT_FILES], f, i, j;

	if (setgid(65534) || setuid(65534))
		_exit(91);
	for (f = 0; f < SLOT_FILES; f++) {
		struct estack_alloc a[SLOT_STACKS];

		fd[f] = es_open();
		if (fd[f] < 0)
			_exit(92);
		for (i = 0; i < SLOT_STACKS; i++) {
			if (es_alloc(fd[f], page, &a[i]))
				_exit(93);
			if (a[i].hi > top)
				top = a[i].hi;
		}
		/* All of it back: the next file can fill the limit again. */
		for (i = 0; i < SLOT_STACKS; i++)
			if (es_free(fd[f], a[i].id))
				_exit(94);
		r.kept[f] = es_stat("free_slots") - base;
	}
	for (i = 0; i < SLOT_CHURN; i++) {
		struct estack_alloc a;

		if (es_alloc(fd[SLOT_FILES - 1], page, &a) ||
		    es_free(fd[SLOT_FILES - 1], a.id))
			_exit(95);
		for (j = 0; j < r.churn_addrs && seen[j] != a.lo; j++)
			;
		if (j == r.churn_addrs) {
			seen[r.churn_addrs++] = a.lo;
			r.churn_above += a.lo > top;
		}
	}
	if (write(out, &r, sizeof(r)) != sizeof(r))
		_exit(96);
	_exit(0);
}

TEST_F(hidden, free_slots_per_user_bounded)
{
	long long page = sysconf(_SC_PAGESIZE), cache = es_param("mapped_cache");
	long long base = es_stat("free_slots");
	struct slot_report r;
	int p[2], status, f;
	pid_t pid;

	ASSERT_LE(0, cache);
	EXPECT_LE(0, base) TH_LOG("no stats/free_slots");
	/* FREE keeps no stack mapped: each leaves its slot only. */
	ASSERT_EQ(0, es_set_param("mapped_cache", 0));
	ASSERT_EQ(0, es_set_param("max_bytes_per_user", SLOT_STACKS * page));
	ASSERT_EQ(0, pipe(p));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(p[0]);
		slot_user(p[1], base);
	}
	close(p[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, es_set_param("mapped_cache", cache));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(sizeof(r), read(p[0], &r, sizeof(r)));
	close(p[0]);
	for (f = 0; f < SLOT_FILES; f++)
		TH_LOG("after file %d: %lld free slots kept", f, r.kept[f]);
	TH_LOG("%d cycles on the last file: %d addresses, %d above the rest",
	       SLOT_CHURN, r.churn_addrs, r.churn_above);
	/* The first file keeps half; the others nothing, the user's full. */
	for (f = 0; f < SLOT_FILES; f++)
		EXPECT_EQ(SLOT_STACKS / 2, r.kept[f]);
	/* The churn reuses the discarded ranges: nothing new is carved. */
	EXPECT_GE(2, r.churn_addrs);
	EXPECT_EQ(0, r.churn_above);
	/* The files closed: their slots went with their arenas. */
	EXPECT_EQ(base, es_stat("free_slots"));
}

TEST_HARNESS_MAIN
