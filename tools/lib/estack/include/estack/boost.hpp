/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * estack/boost.hpp: Boost.Context stack allocators over libestack.
 *
 * Copyright (C) 2026 The estack authors
 *
 * Header-only. estack::stack_allocator and estack::pooled_stack_allocator
 * model Boost.Context's StackAllocator concept, so they work wherever
 * Boost takes one: boost::context::fiber, boost::context::callcc,
 * boost::fibers::fiber, boost::coroutines2.
 *
 *	namespace ctx = boost::context;
 *
 *	ctx::fiber f(std::allocator_arg, estack::stack_allocator(16384),
 *		     [](ctx::fiber &&caller) {
 *			     ...
 *			     return std::move(caller);
 *		     });
 *
 *	boost::fibers::fiber t(std::allocator_arg, estack::stack_allocator(),
 *			       fn);
 *
 * What it gives a Boost program:
 *  - a guard page below every stack, without one mapping per stack: with
 *    the estack module many stacks share a mapping of /dev/estack, so
 *    100,000 guarded fibers do not run into vm.max_map_count; in the
 *    fallback (no module) the guards are MADV_GUARD_INSTALL markers in one
 *    reservation per pool where the kernel has them (6.13+), else
 *    mprotect() guards, which do cost a mapping each;
 *  - a per-thread cache of free stacks: creating and ending a fiber takes
 *    no system call in the common case;
 *  - overflow reports: a SIGSEGV handler on a sigaltstack calls
 *    guard_hit() (async-signal-safe) to learn which stack overflowed.
 *
 * What it cannot give: growth. estack_stack_grow() moves a stack and
 * relocates the pointers into it that it is told about; Boost.Context
 * owns the frames and saved contexts on its stacks and keeps pointers to
 * them (its fcontext_t, a fiber's record at the top of its stack) that the
 * library cannot know, so a Boost stack keeps the size it was allocated
 * with. Choose the size as for any fixed-size Boost stack.
 *
 * Memory: a stack's usable size is a power of two, at least one page (the
 * library's rounding); the allocator keeps its handle (struct
 * estack_stack, the pool and a check word: estack::record_bytes, 48
 * bytes on 64-bit) in the top bytes of the stack, above the sp it hands
 * to Boost, so that deallocate() finds it from the stack_context alone.
 * stack_context::size is the rest: size() - estack::record_bytes.
 * A stack reused from the cache is not cleared: it holds bytes of an
 * earlier fiber of the same process. Fresh stacks read as zero.
 *
 * fork(): the child forgets the parent's stacks (libestack(3)); fibers the
 * parent had are unusable in the child and must not be resumed or
 * destroyed there. Fork from a thread's own stack, not from a fiber.
 *
 * allocate() throws std::bad_alloc when memory runs out (ENOMEM) and
 * std::system_error with the errno otherwise (EFBIG: above the pool's
 * largest stack; ENOSPC: a limit of the module). deallocate() is noexcept;
 * a handle it cannot read back, or a free the library refuses, is a bug
 * of the program (a corrupted stack top, a stack_context that did not come
 * from allocate()) and aborts with a message.
 *
 * Thread safety: the pool is thread-safe, and an allocator is a pool
 * pointer and a size, so copies may be used from any thread; a stack may
 * be deallocated by another thread than the one that allocated it.
 *
 * Boost built with BOOST_USE_VALGRIND: the stacks are registered with
 * Valgrind (VALGRIND_STACK_REGISTER) as Boost's own allocators do. A
 * libestack built with ESTACK_VALGRIND=1 registers its stacks itself: use
 * one or the other, not both.
 * BOOST_USE_SEGMENTED_STACKS is not supported (estack stacks are
 * contiguous).
 */
#ifndef ESTACK_BOOST_HPP
#define ESTACK_BOOST_HPP

#include <estack.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <system_error>

#include <unistd.h>

#include <boost/context/stack_context.hpp>

#if defined(BOOST_USE_SEGMENTED_STACKS)
#error "estack/boost.hpp: estack stacks are contiguous, not segmented"
#endif
#if defined(BOOST_USE_VALGRIND)
#include <valgrind/valgrind.h>
#endif

