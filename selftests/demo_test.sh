#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# estack-demo as a test: fibers grow and shrink their stacks and every
# result is checked (the demo exits non-zero on a wrong result).
# An installed kselftest tree keeps the programs this runs beside it.
PATH=$(cd "$(dirname "$0")" && pwd):$PATH
echo "TAP version 13"
echo "1..1"
if out=$(estack-demo -n 400 -d 150 -r 4 2>&1); then
	echo "$out" | sed 's/^/# /'
	echo "ok 1 estack-demo"
else
	echo "$out" | sed 's/^/# /'
	echo "not ok 1 estack-demo"
	exit 1
fi
