#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Where a guest that stopped answering is: each vCPU's RIP, by symbol.

vm.sh runs "sample" a little before a VM's time runs out, when the guest
has not powered off by itself. A guest whose tasks all sleep while a timer
never fires, or whose CPUs spin with interrupts off, prints nothing on its
console (the hung-task and lockup detectors need the very timers and
interrupts that stopped), but QEMU still knows where each vCPU is. Once
the VM is gone, "name" gives each address its symbol: the guest runs with
nokaslr, so System.map has them, or, where that is a stub (Debian's
kernels), the /proc/kallsyms of one more boot of the same kernel (vm.sh).

Usage: vm-cpus.py sample MONITOR-SOCKET LOOKS
       vm-cpus.py name LOOKS SYSTEM-MAP RESULTS OUT [MODULE.ko...]
"""
import bisect
import os
import re
import socket
import subprocess
import sys
import time

SAMPLES = 3
SAMPLE_GAP = 2.0


def monitor(path, command, wait=10.0):
    """One HMP command's output through QEMU's monitor socket."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(wait)
    s.connect(path)
    buf = b""

    def until_prompt():
        nonlocal buf
        end = time.monotonic() + wait
        while b"(qemu) " not in buf and time.monotonic() < end:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        out, _, buf = buf.partition(b"(qemu) ")
        return out

    until_prompt()
    s.sendall(command.encode() + b"\n")
    out = until_prompt()
    s.close()
    return out.decode(errors="replace")


def load_map(path):
    """Text symbols of a System.map, as (address, name), and whether they
    are all there: a System.map's are; the kallsyms of vm.sh's extra boot
    only when its end line came."""
    syms = []
    whole = True
    try:
        with open(path, errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[1] in "tTwW":
                    syms.append((int(parts[0], 16), parts[2]))
                elif parts[:3] == ["###", "kallsyms", "start"]:
                    whole = False
                elif parts[:3] == ["###", "kallsyms", "end"]:
                    whole = True
    except (OSError, ValueError):
        pass
    return syms, whole


def load_modules(results, modules):
    """A loaded module's .text symbols, placed where init.sh saw it."""
    base = {}
    try:
        with open(results, errors="replace") as f:
            for line in f:
                m = re.match(r"### module (\S+) text 0x([0-9a-f]+)", line)
                if m:
                    base[m.group(1)] = int(m.group(2), 16)
    except OSError:
        pass
    syms = []
    for ko in modules:
        name = os.path.basename(ko.split(":")[0])
        if name not in base:
            continue
        nm = subprocess.run(["nm", "--defined-only", ko],
                            capture_output=True, text=True).stdout
        for line in nm.splitlines():
            parts = line.split()
            # In a relocatable object a .text symbol's value is its offset.
            if len(parts) == 3 and parts[1] in "tT":
                syms.append((base[name] + int(parts[0], 16),
                             f"{parts[2]} [{name[:-3]}]"))
    return syms


def symbol(addrs, names, rip, cut=None):
    """RIP by symbol. cut: the last kernel symbol, when the guest's list
    stopped short: past it, the nearest symbol is not the function."""
    if rip < 1 << 63:
        return "user space"
    i = bisect.bisect_right(addrs, rip) - 1
    if i < 0 or rip - addrs[i] > 1 << 20:
        return "(no symbol)"
    if cut is not None and (addrs[i], names[i]) == cut:
        return "(past the kernel symbols the guest sent)"
    return f"{names[i]}+{rip - addrs[i]:#x}"


def sample(sock, looks):
    """A few looks, a second or two apart: a CPU that is always at the
    same place is stuck there; one that moves is busy (a storm, a
    livelock). The monitor's own words, for name()."""
    with open(looks, "w") as f:
        for look in range(SAMPLES):
            if look:
                time.sleep(SAMPLE_GAP)
            f.write(f"### look {look + 1}\n")
            try:
                f.write(monitor(sock, "info registers -a"))
            except OSError as e:
                f.write(f"### monitor: {e}\n")
            f.flush()


def name(looks, sysmap, results, out, modules):
    """Each look's CPUs by symbol, with their flags: a guest that lost its
    mind may show flags no code of its own set."""
    kernel, whole = load_map(sysmap)
    cut = max(kernel) if kernel and not whole else None
    syms = sorted(kernel + load_modules(results, modules))
    addrs, names = [a for a, _ in syms], [n for _, n in syms]
    try:
        with open(looks, errors="replace") as f:
            regs = f.read()
    except OSError:
        regs = ""
    lines = []
    look = 0
    cpu = 0
    # A CPU in a 32-bit process shows EIP and EFL, else RIP and RFL.
    for m in re.finditer(r"(?:### look (\d+))|(?:### (monitor: .*))|"
                         r"(?:CPU#(\d+))|[RE]IP=([0-9a-f]{8,16})|"
                         r"[RE]FL=([0-9a-f]{8})|HLT=(\d)", regs):
        if m.group(1):
            look = int(m.group(1))
        elif m.group(2):
            lines.append(f"look {look}: {m.group(2)}")
        elif m.group(3) is not None:
            cpu = int(m.group(3))
        elif m.group(4):
            rip = int(m.group(4), 16)
            lines.append(f"look {look}: cpu{cpu} rip {rip:#x} "
                         f"{symbol(addrs, names, rip, cut)}")
        elif m.group(5) and lines:
            lines[-1] += f" eflags {m.group(5)}"
        elif m.group(6) == "1" and lines:
            lines[-1] += " (halted: idle)"
    if not kernel:
        lines.append(f"no kernel symbols in {sysmap}")
    elif not whole:
        lines.append(f"{sysmap}: not all of the kernel's symbols")
    with open(out, "w") as f:
        f.write("\n".join(lines or ["no registers"]) + "\n")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "sample":
        sample(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 6 and sys.argv[1] == "name":
        name(*sys.argv[2:6], sys.argv[6:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
