#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what the rig needs, once. Idempotent: a second run installs
# nothing and takes well under a second.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

pkgs=(
	build-essential gcc-multilib bc bison flex cpio xz-utils kmod python3 perl
	libelf-dev libssl-dev dwarves sparse
	valgrind pkg-config
	qemu-system-x86 busybox-static
	linux-source-6.1 linux-source-6.12
	g++ libboost-context-dev libboost-fiber-dev
	man-db groff-base mandoc
	debhelper dh-dkms dkms dpkg-dev fakeroot lintian debootstrap
	# make docs: the kernel's Sphinx setup (its kfigure warns without dot)
	python3-sphinx graphviz
	# the kernel's kselftest lib.mk installs and runs tests with it
	rsync
)
for k in "${ESTACK_KERNELS[@]}"; do
	pkgs+=("${k#*:}")
done

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q 'install ok installed' || missing+=("$p")
done

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
if [ ${#missing[@]} -gt 0 ]; then
	rig_log "installing: ${missing[*]}"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >/dev/null
fi

# The headers of exactly the release each metapackage installed (the
# headers metapackages pull the newest, which need not match; insist on
# the release rather than assume).
for k in "${ESTACK_KERNELS[@]}"; do
	rel=$(stock_release "${k#*:}") ||
		rig_die "cannot tell which kernel ${k#*:} installed"
	if [ ! -d "/lib/modules/$rel/build" ]; then
		rig_log "installing linux-headers-$rel"
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
			--no-install-recommends "linux-headers-$rel" >/dev/null
	fi
	[ -r "/boot/vmlinuz-$rel" ] || rig_die "/boot/vmlinuz-$rel missing"
done

# linux-source-SERIES ships a tarball. 6.1's gives checkpatch, sparse's
# kernel rules, the kselftest harness and the 6.1 debug kernel; 6.12's the
# 6.12 debug kernel. One extraction each.
for series in 6.1 6.12; do
	src=$(linux_source "$series")
	[ -e "$src/.estack-extracted" ] && continue
	rig_log "extracting linux-source-$series into $ESTACK_CACHE"
	mkdir -p "$ESTACK_CACHE"
	rm -rf "$src"
	tar -C "$ESTACK_CACHE" -xf "/usr/src/linux-source-$series.tar.xz"
	touch "$src/.estack-extracted"
done
