#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make kunit`: estack's KUnit suites the way a kernel developer runs
# them, with the kernel's own tools/testing/kunit/kunit.py, from a copy of
# linux-source-6.12 with estack in it:
#
#   kmod/                 as drivers/misc/estack/ (Kconfig, Kbuild,
#                         .kunitconfig), sourced from drivers/misc/Kconfig
#                         and Makefile
#   uapi/linux/estack.h   as include/uapi/linux/estack.h
#
# The copy is hard links to $ESTACK_CACHE/linux-source-6.12 (made once;
# the two files edited are replaced, never written through a link) and the
# kernel is built out of it in $ESTACK_CACHE/kunit-6.12/build, which later
# runs reuse. kunit.py builds an x86-64 kernel with kmod/.kunitconfig
# (UML cannot build estack: its pt_regs has no sp), boots it under QEMU
# and parses the suites' KTAP; its exit status is this script's.
# KUNIT_TIMEOUT (default 1800 s) bounds the QEMU run.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

series=6.12
src=$(linux_source "$series")
[ -e "$src/.estack-extracted" ] || rig_die "no $src: run make deps"
work=$ESTACK_CACHE/kunit-$series
tree=$work/src
build=$work/build

linked_source "$series" "$tree"

# This tree's estack, fresh each run (cp -p keeps the times, so that make
# rebuilds only what changed).
rm -rf "$tree/drivers/misc/estack"
mkdir -p "$tree/drivers/misc/estack/tests"
cp -p "$ESTACK_TOP"/kmod/{Kconfig,Kbuild,.kunitconfig,*.c,*.h} \
	"$tree/drivers/misc/estack/"
cp -p "$ESTACK_TOP"/kmod/tests/{Kbuild,*.c} "$tree/drivers/misc/estack/tests/"
rm -f "$tree/include/uapi/linux/estack.h"
cp -p "$ESTACK_TOP/uapi/linux/estack.h" "$tree/include/uapi/linux/"

# Hook it in, once, with new files in place of the linked ones (sed -i
# would do the same, silently): the Kconfig line before the "endmenu" that
# ends drivers/misc/Kconfig, the Makefile line at the end.
hook() {	# FILE LINE [before-last]
	local f=$tree/$1 new
	grep -qxF "$2" "$f" && return 0
	new=$(mktemp "$f.XXXXXX")
	if [ -n "${3:-}" ]; then
		{ head -n -1 "$f"; printf '%s\n' "$2"; tail -n 1 "$f"; } > "$new"
	else
		{ cat "$f"; printf '%s\n' "$2"; } > "$new"
	fi
	chmod 644 "$new"
	mv "$new" "$f"
}
[ "$(tail -n 1 "$tree/drivers/misc/Kconfig")" = endmenu ] ||
	rig_die "drivers/misc/Kconfig does not end with endmenu"
hook drivers/misc/Kconfig 'source "drivers/misc/estack/Kconfig"' before-last
hook drivers/misc/Makefile 'obj-$(CONFIG_ESTACK)		+= estack/'

mkdir -p "$build" "$ESTACK_RESULTS"
log=$ESTACK_RESULTS/kunit-py.log
rig_log "kunit.py: building in $build and running (log: $log)"
cd "$tree"
status=0
# /usr/bin/python3: kunit.py needs nothing but the standard library, and
# the rig runs Debian's python.
/usr/bin/python3 tools/testing/kunit/kunit.py run --arch=x86_64 \
	--kunitconfig=drivers/misc/estack --build_dir="$build" \
	--jobs="$(nproc)" --timeout="${KUNIT_TIMEOUT:-1800}" \
	--qemu_args='-smp 2' 2>&1 | tee "$log" || status=$?
exit "$status"
