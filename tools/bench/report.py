#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn one `make bench` run into ratios: bench.json and benchmarks.rst.

  report.py parse LOG JSON     the VM's output -> bench.json (raw results,
                               the machine, and every ratio row), and the
                               table of ratios on stdout
  report.py rst JSON [JSON2] RST
                               bench.json -> Documentation/benchmarks.rst;
                               with JSON2 (bench-6.12.json), a column of
                               that run beside each value

Every row is a ratio of two medians measured in the same run (estack /
alternative, or estack now / estack at another point), never an absolute
time: under QEMU TCG only ratios within one run mean anything.

The rows are not written here: estack-bench -j carries its case table
(tools/bench/table.c), every section with its title, every case with
what it measures, and every ratio with its cases, reading and target;
this script evaluates that table. Only the rows of the peer programs,
which carry no table, and the prose on where estack loses live here.
"""
import datetime
import json
import os
import platform
import re
import subprocess
import sys

# ---- parsing the VM's output ------------------------------------------------


def parse_log(text):
    """The estack-bench JSON document, the peer lines and the guest facts."""
    text = text.replace('\r', '')
    bench = None
    m = re.search(r'^### estack-bench\n(.*?)^### end-bench$', text,
                  re.S | re.M)
    if m:
        # The tool's progress lines (stderr) share the console.
        body = '\n'.join(line for line in m.group(1).splitlines()
                         if not line.startswith('estack-bench:'))
        bench = json.loads(body)
    peers = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith('{"impl"'):
            peers.append(json.loads(line))
    guest = {}
    for key in ('guest_kernel', 'guest_cpu', 'guest_mem_kib'):
        m = re.search(r'^### %s (.*)$' % key, text, re.M)
        if m:
            guest[key] = m.group(1).strip()
    return bench, peers, guest


def host_facts():
    cpu = ''
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        qemu = subprocess.run(['qemu-system-x86_64', '--version'],
                              capture_output=True, text=True,
                              check=False).stdout.splitlines()[0]
    except (OSError, IndexError):
        qemu = ''
    return {'host_cpu': cpu, 'host_cpus': os.cpu_count(),
            'host_kernel': platform.release(), 'qemu': qemu,
            'accel': 'tcg'}


# ---- ratio rows -------------------------------------------------------------

class Results:
    def __init__(self, bench, peers):
        self.cases = {}
        for r in bench['results']:
            self.cases[r['key']] = r
        self.peers = {(p['impl'], p['n'], p['depth']): p for p in peers}

    def med(self, key):
        r = self.cases.get(key)
        if not r or 'median_ns' not in r:
            return None
        return r['median_ns']

    def error(self, key):
        r = self.cases.get(key)
        if r is None:
            return 'not run'
        return r.get('error')


def fmt(v):
    if v is None:
        return 'n/a'
    if v >= 100:
        return '%.0f' % v
    if v >= 10:
        return '%.1f' % v
    if v >= 1:
        return '%.2f' % v
    return '%.3f' % v


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def make_row(section, name, value, reading, target=None, error=None):
    """A row: section, name, value, reading, target 'op bound' and met."""
    row = {'section': section, 'name': name, 'value': value,
           'reading': reading}
    if target:
        op, bound = target
        row['target'] = '%s %s' % (op, fmt(bound))
        if value is None:
            row['met'] = None
        else:
            row['met'] = value <= bound if op == '<=' else value >= bound
    if error:
        row['error'] = error
    return row


# ---- rows from estack-bench's case table ------------------------------------

def ratio_row(spec, res):
    """One entry of the table's "ratios" (see tools/bench/table.c)."""
    def total(keys):
        meds = [res.med(k) for k in keys]
        return None if None in meds else sum(meds)

    keys = spec['num'] + spec.get('num_less', []) + spec['den']
    num = total(spec['num'])
    less = total(spec.get('num_less', []))
    value = None
    if num is not None and less is not None:
        value = ratio(num - less, total(spec['den']))
    error = next((e for e in map(res.error, keys) if e), None)
    if value is None:
        text = spec.get('reading_unmeasured', spec['reading'])
    elif value >= 1 and 'reading_slower' in spec:
        text = spec['reading_slower']
    else:
        text = spec['reading']
    reading = text.format(
        value=fmt(value), error=error,
        percent='n/a' if value is None else '%.0f' % (100 * value))
    target = spec.get('target')
    return make_row(spec['group'], spec['name'], value, reading,
                    target and (target['op'], target['bound']),
                    error if value is None else None)


