// SPDX-License-Identifier: GPL-2.0
/*
 * estack size arithmetic.
 *
 * Pure functions from the ABI's numbers to stack sizes, kept apart so that
 * KUnit can walk every boundary: sizes are powers of two from one page to
 * max_stack, user input is 64-bit and may be anything, and nothing here may
 * overflow on the way to an answer.
 *
 * Copyright (C) 2026 The estack authors
 */

#include <linux/errno.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/overflow.h>

#include "params.h"

/**
 * estack_args_size_check() - is @usize acceptable as an argument struct size?
 * @usize: the caller's size field
 * @ver0: size of the first published version of the struct
 *
 * Return: 0; -EINVAL below @ver0; -E2BIG above %ESTACK_ARGS_MAX_SIZE.
 */
int estack_args_size_check(u32 usize, size_t ver0)
{
	if (usize < ver0)
		return -EINVAL;
	if (usize > ESTACK_ARGS_MAX_SIZE)
		return -E2BIG;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(estack_args_size_check);

/*
 * roundup_pow_of_two() of anything above 2^63 has no answer; callers compare
 * with a max_stack that is far smaller first, but do not rely on it.
 */
static int estack_size_round(u64 want, u64 max, u64 *size)
{
	if (want > max || want > (1ULL << 63))
		return -EFBIG;
	*size = want <= PAGE_SIZE ? PAGE_SIZE : roundup_pow_of_two(want);
	return *size > max ? -EFBIG : 0;
}

/**
 * estack_size_alloc() - stack size for an ALLOC of @bytes
 * @bytes: usable bytes the caller asked for; 0 means the minimum
 * @max: largest stack (max_stack, a power of two)
 * @size: the size, a power of two in [PAGE_SIZE, @max]
 *
 * Return: 0, or -EFBIG when the rounded size would exceed @max.
 */
int estack_size_alloc(u64 bytes, u64 max, u64 *size)
{
	return estack_size_round(bytes, max, size);
}
EXPORT_SYMBOL_IF_KUNIT(estack_size_alloc);

/**
 * estack_size_grow() - stack size for a GROW of a @cur byte stack
 * @cur: current size, a power of two
 * @bytes: 0 to double, else the usable size wanted, larger than @cur
 * @max: largest stack
 * @size: the new size, a power of two in (@cur, @max]
 *
 * Return: 0; -EINVAL when @bytes is not larger than @cur; -EFBIG when the
 * result would exceed @max (no clamping: a caller that asked for more than
 * the limit must not silently get less).
 */
int estack_size_grow(u64 cur, u64 bytes, u64 max, u64 *size)
{
	u64 want;

	if (bytes) {
		if (bytes <= cur)
			return -EINVAL;
		want = bytes;
	} else if (check_shl_overflow(cur, 1, &want)) {
		return -EFBIG;
	}
	return estack_size_round(want, max, size);
}
EXPORT_SYMBOL_IF_KUNIT(estack_size_grow);

/**
 * estack_size_shrink() - stack size after a SHRINK (Go's shrinkstack rule)
 * @cur: current size, a power of two
 * @used: live bytes, hi - sp, at most @cur
 *
 * Return: @cur / 2 when less than a quarter of the stack is in use and the
 * half is at least a page; otherwise @cur (SHRINK is then a no-op).
 */
u64 estack_size_shrink(u64 cur, u64 used)
{
	if (used < cur / 4 && cur / 2 >= PAGE_SIZE)
		return cur / 2;
	return cur;
}
EXPORT_SYMBOL_IF_KUNIT(estack_size_shrink);

/**
 * estack_range_meets() - does [@addr, @addr + @len) meet [@lo, @hi)?
 * @addr: start of the first range
 * @len: its length; 0 meets nothing
 * @lo: start of the second range
 * @hi: its end
 *
 * No overflow for any @addr and @len. A range that wraps past 2^64 is taken
 * to end there: the ranges checked were copied from user memory, which
 * does not wrap.
 *
 * Return: true when the ranges share a byte.
 */
bool estack_range_meets(u64 addr, u64 len, u64 lo, u64 hi)
{
	return len && addr < hi && (addr >= lo || lo - addr < len);
}
EXPORT_SYMBOL_IF_KUNIT(estack_range_meets);
