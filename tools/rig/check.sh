#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: install what is missing, run the host checks, then one VM
# stage per kernel, and judge each (tools/rig/report.py):
#
#   6.1 6.1-rt 6.12 6.12-rt
#          Debian's stock kernels (ESTACK_KERNELS in lib.sh): estack.ko
#          and the selftests, where users run them;
#   debug-SERIES
#          the debug kernel built from linux-source-SERIES
#          (tools/rig/debug.config: KASAN, UBSAN, lockdep, kmemleak, fault
#          injection, KUnit): estack.ko, the KUnit module, the selftests and
#          the fault-injection selftests, a kmemleak scan after unload.
#
# Ends with one line "N passed, N failed"; the exit status is non-zero when
# anything failed.
#
# RIG_INJECT breaks one thing on purpose (used by check-rig.sh):
#   fail-test   add a selftest that fails                     (stock stage)
#   warn        load a test module that hits WARN_ON()        (stock stage)
#   no-module   leave estack.ko out of the VM                 (stock stage)
#   hang        add a test that never ends, short timeout     (stock stage)
#   kunit-fail  load a KUnit suite with a failing case        (debug stage)
#   kasan       a test module reads out of bounds             (debug stage)
#   lockdep     a test module takes two locks in both orders  (debug stage)
#   leak        a test module leaves a page allocated         (debug stage)
#   panic       a test module panics the guest                (stock stage)
#   segv        a test program crashes half-way               (stock stage)
#   skip        a test case skips unexpectedly                (stock stage)
#   report-crash  report.py crashes                           (stock stage)
#   kmemleak    a test module loses a kmalloc'ed object       (debug stage)
#   estack-leak estack.ko itself leaks a page                 (debug stage)
#   kunit-missing a listed KUnit suite never runs             (debug stage)
#   freeze      a test module freezes every CPU of the guest  (stock stage)
# RIG_STAGES limits the stages (default ESTACK_STAGES of lib.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

inject=${RIG_INJECT:-}
stages=${RIG_STAGES:-$ESTACK_STAGES}
rig_modules=${inject:+CONFIG_ESTACK_RIG=m}

bash "$ESTACK_TOP/tools/rig/deps.sh"

mkdir -p "$ESTACK_RESULTS"
rm -f "$ESTACK_RESULTS"/*.log "$ESTACK_RESULTS"/*.tap "$ESTACK_RESULTS"/*.txt
tally=$ESTACK_RESULTS/tally
: > "$tally"

# A deliberately broken run (check-rig) needs no host checks.
[ -z "$inject" ] && bash "$ESTACK_TOP/tools/rig/host-checks.sh" "$tally" |
	tee "$ESTACK_RESULTS/report-host.txt"
# selftests/Makefile builds (and installs, for scripts) every program a
# stage names, and with `rig` those of selftests/rig/ that check-rig adds.
build_userspace ${inject:+all rig}
sel=$ESTACK_BUILD/selftests
tools=("$ESTACK_BUILD"/tools/*)

# The kselftest tree the stages' programs run from. A deliberately broken
# run has no host checks to install it, and its programs (selftests/rig/)
# are not in the kernel's list: it installs the tree, and adds them to a
# copy, so that check-rig proves the runner's path too.
ksft_tree=$ESTACK_BUILD/kselftest
if [ -n "$inject" ]; then
	bash "$ESTACK_TOP/tools/rig/kselftest.sh" --install-only >&2 ||
		rig_die "kselftest install failed"
	rm -rf "$ksft_tree-rig"
	cp -a "$ksft_tree" "$ksft_tree-rig"
	ksft_tree=$ksft_tree-rig
	for p in "$sel"/rig_*; do
		[ -x "$p" ] || continue
		cp "$p" "$ksft_tree/estack/"
		echo "estack:${p##*/}" >> "$ksft_tree/kselftest-list.txt"
	done
fi

