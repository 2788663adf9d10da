#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make soak [SOAK_S=3600] [SOAK_PROCS=4] [SOAK_THREADS=2] [SOAK_SEED=N]
# [SOAK_KERNEL=6.12|6.1]`: the random-operation stress
# (selftests/stress_test.c) for SOAK_S seconds on the debug kernel of that
# series (KASAN, lockdep, kmemleak), judged like a make check
# stage: the stress's own invariants (canaries, contract errnos only,
# counters back at the end), a clean kernel log and kmemleak scan, the
# module's page count at unload. Prints the stress summary (operations,
# ops/s, seed) and "N passed, N failed". 60 s of the same stress run in
# every make check.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

secs=${SOAK_S:-3600}
[[ $secs =~ ^[0-9]+$ ]] && [ "$secs" -gt 0 ] || rig_die "SOAK_S must be seconds"
env="ESTACK_STRESS_S=$secs ESTACK_STRESS_PROCS=${SOAK_PROCS:-4}"
env+=" ESTACK_STRESS_THREADS=${SOAK_THREADS:-2}"
[ -n "${SOAK_SEED:-}" ] && env+=" ESTACK_STRESS_SEED=$SOAK_SEED"

bash "$ESTACK_TOP/tools/rig/deps.sh"
series=${SOAK_KERNEL:-6.12}
dkdir=$(bash "$ESTACK_TOP/tools/rig/debug-kernel.sh" "$series")
build_module "debug-$series" "$dkdir"
build_userspace
mkdir -p "$ESTACK_RESULTS"
tally=$ESTACK_RESULTS/tally-soak
: > "$tally"

status=0
bash "$ESTACK_TOP/tools/rig/vm.sh" -k "$dkdir/arch/x86/boot/bzImage" \
	-n soak -m "$ESTACK_BUILD/kmod-debug-$series/kmod/estack.ko" \
	-t "$ESTACK_BUILD/selftests/stress_test" -r "${VM_MEM:-2048}" \
	-P $((secs + 300)) -T $((secs + 900)) -e "$env" || status=$?
python3 "$ESTACK_TOP/tools/rig/report.py" --name soak \
	--results-dir "$ESTACK_RESULTS" --tally "$tally" --vm-status "$status" \
	--module estack.ko --program stress_test --kmemleak || true
grep -h '^# stress:' "$ESTACK_RESULTS/results-soak.log" || true
read -r passed failed < <(awk '{ p += $2; f += $3 } END { print p + 0, f + 0 }' "$tally")
rig_log "logs: $ESTACK_RESULTS/*-soak.log"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
