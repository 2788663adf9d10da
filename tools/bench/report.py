#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn one `make bench` run into ratios: bench.json and benchmarks.rst.

  report.py parse LOG JSON     the VM's output -> bench.json (raw results,
                               the machine, and every ratio row), and the
                               table of ratios on stdout
  report.py rst JSON RST       bench.json -> Documentation/benchmarks.rst

Every row is a ratio of two medians measured in the same run (estack /
alternative, or estack now / estack at another point), never an absolute
time: under QEMU TCG only ratios within one run mean anything.
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


# ---- ratio rows ---------------------------------------------------------------

class Results:
    def __init__(self, bench, peers):
        self.cases = {}
        for r in bench['results']:
            self.cases[(r['group'], r['case'], r['param'])] = r
        self.peers = {(p['impl'], p['n'], p['depth']): p for p in peers}

    def med(self, group, case, param):
        r = self.cases.get((group, case, param))
        if not r or 'median_ns' not in r:
            return None
        return r['median_ns']

    def error(self, group, case, param):
        r = self.cases.get((group, case, param))
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


def build_rows(res):
    """Every row: section, name, value, target (op, bound) or None, reading."""
    rows = []

    def add(section, name, value, reading, target=None, error=None):
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
        rows.append(row)

    # alloc+free
    g2 = res.med('alloc', 'getppid2', 0)
    for kib in (8, 16, 64):
        est = res.med('alloc', 'estack', kib)
        for alt, what in (('mmap-guard', 'mmap + mprotect guard + munmap'),
                          ('mmap', 'mmap + munmap'),
                          ('malloc', 'malloc + free'),
                          ('pool', 'an in-process free-list pool')):
            v = ratio(est, res.med('alloc', alt, kib))
            target = ('<=', 0.10) if kib == 8 and alt == 'mmap-guard' \
                else None
            if v is None:
                reading = 'not measured: %s' % res.error('alloc', alt, kib)
            elif v < 1:
                reading = ('estack takes %.0f%% of the time of %s'
                           % (100 * v, what))
            else:
                reading = 'estack is %s times slower than %s' % (fmt(v), what)
            add('alloc', '%d KiB: estack / %s' % (kib, alt), v, reading,
                target)
        v = ratio(est, g2)
        add('alloc', '%d KiB: estack / getppid pair' % kib, v,
            'ALLOC + FREE cost %s pairs of null system calls' % fmt(v),
            ('<=', 4.0) if kib == 8 else None)

    # breakdown
    bd = {c: res.med('breakdown', c, 8) for c in
          ('ioctl2', 'mapped-hit', 'mapped-hit-untouched',
           'mapped-hit-nostats', 'cpu-cache-hit', 'pool-refill',
           'page-allocator')}

    def diff(a, b):
        if bd[a] is None or bd[b] is None:
            return None
        return bd[a] - bd[b]

    for name, value, reading in (
            ('two ioctls that do nothing / getppid pair',
             ratio(bd['ioctl2'], g2),
             'the floor of any two estack calls: fd lookup, LSM hook, '
             'argument copies'),
            ('mapped-cache hit / getppid pair', ratio(bd['mapped-hit'], g2),
             'the fast path: a freed stack still mapped, its touched page '
             'cleared'),
            ('mapped-cache hit, nothing touched / getppid pair',
             ratio(bd['mapped-hit-untouched'], g2),
             'the fast path when the previous user wrote nothing: no '
             'clearing at all'),
            ('clearing the one touched page / getppid pair',
             ratio(diff('mapped-hit', 'mapped-hit-untouched'), g2),
             'what clearing a 4 KiB page costs, next to a null syscall'),
            ('per-CPU cache hit / mapped-cache hit',
             ratio(bd['cpu-cache-hit'], bd['mapped-hit']),
             'the slow path from the per-CPU cache: clear, insert and zap '
             'both pages'),
            ('pool refill / per-CPU cache hit',
             ratio(bd['pool-refill'], bd['cpu-cache-hit']),
             'per-CPU caches off: every stack comes from the global pool'),
            ('page allocator / per-CPU cache hit',
             ratio(bd['page-allocator'], bd['cpu-cache-hit']),
             'caches and pools off: every stack comes from and goes back '
             'to the page allocator'),
            ('counters off / counters on',
             ratio(bd['mapped-hit-nostats'], bd['mapped-hit']),
             'what the statistics cost on the fast path (1 = nothing)')):
        add('breakdown', name, value, reading)

    # grow
    gp = res.med('grow', 'getppid', 0)
    for kib in (2, 8, 64, 512):
        est = res.med('grow', 'estack', kib)
        mc = res.med('grow', 'memcpy', kib)
        limit = None if gp is None or mc is None else gp + mc
        v = ratio(est, limit)
        add('grow', '%d KiB live: GROW / (null syscall + memcpy)' % kib, v,
            'GROW against the physical limit: one syscall and a copy of '
            'the live bytes', ('<=', 2.0) if kib >= 64 else None)
        for alt, what in (('mremap', 'mremap(MREMAP_MAYMOVE), which moves '
                           'page tables and copies nothing, but leaves the '
                           'live bytes at the bottom of the new range'),
                          ('mmap-copy', 'mmap + memcpy + munmap in user '
                           'space')):
            v = ratio(est, res.med('grow', alt, kib))
            add('grow', '%d KiB live: GROW / %s' % (kib, alt), v,
                'against %s' % what)
    for n in (10000, 100000):
        for d in (2, 40):
            e = res.peers.get(('estack', n, d))
            g = res.peers.get(('go', n, d))
            v = ratio(e and e['ns_per_fiber'], g and g['ns_per_fiber'])
            add('grow', 'N=%d, depth %d: estack-demo / Go 1.19, time per '
                'fiber' % (n, d), v,
                'start a fiber, recurse to depth %d with 192-byte frames '
                '(growing by copy), park' % d,
                ('<=', 1.0) if d == 40 else None)

    # shrink
    for kib in (16, 64, 512):
        v = ratio(res.med('shrink', 'estack', kib),
                  res.med('shrink', 'madvise', kib))
        add('shrink', '%d KiB stack, 1/8 used: SHRINK / MADV_DONTNEED' % kib,
            v, 'SHRINK copies the used eighth to a stack half the size and '
            'frees the old; madvise only drops the unused half')

    # scale
    for case in ('estack', 'mmap-guard', 'mmap', 'malloc', 'pool'):
        base = res.med('scale', case, 1000)
        for n in (10000, 100000, 1000000):
            v = ratio(res.med('scale', case, n), base)
            err = res.error('scale', case, n)
            target = ('<=', 1.2) if case == 'estack' and n == 1000000 \
                else None
            if v is None:
                reading = 'fails: %s' % err
            else:
                reading = ('cost per ALLOC+FREE with %d stacks live, '
                           'against 1000 live' % n)
            add('scale', '%s: %d live / 1000 live' % (case, n), v, reading,
                target, err if v is None else None)
    for n in (1000, 1000000):
        for alt in ('mmap-guard', 'malloc'):
            v = ratio(res.med('scale', 'estack', n), res.med('scale', alt, n))
            add('scale', 'estack / %s at %d live' % (alt, n), v,
                'not measured: %s' % res.error('scale', alt, n)
                if v is None else 'the two side by side at %d live' % n)

    # cpus
    for case in ('estack-own-fd', 'estack-shared-fd', 'mmap-guard',
                 'malloc'):
        v = ratio(res.med('cpus', case, 1), res.med('cpus', case, 2))
        add('cpus', '%s: throughput of 2 threads / 1' % case, v,
            {'estack-own-fd': 'each thread its own /dev/estack file',
             'estack-shared-fd': 'both threads on one file (one lock)',
             'mmap-guard': 'both threads in one address space (mmap_lock)',
             'malloc': "glibc's per-thread arenas"}[case],
            ('>=', 1.8) if case == 'estack-own-fd' else None)

    # memory
    for n in (10000, 100000):
        for d in (2, 40):
            e = res.peers.get(('estack', n, d))
            g = res.peers.get(('go', n, d))
            v = ratio(e and e['stack_bytes_per_fiber'],
                      g and g['stack_bytes_per_fiber_after_gc'])
            add('memory', 'N=%d, depth %d: stack bytes per parked fiber, '
                'estack / Go 1.19' % (n, d), v,
                'estack %s B, Go %s B (its StackInuse after a GC)'
                % (fmt(e and e['stack_bytes_per_fiber']),
                   fmt(g and g['stack_bytes_per_fiber_after_gc'])),
                ('<=', 1.7))
    return rows


