#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make deb-check`: the Debian packages of `make deb` (build/deb/), as a
# machine gets them. Each step is also a command of its own, which
# host-checks.sh runs as one item each:
#
#   deb-check.sh contents        what each .deb ships, and what it must not
#   deb-check.sh root            dpkg --root unpacks the four into an empty
#                                root (build/deb/root): no conflict among
#                                them or with any package of this machine,
#                                dpkg --verify clean; a program built on
#                                libestack-dev with pkg-config, and run
#   deb-check.sh dkms NAME...    dkms add + build of the unpacked
#                                /usr/src/estack-VERSION for the kernels of
#                                ESTACK_KERNELS named (6.1, 6.12, ...),
#                                against Debian's headers, in a DKMS tree
#                                of its own (build/deb/dkms); and a kernel
#                                outside BUILD_EXCLUSIVE_KERNEL refused
#   deb-check.sh vm NAME         that kernel in the VM with the DKMS-built
#                                module and the unpacked packages (plus
#                                this machine's libc) as its root:
#                                /usr/bin/estack-demo from estack-tools,
#                                on libestack1, on the module
#   deb-check.sh chroot          the maintainer scripts, in a Debian 12
#                                chroot made by debootstrap from this
#                                machine's mirrors (build/deb/chroot; needs
#                                the network, about 8 minutes): apt-get
#                                installs the four with the 6.1 headers
#                                (estack-dkms's postinst has DKMS install
#                                the module), then the 6.12 headers (DKMS
#                                follows the new kernel), estack-demo runs
#                                (fallback pool: no module in this kernel),
#                                then purging estack-dkms leaves nothing
#
# Without arguments: make deb, then contents, root, dkms for the four
# kernels and the VM on 6.1 and 6.12; with DEB_CHROOT=1, chroot too. The
# steps before chroot run no maintainer script (the root has no shell to
# chroot into, and estack-dkms's postinst would run DKMS on this
# machine): dkms add/build stand in for estack-dkms's postinst there.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=$ESTACK_BUILD/deb
root=$out/root
dkms_tree=$out/dkms
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$ESTACK_TOP/dkms.conf")
pkgs=(estack-dkms libestack1 libestack-dev estack-tools)

deb_of() {	# PACKAGE
	local f
	for f in "$out/$1_${ver}_"*.deb; do
		[ -r "$f" ] && { printf '%s\n' "$f"; return 0; }
	done
	rig_die "no $1 package in $out (make deb)"
}

fail=0
bad() { echo "deb-check: $*"; fail=1; }

# The paths a package ships, one a line, without the leading ./
paths() {	# PACKAGE
	dpkg-deb -c "$(deb_of "$1")" | awk '{ print $6 }' | sed 's|^\./||'
}

# The file PATH of PACKAGE, on stdout.
file_of() {	# PACKAGE PATH
	dpkg-deb --fsys-tarfile "$(deb_of "$1")" | tar -xOf - "./$2"
}

ships() {	# PACKAGE PATH-REGEX (ERE, whole path)
	local all
	all=$(paths "$1")
	grep -qE "^($2)\$" <<< "$all" || bad "$1 does not ship $2"
}

never() {	# PACKAGE PATH-REGEX WHY
	local all hit
	all=$(paths "$1")
	hit=$(grep -E "$2" <<< "$all" | head -3 | tr '\n' ' ') || true
	[ -z "$hit" ] || bad "$1 ships ${hit% } ($3)"
}

