#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a kernel under QEMU (TCG) with a busybox initramfs that loads the
# given modules and then runs the tests, a command, or a shell.
#
#   vm.sh -k KERNEL -n NAME [-m "A.ko B.ko:ARG=1"] [-t "test..."] [-b "tool..."]
#         [-M MODE] [-c CMD] [-r MEM] [-T TIMEOUT] [-a APPEND]
#         [-P SECS]  (a program running longer is hung; default TIMEOUT / 3)
#         [-e "VAR=VALUE ..."]   (the environment of the tests)
#         [-K DIR]   (an installed kselftest tree, as /opt/estack/kselftest)
#         [-R DIR]   (a tree copied onto the initramfs's root first: the
#                    files of installed packages, their libraries)
#
# In check and cmd modes the guest's reports land in
# $ESTACK_RESULTS/{console,results,dmesg}-NAME.log. The exit status is 0
# when the guest powered off by itself and 124 when it ran out of time.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kernel= name= modules= tests= tools= mode=check cmd= mem=2048 tmo=600
append= env= ksft= sysroot= ptmo=
while getopts k:n:m:t:b:M:c:r:T:a:e:K:R:P: opt; do
	case $opt in
	k) kernel=$OPTARG ;;
	n) name=$OPTARG ;;
	m) modules=$OPTARG ;;
	t) tests=$OPTARG ;;
	b) tools=$OPTARG ;;
	M) mode=$OPTARG ;;
	c) cmd=$OPTARG ;;
	r) mem=$OPTARG ;;
	T) tmo=$OPTARG ;;
	a) append=$OPTARG ;;
	e) env=$OPTARG ;;
	K) ksft=$OPTARG ;;
	R) sysroot=$OPTARG ;;
	P) ptmo=$OPTARG ;;
	*) rig_die "usage: see the top of $0" ;;
	esac
done
[ -n "$kernel" ] && [ -n "$name" ] || rig_die "vm.sh needs -k and -n"
[ -r "$kernel" ] || rig_die "no kernel image $kernel"

busybox=$(command -v busybox || true)
[ -x /bin/busybox ] && busybox=/bin/busybox
file "$busybox" 2>/dev/null | grep -q 'statically linked' ||
	ldd "$busybox" 2>&1 | grep -q 'not a dynamic' ||
	rig_die "busybox at $busybox is not static (install busybox-static)"

root=$ESTACK_BUILD/initramfs-$name
rm -rf "$root"
mkdir -p "$root"
[ -z "$sysroot" ] || cp -a "$sysroot/." "$root/"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,etc,lib/estack,opt/estack/tests,opt/estack/bin}
cp "$busybox" "$root/bin/busybox"
cp "$(dirname "$0")/init.sh" "$root/init"
chmod 755 "$root/init"
for m in $modules; do cp "${m%%:*}" "$root/lib/estack/"; done
for t in $tests; do cp "$t" "$root/opt/estack/tests/"; done
for b in $tools; do cp "$b" "$root/opt/estack/bin/"; done
[ -z "$ksft" ] || cp -a "$ksft" "$root/opt/estack/kselftest"
{
	printf 'RIG_MODE=%q\n' "$mode"
	printf 'RIG_CMD=%q\n' "$cmd"
	mods=
	for m in $modules; do mods="$mods ${m##*/}"; done
	printf 'RIG_MODULES=%q\n' "${mods# }"
	names=
	for t in $tests; do names="$names ${t##*/}"; done
	printf 'RIG_TESTS=%q\n' "${names# }"
	printf 'RIG_ENV=%q\n' "$env"
	# One program may take a third of the VM's time before the guest
	# calls it hung (init.sh): the rest is left for the others. A run
	# of one long program (the soak) says how long it may take.
	printf 'RIG_TEST_TIMEOUT=%d\n' "${ptmo:-$((tmo / 3))}"
} > "$root/etc/rig.conf"

cpio_file=$ESTACK_BUILD/initramfs-$name.cpio
(cd "$root" && find . | cpio -o -H newc --quiet) > "$cpio_file"

mkdir -p "$ESTACK_RESULTS"
console=$ESTACK_RESULTS/console-$name.log
results=$ESTACK_RESULTS/results-$name.log
dmesg=$ESTACK_RESULTS/dmesg-$name.log
rm -f "$console" "$results" "$dmesg"

# VM_CPU: the guest's CPU model (QEMU's -cpu), "max" unless set, e.g.
# "max,-erms,-fsrm" to see what TCG's byte-at-a-time emulation of
# rep stosb and rep movsb costs the kernel's clear_page() and copies.
# VM_ACCEL: QEMU's accelerator, "tcg" unless set: "kvm" (with VM_CPU=host)
# where KVM runs full guests. It is never guessed: this project's machines
# have a /dev/kvm that runs only paravirtualised guests.
qemu=(qemu-system-x86_64 -machine q35 -accel "${VM_ACCEL:-tcg}"
      -cpu "${VM_CPU:-max}" -smp 2 -m "$mem"
      -no-reboot -kernel "$kernel" -initrd "$cpio_file"
      -nic none)
