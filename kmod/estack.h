/* SPDX-License-Identifier: GPL-2.0 */
/*
 * estack internal interfaces.
 *
 * Layers, top to bottom; a request goes down one layer at a time and the
 * lock order follows the same direction (a layer may take its own locks
 * while holding the locks of the layers above it, never the reverse):
 *
 *   dev.c      ioctl dispatch: copy in, validate, copy out   (no locks)
 *   context.c  per-open-file context: owner mm, memcg, user  (ctx->lock)
 *   stack.c    ALLOC, FREE, INFO, GROW, SHRINK               (ctx->lock)
 *   relocate.c copy and pointer relocation of a move          (ctx->lock)
 *   arena.c    the arena VMAs: ->mmap, ->fault, ->close ...  (ctx->lock)
 *   alloc.c    the allocator instance: stacks of 2^order pages, per-CPU
 *              cache first, then pool, then the page allocator
 *   pcpu.c     per-CPU caches of small stacks                 (pcpu->lock)
 *   pool.c     global per-order pools, memcg-aware list_lru  (list_lru's
 *              own per-node lock)
 *   shrinker.c the shrinker over pools and caches (trylock only)
 *   span.c     spans: pages from and back to the page allocator (no locks)
 *   stats.c    per-CPU counters and their sysfs files         (no locks)
 *   params.c   module tunables, read with READ_ONCE()         (no locks)
 *   size.c     size arithmetic of the ABI, pure functions     (no locks)
 *
 * Lock order: mmap_lock (read, or write in ->mmap and ->close), then
 * ctx->lock (a mutex), then pcpu->lock, then a pool's list_lru lock.
 * Nothing sleeps under the last two; pages are allocated and freed outside
 * them. No driver lock is held across vm_mmap() or a user copy (a fault on
 * an arena takes ctx->lock).
 *
 * Copyright (C) 2026 The estack authors
 */
#ifndef _ESTACK_H
#define _ESTACK_H

#include <linux/types.h>
#include <linux/list.h>
#include <linux/jump_label.h>
#include <linux/list_lru.h>
#include <linux/maple_tree.h>
#include <linux/memcontrol.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/shrinker.h>
#include <linux/spinlock.h>
#include <linux/uidgid.h>
#include <linux/xarray.h>
#include <kunit/visibility.h>

#include <linux/estack.h>

/**
 * struct estack_tunable - a module parameter with bounds
 * @val: current value; written by the parameter setter only, read with
 *	READ_ONCE() by everyone else (a reader sees the old or the new value)
 * @min: smallest accepted value
 * @max: largest accepted value
 * @pow2: value must be a power of two
 * @set: given at insmod time or written since; a default that depends on
 *	the machine is computed at init only when it was not
 *
 * All estack module parameters go through estack_tunable_ops so that a
 * value outside [@min, @max] is refused with -EINVAL both at insmod time and
 * when root writes /sys/module/estack/parameters/<name>.
 */
struct estack_tunable {
	unsigned long val;
	unsigned long min;
	unsigned long max;
	bool pow2;
	bool set;
};

/**
 * struct estack_tunables - every tunable of the module, in one place
 * @max_stack: largest stack, bytes (Go's maxstacksize); GROW past it and
 *	ALLOC above it fail with EFBIG
 * @max_stacks_per_fd: most live stacks one open file may hold (ENOSPC)
 * @max_bytes_per_fd: most usable bytes of stacks one open file holds,
 *	live or kept mapped in its mapped cache (ENOSPC); default 1/4 of RAM
 * @max_bytes_per_user: the same per user, across all of that user's files
 *	(ENOSPC); default 1/4 of RAM
 * @cache_budget: bytes each per-CPU cache may hold per small class (Go's
 *	_StackCacheSize); 0 turns the caches off
 * @pool_reserve: bytes of free stacks the global pools keep before they
 *	return freed stacks to the page allocator; default 1/16 of RAM, at
 *	most 256 MiB
 * @mapped_cache: bytes of freed stacks each open file keeps mapped per
 *	small class, for its next ALLOC of that size; 0 turns it off
 */
struct estack_tunables {
	struct estack_tunable max_stack;
	struct estack_tunable max_stacks_per_fd;
	struct estack_tunable max_bytes_per_fd;
	struct estack_tunable max_bytes_per_user;
	struct estack_tunable cache_budget;
	struct estack_tunable pool_reserve;
	struct estack_tunable mapped_cache;
};

