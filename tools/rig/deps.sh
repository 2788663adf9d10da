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
	busybox-static
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

# QEMU 10 or later. Debian 12's own QEMU, 7.2, corrupts the flags
# register of a 6.12 guest under TCG now and then: a value with VM (and
# garbage) set in 64-bit kernel code, in a timer interrupt that sends a
# signal to a 32-bit process. It showed as a WARNING in exc_debug_kernel
# (TF among the garbage), as a double fault on a pushf (TCG then
# emulates virtual-8086 mode), and as a silent freeze (both CPUs waiting
# on tk_core.seq). Debian 13 has QEMU 10.0; on Debian 12 it comes from
# bookworm-backports, which is added for it alone: a backport is never
# installed unless asked for by name.
qemu_major() {
	qemu-system-x86_64 --version 2>/dev/null |
		sed -n '1s/^QEMU emulator version \([0-9]*\)\..*/\1/p'
}
if [ "$(qemu_major)" -lt 10 ] 2>/dev/null || [ -z "$(qemu_major)" ]; then
	codename=$(sed -n "s/^VERSION_CODENAME=//p" /etc/os-release)
	target=()
	$SUDO apt-get update -qq
	if [ "$codename" = bookworm ]; then
		# What apt really reads, not what some file under sources.list.d
		# says (a disabled or deb-src-only entry would not do).
		# (No grep -q: apt-cache, cut short, would fail the pipeline.)
		if ! apt-cache policy | grep 'a=bookworm-backports,' > /dev/null; then
			rig_log "adding bookworm-backports to apt's sources (for QEMU 10)"
			echo "deb http://deb.debian.org/debian bookworm-backports main" |
				$SUDO tee /etc/apt/sources.list.d/estack-bookworm-backports.list \
				> /dev/null
			$SUDO apt-get update -qq
		fi
		target=(-t bookworm-backports)
	fi
	rig_log "installing qemu-system-x86 ${target[*]}"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
		--no-install-recommends "${target[@]}" qemu-system-x86 >/dev/null
	[ "$(qemu_major)" -ge 10 ] ||
		rig_die "QEMU $(qemu_major) installed; the rig needs 10 or later"
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
