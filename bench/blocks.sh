#!/usr/bin/env bash
# The golden blocks, dygen (examples/blocks, generated layers) against
# PyTorch 1.13 (Debian's python3-torch) on one core: ROUNDS interleaved
# rounds of ITERS timed forwards each, medians of the per-round medians.
#   ROUNDS=5 ITERS=200 ./blocks.sh
set -euo pipefail
cd "$(dirname "$0")"
rounds=${ROUNDS:-5}
iters=${ITERS:-200}
mkdir -p out
(cd ../examples && for b in dyresnet dymobilenetv2 condconv; do go build -o ../bench/out/block-$b ./blocks/$b; done)
: >out/blocks.txt
for r in $(seq "$rounds"); do
	echo "round $r of $rounds" >&2
	for b in dyresnet dymobilenetv2 condconv; do
		(cd ../examples && GOMAXPROCS=1 ../bench/out/block-$b -iters "$iters") |
			sed -n 's/^\([a-z0-9_]*\): \([0-9.]*\)\(µs\|ms\|s\) per block.*/dygen \1 \2 \3/p' >>out/blocks.txt
	done
	OMP_NUM_THREADS=1 /usr/bin/python3 peers/pytorch_blocks.py "$iters" | sed 's/^/pytorch /' >>out/blocks.txt
done
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), one core, $rounds rounds of $iters forwards"
python3 - out/blocks.txt <<'PY'
import statistics, sys
from collections import defaultdict
t = defaultdict(list)
scale = {"µs": 1e-6, "ms": 1e-3, "s": 1.0}
for line in open(sys.argv[1]):
    f = line.split()
    if f[0] == "dygen":
        t[("dygen", f[1])].append(float(f[2]) * scale[f[3]])
    elif f[0] == "pytorch":
        t[("pytorch", f[1])].append(float(f[2]))
print("| block | dygen | PyTorch 1.13 | PyTorch / dygen |")
print("| --- | --- | --- | --- |")
for b in ("dyresnet_basic", "dymobilenetv2_ir", "condconv_residual"):
    d, p = statistics.median(t[("dygen", b)]), statistics.median(t[("pytorch", b)])
    print("| %s | %.3f ms | %.3f ms | %.2f× |" % (b, d * 1e3, p * 1e3, p / d))
PY
