"""Medians and ratios of bench/family.sh's benchmark output (stdlib only).

For each suite layer X and batch size it prints the median time per call of
the plain DyNet layer X and the ratio of XEpi (BN + residual + ReLU), XCond
(CondConv) and XCnn (DY-CNN) to it: 1.00 is no cost, 1.05 is 5 % slower."""
import re
import statistics
import sys
from collections import defaultdict

times = defaultdict(list)
for line in open(sys.argv[1]):
    m = re.match(r"Benchmark(\w+)/N=(\d+)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op", line)
    if m:
        times[(m.group(1), int(m.group(2)))].append(float(m.group(3)))
med = {k: statistics.median(v) for k, v in times.items()}
suffixes = ["Epi", "Cond", "Cnn"]
bases = sorted({name for name, _ in med if not any(name.endswith(s) for s in suffixes)},
               key=lambda n: min(i for i, (nm, _) in enumerate(times) if nm == n))
print("| layer | N | plain DyNet | BN+residual+ReLU | CondConv | DY-CNN |")
print("| --- | --- | --- | --- | --- | --- |")
worst = {s: (0, "") for s in suffixes}
for b in bases:
    for n in (1, 8):
        if (b, n) not in med:
            continue
        base = med[(b, n)]
        cells = []
        for s in suffixes:
            v = med.get((b + s, n))
            if v is None:
                cells.append("–")
                continue
            r = v / base
            cells.append("%.3f" % r)
            if r > worst[s][0]:
                worst[s] = (r, "%s N=%d" % (b, n))
        print("| %s | %d | %.3f ms | %s |" % (b, n, base / 1e6, " | ".join(cells)))
print()
for s in suffixes:
    print("worst %s ratio: %.3f (%s)" % (s, worst[s][0], worst[s][1]))
