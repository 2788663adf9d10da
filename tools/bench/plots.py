#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""The pictures of Documentation/mm/estack/benchmarks.rst, from bench.json.

  plots.py JSON [JSON2] OUTDIR   bench.json (6.1, the reference) and
                                 optionally bench-6.12.json -> OUTDIR/
                                 bench-*.svg (Documentation/mm/estack/images)

Each figure draws the medians of one run (min..max of its batches as
error bars); with JSON2, estack's own lines of that run are drawn dashed
beside them. Under QEMU TCG absolute times mean little: the figures are
for the shape (how a cost grows with live stacks or live bytes, how far
apart two lines are); the tables of the page carry the numbers.

Output is deterministic: the same JSON gives byte-identical SVG files
(fixed svg.hashsalt, no date, no creator, text kept as text), so that
regenerating the committed pictures from the committed data changes
nothing.

Which figures exist, their files and captions, is known without
matplotlib (figures()), so that report.py can place them on the page on
a machine that cannot draw them. Drawing needs Debian's python3-matplotlib
(run this with /usr/bin/python3).
"""
import json
import os
import statistics
import sys

SALT = 'estack-bench'
REF_KERNEL = '6.1'

# Fixed colours per case name, so that a kind looks the same in every
# figure; names not listed take the next of EXTRA, in sorted order.
COLOURS = {
    'estack': '#d62728', 'estack-own-fd': '#d62728',
    'estack-shared-fd': '#ff9896', 'libestack': '#9467bd',
    'mmap-guard': '#1f77b4', 'mmap': '#17becf', 'malloc': '#2ca02c',
    'pool': '#7f7f7f', 'memcpy': '#2ca02c', 'mremap': '#1f77b4',
    'mmap-copy': '#17becf', 'go': '#1f77b4',
}
EXTRA = ('#ff7f0e', '#8c564b', '#e377c2', '#bcbd22', '#aec7e8', '#98df8a')


# ---- what can be drawn, without matplotlib ---------------------------------

def _cases(doc, group):
    """{case name: {param: result}} of the measured cases of a group."""
    out = {}
    for r in doc.get('results', []):
        if r['group'] == group:
            out.setdefault(r['case'], {})[r['param']] = r
    return out


def _measured(doc, group):
    return any('median_ns' in r for c in _cases(doc, group).values()
               for r in c.values())


DASHED = 'Dashed, hollow markers: estack in the run on guest {kernel}.'

# (section of the page, file, caption, has the data?, draw function name,
# what the second run looks like in it)
FIGURES = (
    ('scale', 'bench-scale.svg',
     'Cost of one 8 KiB ALLOC + FREE (or its alternative) against the '
     'number of stacks live, log-log, medians with the spread of the '
     'batches; right, the same relative to 1 k live, with the target for '
     'estack at 1 M live. A kind missing at a level failed there (see the '
     'table).',
     lambda doc: _measured(doc, 'scale'), 'draw_scale', DASHED),
    ('grow', 'bench-grow.svg',
     'GROW against live bytes, log-log, with the limit (a null system '
     'call plus a copy of the live bytes) and twice the limit, the '
     'target; mremap and mmap + copy + munmap for comparison.',
     lambda doc: _measured(doc, 'grow'), 'draw_grow', DASHED),
    ('grow', 'bench-fibers.svg',
     'Whole fibers: estack-demo (libestack\'s fibers on estack) against '
     'Go goroutines, at recursion depths 2 and 40, for 10 k and 100 k '
     'fibers. Left, time per fiber; right, stack bytes per parked fiber '
     '(the Memory section).',
     lambda doc: bool(doc.get('peers')), 'draw_fibers', DASHED),
    ('cpus', 'bench-cpus.svg',
     'Throughput of two threads against one, per kind: the quotient of '
     'the medians (2.0 is perfect scaling on two vCPUs, dashed; below 1.0, '
     'dotted, two threads do less than one); red ticks are targets.',
     lambda doc: _measured(doc, 'cpus'), 'draw_cpus',
     'Hatched: the run on guest {kernel}.'),
)


def figures(doc, section=None, other=None):
    """(file, caption) of each figure doc can give, in a section or all.

    With other, the second run drawn beside doc's, its kernel is named.
    """
    out = []
    for sec, name, caption, has, _, note in FIGURES:
        if (section is None or sec == section) and has(doc):
            if other:
                caption += ' ' + note.format(kernel=_kernel(other))
            out.append((name, caption))
    return out


# ---- drawing ----------------------------------------------------------------

def _colour(name, names):
    if name in COLOURS:
        return COLOURS[name]
    others = sorted(n for n in names if n not in COLOURS)
    return EXTRA[others.index(name) % len(EXTRA)]


def _kernel(doc):
    k = doc.get('machine', {}).get('guest_kernel', '')
    return '.'.join(k.split('.')[:2]) or '?'


def _is_estack(name):
    return name.startswith('estack') or name == 'libestack'


def _series(results):
    """Params, medians and error bars of the measured points of a case."""
    xs, ys, lo, hi = [], [], [], []
    for p in sorted(results):
        r = results[p]
        if 'median_ns' not in r:
            continue
        xs.append(p)
        ys.append(r['median_ns'])
        lo.append(r['median_ns'] - r.get('min_ns', r['median_ns']))
        hi.append(r.get('max_ns', r['median_ns']) - r['median_ns'])
    return xs, ys, [lo, hi]


def _failures(results):
    """' (fails at N: error)' for the first failed level of a case."""
    for p in sorted(results):
        if 'error' in results[p]:
            return ' (fails from %s: %s)' % (_count(p),
                                              results[p]['error'])
    return ''


def _count(n):
    for div, suffix in ((1000000, ' M'), (1000, ' k')):
        if n >= div and n % div == 0:
            return '%d%s' % (n // div, suffix)
    return str(n)


def _kib(v):
    return '%d KiB' % v if v else '0'


def _style(plt):
    plt.rcParams.update({
        'svg.hashsalt': SALT,
        'svg.fonttype': 'none',
        'font.size': 9,
        'axes.grid': True,
        'grid.color': '#dddddd',
        'grid.linewidth': 0.6,
        'axes.spines.top': False,
        'axes.spines.right': False,
        'legend.fontsize': 8,
        'legend.frameon': False,
        'lines.linewidth': 1.6,
        'lines.markersize': 5,
        'errorbar.capsize': 2,
    })


def _save(plt, fig, path):
    fig.tight_layout()
    fig.savefig(path, format='svg',
                metadata={'Date': None, 'Creator': None})
    plt.close(fig)


def draw_scale(plt, doc, other, path):
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
    cases = _cases(doc, 'scale')
    names = list(cases)
    fig, (ax, rel) = plt.subplots(1, 2, figsize=(9, 4))
    base = {}
    for name in names:
        xs, ys, err = _series(cases[name])
        if not xs:
            continue
        c = _colour(name, names)
        ax.errorbar(xs, ys, yerr=err, marker='o', color=c,
                    label=name + _failures(cases[name]))
        base[name] = (xs, ys)
        rel.plot(xs, [y / ys[0] for y in ys], marker='o', color=c,
                 label='%s (against %s live)' % (name, _count(xs[0])))
    if other:
        theirs = _cases(other, 'scale')
        for name in sorted(n for n in theirs if _is_estack(n)):
            xs, ys, err = _series(theirs[name])
            if not xs:
                continue
            c = _colour(name, names)
            label = '%s on %s' % (name, _kernel(other))
            ax.errorbar(xs, ys, yerr=err, marker='o', mfc='white',
                        linestyle='--', color=c, label=label)
            rel.plot(xs, [y / ys[0] for y in ys], marker='o', mfc='white',
                     linestyle='--', color=c, label=label)
    for target in _targets(doc, 'scale'):
        rel.axhline(target, color='#d62728', linestyle=':', linewidth=1)
        rel.annotate('target %.1f' % target, (1, target),
                     xycoords=('axes fraction', 'data'),
                     ha='right', va='bottom', color='#d62728')
    levels = sorted({x for xs, _ in base.values() for x in xs})
    for a in (ax, rel):
        a.set_xscale('log')
        a.xaxis.set_major_locator(FixedLocator(levels))
        a.xaxis.set_minor_locator(NullLocator())
        a.xaxis.set_major_formatter(FuncFormatter(
            lambda v, _: _count(int(round(v)))))
        a.set_xlabel('stacks live in the process')
    ax.set_yscale('log')
    ax.set_ylabel('ns per ALLOC + FREE (QEMU TCG)')
    ax.set_title('Cost per operation', fontsize=9)
    rel.set_ylabel('cost / cost at the lowest level')
    rel.set_title('Relative to the lowest level', fontsize=9)
    ax.legend(loc='best')
    rel.legend(loc='upper left')
    _save(plt, fig, path)


def _targets(doc, group):
    """The distinct bounds of a group's ratio targets."""
    return sorted({r['target']['bound'] for r in doc['bench']['ratios']
                   if r['group'] == group and r.get('target')})


