#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# libestack's parser example on the module's stacks (a static build in
# build/tools, on the VM's PATH): fibers whose stacks grow to hundreds of
# KiB and shrink back. Exits non-zero on a wrong result or stacks that did
# not move.
# An installed kselftest tree keeps the programs this runs beside it.
PATH=$(cd "$(dirname "$0")" && pwd):$PATH
echo "TAP version 13"
echo "1..1"
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
run "parser: 64 fibers, depth up to 3000" parser
exit $status
