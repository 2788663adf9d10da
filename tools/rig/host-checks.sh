#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The checks of `make check` that need no VM: the uAPI header as C90 and
# for 32-bit user space, its struct sizes and offsets, kernel-doc, style
# and sparse. One "ok"/"not ok" line each; counts appended to the tally.
#   host-checks.sh TALLY
set -uo pipefail
. "$(dirname "$0")/lib.sh"

tally=$1
passed=0 failed=0 skipped=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

item() {	# DESCRIPTION COMMAND...: its status, so that "if item" works
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then
		echo "ok host: $what"
		passed=$((passed + 1))
	else
		echo "not ok host: $what"
		printf '%s\n' "$out" | tail -n 20 | sed 's/^/#   /'
		failed=$((failed + 1))
		return 1
	fi
}

# The ABI, pinned: sizes and the offset of every field, the same for 64-bit
# and 32-bit callers. C90 has no _Static_assert; a negative array size is
# the portable compile-time check.
cat > "$tmp/uapi.c" <<'C'
#include <stddef.h>
#include <linux/estack.h>
#define PIN(name, cond) typedef char pin_##name[(cond) ? 1 : -1]
PIN(api, sizeof(struct estack_api) == 40 && ESTACK_API_SIZE_VER0 == 40);
PIN(alloc, sizeof(struct estack_alloc) == 40 && ESTACK_ALLOC_SIZE_VER0 == 40);
PIN(free, sizeof(struct estack_free) == 16 && ESTACK_FREE_SIZE_VER0 == 16);
PIN(move, sizeof(struct estack_move) == 80 && ESTACK_MOVE_SIZE_VER0 == 80);
PIN(info, sizeof(struct estack_info) == 40 && ESTACK_INFO_SIZE_VER0 == 40);
PIN(api_max, offsetof(struct estack_api, max_stack) == 32);
PIN(api_feat, offsetof(struct estack_api, features) == 16);
PIN(alloc_id, offsetof(struct estack_alloc, id) == 16);
PIN(alloc_hi, offsetof(struct estack_alloc, hi) == 32);
PIN(move_sp, offsetof(struct estack_move, sp) == 16);
PIN(move_slots, offsetof(struct estack_move, slots) == 40);
PIN(move_delta, offsetof(struct estack_move, delta) == 64);
PIN(move_adj, offsetof(struct estack_move, adjusted) == 72);
PIN(info_res, offsetof(struct estack_info, resident) == 32);
PIN(batch, sizeof(struct estack_batch) == 24 && ESTACK_BATCH_SIZE_VER0 == 24);
PIN(batch_nr, offsetof(struct estack_batch, nr) == 8);
PIN(batch_done, offsetof(struct estack_batch, done) == 12);
PIN(batch_items, offsetof(struct estack_batch, items) == 16);
PIN(batch_max, ESTACK_BATCH_MAX == 256);
PIN(magic, ESTACK_IOC_MAGIC == 0xE6);
PIN(nr, _IOC_NR(ESTACK_IOC_API) == 0 && _IOC_NR(ESTACK_IOC_ALLOC) == 1 &&
	_IOC_NR(ESTACK_IOC_FREE) == 2 && _IOC_NR(ESTACK_IOC_GROW) == 3 &&
	_IOC_NR(ESTACK_IOC_SHRINK) == 4 && _IOC_NR(ESTACK_IOC_INFO) == 5 &&
	_IOC_NR(ESTACK_IOC_ALLOC_BATCH) == 6 &&
	_IOC_NR(ESTACK_IOC_FREE_BATCH) == 7);
/* The feature bits are ULL constants, C99: __extension__ for C90. */
PIN(features, __extension__ (ESTACK_FEATURE_STACKS == 0x1 &&
	ESTACK_FEATURE_MOVE == 0x2 && ESTACK_FEATURE_ADJUST_FP == 0x4 &&
	ESTACK_FEATURE_ADJUST_CONSERVATIVE == 0x8 &&
	ESTACK_FEATURE_BATCH == 0x10));
int main(void) { return 0; }
C
uapi_cc() { gcc "$@" -std=c90 -pedantic -Wall -Werror -I"$ESTACK_TOP/uapi" \
	-c "$tmp/uapi.c" -o "$tmp/uapi.o"; }