def _limits(doc, group):
    """The composite floors of a group: ratios over a sum of two cases.

    {label: {param: (limit_ns, target bound or None)}}, e.g. label
    "getppid + memcpy": the null system call plus the copy of the live
    bytes, at each number of live KiB.
    """
    res = {r['key']: r for r in doc.get('results', [])}
    out = {}
    for spec in doc['bench']['ratios']:
        if spec['group'] != group or len(spec['den']) < 2:
            continue
        meds = [res.get(k, {}).get('median_ns') for k in spec['den']]
        num = res.get(spec['num'][0], {})
        if None in meds or 'param' not in num:
            continue
        label = ' + '.join(res[k]['case'] for k in spec['den'])
        bound = spec['target']['bound'] if spec.get('target') else None
        out.setdefault(label, {})[num['param']] = (sum(meds), bound)
    return out


def draw_grow(plt, doc, other, path):
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
    cases = _cases(doc, 'grow')
    # Cases measured at one size only, with no size (the null system
    # call), are the floor's parts, not lines.
    lines = {n: c for n, c in cases.items() if any(p for p in c)}
    names = list(lines)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    sizes = set()
    for name in names:
        xs, ys, err = _series(lines[name])
        if not xs:
            continue
        sizes.update(xs)
        ax.errorbar(xs, ys, yerr=err, marker='o', color=_colour(name, names),
                    label=name, zorder=3 if _is_estack(name) else 2)
    for i, (label, pts) in enumerate(sorted(_limits(doc, 'grow').items())):
        xs = sorted(pts)
        style = ('-', '-.', ':')[i % 3]
        ax.plot(xs, [pts[x][0] for x in xs], color='black', linestyle=style,
                linewidth=1, label='limit: ' + label)
        tx = [x for x in xs if pts[x][1]]
        if tx:
            ax.plot(tx, [pts[x][0] * pts[x][1] for x in tx], color='black',
                    linestyle='none', marker='_', markersize=14,
                    label='target: %.0f x limit' % pts[tx[0]][1])
    if other:
        theirs = _cases(other, 'grow')
        for name in sorted(n for n in theirs if _is_estack(n)):
            xs, ys, err = _series(theirs[name])
            if xs:
                ax.errorbar(xs, ys, yerr=err, marker='o', mfc='white',
                            linestyle='--', color=_colour(name, names),
                            label='%s on %s' % (name, _kernel(other)))
    sizes = sorted(sizes)
    if sizes and sizes[0] == 0:
        ax.set_xscale('symlog', linthresh=1)
    else:
        ax.set_xscale('log', base=2)
    ax.xaxis.set_major_locator(FixedLocator(sizes))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(
        lambda v, _: _kib(int(round(v)))))
    ax.set_yscale('log')
    ax.set_xlabel('live bytes moved')
    ax.set_ylabel('ns per operation (QEMU TCG)')
    ax.legend(loc='upper left')
    _save(plt, fig, path)