# ---- rows from the peers ----------------------------------------------------
#
# estack-demo -P and estack-gopeer (run by run.sh, N x depth below) print one
# JSON line per run and carry no case table: their rows are described here.

PEER_RUNS = ((10000, 2), (10000, 40), (100000, 2), (100000, 40))
# estack-demo runs on libestack's fiber runtime; the library issue's
# targets at depth 40: time per fiber and stack bytes per parked fiber.
LIB_TIME_BOUND = 0.8
LIB_MEMORY_BOUND = 1.2
PEER_SECTIONS = (('memory', 'Memory', 'Stack memory per parked fiber.'),)
PEER_INTROS = {'grow': 'and whole fibers against Go 1.19 goroutines'}


def peer_rows(res):
    rows = []
    for n, d in PEER_RUNS:
        e = res.peers.get(('estack', n, d))
        g = res.peers.get(('go', n, d))
        v = ratio(e and e['ns_per_fiber'], g and g['ns_per_fiber'])
        rows.append(make_row(
            'grow', 'N=%d, depth %d: estack-demo / Go 1.19, time per '
            'fiber' % (n, d), v,
            'start a fiber, recurse to depth %d with 192-byte frames '
            '(growing by copy), park' % d,
            ('<=', LIB_TIME_BOUND) if d == 40 else None))
    for n, d in PEER_RUNS:
        e = res.peers.get(('estack', n, d))
        g = res.peers.get(('go', n, d))
        v = ratio(e and e['stack_bytes_per_fiber'],
                  g and g['stack_bytes_per_fiber_after_gc'])
        rows.append(make_row(
            'memory', 'N=%d, depth %d: stack bytes per parked fiber, '
            'estack / Go 1.19' % (n, d), v,
            'estack %s B, Go %s B (its StackInuse after a GC)'
            % (fmt(e and e['stack_bytes_per_fiber']),
               fmt(g and g['stack_bytes_per_fiber_after_gc'])),
            ('<=', LIB_MEMORY_BOUND if d == 40 else 1.7)))
    return rows


def sections(bench):
    """(name, title, intro) of every section, in the order of the page."""
    out = []
    for g in bench['groups']:
        intro = g['intro'].format(cpus=bench.get('cpus', 2))
        if g['name'] in PEER_INTROS:
            intro = '%s; %s.' % (intro.rstrip('.'), PEER_INTROS[g['name']])
        out.append((g['name'], g['title'], intro))
    return out + list(PEER_SECTIONS)


def build_rows(bench, res):
    """Every row, section by section; within one, the table's order."""
    rows = [ratio_row(spec, res) for spec in bench['ratios']]
    rows += peer_rows(res)
    order = [name for name, _, _ in sections(bench)]
    return sorted(rows, key=lambda row: order.index(row['section']))


# ---- output -----------------------------------------------------------------


