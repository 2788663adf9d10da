/* SPDX-License-Identifier: GPL-2.0 */
/*
 * estack tracepoints: /sys/kernel/tracing/events/estack/, perf and
 * trace-cmd. They carry ids, sizes and user addresses, never kernel
 * pointers.
 *
 * Copyright (C) 2026 The estack authors
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM estack

#if !defined(_ESTACK_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _ESTACK_TRACE_H

#include <linux/tracepoint.h>

DECLARE_EVENT_CLASS(estack_stack_class,
	TP_PROTO(u32 id, u64 lo, u64 hi),
	TP_ARGS(id, lo, hi),
	TP_STRUCT__entry(
		__field(u32, id)
		__field(u64, lo)
		__field(u64, hi)
	),
	TP_fast_assign(
		__entry->id = id;
		__entry->lo = lo;
		__entry->hi = hi;
	),
	TP_printk("id=%u lo=0x%llx hi=0x%llx size=%llu", __entry->id,
		  __entry->lo, __entry->hi, __entry->hi - __entry->lo)
);

DEFINE_EVENT(estack_stack_class, estack_alloc,
	TP_PROTO(u32 id, u64 lo, u64 hi),
	TP_ARGS(id, lo, hi)
);

DEFINE_EVENT(estack_stack_class, estack_free,
	TP_PROTO(u32 id, u64 lo, u64 hi),
	TP_ARGS(id, lo, hi)
);

DECLARE_EVENT_CLASS(estack_move_class,
	TP_PROTO(u32 id, u64 old_size, u64 new_size, u64 lo, u64 hi,
		 s64 delta, u64 copied, u64 adjusted),
	TP_ARGS(id, old_size, new_size, lo, hi, delta, copied, adjusted),
	TP_STRUCT__entry(
		__field(u32, id)
		__field(u64, old_size)
		__field(u64, new_size)
		__field(u64, lo)
		__field(u64, hi)
		__field(s64, delta)
		__field(u64, copied)
		__field(u64, adjusted)
	),
	TP_fast_assign(
		__entry->id = id;
		__entry->old_size = old_size;
		__entry->new_size = new_size;
		__entry->lo = lo;
		__entry->hi = hi;
		__entry->delta = delta;
		__entry->copied = copied;
		__entry->adjusted = adjusted;
	),
	TP_printk("id=%u size=%llu->%llu lo=0x%llx hi=0x%llx delta=%lld copied=%llu adjusted=%llu",
		  __entry->id, __entry->old_size, __entry->new_size,
		  __entry->lo, __entry->hi, __entry->delta, __entry->copied,
		  __entry->adjusted)
);

DEFINE_EVENT(estack_move_class, estack_grow,
	TP_PROTO(u32 id, u64 old_size, u64 new_size, u64 lo, u64 hi,
		 s64 delta, u64 copied, u64 adjusted),
	TP_ARGS(id, old_size, new_size, lo, hi, delta, copied, adjusted)
);

DEFINE_EVENT(estack_move_class, estack_shrink,
	TP_PROTO(u32 id, u64 old_size, u64 new_size, u64 lo, u64 hi,
		 s64 delta, u64 copied, u64 adjusted),
	TP_ARGS(id, old_size, new_size, lo, hi, delta, copied, adjusted)
);

DECLARE_EVENT_CLASS(estack_batch_class,
	TP_PROTO(int cpu, unsigned int order, unsigned int nr),
	TP_ARGS(cpu, order, nr),
	TP_STRUCT__entry(
		__field(int, cpu)
		__field(unsigned int, order)
		__field(unsigned int, nr)
	),
	TP_fast_assign(
		__entry->cpu = cpu;
		__entry->order = order;
		__entry->nr = nr;
	),
	TP_printk("cpu=%d size=%lu nr=%u", __entry->cpu,
		  PAGE_SIZE << __entry->order, __entry->nr)
);

DEFINE_EVENT(estack_batch_class, estack_cache_refill,
	TP_PROTO(int cpu, unsigned int order, unsigned int nr),
	TP_ARGS(cpu, order, nr)
);

DEFINE_EVENT(estack_batch_class, estack_cache_release,
	TP_PROTO(int cpu, unsigned int order, unsigned int nr),
	TP_ARGS(cpu, order, nr)
);

TRACE_EVENT(estack_shrinker_scan,
	TP_PROTO(int nid, u64 memcg_id, unsigned long nr_to_scan,
		 unsigned long freed, unsigned long pages),
	TP_ARGS(nid, memcg_id, nr_to_scan, freed, pages),
	TP_STRUCT__entry(
		__field(int, nid)
		__field(u64, memcg_id)
		__field(unsigned long, nr_to_scan)
		__field(unsigned long, freed)
		__field(unsigned long, pages)
	),
	TP_fast_assign(
		__entry->nid = nid;
		__entry->memcg_id = memcg_id;
		__entry->nr_to_scan = nr_to_scan;
		__entry->freed = freed;
		__entry->pages = pages;
	),
	TP_printk("nid=%d memcg=%llu nr_to_scan=%lu freed=%lu pages=%lu",
		  __entry->nid, __entry->memcg_id, __entry->nr_to_scan,
		  __entry->freed, __entry->pages)
);

#endif /* _ESTACK_TRACE_H */

/* This part must be outside the header guard. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
