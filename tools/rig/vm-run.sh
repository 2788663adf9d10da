#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make vm`: Debian's stock kernel under QEMU with estack.ko loaded, the
# tools and selftests on PATH. With CMD set, runs it and powers off (its
# output on stdout); without, gives an interactive shell ('reboot -f' quits).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

bash "$ESTACK_TOP/tools/rig/deps.sh"
rel=$(stock_release) || rig_die "linux-image-amd64 is not installed"
build_module stock "/lib/modules/$rel/build"
build_userspace

tools=() tests=()
for f in "$ESTACK_BUILD"/tools/*; do tools+=("$f"); done
for f in "$ESTACK_BUILD"/selftests/*; do tests+=("$f"); done

mode=shell
[ -n "${CMD:-}" ] && mode=cmd
exec bash "$ESTACK_TOP/tools/rig/vm.sh" -k "/boot/vmlinuz-$rel" -n vm \
	-m "$ESTACK_BUILD/kmod-stock/kmod/estack.ko" -b "${tools[*]}" \
	-t "${tests[*]}" -M "$mode" -c "${CMD:-}" -r "${VM_MEM:-2048}" \
	-T "${VM_TIMEOUT:-600}"