contents() {
	local src=usr/src/estack-$ver f
	ships estack-dkms "$src/dkms.conf"
	ships estack-dkms "$src/Kbuild"
	ships estack-dkms "$src/kmod/Kbuild"
	ships estack-dkms "$src/kmod/main.c"
	ships estack-dkms "$src/uapi/linux/estack.h"
	never estack-dkms '(^|/)(\.git|build)(/|$)' "no .git/ or build/ in DKMS source"
	never estack-dkms '\.(o|ko|mod|mod\.c|cmd|a|order|symvers)$' "build products"
	ships estack-dkms 'lib/udev/rules\.d/60-estack\.rules|usr/lib/udev/rules\.d/60-estack\.rules'
	ships estack-dkms etc/modprobe.d/estack.conf
	ships estack-dkms etc/modules-load.d/estack.conf
	ships estack-dkms 'usr/share/man/man4/estack\.4\.gz'
	# dkms.conf as in the tree, BUILD_EXCLUSIVE_KERNEL and all
	[ "$(file_of estack-dkms "$src/dkms.conf")" = "$(cat "$ESTACK_TOP/dkms.conf")" ] ||
		bad "estack-dkms's dkms.conf is not the tree's"
	grep -q '^BUILD_EXCLUSIVE_KERNEL=' "$ESTACK_TOP/dkms.conf" ||
		bad "dkms.conf has no BUILD_EXCLUSIVE_KERNEL"
	# Opt-in: no line of the autoload or modprobe file is in effect.
	for f in etc/modules-load.d/estack.conf etc/modprobe.d/estack.conf; do
		file_of estack-dkms "$f" | grep -vE '^[[:space:]]*(#|$)' &&
			bad "$f has a line in effect (it must be opt-in)"
	done
	# The udev rule keeps 0666, and only says so.
	f=$(paths estack-dkms | grep 'rules\.d/60-estack\.rules$') &&
	[ "$(file_of estack-dkms "$f" | grep -vE '^[[:space:]]*(#|$)')" = \
	  'KERNEL=="estack", SUBSYSTEM=="misc", MODE="0666"' ] ||
		bad "60-estack.rules does not keep MODE 0666"

	ships libestack1 'usr/lib/[^/]+/libestack\.so\.1'
	ships libestack1 'usr/lib/[^/]+/libestack\.so\.1\.0\.0'
	never libestack1 '(include|\.a$|\.pc$|libestack\.so$|/man/)' "-dev files in the runtime library"

	ships libestack-dev 'usr/include/estack\.h'
	ships libestack-dev 'usr/include/estack/fiber\.h'
	ships libestack-dev 'usr/include/estack/boost\.hpp'
	ships libestack-dev 'usr/include/libestack/linux/estack\.h'
	ships libestack-dev 'usr/lib/[^/]+/libestack\.so'
	ships libestack-dev 'usr/lib/[^/]+/libestack\.a'
	ships libestack-dev 'usr/lib/[^/]+/pkgconfig/libestack\.pc'
	ships libestack-dev 'usr/share/man/man3/libestack\.3\.gz'
	ships libestack-dev 'usr/share/man/man3/estack_stack_alloc\.3\.gz'
	never libestack-dev '^usr/include/linux/' "linux-libc-dev's directory"
	never libestack-dev 'libestack\.so\.1' "the runtime library's files"

	for t in estack-stat estack-info estack-demo estack-bench; do
		ships estack-tools "usr/bin/$t"
		ships estack-tools "usr/share/man/man[18]/$t\.[18]\.gz"
	done
	for p in libestack1 libestack-dev estack-tools; do
		never "$p" '^usr/src/' "module source outside estack-dkms"
	done
	[ $fail = 0 ]
}

