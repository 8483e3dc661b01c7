#!/usr/bin/env bash
# purego_peak.sh: the pure-Go kernels of the suite's layers against the
# scalar limit, on one core, in interleaved rounds (the machines here are
# shared, so the limit is measured next to each sample):
#   - internal/peak's pure-Go loop (12 scalar float32 multiply-add chains,
#     built with -tags purego): the limit Go code reaches here;
#   - 4 FLOPs per cycle at the clock peak/clock.c measures (two MULSS and two
#     ADDSS per cycle, the issue's definition).
# Each round runs the clock, the peak loop and the layers' benchmarks
# (BenchmarkX/N=1 and N=8, GOMAXPROCS 1); the table has the medians over the
# rounds of GFLOP/s and of each round's percentages.
#   ROUNDS=5 LAYERS='Conv3x3C(64|128)$' bench/purego_peak.sh [out.md]
set -euo pipefail
cd "$(dirname "$0")"
ROUNDS=${ROUNDS:-5}
LAYERS=${LAYERS:-'Conv3x3C(64|128)$'}
BENCHTIME=${BENCHTIME:-10x}
out=${1:-/dev/stdout}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p out
gcc -O1 -o out/clock peak/clock.c
(cd .. && go test -tags purego -c -o "$tmp/peak.test" ./internal/peak && go test -tags purego -c -o "$tmp/suite.test" ./generated/suite)
for r in $(seq "$ROUNDS"); do
	clk=$(taskset -c 0 out/clock)
	peak=$(taskset -c 0 "$tmp/peak.test" -test.run '^$' -test.bench Measure -test.cpu 1 -test.benchtime 3x | awk '/^Benchmark/{print $5}')
	taskset -c 0 "$tmp/suite.test" -test.run '^$' -test.bench "$LAYERS" -test.cpu 1 -test.benchtime "$BENCHTIME" |
		awk -v r="$r" -v c="$clk" -v p="$peak" '/^Benchmark/{print r, c, p, $1, $5}'
done >"$tmp/samples"
python3 - "$tmp/samples" "$ROUNDS" "$LAYERS" >"$out" <<'PY'
import collections, statistics, subprocess, sys
rows = [l.split() for l in open(sys.argv[1])]
cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
model = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("Model name")), "?")
fam = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("CPU family")), "?")
mod = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("Model:")), "?")
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
by = collections.defaultdict(list)
clks, peaks = {}, {}
for r, c, p, name, g in rows:
    by[name].append((float(g), float(p), float(c)))
    clks[r], peaks[r] = float(c), float(p)
print(f"# Pure-Go kernels against the scalar limit\n")
print(f"- CPU: {model} (family {fam} model {mod}); dygen {commit}, generated/suite built with -tags purego; one core (taskset -c 0, GOMAXPROCS 1).")
print(f"- {sys.argv[2]} interleaved rounds of: bench/peak/clock.c, internal/peak's pure-Go loop, the benchmarks of layers matching `{sys.argv[3]}`.")
print(f"- Clock: median {statistics.median(clks.values()):.2f} GHz (range {min(clks.values()):.2f}–{max(clks.values()):.2f}), so 4 FLOPs per cycle is {4*statistics.median(clks.values()):.1f} GFLOP/s.")
print(f"- Pure-Go peak loop: median {statistics.median(peaks.values()):.1f} GFLOP/s (range {min(peaks.values()):.1f}–{max(peaks.values()):.1f}).\n")
print("Percentages: the median over the rounds, then the best round (a round a noisy neighbour left alone).\n")
print("| benchmark | GFLOP/s (median, range) | % of the peak loop | % of 4 FLOPs/cycle |")
print("| --- | --- | --- | --- |")
for name in sorted(by):
    v = by[name]
    g = [x[0] for x in v]
    pp = [100*x[0]/x[1] for x in v]
    pc = [100*x[0]/(4*x[2]) for x in v]
    print(f"| {name} | {statistics.median(g):.2f} ({min(g):.2f}–{max(g):.2f}) | "
          f"{statistics.median(pp):.0f} %; best {max(pp):.0f} % | {statistics.median(pc):.0f} %; best {max(pc):.0f} % |")
PY
