#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Judge a run of run_kselftest.sh (make kselftest).

The kselftest runner prints one TAP line per program ("ok 3 selftests:
estack: move_test", "not ok 4 ... # exit=1", "# SKIP", "# TIMEOUT")
and each program's own TAP prefixed with "# ". Each program's lines are
judged as report.py judges a program of make check: every case passes (a
skip is a failure), the plan matches the results and the exit status.
Prints one line per check and "N passed, N failed"; exits 1 on a failure.
"""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402

HEADER = re.compile(r"^# selftests: estack: (\S+)$")
RESULT = re.compile(r"^(not ok|ok) \d+ selftests: estack: (\S+)(?: # (.*))?$")


def exit_status(status, directive):
    """The program's exit status, as the runner reports it."""
    if status == "ok":
        return 4 if directive and directive.startswith("SKIP") else 0
    m = re.match(r"exit=(\d+)", directive or "")
    if m:
        return int(m.group(1))
    return 124 if directive and directive.startswith("TIMEOUT") else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vm-status", type=int, required=True)
    ap.add_argument("tap")
    ap.add_argument("program", nargs="+")
    a = ap.parse_args()

    sections, cur, done = {}, None, None
    with open(a.tap, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = HEADER.match(line)
            if m:
                cur = m.group(1)
                sections[cur] = {"lines": [], "exit": None}
                continue
            m = RESULT.match(line)
            if m and m.group(2) in sections:
                sections[m.group(2)]["exit"] = exit_status(m.group(1),
                                                           m.group(3))
                cur = None
                continue
            m = re.match(r"^### kselftest exit (\d+)$", line)
            if m:
                done = int(m.group(1))
            if cur is not None and line.startswith("# "):
                sections[cur]["lines"].append(line[2:])

    rep = report.Report("kselftest", os.devnull)
    rep.check(a.vm_status == 0, "VM finished by itself",
              f"status {a.vm_status}")
    rep.check(done == 0, "run_kselftest.sh exited 0", f"exit {done}")
    for prog in a.program:
        sec = sections.get(prog)
        if sec is None:
            rep.check(False, f"{prog}: ran", "not in the runner's output")
            continue
        report.judge_program(rep, prog, sec)
    print(f"{rep.passed} passed, {rep.failed} failed")
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