# The four unpacked into an empty root with dpkg --root.
unpack_root() {
	local p debs=() f owner files
	for p in "${pkgs[@]}"; do debs+=("$(deb_of "$p")"); done
	rm -rf "$root"
	mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
	: > "$root/var/lib/dpkg/status"
	# --force-depends: the root has no libc6 or dkms. --unpack checks
	# that no two of the four ship the same file.
	dpkg --root="$root" --log=/dev/null --force-depends --unpack \
		"${debs[@]}" >/dev/null || { bad "dpkg --root --unpack failed"; return 1; }
	for p in "${pkgs[@]}"; do
		dpkg --root="$root" -s "$p" 2>/dev/null |
			grep -q '^Status: install ok unpacked' || bad "$p not unpacked"
	done
	# md5sums of every file; the conffiles are still .dpkg-new (they are
	# put in place at configure, which needs the maintainer scripts).
	dpkg --root="$root" --verify 2>&1 | grep -v '^missing   c /etc/' &&
		bad "dpkg --verify (above)"
	# No file that a package of this machine owns (linux-libc-dev's
	# /usr/include/linux/, udev's, kmod's).
	files=()
	while read -r f; do
		[ -d "$root$f" ] || files+=("$f")
	done < <(dpkg --root="$root" -L "${pkgs[@]}" | grep '^/')
	owner=$(dpkg -S "${files[@]}" 2>/dev/null |
		grep -vE '^(estack|libestack)[^:]*: ') || true
	[ -z "$owner" ] || bad "files of this machine's packages: $owner"
	# libestack-dev as a user of it sees it: both headers through
	# pkg-config, linked against the root's libestack.so, run (the
	# fallback pool: this machine has no module loaded).
	local ma pc
	ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
	cat > "$out/user.c" <<'C'
#include <estack.h>
#include <linux/estack.h>
int main(void)
{
	struct estack_alloc a = { .size = ESTACK_ALLOC_SIZE_VER0 };
	struct estack_pool *pool;
	struct estack_stack st;

	if (a.size != 40 || estack_pool_open(&pool, ESTACK_POOL_FALLBACK))
		return 1;
	if (estack_stack_alloc(pool, 8192, &st))
		return 1;
	estack_stack_free(pool, &st);
	estack_pool_close(pool);
	return 0;
}
C
	# shellcheck disable=SC2086 # $pc: the flags, split
	pc=$(PKG_CONFIG_SYSROOT_DIR=$root \
	     PKG_CONFIG_LIBDIR=$root/usr/lib/$ma/pkgconfig \
	     pkg-config --cflags --libs libestack) &&
	gcc -Wall -Werror -nostdinc -isystem "$(gcc -print-file-name=include)" \
		-isystem /usr/include/$ma -isystem /usr/include \
		-o "$out/user" "$out/user.c" $pc &&
	LD_LIBRARY_PATH=$root/usr/lib/$ma "$out/user" ||
		bad "a program on libestack-dev (pkg-config $pc) does not build or run"
	# The tools need libestack1's library, found by the dynamic linker
	# in the root's multiarch directory.
	for t in estack-demo estack-bench; do
		readelf -d "$root/usr/bin/$t" | grep -q 'NEEDED.*\[libestack\.so\.1\]' ||
			bad "$t does not link libestack.so.1"
	done
	[ $fail = 0 ]
}

dkms_env() {
	# The signing key dkms makes for itself, in our tree, not the machine's.
	env mok_signing_key="$dkms_tree/mok.key" \
		mok_certificate="$dkms_tree/mok.pub" "$@"
}

dkms_build() {	# NAME...
	local name meta rel kdir ko
	[ -r "$root/usr/src/estack-$ver/dkms.conf" ] ||
		rig_die "no unpacked estack-dkms in $root (deb-check.sh root)"
	rm -rf "$dkms_tree"
	mkdir -p "$dkms_tree"
	dkms_env dkms add -m estack -v "$ver" --sourcetree "$root/usr/src" \
		--dkmstree "$dkms_tree" >/dev/null || { bad "dkms add"; return 1; }
	for name in "$@"; do
		meta=$(kernel_meta "$name") || rig_die "no kernel $name"
		rel=$(stock_release "$meta") || rig_die "$meta is not installed"
		kdir=/usr/src/linux-headers-$rel
		if ! dkms_env dkms build -m estack -v "$ver" -k "$rel" \
			--sourcetree "$root/usr/src" --dkmstree "$dkms_tree" \
			--kernelsourcedir "$kdir" > "$out/dkms-$name.log" 2>&1; then
			tail -20 "$out/dkms-$name.log"
			bad "dkms build for $rel failed ($out/dkms-$name.log)"
			continue
		fi
		ko=$(dkms_module "$rel") || { bad "no estack.ko built for $rel"; continue; }
		[ "$(modinfo -F vermagic "$ko" | cut -d' ' -f1)" = "$rel" ] ||
			bad "$ko is not for $rel"
	done
	# A series outside BUILD_EXCLUSIVE_KERNEL: refused before any build.
	# dkms 3 says so and exits 77 ("skipped").
	local st=0
	dkms_env dkms build -m estack -v "$ver" -k 6.6.0-0-amd64 \
		--sourcetree "$root/usr/src" --dkmstree "$dkms_tree" \
		--kernelsourcedir /usr/src/linux-headers-"$rel" \
		> "$out/dkms-excluded.log" 2>&1 || st=$?
	[ $st = 77 ] ||
		bad "dkms build for 6.6 was not refused by BUILD_EXCLUSIVE_KERNEL (exit $st)"
	[ $fail = 0 ]
}