LOSSES = [
    '- **malloc and the free-list pool** never enter the kernel and give no',
    '  guard page, no isolation between stacks and no growth; any ioctl',
    '  costs more than either. They are the floor, not a competitor.',
    '- **ALLOC + FREE against getppid**: two ioctls that do nothing cost',
    '  about one to four getppid pairs in these runs (fd lookup, the LSM',
    '  hook, the argument copies); the fast path adds the mmap lock, the',
    '  file\'s mutex, the VMA check, one page-table walk per stack and the',
    '  clearing of the page the fiber wrote. Under TCG a page clear',
    '  (``rep stosb``) is emulated one iteration at a time, so clearing the',
    '  one touched page weighs far more here than on hardware.',
    '- **64 KiB ALLOC + FREE** against ``mmap``: ALLOC populates every page',
    '  of a stack at once (cleared, inserted, zapped at FREE), where the',
    '  fault of one touched anonymous page populates one; the mapped cache',
    '  covers 4 to 32 KiB only.',
    '- **GROW against mremap**: ``mremap`` moves page tables and copies',
    '  nothing, but leaves the live bytes at the bottom of the new range,',
    '  which is wrong for a stack that grows down; it also relocates no',
    '  pointer. Small GROWs pay a fixed cost (span, slot, tree, mapping,',
    '  the zap of the old stack) that no copy of 2 or 8 KiB amortises.',
    '- **512 KiB GROW against memcpy**: the kernel copies with ``copy_page``',
    '  and ``memcpy`` (``rep movs``), which TCG emulates per iteration,',
    '  while glibc copies that size with vector stores; at 64 KiB glibc',
    '  itself uses ``rep movsb`` and the limit row is met.',
    '- **SHRINK against MADV_DONTNEED**: SHRINK copies the used part into a',
    '  new stack and unmaps the old one, so that the address range shrinks',
    '  too; ``madvise`` only drops the pages.',
    '- **Fibers against Go at depth 40**: Go grows a goroutine\'s stack in',
    '  user space, with no system call; an estack fiber pays two GROW',
    '  ioctls to reach 16 KiB. At depth 2 no fiber grows and estack wins.',
    '- **Two threads**: both take the mmap lock for reading on every call,',
    '  whose cache line they share; on one shared file they also',
    '  serialise on its mutex.',
    '',
]


def print_table(bench, rows, out=sys.stdout):
    for section, title, _ in sections(bench):
        print('\n== %s' % title, file=out)
        for r in rows:
            if r['section'] != section:
                continue
            t = ''
            if 'target' in r:
                t = '  [target %s: %s]' % (
                    r['target'], {True: 'met', False: 'MISSED',
                                  None: 'not measured'}[r['met']])
            print('  %-62s %8s%s' % (r['name'], fmt(r['value']), t),
                  file=out)
    print('\n(ratios of medians from one run under QEMU TCG)', file=out)


def rst_table(rows, other=None):
    """The rows; with other (kernel, rows of a second run), its column."""
    head = ('Ratio', 'Value', 'Target', 'Reading')
    widths = '40 8 14 38'
    if other:
        head = ('Ratio', 'Value', other[0], 'Target', 'Reading')
        widths = '36 8 8 14 34'
        theirs = {(r['section'], r['name']): r for r in other[1]}
    cells = []
    for r in rows:
        target = ''
        if 'target' in r:
            target = '%s (%s)' % (r['target'], {True: 'met', False: 'missed',
                                                None: 'n/a'}[r['met']])
        cell = [r['name'], fmt(r['value']), target, r['reading']]
        if other:
            o = theirs.get((r['section'], r['name']))
            cell.insert(2, fmt(o['value']) if o else '')
        cells.append(tuple(cell))
    lines = ['.. list-table::', '   :header-rows: 1', '   :widths: ' + widths,
             '']
    for row in (head,) + tuple(cells):
        lines.append('   * - ' + row[0].replace('*', r'\*'))
        for c in row[1:]:
            lines.append('     - ' + (c.replace('*', r'\*') or ' '))
    return '\n'.join(lines)


def figure_rst(doc, section, other=None):
    """The figures of a section (tools/bench/plots.py draws them).

    Which figures the data gives is plots.figures(), which needs no
    matplotlib: the page names the same files whether or not this machine
    can draw them.
    """
    import textwrap
    import plots
    out = []
    for name, caption in plots.figures(doc, section, other):
        out += ['.. figure:: images/%s' % name, '   :width: 100%', '']
        out += textwrap.wrap(caption, 76, initial_indent='   ',
                             subsequent_indent='   ')
        out += ['']
    return out