item "uapi header: C90, -Wall -Werror, sizes and offsets (64-bit)" uapi_cc -m64
item "uapi header: C90, -Wall -Werror, sizes and offsets (-m32)" uapi_cc -m32
item "uapi header: only <linux/types.h> and <linux/ioctl.h>" \
	bash -c "! grep '^#include' '$ESTACK_TOP/uapi/linux/estack.h' |
		grep -v -e '<linux/types.h>' -e '<linux/ioctl.h>'"

kdoc() {
	local out
	out=$(perl "$LINUX_SRC/scripts/kernel-doc" -none -Werror "$@" 2>&1)
	[ -z "$out" ] || { printf '%s\n' "$out"; return 1; }
}
item "kernel-doc: uapi header" kdoc "$ESTACK_TOP/uapi/linux/estack.h"
item "kernel-doc: module" kdoc "$ESTACK_TOP"/kmod/*.[ch]
item "Documentation/: kernel Sphinx build, no warning (make docs)" \
	make -s -C "$ESTACK_TOP" docs
item "checkpatch --strict (make style)" make -s -C "$ESTACK_TOP" style
item "sparse (make sparse)" make -s -C "$ESTACK_TOP" sparse
item "layers: no upward call, include or oversized file (kmod/estack.h)" \
	python3 "$ESTACK_TOP/tools/rig/layers.py" "$ESTACK_TOP/kmod"
item "layers: the picture in Documentation/mm/estack/design.rst is current" \
	python3 "$ESTACK_TOP/tools/rig/layers.py" --doc \
		"$ESTACK_TOP/Documentation/mm/estack/design.rst" "$ESTACK_TOP/kmod"
item "every selftest built runs in a stage, every one run is built" \
	make -s -C "$ESTACK_TOP/selftests" check-lists
# The kernel's kselftest Makefile builds and installs them too, in a
# linux-source tree (make kselftest runs that tree in the VM).
item "selftests: kselftest install in a kernel tree lists every program run" \
	bash "$ESTACK_TOP/tools/rig/kselftest.sh" --install-only

# A TAP program (kselftest harness): each of its test cases is one item,
# "ok host: NAME: CASE". A program that dies, or prints fewer results than
# its plan, counts one failure more.
tap_items() {	# NAME COMMAND...
	local name=$1 out status=0 plan=0 seen=0 bad=0 line
	shift
	out=$("$@" 2>&1) || status=$?
	while IFS= read -r line; do
		case $line in
		1..*) plan=${line#1..} ;;
		# Only a case that needs root may skip, and only without it:
		# as root a skipped case is a failed one.
		"ok "*"# SKIP"* | "ok "*"# skip"*)
			seen=$((seen + 1))
			if [ "$(id -u)" = 0 ]; then
				echo "not ok host: $name: ${line#ok * } (unexpected skip)"
				failed=$((failed + 1)) bad=1
			else
				echo "ok host: $name: ${line#ok * }"
				skipped=$((skipped + 1))
			fi ;;
		"ok "*)
			echo "ok host: $name: ${line#ok * }"
			passed=$((passed + 1)) seen=$((seen + 1)) ;;
		"not ok "*)
			echo "not ok host: $name: ${line#not ok * }"
			failed=$((failed + 1)) seen=$((seen + 1)) bad=1 ;;
		esac
	done <<< "$out"
	# Died half-way, or failed with no case saying so.
	if [ "$plan" = 0 ] || [ "$seen" != "$plan" ] ||
	   { [ "$status" != 0 ] && [ $bad = 0 ]; }; then
		echo "not ok host: $name: $seen of $plan cases, exit $status"
		failed=$((failed + 1)) bad=1
	fi
	[ $bad = 0 ] || printf '%s\n' "$out" | grep -v -e '^ok ' -e '^#  *RUN' \
		-e '^#  *OK ' | tail -n 30 | sed 's/^/#   /'
}

# make install-lib into a DESTDIR, and a program built with pkg-config
# against the installed library (the header alone: below, with Boost's).
printf '#include <estack.h>\nint main(void) { return !estack_pool_default(); }\n' \
	> "$tmp/hdr.c"
lib_install() {
	local d=$tmp/inst pc
	make -s -C "$ESTACK_TOP" install-lib PREFIX=/opt/estack DESTDIR="$d" &&
	for f in lib/libestack.so.1.0.0 lib/libestack.so.1 lib/libestack.so \
		 lib/libestack.a lib/pkgconfig/libestack.pc include/estack.h \
		 include/linux/estack.h; do
		[ -e "$d/opt/estack/$f" ] || { echo "missing $f"; return 1; }
	done &&
	pc=$(PKG_CONFIG_SYSROOT_DIR=$d \
	     PKG_CONFIG_LIBDIR=$d/opt/estack/lib/pkgconfig \
	     pkg-config --cflags --libs libestack) &&
	gcc -o "$tmp/hdr" "$tmp/hdr.c" $pc -Wl,-rpath,"$d/opt/estack/lib" &&
	"$tmp/hdr" &&
	[ "$(readelf -d "$d/opt/estack/lib/libestack.so.1.0.0" |
	     grep -o 'soname: \[[^]]*\]')" = "soname: [libestack.so.1]" ] &&
	readelf -d "$d/opt/estack/lib/libestack.so.1.0.0" |
		grep -q 'FLAGS_1.*NOW' &&
	! nm -D --defined-only "$d/opt/estack/lib/libestack.so" |
		grep -v -e ' estack_' -e ' LIBESTACK_1.0'
}
# -z now: the library's own calls into the C library are bound at load,
# so a fiber inside the library never runs the lazy resolver, whose frame
# is larger than ESTACK_FIBER_MARGIN (Makefile). The program's calls into
# the library are the program's to bind so (libestack.rst).
item "make install-lib: files, soname, -z now, only estack_* exported, pkg-config" \
	lib_install
# The TSan build option: the library (its fiber switches call
# __tsan_switch_to_fiber) builds with -fsanitize=thread, warnings as errors.
item "libestack builds with -fsanitize=thread" \
	make -s -C "$ESTACK_TOP/tools/lib/estack" O="$tmp/tsan" \
		EXTRA_CFLAGS=-fsanitize=thread "$tmp/tsan/libestack.a" \
		"$tmp/tsan/libestack.so.1.0.0"

# libestack natively, in fallback mode (the host kernel has no module but
# has MADV_GUARD_INSTALL), then with mprotect guards, then under ASan and
# UBSan (library and tests built together), the fiber tests also at -O0,
# then under valgrind.
lib_o=$ESTACK_BUILD/lib/estack
if item "libestack and its tests build (make lib, tests)" \
	make -s -C "$ESTACK_TOP/tools/lib/estack" O="$lib_o" all tests; then
	tap_items "lib_test (fallback, guard markers)" \
		env ESTACK_TEST_MODE=fallback "$lib_o/tests/lib_test"
	tap_items "lib_test (fallback, mprotect guards)" \
		env ESTACK_TEST_MODE=fallback ESTACK_FALLBACK_GUARD=mprotect \
		"$lib_o/tests/lib_test"
	tap_items "lib_test (fallback, ASan+UBSan)" \
		env ESTACK_TEST_MODE=fallback "$lib_o/tests/lib_test_asan"
	item "libestack.so: dlclose() while a thread that used it lives" \
		"$lib_o/tests/dlclose_test" "$lib_o/libestack.so.1"
	# The fiber runtime: its tests the same two ways, then the examples
	# at full size (echo-server: 100,000 connections, about 11 s here;
	# RLIMIT_NOFILE bounds how many are open at once, it says so).
	tap_items "fiber_test (fallback)" \
		env ESTACK_TEST_MODE=fallback "$lib_o/tests/fiber_test"
	tap_items "fiber_test (fallback, ASan+UBSan)" \
		env ESTACK_TEST_MODE=fallback "$lib_o/tests/fiber_test_asan"
	tap_items "fiber_test (fallback, built at -O0)" \
		env ESTACK_TEST_MODE=fallback "$lib_o/tests/fiber_test_O0"
	# The runtime's random soak, 15 s each way (its seed is printed).
	for b in "" _asan _O0; do
		item "fiber_soak$b (fallback): 15 s of random fiber steps" \
			env ESTACK_TEST_MODE=fallback \
			"$lib_o/tests/fiber_soak$b" 15
	done
	# Without guard markers (a kernel before 6.13: Debian 12's own)
	# each fallback stack is two mappings, and a connection has two
	# fibers, all live at once when the descriptors allow:
	# vm.max_map_count (65530 by default) bounds the count there. The
	# VM runs the 100,000 on the module (echo_server_test).
	echo_n=100000
	if ! python3 -c 'import mmap; mmap.mmap(-1, 8192).madvise(102, 0, 4096)' \
		2> /dev/null; then
		echo_n=$(( ($(cat /proc/sys/vm/max_map_count) - 5000) / 5 ))
		[ "$echo_n" -gt 100000 ] && echo_n=100000
		echo "# no guard markers on this kernel: echo-server runs" \
			"$echo_n connections (vm.max_map_count)"
	fi
	item "example echo-server: $echo_n connections, one fiber each" \
		"$lib_o/examples/echo-server" -n "$echo_n" -t 180
	item "example parser: fibers grow to hundreds of KiB and shrink back" \
		"$lib_o/examples/parser"
fi
# And under Valgrind's memcheck, the library built with ESTACK_VALGRIND=1
# (stacks registered with VALGRIND_STACK_REGISTER); any error fails its
# case (the harness runs each case in a child, which valgrind follows).
# Valgrind runs one thread at a time; --fair-sched=yes hands that turn
# round in order, where the default (a pipe) can leave a thread that forks
# or waits starved behind one that loops (lib.fork_mid_change_keeps_guards
# hung so in CI, 2026-12-06).
# The suppressions are the tests' own stores into guards, which Memcheck
# reports where a guard is a PROT_NONE page (kernels before 6.13).
vg="valgrind -q --error-exitcode=9 --fair-sched=yes"
vg="$vg --suppressions=$ESTACK_TOP/tools/lib/estack/tests/valgrind.supp"
if item "libestack (ESTACK_VALGRIND=1) and its tests build" \
	make -s -C "$ESTACK_TOP/tools/lib/estack" O="$lib_o" tests-valgrind; then
	tap_items "lib_test (fallback, valgrind)" env ESTACK_TEST_MODE=fallback \
		$vg "$lib_o/tests/lib_test_vg"
	tap_items "fiber_test (fallback, valgrind)" \
		env ESTACK_TEST_MODE=fallback $vg "$lib_o/tests/fiber_test_vg"
	tap_items "lib_test (fallback, mprotect guards, valgrind)" \
		env ESTACK_TEST_MODE=fallback ESTACK_FALLBACK_GUARD=mprotect \
		$vg "$lib_o/tests/lib_test_vg"
fi
# libestack: the public header as C99 and C++, the Boost adapter, the
# Boost examples natively (fallback mode: the host has no module) and the
# man pages.
item "libestack: the Boost examples build (make lib)" \
	make -s -C "$ESTACK_TOP/tools/lib/estack" O="$ESTACK_BUILD/lib/estack" \
		"$ESTACK_BUILD/lib/estack/examples/boost-context" \
		"$ESTACK_BUILD/lib/estack/examples/boost-fiber"
cat > "$tmp/estack_h.c" <<'C'
#include <estack.h>
int main(void)
{
	struct estack_stack st = { 0, 0, { 0, 0 } };
	return (int)estack_stack_size(&st);
}
C
cp "$tmp/estack_h.c" "$tmp/estack_h.cpp"
lib_inc=$ESTACK_TOP/tools/lib/estack/include
estack_h_c() { gcc "$@" -pedantic -Wall -Wextra -Werror -I"$lib_inc" \
	-c "$tmp/estack_h.c" -o "$tmp/estack_h.o"; }
estack_h_cxx() { g++ "$@" -pedantic -Wall -Wextra -Werror -I"$lib_inc" \
	-c "$tmp/estack_h.cpp" -o "$tmp/estack_h.o"; }
item "libestack: <estack.h> as C99 -pedantic -Wall -Wextra -Werror" \
	estack_h_c -std=c99
item "libestack: <estack.h> as C99 for 32-bit user space (-m32)" \
	estack_h_c -std=c99 -m32
item "libestack: <estack.h> as C++11 -Wall -Wextra -Werror" \
	estack_h_cxx -std=c++11
item "libestack: <estack.h> as C++17 -Wall -Wextra -Werror" \
	estack_h_cxx -std=c++17
# Both StackAllocator users: a Boost.Context fiber and a Boost.Fiber fiber.
cat > "$tmp/boost_hpp.cpp" <<'C'
#include <estack/boost.hpp>
#include <boost/context/fiber.hpp>
#include <boost/fiber/all.hpp>
int main()
{
	namespace ctx = boost::context;
	int n = 0;
	ctx::fiber f(std::allocator_arg, estack::stack_allocator(8192),
		     [&n](ctx::fiber &&c) { n++; return std::move(c); });
	f = std::move(f).resume();
	boost::fibers::fiber t(std::allocator_arg, estack::stack_allocator(),
			       [&n] { n++; });
	t.join();
	return n == 2 ? 0 : 1;
}
C
boost_hpp() { g++ "$1" -pedantic -Wall -Wextra -Werror -pthread \
	-I"$lib_inc" "$tmp/boost_hpp.cpp" -o "$tmp/boost_hpp" \
	"$ESTACK_BUILD/lib/estack/libestack.a" -lboost_fiber -lboost_context &&
	"$tmp/boost_hpp"; }
item "libestack: <estack/boost.hpp> as C++14, builds and runs" \
	boost_hpp -std=c++14
item "libestack: <estack/boost.hpp> as C++17, builds and runs" \
	boost_hpp -std=c++17
# The examples print TAP: one item per case (tap_items above).
for ex in boost-context boost-fiber; do
	tap_items "example $ex (fallback, guard markers)" \
		"$ESTACK_BUILD/lib/estack/examples/$ex"
done
tap_items "example boost-context (fallback, mprotect guards)" \
	env ESTACK_FALLBACK_GUARD=mprotect \
	"$ESTACK_BUILD/lib/estack/examples/boost-context" -n 2000

# Man pages, laid out as installed (man3/ for the library's, manN/ for
# each page NAME.N of Documentation/man/: the device's and the tools') so
# that the .so link pages resolve: each renders with no groff warning, and
# mandoc -Tlint finds nothing in the pages with text (it calls every .so
# fragile).
mkdir -p "$tmp/man/man3"
cp "$ESTACK_TOP"/tools/lib/estack/man/*.3 "$tmp/man/man3/"
for page in "$ESTACK_TOP"/Documentation/man/*.[1-9]; do
	mkdir -p "$tmp/man/man${page##*.}"
	cp "$page" "$tmp/man/man${page##*.}/"
done
man_render() {
	local out
	out=$(cd "$tmp/man" && MANWIDTH=80 man --warnings -l "$1" 2>&1 \
		>/dev/null)
	[ -z "$out" ] || { printf '%s\n' "$out"; return 1; }
}
for page in "$tmp"/man/man[1-9]/*.[1-9]; do
	rel=${page#"$tmp/man/"}
	item "man page $rel renders with no warning" man_render "$rel"
done
man_lint() {
	(cd "$tmp/man" &&
	 mandoc -Tlint $(grep -L '^\.so ' man[1-9]/*.[1-9]))
}
item "man pages: mandoc -Tlint clean" man_lint

# The Debian packages: built from a staged copy with dpkg-buildpackage
# and lintian clean (make deb), what each ships and must not, and the four
# unpacked together with dpkg --root. make deb-check adds the DKMS builds
# and estack-demo of the packages in the VM (too slow for here). The
# contents are checked even when lintian fails (a missing package fails
# them).
item "make deb: estack-dkms, libestack1, libestack-dev, estack-tools, lintian clean" \
	make -s -C "$ESTACK_TOP" deb
item "packages: contents (DKMS source without .git/build/objects, opt-in autoload, udev 0666, headers, man pages)" \
	bash "$ESTACK_TOP/tools/rig/deb-check.sh" contents
item "packages: unpacked with dpkg --root, verified, no file of another package, tools need libestack.so.1" \
	bash "$ESTACK_TOP/tools/rig/deb-check.sh" root

echo "host $passed $failed $skipped" >> "$tally"
