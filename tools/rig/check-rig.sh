#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check-rig`: prove that `make check` can fail. Each case breaks one
# thing on purpose (RIG_INJECT, see check.sh) and passes only when the
# check fails, and fails for the reason the case names.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

# case|stage|what the check's output must show
cases=(
	"fail-test|6.1|^not ok 6.1: rig_fail_test: global.deliberate_failure"
	"warn|6.1|^not ok 6.1: kernel log clean.*WARNING"
	"no-module|6.1|^not ok 6.1: insmod estack.ko"
	"hang|6.1|^not ok 6.1: rig_hang_test: finished # hung: killed after 20 s"
	"kunit-fail|debug-6.12|^not ok debug-6.12: kunit estack_rig.estack_rig_fails"
	"kasan|debug-6.12|^not ok debug-6.12: kernel log clean.*BUG: KASAN: slab-out-of-bounds"
	"lockdep|debug-6.12|^not ok debug-6.12: kernel log clean.*possible circular locking"
	"leak|debug-6.12|^not ok debug-6.12: kernel log clean.*1 pages left allocated"
	"panic|6.1|^not ok 6.1: kernel log clean \\(console\\).*Kernel panic"
	"segv|6.1|^not ok 6.1: rig_segv_test: plan and exit status agree"
	"skip|6.1|^not ok 6.1: rig_skip_test: .* # unexpected skip"
	"report-crash|6.1|^not ok 6.1: report.py judged the stage"
	"kmemleak|debug-6.12|^not ok debug-6.12: kmemleak scan clean # [1-9][0-9]* leaks"
	"estack-leak|debug-6.12|^not ok debug-6.12: kernel log clean.*estack: global: 1 pages left allocated"
	"kunit-missing|debug-6.12|^not ok debug-6.12: kunit estack_rig_absent # no results"
	"freeze|6.12|^#   look 3: cpu1 rip 0xffffffff8[0-9a-f]+ [a-z_][a-z_0-9.]*\\+0x.*eflags"
)

# RIG_CASES="kasan leak" runs only those.
passed=0 failed=0
for c in "${cases[@]}"; do
	IFS='|' read -r inject stage want <<< "$c"
	if [ -n "${RIG_CASES:-}" ] && [[ " $RIG_CASES " != *" $inject "* ]]; then
		continue
	fi
	log=$ESTACK_BUILD/check-rig-$inject.log
	mkdir -p "$ESTACK_BUILD"
	RIG_INJECT=$inject RIG_STAGES=$stage bash "$ESTACK_TOP/tools/rig/check.sh" > "$log" 2>&1
	status=$?
	if [ $status -ne 0 ] && grep -qE "$want" "$log" &&
	   tail -n 1 "$log" | grep -qE '^[0-9]+ passed, [1-9][0-9]* failed$'; then
		echo "ok check-rig: $inject makes make check fail"
		passed=$((passed + 1))
	else
		echo "not ok check-rig: $inject # status $status, see $log"
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ $failed = 0 ]