# run_stage NAME KERNEL-IMAGE BUILT-MODULE-DIR
# Uses the arrays modules (FILE.ko[:ARGS]), programs and suites, and
# kargs, kernel command-line options of the stage.
run_stage() {
	local name=$1 image=$2 kmods=$3 status=0 m p s
	local mods=() tests=() args
	for m in "${modules[@]}"; do mods+=("$kmods/$m"); done
	for p in "${programs[@]}"; do tests+=("$sel/$p"); done

	# The programs run under the kernel's kselftest runner, from the tree
	# the host checks installed (kselftest.sh --install-only).
	local ksft=()
	if [ -x "$ksft_tree/run_kselftest.sh" ]; then
		ksft=(-K "$ksft_tree")
	else
		echo "not ok $name: kselftest tree installed # no $ksft_tree: programs ran without the runner"
		echo "$name-ksft 0 1 0" >> "$tally"
	fi
	bash "$ESTACK_TOP/tools/rig/vm.sh" -k "$image" -n "$name" \
		-m "${mods[*]}" -t "${tests[*]}" -b "${tools[*]}" -r "$mem" \
		-T "$timeout" -a "$kargs" "${ksft[@]}" || status=$?

	# What the run must show: estack.ko always (leaving it out is a
	# failure), every module given, every program, every KUnit suite.
	args=(--name "$name" --results-dir "$ESTACK_RESULTS" --tally "$tally"
	      --vm-status "$status" --module estack.ko)
	for m in "${modules[@]}"; do
		m=${m%%:*}
		m=${m##*/}
		[ "$m" = estack.ko ] || args+=(--module "$m")
	done
	for p in "${programs[@]}"; do args+=(--program "$p"); done
	for s in "${suites[@]}"; do args+=(--kunit-suite "$s"); done
	[[ $name == debug-* ]] && args+=(--kmemleak)
	# A report that crashed, or wrote no tally, fails its stage.
	local before after rstatus=0
	before=$(wc -l < "$tally")
	[ "$inject" = report-crash ] && args+=(--rig-crash)
	python3 "$ESTACK_TOP/tools/rig/report.py" "${args[@]}" \
		> "$ESTACK_RESULTS/report-$name.txt" || rstatus=$?
	cat "$ESTACK_RESULTS/report-$name.txt"
	after=$(wc -l < "$tally")
	if [ "$rstatus" -gt 1 ] || [ "$after" -le "$before" ]; then
		echo "not ok $name: report.py judged the stage # status $rstatus"
		echo "$name-report 0 1 0" >> "$tally"
	fi
}

# A stock kernel of ESTACK_KERNELS: the module and every selftest users
# can reach, the demo and the 1 M-stack scale test, as users run them.
stock_stage() {	# NAME
	local name=$1 meta rel
	meta=$(kernel_meta "$name") || rig_die "no kernel $name"
	rel=$(stock_release "$meta") || rig_die "$meta is not installed"
	rig_log "stage $name: Debian's $rel"
	build_module "$name" "/lib/modules/$rel/build" $rig_modules

	modules=(kmod/estack.ko)
	rig_programs STOCK_RUN
	suites=()
	kargs=
	# One million 4 KiB stacks: 4 GiB of pages and their bookkeeping.
	mem=${VM_MEM:-6144}
	timeout=${RIG_TIMEOUT:-900}
	# A deliberately broken run needs only enough to show the break.
	[ -n "$inject" ] && programs=(api_test)
	case $inject in
	fail-test) programs+=(rig_fail_test) ;;
	segv) programs+=(rig_segv_test) ;;
	skip) programs+=(rig_skip_test) ;;
	panic) modules+=(kmod/tests/estack_rig.ko:fault=panic) ;;
	warn) modules+=(kmod/tests/estack_rig.ko:fault=warn) ;;
	no-module) modules=() ;;
	hang) programs+=(rig_hang_test); timeout=${RIG_TIMEOUT:-60} ;;
	freeze)
		modules+=(kmod/tests/estack_rig.ko:fault=freeze)
		programs+=(rig_hang_test)
		timeout=${RIG_TIMEOUT:-90}
		;;
	esac
	run_stage "$name" "/boot/vmlinuz-$rel" "$ESTACK_BUILD/kmod-$name"
}

# The debug kernel of a series: KUnit, the fault sweeps, the OOM test,
# 60 s of the stress, under KASAN, lockdep and kmemleak.
debug_stage() {	# SERIES
	local name=debug-$1 dkdir
	dkdir=$(bash "$ESTACK_TOP/tools/rig/debug-kernel.sh" "$1")
	rig_log "stage $name: $dkdir"
	build_module "$name" "$dkdir" CONFIG_ESTACK_KUNIT_TEST=m $rig_modules

	modules=(kmod/estack.ko kmod/tests/estack_kunit.ko)
	rig_programs DEBUG_RUN
	suites=(estack_abi estack_size estack_params estack_pcpu estack_pool
		estack_large estack_shrinker estack_memcg estack_concurrency
		estack_undo_log)
	# Debian's kernels clear every page they allocate (init_on_alloc),
	# so the stock stages never give the module a fresh page that holds
	# old data: debug-6.12, the debug stage make check runs, boots
	# without it, so that the module's own clearing of such pages is
	# what KUnit, KASAN and the selftests see; debug-6.1 (by hand) with.
	kargs=init_on_alloc=0
	[ "$1" = 6.1 ] && kargs=init_on_alloc=1
	mem=${VM_MEM:-2048}
	timeout=${RIG_TIMEOUT:-1800}
	[ -n "$inject" ] && programs=(api_test)
	case $inject in
	kunit-fail)
		modules+=(kmod/tests/estack_rig_kunit.ko)
		suites+=(estack_rig)
		;;
	kasan | lockdep | leak | kmemleak)
		modules+=("kmod/tests/estack_rig.ko:fault=$inject")
		;;
	estack-leak) modules[0]=kmod/estack.ko:rig_leak=1 ;;
	kunit-missing) suites+=(estack_rig_absent) ;;
	esac
	run_stage "$name" "$dkdir/arch/x86/boot/bzImage" \
		"$ESTACK_BUILD/kmod-$name"
}

for stage in $stages; do
	case $stage in
	debug-*) debug_stage "${stage#debug-}" ;;
	*) stock_stage "$stage" ;;
	esac
done

# What failed, again, just above the count: a CI log shows its tail.
if grep -q '^not ok' "$ESTACK_RESULTS"/report-*.txt 2>/dev/null; then
	echo "# what failed, with the kernel's complaints (first 60 lines):"
	cat "$ESTACK_RESULTS"/report-*.txt | grep -E '^not ok|^#   ' | head -60
fi

read -r passed failed skipped < <(awk '{ p += $2; f += $3; s += $4 }
	END { print p + 0, f + 0, s + 0 }' "$tally")
rig_log "logs: $ESTACK_RESULTS"
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