extern struct estack_tunables estack_tunables;

static inline unsigned long estack_tunable_get(const struct estack_tunable *t)
{
	return READ_ONCE(t->val);
}

int estack_tunable_check(const struct estack_tunable *t, unsigned long val);
unsigned long estack_default_user_bytes(unsigned long ram);
unsigned long estack_default_pool_reserve(unsigned long ram);
void estack_tunables_init(void);

/* Stack classes: a stack of order o is 2^o pages. */
#define ESTACK_NR_SMALL		4	/* 4, 8, 16, 32 KiB: per-CPU cached */
#define ESTACK_MAX_ORDER	(30 - PAGE_SHIFT)	/* 1 GiB */
#define ESTACK_NR_ORDERS	(ESTACK_MAX_ORDER + 1)
/*
 * Largest block a span asks the page allocator for; it is split at once
 * into individually refcounted pages. Larger blocks buy little for stacks
 * and fail first on a fragmented machine.
 */
#define ESTACK_CHUNK_ORDER	3

/* How many pages between two cond_resched() and fatal-signal checks. */
#define ESTACK_RESCHED_PAGES	256

bool estack_should_stop(void);

/**
 * estack_resched_point() - a step of long work: go on?
 * @n: steps done so far (pages copied or cleared, frames walked)
 *
 * Every %ESTACK_RESCHED_PAGES steps, reschedules and looks for a fatal
 * signal. Long copies, clears and walks call it after each step and, when
 * it says stop, undo their work and return -EINTR.
 *
 * Return: true when the caller must stop.
 */
static inline bool estack_resched_point(unsigned long n)
{
	return !(n % ESTACK_RESCHED_PAGES) && estack_should_stop();
}

/**
 * struct estack_span - the pages of one stack
 * @node: while free, in a per-CPU cache (under that cache's lock) or in a
 *	pool's list_lru (under its lock); unused while the stack is in use
 * @pages: the 2^@order pages, each holding its own reference
 * @order: log2 of the number of pages; fixed for the span's life
 * @dirty: the pages may hold a previous user's data and are zeroed before
 *	the span is handed out again; false for pages known to be zero
 * @inline_pages: @pages of a small span; large spans use a kvmalloc'ed
 *	array
 *
 * Allocated with kmem_cache_alloc_lru() and GFP_KERNEL_ACCOUNT while the
 * owner's memcg is the active one, so that the descriptor and its pages are
 * charged to the same cgroup: the list_lru finds a span's cgroup from this
 * object, which is what keeps a page charged to one cgroup from serving
 * another.
 */
struct estack_span {
	struct list_head node;
	struct page **pages;
	u8 order;
	bool dirty;
	struct page *inline_pages[1 << (ESTACK_NR_SMALL - 1)];
};

static inline unsigned long estack_span_nr_pages(const struct estack_span *span)
{
	return 1UL << span->order;
}

/* Counters, per CPU, summed on read (stats.c). */
enum estack_stat {
	ESTACK_STAT_CACHE_HITS,		/* small stack served by a per-CPU cache */
	ESTACK_STAT_CACHE_MISSES,	/* small stack the cache could not serve */
	ESTACK_STAT_POOL_REFILLS,	/* batches moved from a pool to a cache */
	ESTACK_STAT_POOL_RELEASES,	/* batches moved from a cache to a pool */
	ESTACK_STAT_POOL_HITS,		/* stacks served from a pool */
	ESTACK_STAT_POOL_LOCKS,		/* pool lock acquisitions (walks, adds) */
	ESTACK_STAT_PAGES_ALLOCATED,	/* pages taken from the page allocator */
	ESTACK_STAT_PAGES_FREED,	/* pages given back to it */
	ESTACK_STAT_PAGES_ZEROED,	/* pages cleared for reuse */
	ESTACK_STAT_PINNED_RELEASED,	/* spans not recycled: page shared */
	ESTACK_STAT_SHRINKER_SCANS,	/* shrinker scan calls */
	ESTACK_STAT_SHRINKER_FREED,	/* pages the shrinker freed */
	ESTACK_STAT_GROWS,		/* stacks moved to a larger one */
	ESTACK_STAT_SHRINKS,		/* stacks moved to a smaller one */
	ESTACK_STAT_GROW_FAILURES,	/* GROWs that failed past validation */
	ESTACK_STAT_BYTES_COPIED,	/* live bytes copied by moves */
	ESTACK_STAT_WORDS_RELOCATED,	/* pointer words rewritten by moves */
	ESTACK_STAT_MAPPED_ADDS,	/* freed stacks kept mapped by a file */
	ESTACK_STAT_MAPPED_HITS,	/* ALLOCs served by such a stack */
	ESTACK_NR_STATS
};

