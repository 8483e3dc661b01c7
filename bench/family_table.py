"""Medians and ratios of bench/family.sh's benchmark output (stdlib only).

For each suite layer X and batch size: the median time per call of the
plain DyNet layer X, and as ratios to it (1.00 is no cost, 1.05 is 5 %
slower):
- XAct: BN + ReLU (BN folded at load, ReLU in the store);
- XEpi: BN + residual + ReLU;
- floor: plain + one read of the residual (XRead: the memory traffic the
  fused residual adds at the least);
- separate: plain + the pass a caller would run instead (XPass: dst =
  relu(dst + res));
- XCond (CondConv) and XCnn (DY-CNN) of the same shape."""
import re
import statistics
import sys
from collections import defaultdict

times = defaultdict(list)
order = []
for line in open(sys.argv[1]):
    m = re.match(r"Benchmark(\w+)/N=(\d+)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op", line)
    if m:
        key = (m.group(1), int(m.group(2)))
        if key not in times:
            order.append(key)
        times[key].append(float(m.group(3)))
med = {k: statistics.median(v) for k, v in times.items()}
suffixes = ["Act", "Epi", "Read", "Pass", "Cond", "Cnn"]
bases = []
for name, _ in order:
    if not any(name.endswith(s) for s in suffixes) and name not in bases:
        bases.append(name)
print("| layer | N | plain DyNet | BN+ReLU | BN+residual+ReLU | floor: plain + reading the residual | plain + a separate residual pass | CondConv | DY-CNN |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
worst = defaultdict(lambda: (0, ""))
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
            if s in ("Read", "Pass"):
                v += base
            r = v / base
            cells.append("%.3f" % r)
            if r > worst[s][0]:
                worst[s] = (r, "%s N=%d" % (b, n))
        print("| %s | %d | %.3f ms | %s |" % (b, n, base / 1e6, " | ".join(cells)))
print()
for s in suffixes:
    if s in worst:
        print("worst X%s ratio: %.3f (%s)" % (s, worst[s][0], worst[s][1]))
