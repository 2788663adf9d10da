#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# debug-kernel.sh [SERIES]: build the debug kernel (tinyconfig +
# tools/rig/debug.config) from linux-source-SERIES (6.1 or 6.12; default
# 6.1), once per hash of the fragment, the series and the source version,
# in $ESTACK_CACHE/debug-kernel-SERIES-HASH. Prints that directory: its
# arch/x86/boot/bzImage boots the VM and it is the KDIR for M= builds.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

series=${1:-6.1}
src=$(linux_source "$series")
# The fragment, and the series' own additions if it has any.
frags=("$ESTACK_TOP/tools/rig/debug.config")
[ -e "$ESTACK_TOP/tools/rig/debug-$series.config" ] &&
	frags+=("$ESTACK_TOP/tools/rig/debug-$series.config")
srcver=$(dpkg-query -W -f='${Version}' "linux-source-$series")
if [ "$series" = 6.1 ]; then
	# As before there were two series: the 6.1 build keeps its cache.
	hash=$( { cat "${frags[@]}"; echo "$srcver"; gcc --version | head -n 1; } |
		sha256sum | cut -c1-16)
else
	hash=$( { cat "${frags[@]}"; echo "$series $srcver"
		  gcc --version | head -n 1; } | sha256sum | cut -c1-16)
fi
out=$ESTACK_CACHE/debug-kernel-$series-$hash
# The 6.1 build of before there were two series, where it is.
[ "$series" = 6.1 ] && [ -e "$ESTACK_CACHE/debug-kernel-$hash/.estack-built" ] &&
	out=$ESTACK_CACHE/debug-kernel-$hash

if [ -e "$out/.estack-built" ]; then
	echo "$out"
	exit 0
fi

rig_log "building the $series debug kernel in $out (once; 20-40 minutes on 2 cores)"
rm -rf "$out"
mkdir -p "$out"
kmake() { make -s -C "$src" O="$out" ARCH=x86_64 "$@"; }
kmake tinyconfig >&2
"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" \
	"${frags[@]}" > "$out/merge.log" 2>&1
kmake olddefconfig >&2

# Every option the fragment asks for must have survived olddefconfig: a
# missing dependency silently drops an option otherwise.
lost=0
while IFS= read -r line; do
	case $line in CONFIG_*=*) ;; *) continue ;; esac
	opt=${line%%=*}
	val=${line#*=}
	if [ "$val" = n ]; then
		grep -qx "$opt=y" "$out/.config" && { rig_log "kept: $opt"; lost=1; }
	elif ! grep -qx "$line" "$out/.config"; then
		rig_log "not applied: $line ($(grep "^$opt=\|^# $opt " "$out/.config" || echo absent))"
		lost=1
	fi
done < <(cat "${frags[@]}")
[ $lost = 0 ] || rig_die "debug.config does not apply cleanly"

kmake -j"$(nproc)" bzImage modules >&2
touch "$out/.estack-built"
# Older builds of this series are dead weight.
for d in "$ESTACK_CACHE"/debug-kernel-*; do
	case $d in
	"$out") ;;
	"$ESTACK_CACHE/debug-kernel-$series-"*) rm -rf "$d" ;;
	"$ESTACK_CACHE"/debug-kernel-[0-9a-f]*[0-9a-f])
		# 6.1 builds from before there were two series.
		[ "$series" = 6.1 ] && rm -rf "$d" ;;
	esac
done
echo "$out"
