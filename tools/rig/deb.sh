#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make deb`: the Debian packages (estack-dkms, libestack1, libestack-dev,
# estack-tools) built with dpkg-buildpackage from a staged copy of the
# tree, build/deb/estack-VERSION/, whose debian/ is tools/debian/: the top
# level of the tree stays free of packaging. The copy holds what git holds
# (tracked files and new ones it does not ignore), never .git/ or build/.
# Then lintian over everything built; any tag of warning or error level
# fails (the info tags are printed too). The packages land in build/deb/.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# What the build needs (the Build-Depends of tools/debian/control, and
# lintian), installed the first time as make deps would: make deb on a
# machine that is not a rig machine needs no more than these.
missing=()
for p in build-essential debhelper dh-dkms dpkg-dev lintian; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	SUDO=
	[ "$(id -u)" = 0 ] || SUDO=sudo
	rig_log "installing: ${missing[*]}"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >/dev/null
fi

ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$ESTACK_TOP/dkms.conf")
dver=$(dpkg-parsechangelog -l "$ESTACK_TOP/tools/debian/changelog" -S Version)
[ "$ver" = "$dver" ] ||
	rig_die "dkms.conf has version $ver, tools/debian/changelog $dver"

out=$ESTACK_BUILD/deb
src=$out/estack-$ver
# deb-check.sh chroot mounts proc in build/deb/chroot for its run only.
! mountpoint -q "$out/chroot/proc" ||
	rig_die "$out/chroot/proc is mounted: umount it first"
rm -rf "$out"
mkdir -p "$src"

# The files of the tree: from git when there is one, else everything but
# .git/ and build/.
list_files() {
	if git -C "$ESTACK_TOP" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$ESTACK_TOP" ls-files -z --cached --others \
			--exclude-standard
	else
		(cd "$ESTACK_TOP" && find . \( -path ./.git -o -path ./build \) \
			-prune -o ! -type d -print0)
	fi
}
list_files | while IFS= read -r -d '' f; do
	# a tracked file deleted in the work tree is not part of it
	[ -e "$ESTACK_TOP/$f" ] || [ -L "$ESTACK_TOP/$f" ] || continue
	printf '%s\0' "$f"
done | tar -C "$ESTACK_TOP" --null -T - -cf - | tar -C "$src" -xf -
mv "$src/tools/debian" "$src/debian"

rig_log "dpkg-buildpackage in $src"
(cd "$src" && dpkg-buildpackage -us -uc) > "$out/build.log" 2>&1 || {
	tail -40 "$out/build.log"
	rig_die "dpkg-buildpackage failed; the whole log is $out/build.log"
}

changes=$out/estack_${ver}_$(dpkg-architecture -qDEB_HOST_ARCH).changes
[ -r "$changes" ] || rig_die "no $changes"
rig_log "lintian $changes"
lintian -I --fail-on error,warning "$changes" | tee "$out/lintian.log" ||
	rig_die "lintian: the tags above need fixing (or an explained override)"
ls "$out"/*.deb
