#!/usr/bin/env bash
# Run-time sizes against fixed sizes: generates rt.yaml (each suite layer
# as in generated/suite.yaml, and again without input_size, suffix RT) into
# out/rt, and times both at the suite's input size on one core
# (DYGEN_BENCH_SIZE gives the RT benchmark that size), in ROUNDS
# interleaved rounds; prints medians and the ratio RT / fixed.
#   ROUNDS=5 BENCHTIME=0.2s ./rt.sh
set -euo pipefail
cd "$(dirname "$0")"
rounds=${ROUNDS:-5}
benchtime=${BENCHTIME:-0.2s}
mkdir -p out/rt
(cd .. && go run ./cmd/dygen generate -spec bench/rt.yaml -out bench/out/rt)
go test -c -o out/rt.test ./out/rt
# name and input size of every fixed layer, from rt.yaml
layers=$(awk '/- name:/ {n=$3} /input_size:/ {s=$0; gsub(/[^0-9,]/, "", s); split(s, v, ","); print n, v[1] "x" v[2]}' rt.yaml)
: >out/rt.txt
for r in $(seq "$rounds"); do
	echo "round $r of $rounds" >&2
	while read -r name size; do
		./out/rt.test -test.run '^$' -test.bench "^Benchmark${name}\$" -test.benchtime "$benchtime" -test.cpu 1 >>out/rt.txt
		DYGEN_BENCH_SIZE=$size ./out/rt.test -test.run '^$' -test.bench "^Benchmark${name}RT\$" -test.benchtime "$benchtime" -test.cpu 1 >>out/rt.txt
	done <<<"$layers"
done
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), one core (GOMAXPROCS=1), $rounds rounds"
python3 - out/rt.txt <<'PY'
import re, statistics, sys
from collections import defaultdict
t, order = defaultdict(list), []
for line in open(sys.argv[1]):
    m = re.match(r"Benchmark(\w+)/N=(\d+)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op", line)
    if m:
        k = (m.group(1), int(m.group(2)))
        if k not in t:
            order.append(k)
        t[k].append(float(m.group(3)))
print("| layer | N | fixed size | run-time size | RT / fixed |")
print("| --- | --- | --- | --- | --- |")
for name, n in order:
    if name.endswith("RT") or (name + "RT", n) not in t:
        continue
    f, r = statistics.median(t[(name, n)]), statistics.median(t[(name + "RT", n)])
    print("| %s | %d | %.3f ms | %.3f ms | %.2f |" % (name, n, f / 1e6, r / 1e6, r / f))
PY