/**
 * struct estack_stats_pcpu - one CPU's counters
 * @v: the events of enum estack_stat
 * @allocs: stacks handed out, per order
 * @frees: stacks given back, per order
 */
struct estack_stats_pcpu {
	u64 v[ESTACK_NR_STATS];
	u64 allocs[ESTACK_NR_ORDERS];
	u64 frees[ESTACK_NR_ORDERS];
};

/**
 * struct estack_pcpu_class - one CPU's free stacks of one small class
 * @spans: the free spans, most recently freed first
 * @nr: number of spans on @spans
 * @memcg: the cgroup every span here is charged to, with a css reference
 *	while @nr > 0; NULL when empty (or without memcg)
 */
struct estack_pcpu_class {
	struct list_head spans;
	unsigned int nr;
	struct mem_cgroup *memcg;
};

/**
 * struct estack_pcpu - a CPU's stack cache (Go's mcache.stackcache)
 * @lock: protects @cls; taken by its own CPU with preemption off, and by a
 *	drainer (CPU hotplug, shrinker with trylock, teardown) from elsewhere
 * @cls: per small class
 */
struct estack_pcpu {
	spinlock_t lock;	/* protects cls; see above */
	struct estack_pcpu_class cls[ESTACK_NR_SMALL];
};

/**
 * struct estack_pool - free stacks of one order (Go's stackpool/stackLarge)
 * @lru: the free spans, per node and per memcg; its per-node lock is the
 *	pool lock
 */
struct estack_pool {
	struct list_lru lru;
};

/**
 * struct estack_allocator - an allocator instance
 * @name: for the shrinker and messages
 * @tun: tunables (cache_budget, pool_reserve) read with READ_ONCE()
 * @pools: per order
 * @pcpu: per-CPU caches of the small orders
 * @stats: per-CPU counters
 * @pages: pages this instance holds from the page allocator, in use or
 *	cached; zero again after estack_allocator_destroy()
 * @pool_pages: pages on the pools' lists (bounded by pool_reserve)
 * @mapped: per small order, freed stacks the files keep mapped (counted
 *	as freed in @stats and as cached in the statistics)
 * @shrinker: gives cached stacks back under memory pressure
 * @cpuhp_node: drains a dead CPU's cache
 * @ready: pools initialised; the shrinker does nothing before
 */
struct estack_allocator {
	const char *name;
	const struct estack_tunables *tun;
	struct estack_pool pools[ESTACK_NR_ORDERS];
	struct estack_pcpu __percpu *pcpu;
	struct estack_stats_pcpu __percpu *stats;
	atomic_long_t pages;
	atomic_long_t pool_pages;
	atomic_long_t mapped[ESTACK_NR_SMALL];
	struct shrinker shrinker;
	struct hlist_node cpuhp_node;
	bool ready;
};

/*
 * The event counters can be switched off (module parameter "stats") to
 * measure what they cost; allocs and frees are always counted, since the
 * in-use figures and the unload check derive from them.
 */
DECLARE_STATIC_KEY_TRUE(estack_stats_enabled);

static inline void estack_stat_add(struct estack_allocator *a,
				   enum estack_stat item, u64 n)
{
	if (static_branch_likely(&estack_stats_enabled))
		this_cpu_add(a->stats->v[item], n);
}

int estack_alloc_module_init(void);
void estack_alloc_module_exit(void);
int estack_allocator_init(struct estack_allocator *a, const char *name,
			  const struct estack_tunables *tun);
void estack_allocator_destroy(struct estack_allocator *a);
struct estack_span *estack_span_alloc(struct estack_allocator *a,
				      unsigned int order,
				      struct mem_cgroup *memcg);
struct estack_span *estack_span_alloc_unzeroed(struct estack_allocator *a,
					       unsigned int order,
					       struct mem_cgroup *memcg);
