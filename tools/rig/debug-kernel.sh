#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the debug kernel (tinyconfig + tools/rig/debug.config) from
# linux-source-6.1, once per hash of the fragment and the source version,
# in $ESTACK_CACHE/debug-kernel-HASH. Prints that directory: its
# arch/x86/boot/bzImage boots the VM and it is the KDIR for M= builds.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

frag=$ESTACK_TOP/tools/rig/debug.config
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
hash=$( { cat "$frag"; echo "$srcver"; gcc --version | head -n 1; } |
	sha256sum | cut -c1-16)
out=$ESTACK_CACHE/debug-kernel-$hash

if [ -e "$out/.estack-built" ]; then
	echo "$out"
	exit 0
fi

rig_log "building the debug kernel in $out (a few minutes, once)"
rm -rf "$out"
mkdir -p "$out"
kmake() { make -s -C "$LINUX_SRC" O="$out" ARCH=x86_64 "$@"; }
kmake tinyconfig >&2
"$LINUX_SRC/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" \
	"$frag" > "$out/merge.log" 2>&1
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
done < "$frag"
[ $lost = 0 ] || rig_die "debug.config does not apply cleanly"

kmake -j"$(nproc)" bzImage modules >&2
touch "$out/.estack-built"
# Older builds of other fragments are dead weight.
for d in "$ESTACK_CACHE"/debug-kernel-*; do
	[ "$d" = "$out" ] || rm -rf "$d"
done
echo "$out"
