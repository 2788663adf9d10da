#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: every benchmark in one VM run (Debian's stock kernel under
# QEMU, estack.ko loaded), then the ratios.
#
#   build/results/bench.log   what the VM printed
#   build/results/bench.json  raw medians, the machine, estack-bench's case
#                             table, every ratio row
#   Documentation/benchmarks.rst  regenerated from bench.json
#   Documentation/images/bench-*.svg  its plots (tools/bench/plots.py)
#
# BENCH_ARGS passes options to estack-bench (e.g. "-n 100000 alloc grow"
# for a partial run, "--quick" for a smoke run whose ratios mean little);
# BENCH_PEER=0 skips the Go peer. BENCH_KERNEL=6.12 runs on Debian's 6.12
# instead of 6.1 (the reference) and writes bench-6.12.log and
# bench-6.12.json; benchmarks.rst shows the 6.12 run as a column beside
# the 6.1 one when both JSON files are there.
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

# The pictures of benchmarks.rst from the same runs as its tables.
bench_plots() {
	/usr/bin/python3 "$ESTACK_TOP/tools/bench/plots.py" "$@" \
		"$ESTACK_TOP/Documentation/images"
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
if [ "$peer" = 1 ]; then
	guest="$guest
for n in 10000 100000; do for d in 2 40; do
	estack-gopeer -n \$n -d \$d
	estack-demo -P -n \$n -d \$d
done; done"
fi

kernel=${BENCH_KERNEL:-6.1}
suffix=
[ "$kernel" = 6.1 ] || suffix=-$kernel
mkdir -p "$ESTACK_RESULTS"
log=$ESTACK_RESULTS/bench$suffix.log
json=$ESTACK_RESULTS/bench$suffix.json
# A million 8 KiB stacks live at once need 8 GiB in the guest.
CMD=$guest VM_MEM=${VM_MEM:-12288} VM_TIMEOUT=${VM_TIMEOUT:-3000} \
	VM_KERNEL=$kernel bash "$ESTACK_TOP/tools/rig/vm-run.sh" | tee "$log"
python3 "$ESTACK_TOP/tools/bench/report.py" parse "$log" "$json"
# The page: the 6.1 run, with the 6.12 run beside it when there is one.
runs=()
for j in "$ESTACK_RESULTS/bench.json" "$ESTACK_RESULTS/bench-6.12.json"; do
	[ -e "$j" ] && runs+=("$j")
done
if [ "${#runs[@]}" -gt 0 ] && [ "${runs[0]}" = "$ESTACK_RESULTS/bench.json" ]; then
	python3 "$ESTACK_TOP/tools/bench/report.py" rst "${runs[@]}" \
		"$ESTACK_TOP/Documentation/benchmarks.rst"
	bench_plots "${runs[@]}"
	rig_log "wrote $json and Documentation/benchmarks.rst (${runs[*]##*/})"
else
	rig_log "wrote $json; benchmarks.rst needs a 6.1 run (make bench) too"
fi
