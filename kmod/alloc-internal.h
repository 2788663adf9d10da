/* SPDX-License-Identifier: GPL-2.0 */
/*
 * estack allocator internals: the interfaces between the allocator's own
 * files (alloc.c over pcpu.c, pool.c, shrinker.c and span.c), like
 * mm/percpu-internal.h. Included only by those files, stats.c and the
 * allocator's KUnit tests.
 *
 * Copyright (C) 2026 The estack authors
 */
#ifndef _ESTACK_ALLOC_INTERNAL_H
#define _ESTACK_ALLOC_INTERNAL_H

#include "alloc.h"

/* span.c */
int estack_span_cache_init(void);
void estack_span_cache_exit(void);
struct estack_span *estack_span_new(struct estack_allocator *a,
				    unsigned int order,
				    struct mem_cgroup *memcg, bool zero);
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
unsigned long estack_pool_shrink_count(struct estack_allocator *a,
				       unsigned int order,
				       struct shrink_control *sc);
unsigned long estack_pool_shrink(struct estack_allocator *a,
				 unsigned int order, struct shrink_control *sc,
				 struct list_head *out);

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
unsigned int estack_pcpu_batch(struct estack_allocator *a, unsigned int order);
unsigned long estack_pcpu_pages(struct estack_allocator *a, int cpu);

/* shrinker.c */
int estack_shrinker_init(struct estack_allocator *a);
void estack_shrinker_start(struct estack_allocator *a);
void estack_shrinker_destroy(struct estack_allocator *a);
unsigned long estack_shrink_count(struct shrinker *s,
				  struct shrink_control *sc);
unsigned long estack_shrink_scan(struct shrinker *s,
				 struct shrink_control *sc);

#endif /* _ESTACK_ALLOC_INTERNAL_H */
