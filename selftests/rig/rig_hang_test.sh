#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A test that never ends: `make check-rig` adds it to prove that the VM
# timeout fails `make check`. Never part of a normal run.
echo "TAP version 13"
echo "1..1"
exec sleep 1000000
