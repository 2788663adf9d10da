#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Expand the kernel-doc directives of Documentation/*.rst into build/docs.

Usage: docs.py LINUX_SRC TOP OUTDIR

Handles what the kernel's Sphinx extension does for the forms used here:
".. kernel-doc:: FILE" with ":doc: TITLE", ":internal:" or no option.
Fails (exit 1) when kernel-doc warns. Documentation/images (the SVG plots
of benchmarks.rst) is copied beside the pages, so that their
".. figure:: images/..." resolve in OUTDIR as in the tree; a figure whose
file is missing fails.
"""

import os
import re
import shutil
import subprocess
import sys


def kernel_doc(linux_src, top, path, opts):
    cmd = ["perl", os.path.join(linux_src, "scripts/kernel-doc"), "-rst",
           "-Werror"]
    if "doc" in opts:
        cmd += ["-function", opts["doc"]]
    elif "internal" in opts:
        cmd += ["-internal"]
    cmd.append(os.path.join(top, path))
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.stderr.write(r.stderr)
        raise SystemExit(1)
    return r.stdout


def main():
    linux_src, top, out = sys.argv[1:4]
    os.makedirs(out, exist_ok=True)
    docdir = os.path.join(top, "Documentation")
    for name in sorted(os.listdir(docdir)):
        if not name.endswith(".rst"):
            continue
        with open(os.path.join(docdir, name)) as f:
            lines = f.read().split("\n")
        res, i = [], 0
        while i < len(lines):
            m = re.match(r"\.\. kernel-doc:: (\S+)", lines[i])
            if not m:
                res.append(lines[i])
                i += 1
                continue
            opts, i = {}, i + 1
            while i < len(lines) and re.match(r"\s+:(\w+):", lines[i]):
                o = re.match(r"\s+:(\w+):\s*(.*)", lines[i])
                opts[o.group(1)] = o.group(2).strip()
                i += 1
            res.append(kernel_doc(linux_src, top, m.group(1), opts))
        with open(os.path.join(out, name), "w") as f:
            f.write("\n".join(res))
        check_images(docdir, name, res)
    images = os.path.join(docdir, "images")
    if os.path.isdir(images):
        shutil.copytree(images, os.path.join(out, "images"),
                        dirs_exist_ok=True)
    print(f"docs: {out}")


def check_images(docdir, name, lines):
    """Fail on an image or figure directive naming a file not in the tree."""
    for line in lines:
        m = re.match(r"\.\. (?:image|figure):: (\S+)", line)
        if m and not os.path.isfile(os.path.join(docdir, m.group(1))):
            sys.stderr.write(f"docs: {name}: {m.group(1)} is missing\n")
            raise SystemExit(1)


if __name__ == "__main__":
    main()