void estack_span_free(struct estack_allocator *a, struct estack_span *span,
		      struct mem_cgroup *memcg);
void estack_span_keep(struct estack_allocator *a, struct estack_span *span);
void estack_span_reuse(struct estack_allocator *a, struct estack_span *span);
void estack_span_drop(struct estack_allocator *a, struct estack_span *span,
		      struct mem_cgroup *memcg);

/* span.c */
int estack_span_cache_init(void);
void estack_span_cache_exit(void);
struct estack_span *estack_span_new(struct estack_allocator *a,
				    unsigned int order,
				    struct mem_cgroup *memcg);
void estack_span_release(struct estack_allocator *a, struct estack_span *span);
unsigned long estack_span_release_list(struct estack_allocator *a,
				       struct list_head *spans);
int estack_span_zero(struct estack_allocator *a, struct estack_span *span);
bool estack_span_recyclable(const struct estack_span *span);

/* pool.c */
int estack_pools_init(struct estack_allocator *a);
void estack_pools_destroy(struct estack_allocator *a);
unsigned int estack_pool_take(struct estack_allocator *a, unsigned int order,
			      struct mem_cgroup *memcg, struct list_head *out,
			      unsigned int nr);
void estack_pool_put(struct estack_allocator *a, struct estack_span *span);
unsigned long estack_pool_count(struct estack_allocator *a,
				unsigned int order);

/* pcpu.c */
int estack_pcpu_init(struct estack_allocator *a);
void estack_pcpu_destroy(struct estack_allocator *a);
struct estack_span *estack_pcpu_pop(struct estack_allocator *a,
				    unsigned int order,
				    struct mem_cgroup *memcg);
struct estack_span *estack_pcpu_refill(struct estack_allocator *a,
				       unsigned int order,
				       struct mem_cgroup *memcg);
bool estack_pcpu_push(struct estack_allocator *a, struct estack_span *span,
		      struct mem_cgroup *memcg);
unsigned long estack_pcpu_take(struct estack_allocator *a, int cpu,
			       struct mem_cgroup *memcg, bool trylock,
			       struct list_head *out);
unsigned long estack_pcpu_count(struct estack_allocator *a,
				unsigned int order, struct mem_cgroup *memcg);
unsigned int estack_pcpu_batch(struct estack_allocator *a, unsigned int order);

/* shrinker.c */
int estack_shrinker_init(struct estack_allocator *a);
void estack_shrinker_destroy(struct estack_allocator *a);
unsigned long estack_shrink_count(struct shrinker *s,
				  struct shrink_control *sc);
unsigned long estack_shrink_scan(struct shrinker *s,
				 struct shrink_control *sc);

/* stats.c */
u64 estack_stat_sum(struct estack_allocator *a, enum estack_stat item);
u64 estack_stat_allocs(struct estack_allocator *a, int order);
u64 estack_stat_frees(struct estack_allocator *a, int order);
unsigned long estack_stacks_in_use(struct estack_allocator *a);
unsigned long estack_pages_in_use(struct estack_allocator *a);
unsigned long estack_pages_cached(struct estack_allocator *a, int order);
extern const struct attribute_group estack_stats_group;

/*
 * Address space of one arena. Virtual space is cheap and page tables are
 * only built for pages in use: 64 GiB holds a million 4 KiB stacks with
 * their guard pages several times over, and a 1 GiB stack besides.
 */
#define ESTACK_ARENA_SIZE	(64UL << 30)

/**
 * struct estack_user - accounting of one user's stacks across its files
 * @refs: contexts of this user; under estack_users_lock (context.c)
 * @bytes: usable bytes of the user's live and mapped-cache stacks
 */
struct estack_user {
	unsigned int refs;
	atomic_long_t bytes;
};

struct estack_ctx;
struct seq_file;

