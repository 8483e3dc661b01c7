"""Times the golden blocks in PyTorch on one thread: bench/blocks.sh's peer.

    /usr/bin/python3 peers/pytorch_blocks.py ITERS [BLOCK...]

For each block (python/dygen_blocks.py builds it from its golden file, as
the Go examples load theirs) it checks the float32 output against
output_f64, then prints "BLOCK <median seconds per forward>" over ITERS
timed forwards in eval mode under torch.no_grad(), after warm-up."""
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from dygen_blocks import BLOCK_NAMES, golden_block  # noqa: E402


def main(argv):
    torch.set_num_threads(1)
    iters = int(argv[0])
    for name in argv[1:] or BLOCK_NAMES:
        model, inputs, want, _ = golden_block(name)
        model.eval()
        with torch.no_grad():
            y = model(*inputs)
            err = ((y.double() - want).abs().max() / max(1.0, want.abs().max().item())).item()
            if err > 1e-5:
                raise SystemExit("%s: PyTorch's float32 output is off by %.3g" % (name, err))
            for _ in range(5):
                model(*inputs)
            ts = []
            for _ in range(iters):
                t0 = time.perf_counter()
                model(*inputs)
                ts.append(time.perf_counter() - t0)
        print(name, statistics.median(ts), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