def write_rst(doc, path, other=None):
    """benchmarks.rst from doc (6.1, the reference) and other (6.12)."""
    m = doc['machine']
    b = doc['bench']
    col = None
    if other:
        col = (other['machine'].get('guest_kernel', '6.12'), other['rows'])
    out = ['.. SPDX-License-Identifier: GPL-2.0', '',
           '.. This file is generated by tools/bench/report.py from',
           '   build/results/bench.json (make bench). Do not edit it; rerun',
           '   make bench and commit the result. Its sections, rows and',
           '   targets come from the case table that estack-bench',
           '   (tools/bench/*.c) writes into bench.json; the rows of the Go',
           '   peer and the text on where estack loses, from report.py.', '',
           '==========', 'Benchmarks', '==========', '',
           'estack against what a fiber library would use instead, and '
           'against the physical limits, in one run of ``make bench``.',
           '',
           '.. warning::', '',
           '   These figures were measured under QEMU with TCG (software '
           'emulation, no KVM).', '   Under TCG absolute times mean little, '
           'and some operations are distorted', '   (a page clear with '
           '``rep stosb`` and every CR3 switch are far more', '   expensive '
           'than on hardware); only ratios between cases of the same',
           '   run mean anything, and every figure below is such a ratio.',
           '',
           'Method', '======', '',
           'The stock Debian kernel (%s) boots under QEMU (%s, %d vCPUs, %s '
           'KiB) on the build machine (%s, %s host CPUs); estack.ko is '
           'loaded and ``estack-bench -j`` runs every case, then the Go '
           'peer (``estack-gopeer``, built static with Debian\'s Go 1.19) '
           'and ``estack-demo -P``. Each case runs %d timed batches after '
           'one warm-up batch; a batch is %d operations unless the case '
           'needs less (GROW and SHRINK prepare a few hundred stacks per '
           'batch). A ratio is the quotient of two medians. The raw '
           'medians, minima and maxima are in ``build/results/bench.json``; '
           'this page is generated from it by ``tools/bench/report.py``.'
           % (m.get('guest_kernel', '?'), m.get('qemu', '?'),
              b.get('cpus', 2), m.get('guest_mem_kib', '?'),
              m.get('host_cpu', '?'), m.get('host_cpus', '?'),
              b.get('reps', 0), b.get('batch', 0)),
           '',
           'Date of the run: %s.' % doc['date'], '',
           ] + ([
           'The column headed %s is the same run on that kernel '
           '(``make bench BENCH_KERNEL=6.12``, %s); targets are judged on '
           'the reference kernel, 6.1.' % (col[0], other['date']), '']
               if other else []) + [
           'Run to run, on a 2-core host running 2 vCPUs, ratios move: those '
           'against a null system call most (a getppid pair is short, and '
           'its median is at the mercy of the host), those between memory '
           'operations less. Compare two runs before trusting one row.', '',
           'Regenerate with::', '',
           '    make bench            # runs the VM, writes bench.json and '
           'this page', '']
    for section, title, intro in sections(b):
        rows = [r for r in doc['rows'] if r['section'] == section]
        if not rows:
            continue
        out += [title, '=' * len(title), '', intro, '']
        out += figure_rst(doc, section, other)
        out += [rst_table(rows, col), '']
    out += ['Where estack loses, and why', '=' * 27, '']
    out += LOSSES
    targets = [r for r in doc['rows'] if 'target' in r]
    out += ['Targets', '=======', '',
            'Met %d of %d.' % (sum(1 for r in targets if r['met']),
                               len(targets)), '']
    out += [rst_table(targets, col), '']
    with open(path, 'w') as f:
        f.write('\n'.join(out))


def main(argv):
    if len(argv) == 4 and argv[1] == 'parse':
        with open(argv[2], errors='replace') as f:
            bench, peers, guest = parse_log(f.read())
        if bench is None:
            sys.exit('report.py: no estack-bench results in %s' % argv[2])
        if 'ratios' not in bench:
            sys.exit('report.py: %s: estack-bench wrote no case table '
                     '(built before tools/bench/table.c?)' % argv[2])
        machine = host_facts()
        machine.update(guest)
        doc = {'date': datetime.date.today().isoformat(),
               'machine': machine, 'bench': {k: v for k, v in bench.items()
                                             if k != 'results'},
               'results': bench['results'], 'peers': peers}
        doc['rows'] = build_rows(bench, Results(bench, peers))
        with open(argv[3], 'w') as f:
            json.dump(doc, f, indent=1)
            f.write('\n')
        print_table(bench, doc['rows'])
    elif len(argv) in (4, 5) and argv[1] == 'rst':
        docs = []
        for path in argv[2:-1]:
            with open(path) as f:
                docs.append(json.load(f))
            if 'groups' not in docs[-1]['bench']:
                sys.exit('report.py: %s has no case table: rerun make bench'
                         % path)
        write_rst(docs[0], argv[-1], docs[1] if len(docs) > 1 else None)
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main(sys.argv)
