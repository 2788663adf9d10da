#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Judge one VM run of the estack rig.

Reads what the guest wrote (results-NAME.log: rig markers and the TAP of
each test program; dmesg-NAME.log) and prints one TAP-style line per check:
the VM finished, each module loaded and unloaded, /dev/estack existed, every
test case passed (a skip is a failure: the rig provides every precondition),
each program's plan matches its results and its exit status, and the kernel
log holds no warning, bug or sanitizer report. The TAP of the test programs
is saved as selftests-NAME.tap and the pass/fail counts are appended to the
tally file that check.sh totals.
"""

import argparse
import os
import re
import sys

# Kernel log lines that mean the run is not clean. Case matters: "BUG:" is
# a report, "report a bug" in a boot message is not.
BAD_DMESG = re.compile(
    r"WARNING:|BUG:|Oops|general protection fault|Kernel panic|"
    r"KASAN|UBSAN|KCSAN|kmemleak:.*(?:new suspected|unreferenced)|"
    r"unreferenced object|possible circular locking|"
    r"possible recursive locking|inconsistent lock state|"
    r"suspicious RCU usage|INFO: task .* blocked|"
    r"sleeping function called from invalid context|"
    r"list_add corruption|list_del corruption|refcount_t:|"
    r"estack\w*: .*left allocated|Call Trace:|"
    r"kmemleak: .*(?:disabled|[Ee]rror)|Kernel memory leak detector disabled")

# The OOM report of an OOM a test starts on purpose (sysrq 'f', as
# hidden_test does) prints a call trace. Only the sysrq worker runs
# moom_callback: a call trace is allowed right after that worker's
# "invoked oom-killer" header and nowhere else; every other complaint,
# and a real OOM, still fails the run.
def sysrq_oom_trace(log, i):
    before = log[max(0, i - 6):i]
    return ("Call Trace:" in log[i] and
            any("Workqueue: events moom_callback" in ln for ln in before[-3:]) and
            any("invoked oom-killer:" in ln for ln in before))


# The 6.1 harness prints a skipped case as "ok N # SKIP reason", with no
# description: the directive may follow the number directly.
TAP_RESULT = re.compile(r"^(not ok|ok) (\d+)(?: (.*?))??(?:\s*#\s*(SKIP|TODO)\b\s*(.*))?$",
                        re.IGNORECASE)

# Skips that are expected, as (stage prefix, program, start of the
# reason); any other skip fails the run. The rig provides every
# precondition of every test it runs (root, the device, cgroup v2, fault
# injection, process_vm_writev() and userfaultfd() in the debug kernel).
# An entry needs a comment saying why the skip is right.
ALLOWED_SKIPS = [
    # None: the debug kernels have process_vm_writev() and userfaultfd()
    # since 2026-12-05 (debug.config), so every case runs on every stage.
]
TAP_PLAN = re.compile(r"^1\.\.(\d+)(?:\s*#\s*SKIP\b\s*(.*))?", re.IGNORECASE)


class Report:
    def __init__(self, name, tally):
        self.name = name
        self.tally = tally
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def check(self, ok, what, why=""):
        if ok:
            self.passed += 1
            print(f"ok {self.name}: {what}")
        else:
            self.failed += 1
            print(f"not ok {self.name}: {what}" + (f" # {why}" if why else ""))

    def skip(self, what, why):
        self.skipped += 1
        print(f"ok {self.name}: {what} # SKIP {why}")

    def close(self):
        with open(self.tally, "a") as f:
            f.write(f"{self.name} {self.passed} {self.failed} {self.skipped}\n")


def parse_sections(lines):
    """Split results-NAME.log into markers and sections.

    Sections are keyed "test PROG", "kunit SUITE" and "kmemleak"; a test
    section also records its exit status.
    """
    markers, sections, cur = [], {}, None
    for line in lines:
        if line.startswith("### "):
            m = line[4:].strip()
            markers.append(m)
            t = re.match(r"(test \S+|kunit \S+|kmemleak) start( kselftest)?$",
                         m)
            if t:
                cur = t.group(1)
                sections[cur] = {"lines": [], "exit": None, "timeout": None,
                                 "runner": bool(t.group(2))}
                continue
            t = re.match(r"(test \S+) timeout (\d+)$", m)
            if t and t.group(1) in sections:
                sections[t.group(1)]["timeout"] = int(t.group(2))
            t = re.match(r"(test \S+) exit (\d+)$", m)
            if t and t.group(1) in sections:
                sections[t.group(1)]["exit"] = int(t.group(2))
            t = re.match(r"(kunit \S+|kmemleak) end$", m)
            cur = None
            continue
        if cur is not None:
            sections[cur]["lines"].append(line)
    return markers, sections


KTAP_RESULT = re.compile(r"^( *)(not ok|ok) (\d+) (?:- )?(\S+)(?: # (\w+))?")


def judge_kunit(rep, suite, sec, out):
    """One check per test case of a suite (KTAP from debugfs)."""
    if sec is None:
        rep.check(False, f"kunit {suite}", "no results: did the module load?")
        return
    out.write("\n".join(sec["lines"]) + "\n")
    cases, plan, suite_ok, fails = 0, None, None, []
    for line in sec["lines"]:
        m = re.match(r"^    1\.\.(\d+)", line)
        if m and plan is None:
            plan = int(m.group(1))
        m = KTAP_RESULT.match(line)
        if not m:
            continue
        indent, status, _n, name, directive = m.groups()
        if len(indent) == 8 and (status != "ok" or directive == "SKIP"):
            # a failed (or skipped) parameter of a case
            fails.append(name + (" (skipped)" if status == "ok" else ""))
        elif len(indent) == 4:
            cases += 1
            ok = status == "ok" and directive != "SKIP" and not fails
            rep.check(ok, f"kunit {suite}.{name}",
                      "failed params: " + ", ".join(fails) if fails else
                      ("skipped" if directive == "SKIP" else ""))
            fails = []
        elif len(indent) == 0:
            suite_ok = status == "ok"
    # The suite's own line too: a suite_init or suite_exit that fails
    # says "not ok" there with every case ok.
    rep.check(plan is not None and plan == cases and suite_ok is True,
              f"kunit {suite}: plan and results agree",
              f"plan {plan}, {cases} cases, suite line {suite_ok}")


# run_kselftest.sh's verdict on one program: ok, ok # SKIP (exit 4),
# not ok # exit=N, not ok # TIMEOUT N seconds.
RUNNER_RESULT = re.compile(r"^(not ok|ok) \d+ selftests: \S+: (\S+)"
                           r"(?: # (SKIP|exit=(\d+)|TIMEOUT.*))?$")


def unwrap_runner(sec):
    """The program's own lines and exit status from the runner's TAP.

    The runner prefixes every line the program writes with "# "; its own
    lines (TAP header, plan, verdict) are unprefixed.
    """
    lines, status = [], None
    for line in sec["lines"]:
        if line.startswith("# "):
            lines.append(line[2:])
            continue
        m = RUNNER_RESULT.match(line)
        if not m:
            continue
        if m.group(3) == "SKIP":
            status = 4
        elif m.group(4):
            status = int(m.group(4))
        elif m.group(3):
            status = "timeout"
        else:
            status = 0 if m.group(1) == "ok" else 1
    return lines, status


def skip_allowed(rep, prog, reason):
    """Whether ALLOWED_SKIPS lets program prog skip for reason here."""
    return any(rep.name.startswith(st) and p == prog and
               reason.startswith(r) for st, p, r in ALLOWED_SKIPS)


def judge_program(rep, prog, sec):
    """One check per test case of a kselftest program, plus its plan."""
    plan, results = None, []
    lines = sec["lines"]
    if sec.get("runner"):
        lines, status = unwrap_runner(sec)
        if status == "timeout":
            sec = dict(sec, timeout="runner")
        # A program killed with the runner has no verdict of the runner.
        sec = dict(sec, exit=status if sec["exit"] is not None else None)
    plan_skip = None
    for line in lines:
        m = TAP_PLAN.match(line)
        if m and plan is None:
            plan = int(m.group(1))
            plan_skip = m.group(2)
            continue
        m = TAP_RESULT.match(line)
        if m:
            results.append(m.groups())
    for status, num, desc, directive, reason in results:
        label = f"{prog}: {desc or 'case ' + num}"
        if directive and directive.upper() == "SKIP":
            reason = (reason or "").strip()
            if skip_allowed(rep, prog, reason):
                rep.skip(label, reason)
            else:
                rep.check(False, label, "unexpected skip: " + reason)
        else:
            rep.check(status == "ok" and not directive, label)
    if sec.get("timeout") is not None:
        t = sec["timeout"]
        rep.check(False, f"{prog}: finished",
                  f"hung: killed after {t} s (the console has sysrq's "
                  "task dump)" if isinstance(t, int) else
                  "hung: the kselftest runner's timeout (settings) expired")
        return
    if sec["exit"] is None:
        rep.check(False, f"{prog}: finished", "no exit status: crashed or hung")
        return
    # A program that ran no case passed nothing: a skip of the whole
    # program ("1..0 # SKIP why", exit 4, as ksft_exit_skip() ends) is
    # a skip where ALLOWED_SKIPS allows it, and every other a failure.
    if not results:
        reason = (plan_skip or "").strip()
        if ((plan_skip is not None or sec["exit"] == 4) and
                skip_allowed(rep, prog, reason)):
            rep.skip(f"{prog}: ran", reason)
        else:
            rep.check(False, f"{prog}: ran",
                      f"no test case ran (plan {plan}, exit {sec['exit']}"
                      + (f", skipped: {reason}" if plan_skip is not None
                         or sec["exit"] == 4 else "") + ")")
        return
    # The harness exits 0 when every case passed or skipped.
    all_ok = all(r[0] == "ok" and (not r[3] or r[3].upper() == "SKIP")
                 for r in results)
    consistent = plan is not None and plan == len(results)
    rep.check(consistent and (sec["exit"] == 0) == all_ok,
              f"{prog}: plan and exit status agree",
              f"plan {plan}, {len(results)} results, exit {sec['exit']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--results-dir", required=True)
    ap.add_argument("--vm-status", type=int, required=True)
    ap.add_argument("--module", action="append", default=[])
    ap.add_argument("--program", action="append", default=[])
    ap.add_argument("--kunit-suite", action="append", default=[])
    ap.add_argument("--kmemleak", action="store_true")
    ap.add_argument("--tally", required=True)
    ap.add_argument("--rig-crash", action="store_true",
                    help="crash on purpose (make check-rig)")
    a = ap.parse_args()
    if a.rig_crash:
        raise RuntimeError("report.py: a deliberate crash for check-rig")

    rep = Report(a.name, a.tally)
    d = a.results_dir

    def read(fname):
        path = os.path.join(d, fname)
        if not os.path.exists(path):
            return []
        with open(path, errors="replace") as f:
            return [ln.rstrip("\r\n") for ln in f]

    results = read(f"results-{a.name}.log")
    markers, sections = parse_sections(results)

    rep.check(a.vm_status == 0, "VM finished by itself",
              "timed out" if a.vm_status == 124 else f"qemu status {a.vm_status}")
    # Where the vCPUs of a guest that ran out of time were (vm-cpus.py).
    if a.vm_status == 124:
        for ln in read(f"cpus-{a.name}.log"):
            print(f"#   {ln}")
    for mod in a.module:
        rep.check(f"insmod {mod} ok" in markers, f"insmod {mod}")
    rep.check("device /dev/estack ok" in markers, "/dev/estack present")

    with open(os.path.join(d, f"selftests-{a.name}.tap"), "w") as tap:
        for prog in a.program:
            sec = sections.get(f"test {prog}")
            if sec is None:
                rep.check(False, f"{prog}: ran", "never started")
                continue
            tap.write(f"# selftest {prog}\n")
            tap.write("\n".join(sec["lines"]) + "\n")
            judge_program(rep, prog, sec)

    # A hung program: where the blocked tasks wait (sysrq w), in the
    # report itself, since a CI log shows little else.
    if any(s.get("timeout") for s in sections.values()):
        console = read(f"console-{a.name}.log")
        start = [i for i, ln in enumerate(console)
                 if "Show Blocked State" in ln]
        for ln in console[start[0]:start[0] + 60] if start else []:
            print(f"#   {ln}")

    # Every suite that ran is judged, listed or not; a listed suite that
    # did not run fails.
    ran = [k[len("kunit "):] for k in sections if k.startswith("kunit ")]
    suites = a.kunit_suite + [s for s in ran if s not in a.kunit_suite]
    if suites:
        with open(os.path.join(d, "kunit.tap"), "w") as ktap:
            # Each debugfs results file is a KTAP document of one suite;
            # kunit.tap keeps them in load order.
            for suite in suites:
                judge_kunit(rep, suite, sections.get(f"kunit {suite}"), ktap)

    if a.kmemleak:
        # kmemleak turns itself off (its object pool ran out, say) and then
        # finds nothing: a scan must have run, twice, with it on.
        rep.check("kmemleak scanned" in markers, "kmemleak on and scanned",
                  "kmemleak absent, off, or its scan failed")
        sec = sections.get("kmemleak")
        leaks = [ln for ln in sec["lines"] if "unreferenced object" in ln] \
            if sec else []
        rep.check(sec is not None and not leaks, "kmemleak scan clean",
                  f"{len(leaks)} leaks" if sec else "no scan")
        for ln in (sec["lines"] if leaks else [])[:40]:
            print(f"#   {ln}")

    for mod in reversed(a.module):
        base = mod[:-3] if mod.endswith(".ko") else mod
        rep.check(f"rmmod {base} ok" in markers, f"rmmod {base}")
    rep.check("done" in markers, "guest completed its script")

    # Both: dmesg is the ring buffer at the end (its start may have been
    # overwritten), the console saw every line as it came.
    for source in ("dmesg", "console"):
        log = read(f"{source}-{a.name}.log")
        bad = [ln for i, ln in enumerate(log)
               if BAD_DMESG.search(ln) and not sysrq_oom_trace(log, i)]
        rep.check(bool(log) and not bad, f"kernel log clean ({source})",
                  "; ".join(bad[:3]) if bad else "no kernel log")
        for ln in bad[:40]:
            print(f"#   {ln}")
    rep.close()
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
