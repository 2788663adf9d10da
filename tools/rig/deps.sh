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
	qemu-system-x86 busybox-static
	linux-image-amd64 linux-headers-amd64 linux-source-6.1
)

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

rel=$(stock_release) || rig_die "cannot tell which kernel linux-image-amd64 installed"
# The headers of exactly that release (linux-headers-amd64 pulls the newest,
# which matches the newest image; insist on it rather than assume).
if [ ! -d "/lib/modules/$rel/build" ]; then
	rig_log "installing linux-headers-$rel"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
		--no-install-recommends "linux-headers-$rel" >/dev/null
fi
[ -r "/boot/vmlinuz-$rel" ] || rig_die "/boot/vmlinuz-$rel missing"

# linux-source-6.1 ships a tarball; checkpatch, sparse's kernel rules, the
# kselftest harness and the debug kernel all come from one extraction.
if [ ! -e "$LINUX_SRC/.estack-extracted" ]; then
	rig_log "extracting linux-source-6.1 into $ESTACK_CACHE"
	mkdir -p "$ESTACK_CACHE"
	rm -rf "$LINUX_SRC"
	tar -C "$ESTACK_CACHE" -xf /usr/src/linux-source-6.1.tar.xz
	touch "$LINUX_SRC/.estack-extracted"
fi
