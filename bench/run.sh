#!/usr/bin/env bash
# Reproduce bench/results in one command: installs the peers from Debian if
# missing (python3-torch, libdnnl-dev, g++), builds the oneDNN harness, the
# FMA peak micro-benchmark and the Go driver, runs the interleaved
# comparison and writes bench/results/{table.md,results.json,chart_t*.png}.
# Extra arguments go to the driver, e.g. ./run.sh -layers Conv3x3 -rounds 3.
set -euo pipefail
cd "$(dirname "$0")"

need=()
[ -x /usr/bin/g++ ] || need+=(g++)
/usr/bin/python3 -c 'import torch, numpy' 2>/dev/null || need+=(python3-torch)
[ -f /usr/include/oneapi/dnnl/dnnl.hpp ] || need+=(libdnnl-dev)
if [ ${#need[@]} -gt 0 ]; then
	echo "run.sh: installing ${need[*]} from Debian" >&2
	if [ "$(id -u)" -ne 0 ]; then
		echo "run.sh: need root to apt-get install ${need[*]} (or install them and rerun)" >&2
		exit 1
	fi
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi
echo "run.sh: oneDNN $(dpkg-query -W -f='${Version}' libdnnl-dev), PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)' 2>/dev/null)" >&2

mkdir -p out results
g++ -O3 -march=native -fopenmp -o out/onednn_dyconv peers/onednn_dyconv.cpp -ldnnl
gcc -O2 -mavx2 -mfma -o out/fma_peak peak/fma_peak.c
# BENCH_TAGS=purego measures dygen's pure-Go backend instead of its assembly.
go build -tags "${BENCH_TAGS:-}" -o out/dyconvbench.new ./cmd/dyconvbench && mv out/dyconvbench.new out/dyconvbench
exec ./out/dyconvbench -out results -data out/data -onednn out/onednn_dyconv -peak out/fma_peak \
	-python /usr/bin/python3 -pytorch-script peers/pytorch_dyconv.py "$@"