def _peer_label(p):
    """Which line a peer result belongs to: its program and its setting."""
    impl = {'go': 'Go', 'estack': 'estack-demo'}.get(p['impl'], p['impl'])
    if p.get('go'):
        impl = 'Go %s' % p['go'].replace('go', '', 1)
    for key in ('variant', 'env', 'mode'):
        if p.get(key):
            impl += ' (%s)' % p[key]
    return impl


def _peer_lines(doc, field):
    """{(label, n): {depth: median of field}}, the peers' runs grouped."""
    runs = {}
    for p in doc.get('peers', []):
        v = p.get(field)
        if v is None and field == 'stack_bytes_per_fiber_after_gc':
            v = p.get('stack_bytes_per_fiber')
        if v is None:
            continue
        key = (_peer_label(p), p['impl'], p['n'])
        runs.setdefault(key, {}).setdefault(p['depth'], []).append(v)
    return {k: {d: statistics.median(v) for d, v in pts.items()}
            for k, pts in runs.items()}


def draw_fibers(plt, doc, other, path):
    from matplotlib.ticker import FixedLocator
    fig, (tm, mem) = plt.subplots(1, 2, figsize=(9, 4))
    panels = ((tm, 'ns_per_fiber', 1e-3, 'µs per fiber (QEMU TCG)',
               'Time per fiber'),
              (mem, 'stack_bytes_per_fiber_after_gc', 1 / 1024,
               'stack KiB per parked fiber', 'Stack memory per fiber'))
    depths = set()
    runs = [(doc, '-', None)]
    if other:
        runs.append((other, '--', 'white'))
    for ax, field, scale, ylabel, title in panels:
        for d, style, mfc in runs:
            for (label, impl, n), pts in sorted(_peer_lines(d, field).items()):
                if d is other and impl != 'estack':
                    continue
                xs = sorted(pts)
                depths.update(xs)
                name = '%s, N = %s' % (label, _count(n))
                if d is other:
                    name += ' on %s' % _kernel(other)
                # Go's lines wide and pale beneath estack's, so that
                # equal values (the memory panel) still show both.
                wide = impl != 'estack'
                ax.plot(xs, [pts[x] * scale for x in xs], color=COLOURS.get(
                    impl, '#ff7f0e'), linestyle=style,
                    linewidth=4 if wide else 1.6, alpha=0.5 if wide else 1,
                    markersize=9 if wide else 5, zorder=2 if wide else 3,
                    marker='o' if n == min(p['n'] for p in d['peers'])
                    else 's', mfc=mfc, label=name)
        ax.set_xlabel('recursion depth (192-byte frames)')
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=9)
        ax.set_ylim(bottom=0)
    for ax in (tm, mem):
        ax.xaxis.set_major_locator(FixedLocator(sorted(depths)))
    tm.legend(loc='upper left')
    _save(plt, fig, path)


