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

[ -x /etc/rig-pre.sh ] && . /etc/rig-pre.sh

for m in $RIG_MODULES; do
	f=${m%%:*}
	args=
	case $m in *:*) args=$(echo "${m#*:}" | tr : ' ') ;; esac
	# shellcheck disable=SC2086
	if insmod "/lib/estack/$f" $args; then
		say "insmod $f ok"
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

for t in /opt/estack/tests/*; do
	[ -x "$t" ] || continue
	n=${t##*/}
	say "test $n start"
	(cd /tmp && "$t") > $R 2>&1 < /dev/null
	say "test $n exit $?"
done

[ -x /etc/rig-post.sh ] && . /etc/rig-post.sh

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

dmesg > /dev/ttyS2
say "done"
finish
