// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * libestack's directory: every stack a pool holds, in chunks of entries
 * that are published with atomics and never freed while the pool is open,
 * so that estack_guard_hit() can walk them from a signal handler with no
 * lock and no allocation.
 *
 * Copyright (C) 2026 The estack authors
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* A new entry, cached, for a stack fresh from the backend. pool->lock. */
int es_dir_add(struct estack_pool *pool, const struct es_raw *raw,
	       uint32_t *idx)
{
	struct es_dir *dir = &pool->dir;
	struct es_entry *e, *chunk;
	uint32_t i = dir->free;

	if (i != ES_NO_ENTRY) {
		e = es_dir_get(pool, i);
		dir->free = e->next;
	} else {
		i = dir->nr;
		if (i >= ES_DIR_CHUNKS * ES_DIR_CHUNK)
			return -ENOMEM;	/* the directory is full: no limit */
		chunk = dir->chunks[i >> ES_DIR_CHUNK_SHIFT];
		if (!chunk) {
			chunk = calloc(ES_DIR_CHUNK, sizeof(*chunk));
			if (!chunk)
				return -ENOMEM;
			__atomic_store_n(&dir->chunks[i >> ES_DIR_CHUNK_SHIFT],
					 chunk, __ATOMIC_RELEASE);
		}
		e = &chunk[i & (ES_DIR_CHUNK - 1)];
		e->state = ES_FREE;
		__atomic_store_n(&dir->nr, i + 1, __ATOMIC_RELEASE);
	}
	e->kid = raw->kid;
	e->next = ES_NO_ENTRY;
	e->fresh = true;
	es_entry_set(e, ES_CACHED, raw->lo, raw->hi, 0);
	*idx = i;
	return 0;
}

/* The entry's stack went back to the backend. pool->lock. */
void es_dir_remove(struct estack_pool *pool, uint32_t idx)
{
	struct es_entry *e = es_dir_at(pool, idx);

	es_entry_set(e, ES_FREE, 0, 0, 0);
	e->next = pool->dir.free;
	pool->dir.free = idx;
}

/* After fork: the child holds none of the parent's stacks. pool->lock. */
void es_dir_reset(struct estack_pool *pool)
{
	uint32_t i, n = pool->dir.nr;

	for (i = 0; i < n; i++) {
		struct es_entry *e = es_dir_at(pool, i);
		uint64_t seq = __atomic_load_n(&e->seq, __ATOMIC_RELAXED);

		/*
		 * The fork may have caught a holder in es_entry_set(), the
		 * count odd; that thread is not here to end its change.
		 */
		__atomic_store_n(&e->seq, (seq | 1) + 1, __ATOMIC_RELAXED);
		es_entry_set(e, ES_FREE, 0, 0, 0);
	}
	pool->dir.free = ES_NO_ENTRY;
	/* Keep the chunks: entries are reused from index 0 again. */
	__atomic_store_n(&pool->dir.nr, 0, __ATOMIC_RELEASE);
}

void es_dir_destroy(struct estack_pool *pool)
{
	unsigned int i;

	for (i = 0; i < ES_DIR_CHUNKS && pool->dir.chunks[i]; i++)
		free(pool->dir.chunks[i]);
	memset(&pool->dir, 0, sizeof(pool->dir));
}

void es_dir_count(const struct estack_pool *pool, size_t *live,
		  size_t *cached, size_t *cached_bytes)
{
	uint32_t i, n = __atomic_load_n(&pool->dir.nr, __ATOMIC_ACQUIRE);

	*live = *cached = *cached_bytes = 0;
	for (i = 0; i < n; i++) {
		const struct es_entry *e = es_dir_get(pool, i);
		uint32_t state = __atomic_load_n(&e->state, __ATOMIC_RELAXED);

		if (state == ES_LIVE) {
			(*live)++;
		} else if (state == ES_CACHED) {
			(*cached)++;
			*cached_bytes += __atomic_load_n(&e->hi, __ATOMIC_RELAXED) -
					 __atomic_load_n(&e->lo, __ATOMIC_RELAXED);
		}
	}
}

/* One consistent read of an entry; false when a writer kept it busy. */
static bool es_entry_read(const struct es_entry *e, uint32_t *state,
			  uintptr_t *lo, uintptr_t *hi, uint64_t *key)
{
	unsigned int tries;
	uint64_t s1, s2;

	for (tries = 0; tries < 64; tries++) {
		s1 = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
		if (s1 & 1)
			continue;
		/*
		 * Acquire loads, not a fence (which TSan cannot model):
		 * the second read of seq comes after all of them.
		 */
		*state = __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);
		*lo = __atomic_load_n(&e->lo, __ATOMIC_ACQUIRE);
		*hi = __atomic_load_n(&e->hi, __ATOMIC_ACQUIRE);
		*key = __atomic_load_n(&e->key, __ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&e->seq, __ATOMIC_RELAXED);
		if (s1 == s2)
			return true;
	}
	/* A writer this signal interrupted on the same thread: not a hit. */
	return false;
}

ES_EXPORT int estack_guard_hit(struct estack_pool *pool, const void *addr,
			       struct estack_stack *st)
{
	uintptr_t a = (uintptr_t)addr, lo, hi;
	uint32_t i, n, state;
	uint64_t key;

	if (!pool)
		return 0;
	n = __atomic_load_n(&pool->dir.nr, __ATOMIC_ACQUIRE);
	for (i = 0; i < n; i++) {
		const struct es_entry *e = es_dir_get(pool, i);

		if (!e || !es_entry_read(e, &state, &lo, &hi, &key))
			continue;
		if (state != ES_LIVE || a >= lo || a < lo - pool->guard)
			continue;
		if (st) {
			st->lo = (void *)lo;
			st->hi = (void *)hi;
			st->priv[0] = key;
			st->priv[1] = i;
		}
		return 1;
	}
	return 0;
}
