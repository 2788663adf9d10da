#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the Go peer of estack-demo -P (tools/bench/gopeer/main.go) as a
# static binary OUTDIR/estack-gopeer, with Debian's golang-go (installed
# here if `go` is missing). Standard library only, no modules: nothing is
# downloaded, and the Go build cache lives beside OUTDIR, not in the tree.
#
#   build-gopeer.sh OUTDIR
#
# With OUTDIR=build/tools, tools/rig/vm-run.sh copies the binary into the
# test VM's PATH; `make -C tools` leaves it there (only its clean drops it).
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
src=$(cd "$(dirname "$0")/gopeer" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)

if ! command -v go >/dev/null; then
	SUDO=
	[ "$(id -u)" = 0 ] || SUDO=sudo
	echo "build-gopeer: installing golang-go" >&2
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
		--no-install-recommends golang-go >/dev/null
fi

cache=$(dirname "$out")/gopeer-cache
mkdir -p "$cache"
# GOENV=off: no user go.env; GOPROXY=off and GO111MODULE=off: no network.
env GOENV=off GO111MODULE=off GOPROXY=off GOFLAGS=-trimpath \
	CGO_ENABLED=0 GOCACHE="$cache/build" GOPATH="$cache/path" \
	go build -o "$out/estack-gopeer" "$src/main.go"

if ! file "$out/estack-gopeer" | grep -q 'statically linked'; then
	file "$out/estack-gopeer" >&2
	echo "build-gopeer: $out/estack-gopeer is not static" >&2
	exit 1
fi
echo "build-gopeer: $out/estack-gopeer ($(go version | cut -d' ' -f3))" >&2