cmdline="console=ttyS0 panic=-1 nokaslr $append"

if [ "$mode" = shell ]; then
	exec "${qemu[@]}" -nographic -append "$cmdline" \
		-serial mon:stdio -serial null -serial null
fi

rig_log "booting $name VM ($mem MiB, timeout ${tmo}s)"

# Progress while the guest runs: each test program as it starts.
progress() {
	local seen=0 n line
	while sleep 5; do
		[ -f "$results" ] || continue
		n=0
		while IFS= read -r line; do
			line=${line%$'\r'}
			case $line in
			"### test "*" start" | "### test "*" start kselftest")
				line=${line% kselftest}
				n=$((n + 1))
				[ $n -le $seen ] || rig_log "$name: ${line#* test }"
				;;
			esac
		done < "$results"
		seen=$n
	done
}

# The symbols of a frozen guest's kernel, for vm-cpus.py name: its
# System.map, or where that is Debian's stub (the real one is in the -dbg
# package) the kernel's own /proc/kallsyms, from one more boot of it in
# cmd mode (nokaslr: the same addresses). Only a guest that ran out of
# time costs that boot; a module's symbols come from the address init.sh
# reported at insmod.
name_cpus() {
	local sysmap
	case $kernel in
	/boot/vmlinuz-*) sysmap=/boot/System.map-${kernel#/boot/vmlinuz-} ;;
	*/arch/x86/boot/bzImage)
		sysmap=${kernel%/arch/x86/boot/bzImage}/System.map ;;
	*) sysmap=/dev/null ;;
	esac
	if ! grep -qm1 ' [tT] ' "$sysmap" 2>/dev/null; then
		rig_log "$name: booting the kernel once more for its symbols"
		sysmap=$ESTACK_RESULTS/kallsyms-$name.txt
		# shellcheck disable=SC2016
		bash "$0" -k "$kernel" -n "$name-syms" -M cmd -r 1024 -T 300 \
			-c 'echo "### kallsyms start"; grep " [tT] " /proc/kallsyms && echo "### kallsyms end"' \
			< /dev/null 2>/dev/null |
			tr -d '\r' > "$sysmap" || true
	fi
	# shellcheck disable=SC2086
	/usr/bin/python3 "$ESTACK_TOP/tools/rig/vm-cpus.py" name "$looks" \
		"$sysmap" "$results" "$cpus" $modules || true
}

status=0
if [ "$mode" = cmd ]; then
	timeout --foreground -k 10 "$tmo" "${qemu[@]}" -display none \
		-append "$cmdline quiet" -serial stdio -serial null \
		-serial null -monitor none < /dev/null || status=$?
else
	progress &
	watcher=$!
	# 15 s before the end, a guest still running says where its vCPUs
	# are (vm-cpus.py sample): a frozen guest's console says nothing.
	# They are named once the VM is gone (below).
	mon=$ESTACK_BUILD/qemu-$name.mon
	cpus=$ESTACK_RESULTS/cpus-$name.log
	looks=$ESTACK_BUILD/cpus-$name.raw
	rm -f "$mon" "$cpus" "$looks"
	freeze_report() {
		local nap
		# Killed early (the guest finished), it takes its sleep along.
		sleep $((tmo > 30 ? tmo - 15 : tmo)) &
		nap=$!
		trap 'kill $nap 2>/dev/null; exit 0' TERM
		wait $nap
		[ -S "$mon" ] || return 0
		/usr/bin/python3 "$ESTACK_TOP/tools/rig/vm-cpus.py" sample \
			"$mon" "$looks"
	}
	freeze_report < /dev/null > /dev/null 2>&1 &
	freeze=$!
	# A guest kernel that dies before /init runs (seen once in a few
	# dozen boots of 6.12-rt under TCG, in early timekeeping) has not
	# run a line of estack: boot it once more, and say so. A death after
	# "init start" is the run's, and is judged.
	for attempt in 1 2; do
		status=0
		rm -f "$mon"
		timeout -k 10 "$tmo" "${qemu[@]}" -display none \
			-append "$cmdline" -serial "file:$console" \
			-serial "file:$results" -serial "file:$dmesg" \
			-monitor "unix:$mon,server=on,wait=off" \
			< /dev/null || status=$?
		grep -q '^### init start' "$results" 2>/dev/null && break
		grep -q 'Kernel panic' "$console" 2>/dev/null || break
		[ $attempt = 1 ] || break
		rig_log "$name: the guest kernel died before /init; booting again"
		cp "$console" "$ESTACK_RESULTS/console-$name-boot1.log"
	done
	kill "$watcher" "$freeze" 2>/dev/null || true
	wait "$watcher" "$freeze" 2>/dev/null || true
	rm -f "$mon"
	[ -s "$looks" ] && name_cpus
fi
[ $status = 124 ] && rig_log "$name VM did not finish in ${tmo}s"
exit $status
