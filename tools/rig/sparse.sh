#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make sparse`: run sparse over every module source (C=2 checks all files,
# not only rebuilt ones) against the stock kernel's headers. Fails when
# sparse says anything about estack's own files.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

rel=$(stock_release) || rig_die "linux-image-amd64 is not installed"
log=$ESTACK_BUILD/sparse.log
mkdir -p "$ESTACK_BUILD"
build_module sparse "/lib/modules/$rel/build" C=2 CONFIG_ESTACK_RIG=m \
	2> "$log" || { cat "$log"; exit 1; }
if grep -E '(warning|error):' "$log" | grep -F "$ESTACK_BUILD/kmod-sparse/"; then
	echo "sparse: the lines above need fixing"
	exit 1
fi
echo "sparse: clean"