# The module DKMS built for a release (uncompressed, as the VM's insmod
# wants it).
dkms_module() {	# RELEASE
	local d=$dkms_tree/estack/$ver/$1/x86_64/module f
	for f in "$d/estack.ko" "$d/estack.ko.xz" "$d/estack.ko.zst"; do
		[ -r "$f" ] || continue
		case $f in
		*.xz) xz -dc "$f" > "$out/estack-$1.ko" ;;
		*.zst) zstd -qdc "$f" > "$out/estack-$1.ko" ;;
		*) cp "$f" "$out/estack-$1.ko" ;;
		esac
		printf '%s\n' "$out/estack-$1.ko"
		return 0
	done
	return 1
}

vm_demo() {	# NAME
	local name=$1 meta rel ko sysroot=$out/sysroot-$1 lib log
	meta=$(kernel_meta "$name") || rig_die "no kernel $name"
	rel=$(stock_release "$meta") || rig_die "$meta is not installed"
	ko=$(dkms_module "$rel") ||
		rig_die "no DKMS-built module for $rel (deb-check.sh dkms $name)"
	# The unpacked packages, and the libraries of this machine that
	# estack-demo needs besides libestack1's (libc: same Debian 12).
	rm -rf "$sysroot"
	cp -a "$root" "$sysroot"
	while read -r lib; do
		case $lib in "$root"/*) continue ;; esac
		mkdir -p "$sysroot$(dirname "$lib")"
		cp -L "$lib" "$sysroot$lib"
	done < <(LD_LIBRARY_PATH=$root/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH) \
		ldd "$root/usr/bin/estack-demo" | grep -oE '/[^ ]+')
	log=$ESTACK_RESULTS/deb-vm-$name.log
	mkdir -p "$ESTACK_RESULTS"
	# The module the guest loaded is the file DKMS built: its checksum
	# there, and the module in /proc/modules.
	bash "$ESTACK_TOP/tools/rig/vm.sh" -k "/boot/vmlinuz-$rel" -n "deb-$name" \
		-m "$ko" -R "$sysroot" -M cmd -r "${VM_MEM:-2048}" \
		-T "${VM_TIMEOUT:-600}" -c "
		md5sum /lib/estack/${ko##*/}; grep '^estack ' /proc/modules
		/usr/bin/estack-demo; echo estack-demo exit \$?" > "$log" 2>&1 || {
		tail -20 "$log"; bad "VM $name did not finish"; return 1; }
	grep -q "^$(md5sum < "$ko" | cut -d' ' -f1)  /lib/estack/" "$log" &&
	grep -q '^estack ' "$log" ||
		bad "VM $name: the module loaded is not DKMS's ($log)"
	grep -q '^pool *kernel (/dev/estack)' "$log" ||
		bad "VM $name: estack-demo did not run on /dev/estack ($log)"
	grep -q '^estack-demo exit 0' "$log" ||
		bad "VM $name: estack-demo failed ($log)"
	[ $fail = 0 ] || tail -20 "$log"
	[ $fail = 0 ]
}

