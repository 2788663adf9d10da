#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: every benchmark in one VM run (Debian's stock kernel under
# QEMU, estack.ko loaded), BENCH_RUNS times back to back (default 2), then
# the ratios.
#
#   build/results/history/bench-STAMP-runI.{log,json}
#                             each run: what the VM printed, and the raw
#                             times of every repetition, the machine,
#                             estack-bench's case table, every ratio row
#   build/results/bench.log, bench.json   the last run
#   build/results/bench.runs  the JSON files of the runs of this make bench
#   Documentation/mm/estack/benchmarks.rst
#                             regenerated from them: one column per run, a
#                             target met only when every run meets it
#   Documentation/mm/estack/images/bench-*.svg
#                             its plots (tools/bench/plots.py), from the
#                             last run (and the 6.12 one)
#
# estack-bench prints its progress ("[bench] group alloc: case 3/19") to
# the console, which this script shows as the VM runs.
#
# BENCH_ARGS passes options to estack-bench (e.g. "-n 100000 alloc grow"
# for a partial run, "--quick" for a smoke run whose ratios mean little);
# BENCH_RUNS=1 runs once; BENCH_PEER=0 skips the Go peer. BENCH_KERNEL=6.12
# runs on Debian's 6.12 instead of 6.1 (the reference) and writes
# bench-6.12.* instead; benchmarks.rst shows the last 6.12 run as a column
# beside the 6.1 runs when there is one.
set -euo pipefail
. "$(dirname "$0")/../rig/lib.sh"

# The plots need Debian's matplotlib, for Debian's python3 (a python3
# earlier on PATH may not see it): installed here, as deps.sh does, since
# only make bench draws.
bench_plot_deps() {
	local sudo=
	dpkg-query -W -f='${Status}' python3-matplotlib 2>/dev/null |
		grep -q 'install ok installed' && return 0
	[ "$(id -u)" = 0 ] || sudo=sudo
	rig_log "installing: python3-matplotlib"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
		--no-install-recommends python3-matplotlib >/dev/null
}

# The page (where it would live in a kernel tree) and its pictures, from the
# same runs as its tables.
BENCH_DOC=Documentation/mm/estack
bench_plots() {
	/usr/bin/python3 "$ESTACK_TOP/tools/bench/plots.py" "$@" \
		"$ESTACK_TOP/$BENCH_DOC/images"
}

bash "$ESTACK_TOP/tools/rig/deps.sh"
bench_plot_deps
peer=${BENCH_PEER:-1}
if [ "$peer" = 1 ]; then
	bash "$ESTACK_TOP/tools/bench/build-gopeer.sh" "$ESTACK_BUILD/tools"
fi

guest='echo "### guest_kernel $(uname -r)"
echo "### guest_mem_kib $(sed -n "s/MemTotal: *\([0-9]*\).*/\1/p" /proc/meminfo)"
echo "### estack-bench"
estack-bench -j '"${BENCH_ARGS:-}"'
echo "### end-bench"'
# The fiber rows: ${BENCH_PEER_REPS:-5} repetitions, each running every
# program once per size, interleaved (so drift hits all alike): Go with
# its defaults (the library issue's comparison), without the adaptive
# start size, and without the GC, then estack-demo. report.py pairs the
# programs of one repetition and takes the median of the ratios.
if [ "$peer" = 1 ]; then
	guest="$guest
for rep in \$(seq ${BENCH_PEER_REPS:-5}); do
echo \"[bench] fibers: repetition \$rep of ${BENCH_PEER_REPS:-5}\" >&2
for n in 10000 100000; do for d in 2 40; do
	estack-gopeer -n \$n -d \$d
	GODEBUG=adaptivestackstart=0 estack-gopeer -n \$n -d \$d
	GOGC=off estack-gopeer -n \$n -d \$d
	estack-demo -P -n \$n -d \$d
done; done; done"
fi

kernel=${BENCH_KERNEL:-6.1}
suffix=
[ "$kernel" = 6.1 ] || suffix=-$kernel
nruns=${BENCH_RUNS:-2}
case $nruns in
''|*[!0-9]*|0) rig_die "BENCH_RUNS: a number of runs, 1 or more" ;;
esac
history=$ESTACK_RESULTS/history
mkdir -p "$history"
stamp=$(date +%Y%m%d-%H%M%S)
jsons=()
for ((run = 1; run <= nruns; run++)); do
	rig_log "bench: run $run of $nruns on $kernel"
	base=$history/bench$suffix-$stamp-run$run
	# A million 8 KiB stacks live at once need 8 GiB in the guest.
	CMD=$guest VM_MEM=${VM_MEM:-12288} VM_TIMEOUT=${VM_TIMEOUT:-3000} \
		VM_KERNEL=$kernel bash "$ESTACK_TOP/tools/rig/vm-run.sh" |
		tee "$base.log"
	python3 "$ESTACK_TOP/tools/bench/report.py" parse "$base.log" \
		"$base.json"
	jsons+=("$base.json")
done
cp "$base.log" "$ESTACK_RESULTS/bench$suffix.log"
cp "$base.json" "$ESTACK_RESULTS/bench$suffix.json"
printf '%s\n' "${jsons[@]}" >"$ESTACK_RESULTS/bench$suffix.runs"

# The page: the 6.1 runs, with the last 6.12 run beside them when there
# is one.
runs=()
if [ -e "$ESTACK_RESULTS/bench.runs" ]; then
	while read -r j; do
		[ -e "$j" ] && runs+=("$j")
	done <"$ESTACK_RESULTS/bench.runs"
elif [ -e "$ESTACK_RESULTS/bench.json" ]; then
	runs+=("$ESTACK_RESULTS/bench.json")
fi
if [ "${#runs[@]}" -gt 0 ]; then
	[ -e "$ESTACK_RESULTS/bench-6.12.json" ] &&
		runs+=("$ESTACK_RESULTS/bench-6.12.json")
	python3 "$ESTACK_TOP/tools/bench/report.py" rst "${runs[@]}" \
		"$ESTACK_TOP/$BENCH_DOC/benchmarks.rst"
	# The plots: the last 6.1 run, with the 6.12 one beside it.
	plot_runs=("$ESTACK_RESULTS/bench.json")
	[ -e "$ESTACK_RESULTS/bench-6.12.json" ] &&
		plot_runs+=("$ESTACK_RESULTS/bench-6.12.json")
	[ -e "$ESTACK_RESULTS/bench.json" ] && bench_plots "${plot_runs[@]}"
	rig_log "wrote ${jsons[*]##*/} and $BENCH_DOC/benchmarks.rst (${runs[*]##*/})"
else
	rig_log "wrote ${jsons[*]##*/}; benchmarks.rst needs a 6.1 run (make bench) too"
fi
