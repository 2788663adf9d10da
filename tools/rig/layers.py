#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check the module's structure against the layer table in kmod/estack.h.

  layers.py [KMOD_DIR]                 (default: kmod/ beside tools/)
  layers.py --picture [KMOD_DIR]       print the layers as a picture
  layers.py --doc RST [--write]        check (or rewrite) the picture in RST,
                                       between ".. layers-begin" and
                                       ".. layers-end"

Fails, naming each offence, when:
  - a kmod/*.c file is missing from the table, or listed but absent;
  - a file calls a function defined in a file above it (an upward call:
    a file of a higher layer, or listed before it in its own layer);
  - a file includes a layer header above its own, or a header includes
    one that is not below it; alloc-internal.h outside the allocator,
    move-internal.h outside the move layer;
  - a file has more than 500 lines, or a function more than 80, unless
    the comment just above it says why ("longer than 80 lines: ...").
Test modules (kmod/tests/) sit above everything and are not checked.
"""
import os
import re
import sys

MAX_FILE_LINES = 500
MAX_FUNC_LINES = 80
EXEMPT = "longer than 80 lines"
# Below every layer: anyone may include them.
BASE_HEADERS = {"compat.h"}
INTERNAL = {"alloc-internal.h": "allocator", "move-internal.h": "move"}


def parse_table(kmod):
    """[(layer, header, [files top first])], top layer first."""
    text = open(os.path.join(kmod, "estack.h")).read()
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines)
                 if re.match(r"^ \* layer\s+header\s+files", l))
    layers = []
    for line in lines[start + 1:]:
        body = line[2:].strip() if line.startswith(" *") else None
        if not body:
            break
        tok = body.split()
        if len(tok) >= 3 and tok[1].endswith(".h") and re.match(r"^[a-z]+$", tok[0]):
            layers.append((tok[0], tok[1], [t for t in tok[2:] if t.endswith(".c")]))
        elif layers:
            layers[-1][2].extend(t for t in tok if t.endswith(".c"))
    return layers


def strip(src):
    """Comments and strings blanked, line numbers kept."""
    def blank(m):
        return re.sub(r"[^\n]", " ", m.group(0))
    src = re.sub(r"/\*.*?\*/", blank, src, flags=re.S)
    src = re.sub(r"//[^\n]*", blank, src)
    return re.sub(r'"(\\.|[^"\\\n])*"', blank, src)


FUNC_DEF = re.compile(r"^(?!\s)(?!#)[^;{}()=]*?\b(\w+)\s*\(([^;{}]*?)\)\s*\{",
                      re.M | re.S)


def functions(src):
    """(name, first line, last line) of each function defined in src."""
    out = []
    for m in FUNC_DEF.finditer(src):
        if m.group(1) in ("if", "for", "while", "switch"):
            continue
        depth, i = 0, m.end() - 1
        while i < len(src):
            if src[i] == "{":
                depth += 1
            elif src[i] == "}":
                depth -= 1
                if not depth:
                    break
            i += 1
        out.append((m.group(1), src.count("\n", 0, m.start()) + 1,
                    src.count("\n", 0, i) + 1))
    return out


def picture(layers):
    """The layers top to bottom, as an indented rst literal block."""
    out = ["::", ""]
    for i, (name, header, files) in enumerate(layers):
        if i:
            out.append("        |")
        out.append("    %-10s %-10s %s" % (name, header, "  ".join(files)))
    return "\n".join(out) + "\n"


def doc(layers, rst, write):
    text = open(rst).read()
    m = re.search(r"(\.\. layers-begin\n\n)(.*?)(^\.\. layers-end)", text,
                  re.S | re.M)
    if not m:
        print("%s: no .. layers-begin / .. layers-end block" % rst)
        return 1
    want = picture(layers) + "\n"
    if m.group(2) == want:
        print("layers: the picture in %s matches" % os.path.basename(rst))
        return 0
    if write:
        open(rst, "w").write(text[:m.start(2)] + want + text[m.end(2):])
        print("layers: %s rewritten" % rst)
        return 0
    print("%s: the picture of the layers is stale; run %s --doc %s --write" %
          (rst, sys.argv[0], rst))
    return 1


