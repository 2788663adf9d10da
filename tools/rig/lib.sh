# SPDX-License-Identifier: GPL-2.0
# Shared settings of the estack test rig; sourced, not run.

ESTACK_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Everything expensive to rebuild (the extracted kernel source, the debug
# kernel) lives outside the work tree so that a fresh clone reuses it.
ESTACK_CACHE=${ESTACK_CACHE:-/var/cache/estack}
ESTACK_BUILD=${ESTACK_BUILD:-$ESTACK_TOP/build}
ESTACK_RESULTS=$ESTACK_BUILD/results
LINUX_SRC=$ESTACK_CACHE/linux-source-6.1

# The kernels estack is built and tested on: a name, and the Debian
# metapackage whose image is that kernel (its headers are linux-headers-
# of the same release). make check boots each; dkms.conf accepts exactly
# these series.
ESTACK_KERNELS=(
	"6.1:linux-image-amd64"
	"6.1-rt:linux-image-rt-amd64"
	"6.12:linux-image-6.12-amd64"
	"6.12-rt:linux-image-6.12-rt-amd64"
)
# The stages of make check: every stock kernel, then the debug kernel(s).
ESTACK_STAGES="6.1 6.1-rt 6.12 6.12-rt debug-6.12"

rig_log() { printf '[rig] %s\n' "$*" >&2; }
rig_die() { printf '[rig] error: %s\n' "$*" >&2; exit 1; }

# The selftest programs of a list of selftests/Makefile (STOCK_RUN,
# DEBUG_RUN) into the array programs: a make that fails or lists nothing
# ends the run, rather than a stage that runs no program and passes.
rig_programs() {	# LIST
	local list
	list=$(make -s -C "$ESTACK_TOP/selftests" "print-$1") ||
		rig_die "selftests: make print-$1 failed"
	read -r -a programs <<< "$list"
	[ "${#programs[@]}" -gt 0 ] || rig_die "selftests: $1 lists no program"
}

# The release a kernel metapackage (default linux-image-amd64) depends on:
# exactly one, never a glob.
stock_release() {	# [METAPACKAGE]
	local dep
	dep=$(dpkg-query -W -f='${Depends}' "${1:-linux-image-amd64}" \
		2>/dev/null) || return 1
	dep=${dep%% *}
	dep=${dep#linux-image-}
	[ -n "$dep" ] || return 1
	printf '%s\n' "$dep"
}

# The metapackage of a kernel of ESTACK_KERNELS, by name.
kernel_meta() {	# NAME
	local k
	for k in "${ESTACK_KERNELS[@]}"; do
		[ "${k%%:*}" = "$1" ] && { printf '%s\n' "${k#*:}"; return 0; }
	done
	return 1
}

# Where linux-source-SERIES is extracted (deps.sh extracts it).
linux_source() {	# SERIES
	printf '%s\n' "$ESTACK_CACHE/linux-source-$1"
}

# A copy of linux-source-SERIES made of hard links at TREE, to build in
# without touching the cache; made again when deps.sh has extracted another
# version of the source.
linked_source() {	# SERIES TREE
	local src srcver
	src=$(linux_source "$1")
	srcver=$(dpkg-query -W -f='${Version}' "linux-source-$1")
	[ "$(cat "$2/.estack-linked" 2>/dev/null)" = "$srcver" ] && return 0
	rig_log "linking a copy of $src into $2 (once)"
	rm -rf "$2"
	mkdir -p "$(dirname "$2")"
	cp -al "$src" "$2"
	printf '%s\n' "$srcver" > "$2/.estack-linked"
}

# Build the module in a copy of the sources, one per kernel, so that objects
# for two kernels never mix and the work tree stays clean. The module lands
# in $ESTACK_BUILD/kmod-NAME/kmod/estack.ko.
build_module() {	# NAME KDIR [make args...]
	local name=$1 kdir=$2 src=$ESTACK_BUILD/kmod-$1
	shift 2
	rm -rf "$src"
	mkdir -p "$src"
	cp -r "$ESTACK_TOP/Kbuild" "$ESTACK_TOP/kmod" "$ESTACK_TOP/uapi" "$src/"
	make -s -C "$kdir" M="$src" -j"$(nproc)" "$@" modules >&2
}

# Userspace, static, for the VM: selftests in $ESTACK_BUILD/selftests and
# tools in $ESTACK_BUILD/tools, both linking the helper library that
# tools/lib/util/util.mk builds in $ESTACK_BUILD/lib/util; libestack (make
# lib) in $ESTACK_BUILD/lib/estack, which lib_test links.
build_userspace() {	# [selftests make targets...]
	make -s -C "$ESTACK_TOP/tools/lib/estack" \
		O="$ESTACK_BUILD/lib/estack" >&2
	make -s -C "$ESTACK_TOP/selftests" LINUX_SRC="$LINUX_SRC" \
		O="$ESTACK_BUILD/selftests" "${@:-all}" >&2
	make -s -C "$ESTACK_TOP/tools" O="$ESTACK_BUILD/tools" >&2
}
