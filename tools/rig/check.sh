#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: install what is missing, build the module against Debian's
# stock kernel headers and the selftests as static binaries, boot the stock
# kernel under QEMU, load the module, run every selftest, and judge the run
# (tools/rig/report.py). Ends with one line "N passed, N failed"; the exit
# status is non-zero when anything failed.
#
# RIG_INJECT breaks one thing on purpose (used by check-rig.sh):
#   fail-test  add a selftest that fails
#   warn       load a test module that hits WARN_ON()
#   no-module  leave estack.ko out of the VM
#   hang       add a test that never ends (with a short VM timeout)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

inject=${RIG_INJECT:-}

bash "$ESTACK_TOP/tools/rig/deps.sh"

rel=$(stock_release) || rig_die "linux-image-amd64 is not installed"
kdir=/lib/modules/$rel/build
rig_log "stock kernel $rel"

mkdir -p "$ESTACK_RESULTS"
rm -f "$ESTACK_RESULTS"/*.log "$ESTACK_RESULTS"/*.tap
tally=$ESTACK_RESULTS/tally
: > "$tally"

bash "$ESTACK_TOP/tools/rig/host-checks.sh" "$tally"

build_module stock "$kdir" ${inject:+CONFIG_ESTACK_RIG=m}
build_userspace

sel=$ESTACK_BUILD/selftests
programs=(api_test api_test_32)
modules=("$ESTACK_BUILD/kmod-stock/kmod/estack.ko")
timeout=${RIG_TIMEOUT:-900}
case $inject in
"") ;;
fail-test)
	build_userspace rig
	programs+=(rig_fail_test)
	;;
warn)
	modules+=("$ESTACK_BUILD/kmod-stock/kmod/tests/estack_rig.ko:fault=warn")
	;;
no-module)
	modules=()
	;;
hang)
	install -m 755 "$ESTACK_TOP/selftests/rig_hang_test.sh" "$sel/rig_hang_test"
	programs+=(rig_hang_test)
	timeout=${RIG_TIMEOUT:-60}
	;;
*)
	rig_die "unknown RIG_INJECT=$inject"
	;;
esac

tests=()
for p in "${programs[@]}"; do tests+=("$sel/$p"); done

status=0
bash "$ESTACK_TOP/tools/rig/vm.sh" -k "/boot/vmlinuz-$rel" -n stock \
	-m "${modules[*]}" -t "${tests[*]}" -r "${VM_MEM:-2048}" \
	-T "$timeout" || status=$?

# What the run should have shown: estack.ko always (so that leaving it out
# is a failure), and every test program.
report_args=(--name stock --results-dir "$ESTACK_RESULTS" --tally "$tally"
	     --vm-status "$status" --module estack.ko)
[ "$inject" = warn ] && report_args+=(--module estack_rig.ko)
for p in "${programs[@]}"; do report_args+=(--program "$p"); done
python3 "$ESTACK_TOP/tools/rig/report.py" "${report_args[@]}" || true

read -r passed failed < <(awk '{ p += $2; f += $3 } END { print p + 0, f + 0 }' "$tally")
rig_log "logs: $ESTACK_RESULTS"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
