#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the estack test VM. Settings come from /etc/rig.conf:
#   RIG_MODE   check: load modules, run every test, report, power off
#              cmd:   load modules, run RIG_CMD, power off
#              shell: load modules, give an interactive shell
#   RIG_MODULES  modules to insmod, in order, as FILE.ko[:ARG[:ARG...]]
#              (files under /lib/estack)
#
# Reports go to the second serial port so that they never interleave with
# kernel messages on the console; dmesg goes to the third.

/bin/busybox --install -s /bin
export PATH=/opt/estack/bin:/opt/estack/tests:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
[ -d /sys/fs/cgroup ] && mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
. /etc/rig.conf

R=/dev/ttyS1
say() { echo "### $*" > $R; }

finish() {
	sync
	# With -no-reboot, QEMU exits when the guest reboots.
	reboot -f
	sleep 5
	poweroff -f
}

# Debug kernel: let fail-nth reach sleeping and order-0 allocations (both
# skipped by default), one line per injected fault and no stack dump. The
# probabilities stay 0: only a task that writes its fail-nth gets faults.
FI=/sys/kernel/debug
if [ -d $FI/failslab ]; then
	echo N > $FI/failslab/ignore-gfp-wait
	echo N > $FI/fail_page_alloc/ignore-gfp-wait
	echo 0 > $FI/fail_page_alloc/min-order
	for f in failslab fail_page_alloc fail_usercopy; do
		echo 1 > $FI/$f/verbose
	done
fi

# Two memory cgroups for the tests that check cgroup keying.
CG=/sys/fs/cgroup
if grep -qw memory $CG/cgroup.controllers 2>/dev/null; then
	echo +memory > $CG/cgroup.subtree_control
	mkdir -p $CG/estack-kunit-a $CG/estack-kunit-b
fi

# The kernel booted and this script runs: from here on a crash is the run's.
say "init start"

# kmemleak knows of an early-boot object of swapper/0: forget everything
# from before the module, scan after it is gone.
KMEMLEAK=/sys/kernel/debug/kmemleak
[ -w $KMEMLEAK ] && echo clear > $KMEMLEAK

for m in $RIG_MODULES; do
	f=${m%%:*}
	args=
	case $m in *:*) args=$(echo "${m#*:}" | tr : ' ') ;; esac
	# shellcheck disable=SC2086
	if insmod "/lib/estack/$f" $args; then
		say "insmod $f ok"
		# For vm-cpus.py: where the module's code is.
		t=/sys/module/${f%.ko}/sections/.text
		[ -r "$t" ] && say "module $f text $(cat "$t")"
	else
		say "insmod $f failed"
	fi
done
[ -c /dev/estack ] && say "device /dev/estack ok"

case "$RIG_MODE" in
shell)
	echo "estack VM: modules loaded ($RIG_MODULES); 'reboot -f' quits"
	setsid cttyhack sh
	finish
	;;
cmd)
	sh -c "$RIG_CMD"
	echo "estack VM: command exited with $?"
	finish
	;;
esac

# A program that outlives RIG_TEST_TIMEOUT seconds is hung: the kernel
# first says where every task is (sysrq w: the blocked ones; t: all, for a
# task spinning in user space), then the program's process group is
# killed, and the stage goes on with the next program instead of losing
# every result to the stage's own timeout.
watchdog() {	# PID NAME
	i=0
	while [ $i -lt "$RIG_TEST_TIMEOUT" ]; do
		sleep 1
		kill -0 "$1" 2>/dev/null || return 0
		i=$((i + 1))
	done
	say "test $2 timeout $RIG_TEST_TIMEOUT"
	echo w > /proc/sysrq-trigger
	echo t > /proc/sysrq-trigger
	kill -9 -"$1" 2>/dev/null
}

# With an installed kselftest tree (make check's stages), each program
# runs under the kernel's own runner, run_kselftest.sh, as upstream CI
# runs it: its TAP wraps the program's, every line of which it prefixes
# with "# " (report.py unwraps them). The runner writes to /dev/stdout,
# which the busybox devtmpfs lacks.
KSFT=/opt/estack/kselftest
if [ -x $KSFT/run_kselftest.sh ]; then
	ln -sf /proc/self/fd /dev/fd
	ln -sf fd/0 /dev/stdin
	ln -sf fd/1 /dev/stdout
	ln -sf fd/2 /dev/stderr
fi

# In the order the rig gave (RIG_TESTS), so that results are comparable.
for n in $RIG_TESTS; do
	t=/opt/estack/tests/$n
	[ -x "$t" ] || continue
	k=
	for f in $n $n.sh; do
		[ -x $KSFT/estack/$f ] && k=$f
	done
	if [ -n "$k" ]; then
		say "test $n start kselftest"
		set -- sh -c "cd $KSFT && exec ./run_kselftest.sh -t estack:$k"
	else
		say "test $n start"
		set -- sh -c "cd /tmp && exec $t"
	fi
	t0=$(cut -d' ' -f1 /proc/uptime)
	# Its own session and process group (setsid does not fork here: a
	# background job is no group leader), so the kill reaches its children.
	# shellcheck disable=SC2086
	setsid env $RIG_ENV "$@" > $R 2>&1 < /dev/null &
	pid=$!
	wd=
	if [ "${RIG_TEST_TIMEOUT:-0}" -gt 0 ]; then
		watchdog $pid "$n" &
		wd=$!
	fi
	wait $pid
	st=$?
	[ -z "$wd" ] || { kill $wd 2>/dev/null; wait $wd 2>/dev/null; }
	say "test $n exit $st"
	say "time $n $t0 $(cut -d' ' -f1 /proc/uptime)"
done

# KUnit suites of loaded modules ran at insmod; their results (KTAP with
# its header) live in debugfs until the module goes.
for d in /sys/kernel/debug/kunit/*/; do
	[ -r "$d/results" ] || continue
	s=${d%/}
	s=${s##*/}
	say "kunit $s start"
	cat "$d/results" > $R
	say "kunit $s end"
done

# Unload in reverse; a module that refuses to go is reported.
rev=
for m in $RIG_MODULES; do rev="${m%%:*} $rev"; done
for m in $rev; do
	name=${m%.ko}
	if rmmod "$name"; then
		say "rmmod $name ok"
	else
		say "rmmod $name failed"
	fi
done

if [ -e $KMEMLEAK ]; then
	# Only objects older than 5 s are reported; the second scan catches
	# what the first saw as still referenced from a stale pointer. A
	# kmemleak that turned itself off refuses the write.
	sleep 6
	if echo scan > $KMEMLEAK && sleep 1 && echo scan > $KMEMLEAK; then
		say "kmemleak scanned"
	fi
	say "kmemleak start"
	cat $KMEMLEAK > $R
	say "kmemleak end"
fi

dmesg > /dev/ttyS2
say "done"
finish
