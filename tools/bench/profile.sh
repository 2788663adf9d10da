#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench-profile`: where the time of a benchmark case goes, by perf in
# the guest (Debian's stock kernel under QEMU, estack.ko loaded): for each
# case of PROFILE_CASES (default: the raw 8 KiB ALLOC + FREE and the GROW
# with 512 KiB live, the two targets of issue #17 that stay missed),
# estack-bench --only runs that case alone under `perf record -g`
# (cpu-clock: TCG has no PMU), and `perf report` prints the symbols with
# their own share of the samples, then with what they call. Kernel and
# module symbols come from the guest's /proc/kallsyms.
#
# perf records only the timed operations: estack-bench turns it on
# through its control FIFO (ESTACK_BENCH_PERF_CTL, acknowledged on
# ESTACK_BENCH_PERF_ACK) around each timed batch, so that the untimed
# preparation, warm-up, floors and cleanup stay out of the profile. A
# move case also gets the samples of its ioctl alone, by caller. A scale
# case (PROFILE_CASES=scale/estack/ profiles every level of estack) turns
# perf on once every level is live, and off before they are given back,
# and each level is reported on its own (its process is named scale-N).
#
# PROFILE_FIBERS="-n 10000 -d 40" profiles the fiber rows instead:
# estack-demo -P and the Go peer (estack-gopeer) with those arguments,
# each alone under perf, to see where a fiber's time goes on each side.
#
#   build/results/profile-KERNEL.txt   the reports
#
# perf is Debian's linux-perf, run in the guest from a copy of it and the
# libraries it links (a sysroot added to the initramfs). BENCH_KERNEL=6.12
# profiles on 6.12 instead of 6.1.
set -euo pipefail
. "$(dirname "$0")/../rig/lib.sh"

bash "$ESTACK_TOP/tools/rig/deps.sh"
if ! command -v perf >/dev/null; then
	sudo=
	[ "$(id -u)" = 0 ] || sudo=sudo
	rig_log "installing: linux-perf"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
		--no-install-recommends linux-perf >/dev/null
fi
perf=$(command -v perf)

kernel=${BENCH_KERNEL:-6.1}
meta=$(kernel_meta "$kernel") || rig_die "BENCH_KERNEL: no kernel $kernel"
rel=$(stock_release "$meta") || rig_die "$meta is not installed"
build_module "$kernel" "/lib/modules/$rel/build"
build_userspace

# perf and every library it links, at their own paths.
sysroot=$ESTACK_BUILD/perf-sysroot
rm -rf "$sysroot"
mkdir -p "$sysroot/usr/bin"
cp -L "$perf" "$sysroot/usr/bin/perf"
ldd "$perf" | awk '/=> \// { print $3 } /^\t\// { print $1 }' |
while read -r lib; do
	mkdir -p "$sysroot$(dirname "$lib")"
	cp -L "$lib" "$sysroot$lib"
done

cases=${PROFILE_CASES:-alloc/estack/8 grow/estack/512}
fibers=${PROFILE_FIBERS:-}
if [ -n "$fibers" ]; then
	case $fibers in
	*[!-a-zA-Z0-9\ ]*) rig_die "PROFILE_FIBERS: options of estack-demo -P" ;;
	esac
	bash "$ESTACK_TOP/tools/bench/build-gopeer.sh" "$ESTACK_BUILD/tools"
	cases="demo gopeer"
