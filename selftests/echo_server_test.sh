#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# libestack's echo server on the module's stacks (a static build in
# build/tools, on the VM's PATH): 5,000 connections, smaller than its
# default 100,000 (which make check runs natively: under QEMU TCG that
# would take too long), one fiber per connection on each side. Exits
# non-zero on a wrong echo, a timeout or stacks that did not move. The
# stock kernels only: the debug kernel is built without CONFIG_INET.
# An installed kselftest tree keeps the programs this runs beside it.
PATH=$(cd "$(dirname "$0")" && pwd):$PATH
echo "TAP version 13"
echo "1..1"
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
exit $status
