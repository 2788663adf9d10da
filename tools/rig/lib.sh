# SPDX-License-Identifier: GPL-2.0
# Shared settings of the estack test rig; sourced, not run.

ESTACK_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Everything expensive to rebuild (the extracted kernel source, the debug
# kernel) lives outside the work tree so that a fresh clone reuses it.
ESTACK_CACHE=${ESTACK_CACHE:-/var/cache/estack}
ESTACK_BUILD=${ESTACK_BUILD:-$ESTACK_TOP/build}
ESTACK_RESULTS=$ESTACK_BUILD/results
LINUX_SRC=$ESTACK_CACHE/linux-source-6.1

rig_log() { printf '[rig] %s\n' "$*" >&2; }
rig_die() { printf '[rig] error: %s\n' "$*" >&2; exit 1; }

# The release that linux-image-amd64 depends on: exactly one, never a glob.
stock_release() {
	local dep
	dep=$(dpkg-query -W -f='${Depends}' linux-image-amd64 2>/dev/null) ||
		return 1
	dep=${dep%% *}
	dep=${dep#linux-image-}
	[ -n "$dep" ] || return 1
	printf '%s\n' "$dep"
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
# tools/lib/util/util.mk builds in $ESTACK_BUILD/lib/util.
build_userspace() {	# [selftests make targets...]
	make -s -C "$ESTACK_TOP/selftests" LINUX_SRC="$LINUX_SRC" \
		O="$ESTACK_BUILD/selftests" "${@:-all}" >&2
	make -s -C "$ESTACK_TOP/tools" O="$ESTACK_BUILD/tools" >&2
}
