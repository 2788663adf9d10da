#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# libestack's examples on the module's stacks (static builds in
# build/tools, on the VM's PATH): the echo server (smaller
# than its default 100,000 connections, which make check runs natively:
# under QEMU TCG in a 2 GiB guest that would take too long) and the
# parser whose fibers grow to hundreds of KiB and shrink back. Each exits
# non-zero on a wrong result, a timeout or stacks that did not move.
echo "TAP version 13"
echo "1..2"
# The VM's init leaves the loopback down: up, it has 127.0.0.1/8.
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null
n=0 status=0
run() {	# NAME COMMAND...
	name=$1
	shift
	n=$((n + 1))
	if out=$("$@" 2>&1); then
		echo "$out" | sed 's/^/# /'
		echo "ok $n $name"
	else
		echo "$out" | sed 's/^/# /'
		echo "not ok $n $name"
		status=1
	fi
}
run "echo-server: 5000 connections" echo-server -n 5000 -t 300
run "parser: 64 fibers, depth up to 3000" parser
exit $status
