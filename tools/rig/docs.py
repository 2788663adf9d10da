#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Build Documentation/ with the kernel's own Sphinx setup, warnings fatal.

Usage: docs.py LINUX_SRC TOP OUTDIR

The pages sit where they would in a kernel tree (userspace-api/,
admin-guide/mm/, mm/, ABI/). They are built as a kernel tree builds its
own: Documentation/conf.py, Documentation/sphinx/ (the kernel-doc,
kernel-abi ... extensions), Documentation/sphinx-static/ and
scripts/kernel-doc and scripts/get_abi.pl, all taken from LINUX_SRC, with
our Documentation/ copied beside them into a scratch tree, OUTDIR-src
(with the kernel's admin-guide/abi-testing.rst, which renders
Documentation/ABI/testing). Then, as the kernel's Documentation/Makefile
does:

  sphinx-build -b html -c STAGE/Documentation -D kerneldoc_srctree=TOP
      -D kerneldoc_bin=STAGE/scripts/kernel-doc ... STAGE/Documentation OUTDIR

with srctree=STAGE and SPHINX_CONF=tools/rig/docs-conf.py (the kernel's
way of overriding conf.py for a part of the tree: the project's name, no
kernel logo), so that each ".. kernel-doc:: uapi/linux/estack.h" is
expanded by the kernel's extension from our sources. Fails (exit 1) on:

  - any Sphinx warning (-W --keep-going: every one is shown), among them a
    broken :doc: reference, a page in no toctree, a missing figure;
  - any kernel-doc warning (KDOC_WERROR=1: kernel-doc then fails, which
    the extension reports as a warning);
  - anything scripts/get_abi.pl validate says of Documentation/ABI;
  - any line on sphinx-build's stderr other than the theme it names;
  - a path "Documentation/..." named in a tracked file (a script, a C
    comment, a man page, README.md) that exists neither here nor in
    LINUX_SRC (the kernel's own pages may be named), the check the
    kernel's scripts/documentation-file-ref-check makes, here including
    shell scripts and makefiles.

SPHINXBUILD (default sphinx-build, Debian's python3-sphinx) names the
program. OUTDIR/index.html is the first page.
"""

import glob
import os
import re
import shutil
import subprocess
import sys

# What sphinx-build may print on stderr without a warning: conf.py's note.
QUIET_OK = re.compile(r"^Using \S+ theme$")
REF = re.compile(r"Documentation/[A-Za-z0-9_.,~/*?+-]*")


def fail(msg):
    sys.stderr.write(f"docs: {msg}\n")
    raise SystemExit(1)


def stage(linux_src, top, stg):
    """The scratch tree: the kernel's Sphinx setup around our pages."""
    if os.path.isdir(stg):
        shutil.rmtree(stg)
    doc = os.path.join(stg, "Documentation")
    shutil.copytree(os.path.join(top, "Documentation"), doc)
    kdoc = os.path.join(linux_src, "Documentation")
    for d in ("sphinx", "sphinx-static"):
        shutil.copytree(os.path.join(kdoc, d), os.path.join(doc, d))
    shutil.copy(os.path.join(kdoc, "conf.py"), doc)
    shutil.copy(os.path.join(kdoc, "admin-guide/abi-testing.rst"),
                os.path.join(doc, "admin-guide"))
    os.makedirs(os.path.join(stg, "scripts"))
    for s in ("kernel-doc", "get_abi.pl"):
        shutil.copy(os.path.join(linux_src, "scripts", s),
                    os.path.join(stg, "scripts"))


def version(top):
    """The package's version, as DKMS knows it."""
    with open(os.path.join(top, "dkms.conf")) as f:
        m = re.search(r'^PACKAGE_VERSION="?([^"\n]+)', f.read(), re.M)
    return m.group(1) if m else "unknown"


def abi_validate(stg, top):
    """What the kernel's Documentation/Makefile runs on Documentation/ABI."""
    r = subprocess.run(["perl", os.path.join(stg, "scripts/get_abi.pl"),
                        "validate", "--dir",
                        os.path.join(top, "Documentation/ABI")],
                       capture_output=True, text=True)
    out = (r.stdout + r.stderr).strip()
    if r.returncode or out:
        fail(f"get_abi.pl validate:\n{out}")


def sphinx(stg, top, out, conf):
    build = os.environ.get("SPHINXBUILD", "sphinx-build")
    if not shutil.which(build):
        fail(f"{build} not found (make deps installs python3-sphinx)")
    ver = version(top)
    cmd = [build, "-b", "html", "-q", "-W", "--keep-going",
           "-c", os.path.join(stg, "Documentation"),
           "-d", os.path.join(stg, ".doctrees"),
           "-D", f"kerneldoc_srctree={top}",
           "-D", "kerneldoc_bin=" + os.path.join(stg, "scripts/kernel-doc"),
           "-D", f"version={ver}", "-D", f"release={ver}",
           os.path.join(stg, "Documentation"), out]
    env = dict(os.environ, srctree=stg, SPHINX_CONF=conf, KDOC_WERROR="1")
    if os.path.isdir(out):
        shutil.rmtree(out)
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    noise = [line for line in r.stderr.splitlines()
             if line.strip() and not QUIET_OK.match(line)]
    if r.returncode or noise:
        sys.stderr.write(r.stderr)
        fail(f"sphinx-build failed (exit {r.returncode}) or warned")


def tracked(top):
    """The files a reference may sit in: git's list, else the tree."""
    if os.path.exists(os.path.join(top, ".git")):
        r = subprocess.run(["git", "-C", top, "ls-files", "-z"],
                           capture_output=True, text=True, check=True)
        return [f for f in r.stdout.split("\0") if f]
    files = []
    for d, dirs, names in os.walk(top):
        dirs[:] = [x for x in dirs if x not in (".git", "build")]
        files += [os.path.relpath(os.path.join(d, n), top) for n in names]
    return files


def check_refs(top, linux_src):
    """Every "Documentation/..." a tracked file names exists, in this tree
    or (a kernel page, or conf.py) in the kernel's."""
    bad = []
    for name in tracked(top):
        path = os.path.join(top, name)
        if not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except UnicodeDecodeError:
            continue
        # troff escapes its hyphens: sysfs\-module\-estack
        text = text.replace("\\-", "-")
        for n, line in enumerate(text.splitlines(), 1):
            for m in REF.finditer(line):
                ref = m.group(0).rstrip(".,")
                if not (glob.glob(os.path.join(top, ref)) or
                        glob.glob(os.path.join(linux_src, ref))):
                    bad.append(f"{name}:{n}: {ref} does not exist")
    if bad:
        fail("references to missing files:\n" + "\n".join(bad))


def main():
    if len(sys.argv) != 4:
        fail("usage: docs.py LINUX_SRC TOP OUTDIR")
    linux_src, top, out = (os.path.abspath(a) for a in sys.argv[1:4])
    stg = out + "-src"
    conf = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "docs-conf.py")
    check_refs(top, linux_src)
    stage(linux_src, top, stg)
    abi_validate(stg, top)
    sphinx(stg, top, out, conf)
    print(f"docs: {os.path.join(out, 'index.html')}")


if __name__ == "__main__":
    main()