def _speedup(results):
    """Throughput of 2 threads / 1: the quotient of the two medians.

    No error bar: the extremes of two separate sets of batches give a span
    (fastest one-thread batch over slowest two-thread one, and back) far
    wider than the spread of the ratio itself, and one odd batch would
    squash every bar.
    """
    one, two = results.get(1, {}), results.get(2, {})
    if 'median_ns' not in one or 'median_ns' not in two:
        return None
    return one['median_ns'] / two['median_ns']


def draw_cpus(plt, doc, other, path):
    cases = _cases(doc, 'cpus')
    names = [n for n in cases if _speedup(cases[n])]
    theirs = _cases(other, 'cpus') if other else {}
    runs = [(cases, _kernel(doc), None)]
    if other:
        runs.append((theirs, _kernel(other), '//'))
    width = 0.8 / len(runs)
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, (c, kernel, hatch) in enumerate(runs):
        xs, ys, cols = [], [], []
        for j, name in enumerate(names):
            s = c.get(name) and _speedup(c[name])
            if not s:
                continue
            xs.append(j + (i - (len(runs) - 1) / 2) * width)
            ys.append(s)
            cols.append(_colour(name, names))
        ax.bar(xs, ys, width * 0.9, color=cols, hatch=hatch,
               edgecolor='black', linewidth=0.5, label='guest ' + kernel)
        for x, y in zip(xs, ys):
            ax.annotate('%.2f' % y, (x, y), xytext=(0, 2),
                        textcoords='offset points', ha='center',
                        va='bottom', fontsize=7)
    for spec in doc['bench']['ratios']:
        if spec['group'] != 'cpus' or not spec.get('target'):
            continue
        name = spec['num'][0].split('/')[1]
        if name in names:
            j = names.index(name)
            ax.plot([j - 0.45, j + 0.45], [spec['target']['bound']] * 2,
                    color='#d62728', linewidth=2)
    ax.axhline(2, color='black', linewidth=0.8, linestyle='--')
    ax.axhline(1, color='black', linewidth=0.8, linestyle=':')
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=20, ha='right')
    ax.set_ylabel('throughput of 2 threads / 1 thread')
    ax.set_ylim(0, max(2.2, ax.get_ylim()[1]))
    ax.grid(axis='x', visible=False)
    if other:
        ax.legend(loc='upper right')
    _save(plt, fig, path)


def main(argv):
    if len(argv) not in (3, 4):
        sys.exit(__doc__)
    docs = []
    for path in argv[1:-1]:
        with open(path) as f:
            docs.append(json.load(f))
    outdir = argv[-1]
    import matplotlib
    matplotlib.use('svg')
    import matplotlib.pyplot as plt
    _style(plt)
    os.makedirs(outdir, exist_ok=True)
    doc, other = docs[0], docs[1] if len(docs) > 1 else None
    for _, name, _, has, draw, _ in FIGURES:
        if has(doc):
            globals()[draw](plt, doc, other, os.path.join(outdir, name))
            print('plots.py: wrote %s' % os.path.join(outdir, name))


if __name__ == '__main__':
    main(sys.argv)