# apt-get and friends inside the chroot.
in_chroot() {
	chroot "$out/chroot" env DEBIAN_FRONTEND=noninteractive \
		PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

chroot_install() {
	local c=$out/chroot log=$out/chroot.log rel61 rel612 p debs=() left
	command -v debootstrap >/dev/null || rig_die "debootstrap missing (make deps)"
	rel61=$(stock_release linux-image-amd64) || rig_die "no 6.1 kernel"
	rel612=$(stock_release "$(kernel_meta 6.12)") || rig_die "no 6.12 kernel"
	for p in "${pkgs[@]}"; do debs+=("/tmp/debs/$(basename "$(deb_of "$p")")"); done
	! mountpoint -q "$c/proc" || umount "$c/proc" ||
		rig_die "$c/proc stays mounted"
	rm -rf "$c"
	rig_log "debootstrap bookworm into $c"
	debootstrap --variant=minbase bookworm "$c" \
		"${DEB_MIRROR:-http://deb.debian.org/debian}" > "$log" 2>&1 ||
		{ tail -5 "$log"; bad "debootstrap failed ($log)"; return 1; }
	# This machine's apt sources: the same archive and security updates
	# its kernels came from.
	cp -a /etc/apt/sources.list.d/*.sources "$c/etc/apt/sources.list.d/" \
		2>/dev/null || true
	[ ! -e /etc/apt/sources.list ] || cp /etc/apt/sources.list "$c/etc/apt/"
	mkdir -p "$c/tmp/debs"
	for p in "${pkgs[@]}"; do cp "$(deb_of "$p")" "$c/tmp/debs/"; done
	mount -t proc proc "$c/proc"
	# shellcheck disable=SC2064 # $c now
	trap "umount '$c/proc' 2>/dev/null" EXIT

	rig_log "chroot: apt-get install the packages, linux-headers-$rel61"
	{ in_chroot apt-get update -qq &&
	  in_chroot apt-get install -y -q --no-install-recommends \
		"linux-headers-$rel61" "${debs[@]}"; } >> "$log" 2>&1 ||
		{ tail -20 "$log"; bad "apt-get install failed ($log)"; return 1; }
	in_chroot dkms status estack | grep -q "^estack/$ver, $rel61, .*: installed" ||
		bad "postinst: DKMS did not install estack for $rel61"
	ls "$c/lib/modules/$rel61/updates/dkms/"estack.ko* >/dev/null 2>&1 ||
		bad "no estack.ko in /lib/modules/$rel61/updates/dkms/"
	in_chroot estack-demo -n 200 > "$out/chroot-demo.log" 2>&1 &&
	grep -q '^pool *fallback' "$out/chroot-demo.log" ||
		bad "estack-demo installed does not run ($out/chroot-demo.log)"

	rig_log "chroot: apt-get install linux-headers-$rel612 (a new kernel)"
	in_chroot apt-get install -y -q --no-install-recommends \
		"linux-headers-$rel612" >> "$log" 2>&1 ||
		{ tail -20 "$log"; bad "apt-get install 6.12 headers failed"; return 1; }
	in_chroot dkms status estack | grep -q "^estack/$ver, $rel612, .*: installed" ||
		bad "DKMS did not follow the new kernel $rel612"

	rig_log "chroot: apt-get purge estack-dkms"
	in_chroot apt-get purge -y -q estack-dkms >> "$log" 2>&1 ||
		{ tail -20 "$log"; bad "apt-get purge failed ($log)"; return 1; }
	left=$(cd "$c" && ls -d lib/modules/*/updates/dkms/estack.ko* \
		usr/src/estack-* var/lib/dkms/estack etc/modprobe.d/estack.conf \
		etc/modules-load.d/estack.conf lib/udev/rules.d/60-estack.rules \
		2>/dev/null) || true
	[ -z "$left" ] || bad "left after purge: $(tr '\n' ' ' <<< "$left")"
	umount "$c/proc"
	trap - EXIT
	[ $fail = 0 ]
}

step() {	# WHAT COMMAND...
	local what=$1
	shift
	fail=0
	if "$@"; then
		echo "ok deb: $what"
	else
		echo "not ok deb: $what"
		all_ok=0
	fi
}

case ${1:-all} in
contents) contents ;;
root) unpack_root ;;
dkms) shift; dkms_build "$@" ;;
vm) vm_demo "$2" ;;
chroot) chroot_install ;;
all)
	all_ok=1
	bash "$ESTACK_TOP/tools/rig/deb.sh"
	step "package contents" contents
	step "dpkg --root: the four unpacked, verified" unpack_root
	step "dkms build: 6.1, 6.1-rt, 6.12, 6.12-rt" \
		dkms_build 6.1 6.1-rt 6.12 6.12-rt
	step "VM 6.1: estack-demo of estack-tools on DKMS's module" vm_demo 6.1
	step "VM 6.12: estack-demo of estack-tools on DKMS's module" vm_demo 6.12
	[ "${DEB_CHROOT:-0}" = 0 ] ||
		step "chroot: apt-get install, a new kernel, purge" chroot_install
	[ $all_ok = 1 ] || rig_die "deb-check: failures above"
	echo "deb-check: all passed"
	;;
*) rig_die "usage: deb-check.sh [contents|root|dkms NAME...|vm NAME|chroot]" ;;
esac