/**
 * struct estack_arena - one mapping of /dev/estack that holds stacks
 * @node: in ctx->arenas
 * @ctx: the owning context
 * @vma: the mapping; set in ->mmap, cleared in ->close (under ctx->lock);
 *	check it with estack_arena_vma_locked() before use
 * @start: first address of the mapping
 * @end: one past its last address
 * @size: @end - @start
 * @bump: lowest address never handed out; slots are carved upwards
 * @dead: being or been unmapped: no new stacks
 * @forked: fork() copied the arena into a child (after MADV_DOFORK), so
 *	its pages may be mapped there too: none of them is ever reused
 *	without being unmapped and freed first. Set under the owner's mmap
 *	lock held for writing, read under it held for reading
 * @free_slots: per order, slots whose stack was freed, for reuse
 * @stacks: live stacks by address range [lo, hi - 1]
 *
 * All but @vma, @start, @end and @size are protected by ctx->lock.
 */
struct estack_arena {
	struct list_head node;
	struct estack_ctx *ctx;
	struct vm_area_struct *vma;
	unsigned long start;
	unsigned long end;
	unsigned long size;
	unsigned long bump;
	bool dead;
	bool forked;
	struct list_head free_slots[ESTACK_NR_ORDERS];
	struct maple_tree stacks;
};

/**
 * struct estack_stack - a stack, or a free slot of an arena
 * @slot: in the arena's free_slots while free, in the context's mapped
 *	cache while freed but still mapped
 * @arena: the arena of the slot, for its whole life
 * @span: the stack's pages; NULL while the slot is free
 * @lo: lowest usable address; the guard page is just below
 * @hi: one past the highest usable address
 * @id: the stack's id in its file; 0 while in the mapped cache
 * @order: log2 of the number of pages
 *
 * A slot is in one of three states: live (an id, a span, mapped, in the
 * arena's tree), cached (no id; span, mapping and tree entry kept) or free
 * (no id, no span, not in the tree).
 *
 * Protected by ctx->lock; lives until its arena is unmapped.
 */
struct estack_stack {
	struct list_head slot;
	struct estack_arena *arena;
	struct estack_span *span;
	unsigned long lo;
	unsigned long hi;
	u32 id;
	u8 order;
};

/**
 * struct estack_stack_info - what ALLOC and INFO report of a stack
 * @id: its id
 * @lo: lowest usable address
 * @hi: one past the highest
 * @resident: bytes mapped in the page tables now (INFO only)
 */
struct estack_stack_info {
	u32 id;
	u64 lo;
	u64 hi;
	u64 resident;
};

/**
 * struct estack_ctx - state of one open of /dev/estack
 * @mm: the address space that opened the file, pinned with mmgrab(); only
 *	callers whose current->mm is @mm may use the file
 * @memcg: the opener's memory cgroup (a css reference): every page of the
 *	file's stacks is charged to it and cached under it
 * @user: the opener's per-user accounting
 * @uid: the opener's uid, the key of @user
 * @alloc: the allocator
 * @file: the file; arenas map it
 * @lock: protects the fields below, the arenas and their stacks; taken
 *	inside the mmap lock, never across a user copy
 * @ids: id -> struct estack_stack of live stacks
 * @next_id: the next id; 0 once all 2^32 - 1 are used
 * @arenas: the mapped arenas
 * @pending: cookie -> arena between vm_mmap() and ->mmap
 * @mapped: per small order, freed stacks kept mapped for the next ALLOC
 *	(Go's stackcache, one level closer to the user: a hit allocates,
 *	inserts and zaps nothing)
 * @nr_mapped: the length of each @mapped list
 * @nr_stacks: live stacks (max_stacks_per_fd)
 * @bytes: usable bytes of the live stacks and of those in @mapped
 *	(max_bytes_per_fd; the same bytes count in @user)
 * @node: in the list of all contexts (context.c), for debugfs
 * @tgid: the opener's process id, for debugfs
 * @comm: the opener's command name, for debugfs
 *
 * @mm, @memcg, @user, @uid, @alloc, @file, @tgid and @comm are set at
 * open and never change.
 */
struct estack_ctx {
	struct mm_struct *mm;
	struct mem_cgroup *memcg;
	struct estack_user *user;
	kuid_t uid;
	struct estack_allocator *alloc;
	struct file *file;
	struct mutex lock;	/* see above */
	struct xarray ids;
	u32 next_id;
	struct list_head arenas;
	struct xarray pending;
	struct list_head mapped[ESTACK_NR_SMALL];
	unsigned int nr_mapped[ESTACK_NR_SMALL];
	unsigned long nr_stacks;
	unsigned long bytes;
	struct list_head node;
	pid_t tgid;
	char comm[TASK_COMM_LEN];
};

