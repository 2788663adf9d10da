#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make vm [VM_KERNEL=6.1|6.1-rt|6.12|6.12-rt]`: one of Debian's stock
# kernels (default 6.1) under QEMU with estack.ko loaded, the tools and
# selftests on PATH. With CMD set, runs it and powers off (its output on
# stdout); without, gives an interactive shell ('reboot -f' quits).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

bash "$ESTACK_TOP/tools/rig/deps.sh"
kernel=${VM_KERNEL:-6.1}
meta=$(kernel_meta "$kernel") || rig_die "VM_KERNEL: no kernel $kernel"
rel=$(stock_release "$meta") || rig_die "$meta is not installed"
build_module "$kernel" "/lib/modules/$rel/build"
build_userspace

tools=() tests=()
for f in "$ESTACK_BUILD"/tools/*; do tools+=("$f"); done
for f in "$ESTACK_BUILD"/selftests/*; do tests+=("$f"); done

mode=shell
[ -n "${CMD:-}" ] && mode=cmd
exec bash "$ESTACK_TOP/tools/rig/vm.sh" -k "/boot/vmlinuz-$rel" -n vm \
	-m "$ESTACK_BUILD/kmod-$kernel/kmod/estack.ko" -b "${tools[*]}" \
	-t "${tests[*]}" -M "$mode" -c "${CMD:-}" -r "${VM_MEM:-2048}" \
	-T "${VM_TIMEOUT:-600}"