def main(argv):
    args = list(argv)
    mode = None
    if args and args[0] in ("--picture", "--doc"):
        mode = args.pop(0)
    rst = args.pop(0) if mode == "--doc" else None
    write = "--write" in args
    args = [a for a in args if a != "--write"]
    kmod = args[0] if args else os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "..", "..", "kmod")
    layers = parse_table(kmod)
    if mode == "--picture":
        sys.stdout.write(picture(layers))
        return 0
    if mode == "--doc":
        return doc(layers, rst, write)
    errors = []
    rank, layer_of, header_rank = {}, {}, {}
    n = 0
    for li, (name, header, files) in enumerate(layers):
        header_rank[header] = li
        for f in files:
            rank[f] = (li, n)
            layer_of[f] = name
            n += 1
    present = sorted(f for f in os.listdir(kmod) if f.endswith(".c"))
    for f in present:
        if f not in rank:
            errors.append("%s: not in the layer table of estack.h" % f)
    for f in rank:
        if f not in present:
            errors.append("%s: in the layer table, but no such file" % f)

    defs, raw, clean = {}, {}, {}
    for f in os.listdir(kmod):
        if not f.endswith((".c", ".h")):
            continue
        raw[f] = open(os.path.join(kmod, f)).read()
        clean[f] = strip(raw[f])
        for name, first, last in functions(clean[f]):
            defs.setdefault(name, f)
            lines = raw[f].splitlines()
            above = "\n".join(lines[max(0, first - 12):first - 1])
            if last - first + 1 > MAX_FUNC_LINES and EXEMPT not in above:
                errors.append("%s:%d: %s() has %d lines (at most %d)" %
                              (f, first, name, last - first + 1,
                               MAX_FUNC_LINES))
        if raw[f].count("\n") > MAX_FILE_LINES:
            errors.append("%s: %d lines (at most %d)" %
                          (f, raw[f].count("\n"), MAX_FILE_LINES))

    def header_level(h):
        if h in BASE_HEADERS:
            return len(layers)
        if h in INTERNAL:
            return header_rank[dict((l, hh) for l, hh, _ in layers)[INTERNAL[h]]]
        if h == "estack.h":
            return 0
        return header_rank.get(h)

    for f, src in raw.items():
        for m in re.finditer(r'^#include "([^"]+)"', src, re.M):
            h = os.path.basename(m.group(1))
            level = header_level(h)
            if level is None:
                continue
            if f.endswith(".c") and f in rank:
                own = rank[f][0]
                if level < own:
                    errors.append("%s includes %s, a layer above it" % (f, h))
                if h in INTERNAL and layer_of[f] != INTERNAL[h]:
                    errors.append("%s includes %s, the %s layer's own" %
                                  (f, h, INTERNAL[h]))
            elif f.endswith(".h") and f != "estack.h":
                mine = header_level(f)
                if mine is not None and h != f and level <= mine and \
                        f not in INTERNAL:
                    errors.append("%s includes %s, not a layer below it" %
                                  (f, h))

    for f in present:
        if f not in rank:
            continue
        for m in re.finditer(r"\b([a-z_]\w*)\s*\(", clean[f]):
            d = defs.get(m.group(1))
            if not d or d == f or not d.endswith(".c") or d not in rank:
                continue
            if rank[d] < rank[f]:
                line = clean[f].count("\n", 0, m.start()) + 1
                errors.append("%s:%d calls %s() of %s, above it (%s over %s)" %
                              (f, line, m.group(1), d, layer_of[d],
                               layer_of[f]))
    for e in sorted(set(errors)):
        print(e)
    if errors:
        print("layers: %d problems" % len(set(errors)))
        return 1
    print("layers: %d files in %d layers, no upward call" % (len(rank), len(layers)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