struct estack_ctx *estack_ctx_create(struct file *file,
				     struct estack_allocator *alloc);
void estack_ctx_destroy(struct estack_ctx *ctx);
void estack_ctx_show_all(struct seq_file *m);

/* debugfs.c */
void estack_debugfs_init(struct estack_allocator *a);
void estack_debugfs_exit(void);

/**
 * estack_ctx_owned_by_current() - may the calling task use @ctx?
 * @ctx: the context of the file
 *
 * Return: true when the caller runs in the mm that opened the file.
 */
static inline bool estack_ctx_owned_by_current(const struct estack_ctx *ctx)
{
	return ctx->mm == current->mm;
}

/* The longest frame-pointer chain GROW or SHRINK follows. */
#define ESTACK_MAX_FRAMES	1048576U

/**
 * struct estack_move_plan - one GROW or SHRINK being built
 * @old_span: the stack's pages
 * @new_span: the pages of the stack it moves to
 * @old_lo: old lowest usable address
 * @old_hi: old top
 * @new_lo: new lowest usable address
 * @new_hi: new top
 * @sp: start of the live range [sp, old_hi) that is copied
 * @delta: new_hi - old_hi (modulo 2^64): added to every relocated pointer
 * @fp: innermost frame pointer; relocated by the frame-pointer walk
 * @adjusted: words rewritten so far
 * @copied: bytes copied
 */
struct estack_move_plan {
	struct estack_span *old_span;
	struct estack_span *new_span;
	u64 old_lo;
	u64 old_hi;
	u64 new_lo;
	u64 new_hi;
	u64 sp;
	u64 delta;
	u64 fp;
	u64 adjusted;
	u64 copied;
};

/* relocate.c */
int estack_move_copy(struct estack_move_plan *m);
bool estack_move_adjust_word(struct estack_move_plan *m, u64 addr);
int estack_move_adjust_fp(struct estack_move_plan *m);
int estack_move_adjust_conservative(struct estack_move_plan *m);
void estack_move_adjust_inner_slot(struct estack_move_plan *m, u64 slot);

/* arena.c */
int estack_arena_mmap(struct estack_ctx *ctx, struct vm_area_struct *vma);
int estack_arena_create(struct estack_ctx *ctx, unsigned int order);
struct estack_stack *estack_arena_reserve_locked(struct estack_ctx *ctx,
						 unsigned int order);
void estack_arena_unreserve_locked(struct estack_stack *stack);
void estack_arena_unmapped(struct estack_arena *arena);
struct vm_area_struct *estack_arena_vma_locked(struct estack_arena *arena);

/* stack.c */
int estack_stack_create(struct estack_ctx *ctx, unsigned long size,
			struct estack_stack_info *out);
int estack_stack_destroy(struct estack_ctx *ctx, u32 id, bool check_running);
int estack_stack_query(struct estack_ctx *ctx, u32 id,
		       struct estack_stack_info *out);
void estack_stack_release(struct estack_ctx *ctx, struct estack_stack *stack);
void estack_mapped_unmapped_locked(struct estack_ctx *ctx,
				   struct estack_stack *stack);
int estack_stack_move(struct estack_ctx *ctx, struct estack_move *req,
		      bool grow, const u64 *slots, void __user *uarg);

/*
 * A struct longer than a page cannot be a future version of ours; refusing
 * it bounds the zero check of its tail.
 */
#define ESTACK_ARGS_MAX_SIZE	PAGE_SIZE

int estack_args_size_check(u32 usize, size_t ver0);
int estack_size_alloc(u64 bytes, u64 max, u64 *size);
int estack_size_grow(u64 cur, u64 bytes, u64 max, u64 *size);
u64 estack_size_shrink(u64 cur, u64 used);

/**
 * struct estack_device - the /dev/estack device
 * @misc: the misc device; its struct device's drvdata points here
 * @alloc: the allocator every open of the device uses
 */
struct estack_device {
	struct miscdevice misc;
	struct estack_allocator *alloc;
};

int estack_copy_args_in(void *karg, size_t ksize, size_t ver0,
			const void __user *uarg);
int estack_copy_args_out(void __user *uarg, const void *karg, size_t ksize,
			 u32 usize);

int estack_dev_init(struct estack_allocator *a);
void estack_dev_exit(void);

#endif /* _ESTACK_H */
