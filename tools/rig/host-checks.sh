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
passed=0 failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

item() {	# DESCRIPTION COMMAND...
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then
		echo "ok host: $what"
		passed=$((passed + 1))
	else
		echo "not ok host: $what"
		printf '%s\n' "$out" | tail -n 20 | sed 's/^/#   /'
		failed=$((failed + 1))
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
PIN(magic, ESTACK_IOC_MAGIC == 0xE6);
PIN(nr, _IOC_NR(ESTACK_IOC_API) == 0 && _IOC_NR(ESTACK_IOC_ALLOC) == 1 &&
	_IOC_NR(ESTACK_IOC_FREE) == 2 && _IOC_NR(ESTACK_IOC_GROW) == 3 &&
	_IOC_NR(ESTACK_IOC_SHRINK) == 4 && _IOC_NR(ESTACK_IOC_INFO) == 5);
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
item "Documentation/ expands (make docs)" make -s -C "$ESTACK_TOP" docs
item "checkpatch --strict (make style)" make -s -C "$ESTACK_TOP" style
item "sparse (make sparse)" make -s -C "$ESTACK_TOP" sparse
item "layers: no upward call, include or oversized file (kmod/estack.h)" \
	python3 "$ESTACK_TOP/tools/rig/layers.py" "$ESTACK_TOP/kmod"
item "layers: the picture in Documentation/design.rst is current" \
	python3 "$ESTACK_TOP/tools/rig/layers.py" --doc \
		"$ESTACK_TOP/Documentation/design.rst" "$ESTACK_TOP/kmod"
item "every selftest built runs in a stage, every one run is built" \
	make -s -C "$ESTACK_TOP/selftests" check-lists

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

# libestack natively, in fallback mode (the host kernel has no module but
# has MADV_GUARD_INSTALL), then with mprotect guards, then under ASan and
# UBSan (library and tests built together).
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
fi

echo "host $passed $failed" >> "$tally"
