#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`: Debian's stock kernel in QEMU, estack loaded, estack-demo's
# fibers growing and shrinking their stacks, then the module's statistics.
# DEMO_ARGS passes options to estack-demo (default: 10,000 fibers).
set -euo pipefail
export CMD="estack-info && echo && estack-demo ${DEMO_ARGS:-} && echo &&
echo '$ estack-stat --per-cpu' && estack-stat --per-cpu"
export VM_MEM=${VM_MEM:-2048}
exec bash "$(dirname "$0")/vm-run.sh"