namespace estack {

namespace detail {

/*
 * The handle of a stack, kept in its top bytes: [hi - RECORD_BYTES, hi).
 * check ties the words together so that deallocate() notices a
 * stack_context that is not one of ours, or a top that was overwritten.
 */
struct record {
	struct estack_stack st;
	struct estack_pool *pool;
	std::uintptr_t check;
};

inline std::uintptr_t record_check(const record &r) noexcept
{
	std::uintptr_t c = static_cast<std::uintptr_t>(0x65737461636bULL);

	c ^= reinterpret_cast<std::uintptr_t>(r.st.lo) * 3;
	c ^= reinterpret_cast<std::uintptr_t>(r.st.hi) * 5;
	c ^= reinterpret_cast<std::uintptr_t>(r.pool) * 7;
	c ^= static_cast<std::uintptr_t>(r.st.priv[0]);
	c ^= static_cast<std::uintptr_t>(r.st.priv[1]) << 1;
	return c;
}

} /* namespace detail */

/* bytes at the top of each stack that hold the allocator's handle */
constexpr std::size_t record_bytes =
	(sizeof(detail::record) + 15) & ~static_cast<std::size_t>(15);

namespace detail {

/* The size the library gives for a request: a power of two, a page or more. */
inline std::size_t round_size(std::size_t bytes) noexcept
{
	long page = ::sysconf(_SC_PAGESIZE);
	std::size_t n = page > 0 ? static_cast<std::size_t>(page) : 4096;

	while (n < bytes) {
		/* no power of two fits: allocate() gets EFBIG */
		if (n > static_cast<std::size_t>(-1) / 2)
			return bytes;
		n <<= 1;
	}
	return n;
}

[[noreturn]] inline void throw_error(int err, const char *what)
{
	if (err == -ENOMEM)
		throw std::bad_alloc();
	throw std::system_error(-err, std::generic_category(), what);
}

/* deallocate() is noexcept: say what broke, without allocating, and stop */
[[noreturn]] inline void fatal(const char *what, int err) noexcept
{
	const char *e = err ? std::strerror(-err) : "bad stack record";

	(void)!::write(2, "estack/boost.hpp: ", 18);
	(void)!::write(2, what, std::strlen(what));
	(void)!::write(2, ": ", 2);
	(void)!::write(2, e, std::strlen(e));
	(void)!::write(2, "\n", 1);
	std::abort();
}

/* The stack_context allocate() made of a stack. */
inline void describe(const struct estack_stack &st,
		     boost::context::stack_context *sctx) noexcept
{
	char *top = static_cast<char *>(st.hi) - record_bytes;

	sctx->sp = top;
	sctx->size = static_cast<std::size_t>(top -
					      static_cast<char *>(st.lo));
}

} /* namespace detail */

/*
 * A StackAllocator over an explicit pool (estack_pool_open()); the pool
 * must stay open until every stack it gave is deallocated.
 */
class pooled_stack_allocator {
public:
	/* 64 KiB: the largest size the per-thread caches hold */
	static constexpr std::size_t default_size = 64 * 1024;

	explicit pooled_stack_allocator(struct estack_pool *pool,
					std::size_t size = default_size)
		noexcept
		: pool_(pool), size_(detail::round_size(size))
	{
	}

	/* A stack: sp and size describe exactly the memory Boost may use. */
	boost::context::stack_context allocate() const
	{
		boost::context::stack_context sctx;
		struct estack_stack st;
		detail::record *r;
		int err;

		if (!pool_)
			detail::throw_error(-ENOMEM, "estack_pool_default");
		err = estack_stack_alloc(pool_, size_, &st);
		if (err)
			detail::throw_error(err, "estack_stack_alloc");
		if (estack_stack_size(&st) <= 2 * record_bytes) {
			estack_stack_free(pool_, &st);
			detail::throw_error(-EINVAL, "estack_stack_alloc");
		}
		detail::describe(st, &sctx);
		r = new (sctx.sp) detail::record;
		r->st = st;
		r->pool = pool_;
		r->check = detail::record_check(*r);
#if defined(BOOST_USE_VALGRIND)
		sctx.valgrind_stack_id =
			VALGRIND_STACK_REGISTER(sctx.sp, st.lo);
#endif
		return sctx;
	}

	/* Give a stack of allocate() back to its pool (any thread may). */
	void deallocate(boost::context::stack_context &sctx) const noexcept
	{
		const detail::record *r =
			static_cast<const detail::record *>(sctx.sp);
		struct estack_stack st;
		struct estack_pool *pool;
		int err;

		if (!r || r->check != detail::record_check(*r) ||
		    static_cast<char *>(r->st.hi) - record_bytes !=
		    sctx.sp ||
		    static_cast<char *>(r->st.lo) + sctx.size != sctx.sp)
			detail::fatal("deallocate", 0);
#if defined(BOOST_USE_VALGRIND)
		VALGRIND_STACK_DEREGISTER(sctx.valgrind_stack_id);
#endif
		/* the record lives in the stack that goes: copy it out */
		st = r->st;
		pool = r->pool;
		err = estack_stack_free(pool, &st);
		if (err)
			detail::fatal("estack_stack_free", err);
		sctx.sp = nullptr;
		sctx.size = 0;
	}

	/*
	 * When addr (si_addr of a SIGSEGV) lies in the guard of a live stack
	 * of the pool: true, and *sctx (when given) describes that stack as
	 * allocate() did, so a handler can tell which fiber overflowed.
	 * Async-signal-safe: call it from a handler on a sigaltstack.
	 */
	bool guard_hit(const void *addr,
		       boost::context::stack_context *sctx = nullptr)
		const noexcept
	{
		struct estack_stack st;

		if (!pool_ || estack_guard_hit(pool_, addr, &st) != 1)
			return false;
		if (sctx)
			detail::describe(st, sctx);
		return true;
	}

	/* bytes of each stack, the record included */
	std::size_t size() const noexcept
	{
		return size_;
	}

	struct estack_pool *pool() const noexcept
	{
		return pool_;
	}

private:
	struct estack_pool *pool_;
	std::size_t size_;
};

/*
 * A StackAllocator over the process-wide pool, estack_pool_default(),
 * which uses /dev/estack when the module is there and the library's
 * fallback otherwise. Constructing one opens that pool on first use;
 * when it cannot be opened, allocate() throws std::bad_alloc.
 */
class stack_allocator : public pooled_stack_allocator {
public:
	explicit stack_allocator(std::size_t size = default_size) noexcept
		: pooled_stack_allocator(estack_pool_default(), size)
	{
	}
};

} /* namespace estack */

#endif /* ESTACK_BOOST_HPP */