# ---- output -----------------------------------------------------------------

SECTIONS = (
    ('alloc', 'ALLOC + FREE against the alternatives',
     'ALLOC of a stack, one store into its top page, FREE; against the '
     'same with each alternative.'),
    ('breakdown', 'Where the time of an 8 KiB ALLOC + FREE goes',
     'The same loop with the module\'s layers turned off one by one '
     '(module parameters mapped_cache, cache_budget, pool_reserve, '
     'stats).'),
    ('grow', 'GROW', 'Moving a stack to one twice its size with L bytes '
     'live; and whole fibers against Go 1.19 goroutines.'),
    ('shrink', 'SHRINK', 'Giving back the unused part of a stack.'),
    ('scale', 'Scale', 'Cost of one 8 KiB ALLOC + FREE (or its '
     'alternative) with many stacks live in the process.'),
    ('cpus', 'CPUs', 'The ALLOC + FREE loop on one thread, then on two '
     'at once, on 2 vCPUs.'),
    ('memory', 'Memory', 'Stack memory per parked fiber.'),
)


LOSSES = [
    '- **malloc and the free-list pool** never enter the kernel and give no',
    '  guard page, no isolation between stacks and no growth; any ioctl',
    '  costs more than either. They are the floor, not a competitor.',
    '- **ALLOC + FREE against getppid**: two ioctls that do nothing cost',
    '  about one to four getppid pairs in these runs (fd lookup, the LSM',
    '  hook, the argument copies); the fast path adds the mmap lock, the',
    '  file\'s mutex, the VMA check, one PTE lookup per page and the',
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


def print_table(rows, out=sys.stdout):
    for section, title, _ in SECTIONS:
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


def rst_table(rows):
    head = ('Ratio', 'Value', 'Target', 'Reading')
    cells = []
    for r in rows:
        target = ''
        if 'target' in r:
            target = '%s (%s)' % (r['target'], {True: 'met', False: 'missed',
                                                None: 'n/a'}[r['met']])
        cells.append((r['name'], fmt(r['value']), target, r['reading']))
    lines = ['.. list-table::', '   :header-rows: 1', '   :widths: 40 8 14 38',
             '']
    for row in (head,) + tuple(cells):
        lines.append('   * - ' + row[0].replace('*', r'\*'))
        for c in row[1:]:
            lines.append('     - ' + (c.replace('*', r'\*') or ' '))
    return '\n'.join(lines)


def write_rst(doc, path):
    m = doc['machine']
    b = doc['bench']
    out = ['.. SPDX-License-Identifier: GPL-2.0', '',
           '.. This file is generated by tools/bench/report.py from',
           '   build/results/bench.json (make bench). Do not edit it; rerun',
           '   make bench and commit the result.', '',
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
           'Run to run, on a 2-core host running 2 vCPUs, ratios move: those '
           'against a null system call most (a getppid pair is short, and '
           'its median is at the mercy of the host), those between memory '
           'operations less. Compare two runs before trusting one row.', '',
           'Regenerate with::', '',
           '    make bench            # runs the VM, writes bench.json and '
           'this page', '']
    for section, title, intro in SECTIONS:
        rows = [r for r in doc['rows'] if r['section'] == section]
        if not rows:
            continue
        out += [title, '=' * len(title), '', intro, '', rst_table(rows), '']
    out += ['Where estack loses, and why', '=' * 27, '']
    out += LOSSES
    targets = [r for r in doc['rows'] if 'target' in r]
    out += ['Targets', '=======', '',
            'Met %d of %d.' % (sum(1 for r in targets if r['met']),
                               len(targets)), '']
    out += [rst_table(targets), '']
    with open(path, 'w') as f:
        f.write('\n'.join(out))


def main(argv):
    if len(argv) == 4 and argv[1] == 'parse':
        with open(argv[2], errors='replace') as f:
            bench, peers, guest = parse_log(f.read())
        if bench is None:
            sys.exit('report.py: no estack-bench results in %s' % argv[2])
        machine = host_facts()
        machine.update(guest)
        doc = {'date': datetime.date.today().isoformat(),
               'machine': machine, 'bench': {k: v for k, v in bench.items()
                                             if k != 'results'},
               'results': bench['results'], 'peers': peers}
        doc['rows'] = build_rows(Results(bench, peers))
        with open(argv[3], 'w') as f:
            json.dump(doc, f, indent=1)
            f.write('\n')
        print_table(doc['rows'])
    elif len(argv) == 4 and argv[1] == 'rst':
        with open(argv[2]) as f:
            doc = json.load(f)
        write_rst(doc, argv[3])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main(sys.argv)