fi
# One case: run it alone under perf.
run='case $c in
demo) set -- estack-demo -P '"$fibers"' ;;
gopeer) set -- estack-gopeer '"$fibers"' ;;
*) set -- estack-bench --only "$c" "${c%%/*}" ;;
esac'
cmd='echo 0 > /proc/sys/kernel/kptr_restrict
echo -1 > /proc/sys/kernel/perf_event_paranoid
for c in '"$cases"'; do
	echo "### profile $c"
	'"$run"'
	ctl= comms=
	case $c in
	demo|gopeer) ;;
	*)
		rm -f /tmp/perf.ctl /tmp/perf.ack
		mkfifo /tmp/perf.ctl /tmp/perf.ack
		ctl="-D -1 --control fifo:/tmp/perf.ctl,/tmp/perf.ack" ;;
	esac
	case $c in
	scale/*)
		comms="scale-1000 scale-10000 scale-100000 scale-1000000" ;;
	esac
	ESTACK_BENCH_PERF_CTL=${ctl:+/tmp/perf.ctl} \
	ESTACK_BENCH_PERF_ACK=${ctl:+/tmp/perf.ack} /usr/bin/perf record -q \
		-e cpu-clock -g $ctl -o /tmp/perf.data -- "$@" > /dev/null
	if [ -z "$comms" ]; then
		echo "### self $c"
		/usr/bin/perf --no-pager report -i /tmp/perf.data --stdio \
			--no-children --sort sym --percent-limit 1 -g none \
			2>/dev/null | grep -v "^#" | grep -v "^$"
		echo "### children $c"
		/usr/bin/perf --no-pager report -i /tmp/perf.data --stdio \
			--children --sort sym --percent-limit 4 -g none \
			2>/dev/null | grep -v "^#" | grep -v "^$"
		case $c in
		grow/*|shrink/*)
			# The ioctl alone (GROW and SHRINK share
			# estack_ioctl_move), without the call around it;
			# shares of all samples.
			echo "### within the move $c"
			/usr/bin/perf --no-pager report -i /tmp/perf.data \
				--stdio --no-children --sort sym \
				-p "^estack_ioctl_move\$" -x \
				--percent-limit 0.3 -g none 2>/dev/null |
				grep -v "^#" | grep -v "^$"
			echo "### within the move, by caller $c"
			/usr/bin/perf --no-pager report -i /tmp/perf.data \
				--stdio --no-children --sort sym \
				-p "^estack_ioctl_move\$" -x \
				--percent-limit 2 -g caller,1,callee,function \
				2>/dev/null | grep -v "^#" | grep -v "^$" ;;
		esac
		continue
	fi
	# Per level: sorted by process and symbol, each share scaled to the
	# samples of its level (perf report --comms drops samples here).
	echo "### processes $c"
	/usr/bin/perf --no-pager report -i /tmp/perf.data --stdio \
		--no-children --sort comm -g none 2>/dev/null |
		grep -v "^#" | grep -v "^$" | tee /tmp/perf.comms
	/usr/bin/perf --no-pager report -i /tmp/perf.data --stdio \
		--no-children --sort comm,sym -g none 2>/dev/null > /tmp/perf.self
	/usr/bin/perf --no-pager report -i /tmp/perf.data --stdio \
		--children --sort comm,sym -g none 2>/dev/null > /tmp/perf.children
	for comm in $comms; do
		tot=$(awk -v c="$comm" '"'"'$2 == c { sub("%", "", $1); print $1 }'"'"' /tmp/perf.comms)
		[ -n "$tot" ] || continue
		echo "### level $comm ($tot% of the samples)"
		echo "### self $c"
		awk -v c="$comm" -v t="$tot" '"'"'$2 == c { sub("%", "", $1); p = 100 * $1 / t
			if (p >= 1) printf "%9.2f%%  %s %s\n", p, $3, $4 }'"'"' /tmp/perf.self
		echo "### children $c"
		awk -v c="$comm" -v t="$tot" '"'"'$3 == c { sub("%", "", $1); sub("%", "", $2)
			p = 100 * $1 / t; if (p >= 4) printf "%9.2f%% %9.2f%%  %s %s\n", p, 100 * $2 / t, $4, $5 }'"'"' /tmp/perf.children
	done
done
echo "### end-profile"'

# A million 8 KiB stacks live at once need 8 GiB in the guest.
mem=4096
case " $cases" in
*" scale/"*) mem=12288 ;;
esac
tools=()
for f in "$ESTACK_BUILD"/tools/*; do tools+=("$f"); done
out=$ESTACK_RESULTS/profile-$kernel.txt
mkdir -p "$ESTACK_RESULTS"
bash "$ESTACK_TOP/tools/rig/vm.sh" -k "/boot/vmlinuz-$rel" -n profile \
	-m "$ESTACK_BUILD/kmod-$kernel/kmod/estack.ko" -b "${tools[*]}" \
	-t "" -M cmd -c "$cmd" -r "${VM_MEM:-$mem}" -T "${VM_TIMEOUT:-1800}" \
	-R "$sysroot" > "$out.raw"
sed -n '/^### profile /,/^### end-profile/p' "$out.raw" > "$out"
grep -q '^### end-profile' "$out" || rig_die "the profile run did not finish: $out.raw"
rig_log "wrote $out"
