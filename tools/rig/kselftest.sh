#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make kselftest`: the selftests under the kernel's own kselftest runner,
# as upstream CI runs them. In a copy of linux-source-6.1 with estack in
# it, the way selftests/Makefile expects in a kernel tree:
#
#   selftests/            as tools/testing/selftests/estack/
#   uapi/, tools/         as tools/estack/ (the helper library, libestack
#                         and the tools the shell tests run)
#
# it runs `make -C tools/testing/selftests TARGETS=estack install` into
# build/kselftest/ (run_kselftest.sh, kselftest-list.txt, estack/ with the
# programs, config and settings), boots Debian's stock kernel
# (VM_KERNEL, default 6.1) with estack.ko loaded and that tree in the
# guest, and runs run_kselftest.sh there on STOCK_RUN's programs, in its
# order. Its TAP goes to build/results/kselftest-KERNEL.tap; the exit
# status is 0 when the runner reported every program "ok" and each
# program's own TAP plan was met.
#
# With --install-only (a host check of make check) it stops after the
# install, once every program of STOCK_RUN and DEBUG_RUN is in the
# installed kselftest-list.txt.
#
# The copy is hard links to $ESTACK_CACHE/linux-source-6.1, made once per
# work tree (two work trees' host checks may run at once); nothing is
# written through the links.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

install_only=
[ "${1:-}" = --install-only ] && install_only=1
[ -n "$install_only" ] || bash "$ESTACK_TOP/tools/rig/deps.sh"
series=6.1
work=$ESTACK_CACHE/kselftest-$series/$(printf '%s' "$ESTACK_TOP" |
	sha256sum | cut -c1-12)
tree=$work/src
ksft=$ESTACK_BUILD/kselftest

linked_source "$series" "$tree"

rm -rf "$tree/tools/testing/selftests/estack" "$tree/tools/estack"
cp -pr "$ESTACK_TOP/selftests" "$tree/tools/testing/selftests/estack"
mkdir -p "$tree/tools/estack"
cp -pr "$ESTACK_TOP/uapi" "$tree/tools/estack/"
mkdir -p "$tree/tools/estack/tools"
cp -pr "$ESTACK_TOP"/tools/{Makefile,*.c,lib} "$tree/tools/estack/tools/"

rig_log "kselftest: building and installing estack into $ksft"
rm -rf "$ksft"
make -s -C "$tree/tools/testing/selftests" O="$work/build" TARGETS=estack \
	INSTALL_PATH="$ksft" -j"$(nproc)" install >&2
[ -x "$ksft/run_kselftest.sh" ] || rig_die "no $ksft/run_kselftest.sh"

# A program the rig runs that the kernel's runner would not is a hole.
if [ -n "$install_only" ]; then
	missing=
	rig_programs STOCK_RUN
	listed=("${programs[@]}")
	rig_programs DEBUG_RUN
	for p in "${listed[@]}" "${programs[@]}"; do
		grep -qx "estack:$p\(\.sh\)\?" "$ksft/kselftest-list.txt" ||
			missing="$missing $p"
	done
	[ -z "$missing" ] || rig_die "not in kselftest-list.txt:$missing"
	exit 0
fi

# The stage's programs, by their kselftest names (shell tests keep .sh).
kernel=${VM_KERNEL:-6.1}
if [ -n "${KSFT_TESTS:-}" ]; then
	read -r -a programs <<< "$KSFT_TESTS"
else
	rig_programs STOCK_RUN
fi
args=() names=()
for p in "${programs[@]}"; do
	[ -e "$ksft/estack/$p.sh" ] && p=$p.sh
	[ -e "$ksft/estack/$p" ] || rig_die "kselftest: no program $p"
	args+=(-t "estack:$p")
	names+=("$p")
done

meta=$(kernel_meta "$kernel") || rig_die "VM_KERNEL: no kernel $kernel"
rel=$(stock_release "$meta") || rig_die "$meta is not installed"
build_module "ksft-$kernel" "/lib/modules/$rel/build"

mkdir -p "$ESTACK_RESULTS"
out=$ESTACK_RESULTS/kselftest-$kernel.log
tap=$ESTACK_RESULTS/kselftest-$kernel.tap
# The runner's TAP between two markers, apart from the console's lines.
# It writes each program's output to /dev/stdout, which a system with udev
# has and the busybox guest's devtmpfs has not: without the links the
# output would land in a file of that name.
cmd="ln -sf /proc/self/fd /dev/fd && ln -sf fd/0 /dev/stdin &&
ln -sf fd/1 /dev/stdout && ln -sf fd/2 /dev/stderr &&
cd /opt/estack/kselftest && echo '### kselftest start' &&
./run_kselftest.sh ${args[*]}; echo \"### kselftest exit \$?\""
status=0
# One million stacks (scale_test) need the stock stage's 6 GiB.
bash "$ESTACK_TOP/tools/rig/vm.sh" -k "/boot/vmlinuz-$rel" \
	-n "kselftest-$kernel" -m "$ESTACK_BUILD/kmod-ksft-$kernel/kmod/estack.ko" \
	-K "$ksft" -M cmd -c "$cmd" -r "${VM_MEM:-6144}" \
	-T "${RIG_TIMEOUT:-900}" > "$out" || status=$?
tr -d '\r' < "$out" | sed -n '/^### kselftest start$/,/^### kselftest exit/p' \
	> "$tap"
/usr/bin/python3 "$ESTACK_TOP/tools/rig/ksft-report.py" --vm-status "$status" \
	"$tap" "${names[@]}"
