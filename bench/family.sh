#!/usr/bin/env bash
# The cost of the family and of the epilogue: generates family.yaml (the
# suite's shapes as plain DyNet, with BN + residual + ReLU, as CondConv and
# as DY-CNN) into out/family, runs its generated benchmarks on one core
# in ROUNDS interleaved rounds (every layer once per round), and prints the
# median time per call and the ratios to the plain layer (family_table.py).
#   ROUNDS=7 BENCHTIME=0.3s BENCH='Conv3x3' ./family.sh
# GODEBUG=cpu.avx2=off pins the pure-Go kernels.
set -euo pipefail
cd "$(dirname "$0")"
rounds=${ROUNDS:-5}
benchtime=${BENCHTIME:-0.2s}
mkdir -p out/family
(cd .. && go run ./cmd/dygen generate -spec bench/family.yaml -out bench/out/family)
go test -c -o out/family.test ./out/family
go test -c -o out/familystream.test ./familystream
: >out/family.txt
for r in $(seq "$rounds"); do
	echo "round $r of $rounds" >&2
	./out/family.test -test.run '^$' -test.bench "${BENCH:-.}" -test.benchtime "$benchtime" -test.cpu 1 >>out/family.txt
	./out/familystream.test -test.run '^$' -test.bench "Residual/${BENCH:-.}" -test.benchtime "$benchtime" -test.cpu 1 |
		sed 's/^BenchmarkResidual\//Benchmark/' >>out/family.txt
done
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), one core (GOMAXPROCS=1), $rounds rounds" 
python3 family_table.py out/family.txt
