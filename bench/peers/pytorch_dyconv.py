"""pytorch_dyconv: the PyTorch peer of dygen's benchmark (bench/README.md).

A whole DyConv forward as the reference DyConv module computes it:
F.adaptive_avg_pool2d -> F.linear -> softmax over the experts -> einsum
fusion of the expert kernels -> F.conv2d. The candidate formulations are
timed at setup and the fastest is kept:
  grouped:    the batch folded into channels, one F.conv2d with
              groups = N*groups on [1, N*Cin, H, W] (the reference module);
  per-sample: one F.conv2d per sample with its own fused kernel (N > 1);
  +mkldnn_convolution: the same with torch.mkldnn_convolution in place of
              F.conv2d, which Debian's 1.13 routes to a slow generic-BLAS
              path for 1x1 kernels.

It is a server driven by bench/cmd/dyconvbench over stdin/stdout, one
command per line, one answer per line ("ok {json}" or "err message"):
  setup DIR Cin Cout KH KW SH SW PH PW DH DW G K H W N T OUTFILE
  time REPS
Run it with Debian's /usr/bin/python3 and python3-torch.
"""
import json
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover
    print("err PyTorch peer: %s: install Debian's python3-torch (apt-get install -y python3-torch) "
          "and run with /usr/bin/python3" % e, flush=True)
    sys.exit(1)


def readf(path, n):
    a = np.fromfile(path, dtype="<f4", count=n)
    if a.size != n:
        raise RuntimeError("%s: short file, want %d floats" % (path, n))
    return torch.from_numpy(a)


class Bench:
    def setup(self, a):
        d = a[0]
        (cin, cout, kh, kw, sh, sw, ph, pw, dh, dw, g, k, h, w, n, t) = map(int, a[1:17])
        out = a[17]
        torch.set_num_threads(t)
        fan = cin // g * kh * kw
        self.weight = readf(d + "/weight.f32", k * cout * fan).view(k, cout, cin // g, kh, kw)
        self.bias = readf(d + "/bias.f32", cout)
        self.fcw = readf(d + "/fc_weight.f32", k * cout * cin).view(k * cout, cin)
        self.fcb = readf(d + "/fc_bias.f32", k * cout)
        self.x = readf(d + "/x.f32", n * cin * h * w).view(n, cin, h, w)
        self.biasrep = self.bias.repeat(n)
        self.n, self.k, self.cin, self.cout, self.g = n, k, cin, cout, g
        self.conv = dict(stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw))
        with torch.inference_mode():
            forms = {"grouped": self.grouped, "grouped+mkldnn_convolution": self.grouped_mkldnn}
            if n > 1:
                forms["per-sample"] = self.per_sample
                forms["per-sample+mkldnn_convolution"] = self.per_sample_mkldnn
            ms = {}
            for name, f in forms.items():
                for _ in range(2):
                    f()
                ts = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    f()
                    ts.append((time.perf_counter() - t0) * 1e3)
                ms[name] = sorted(ts)[1]
            best = min(ms, key=ms.get)
            self.f = forms[best]
            y = self.f()
        y.contiguous().numpy().astype("<f4").tofile(out)
        return {"formulation": best, "candidates_ms": ms, "torch": torch.__version__,
                "threads": torch.get_num_threads(), "mkldnn": torch.backends.mkldnn.is_available(),
                "first_ms": ms[best]}

    def coeffs(self, x):
        pooled = F.adaptive_avg_pool2d(x, 1).flatten(1)            # [n, Cin]
        logits = F.linear(pooled, self.fcw, self.fcb)              # [n, K*Cout]
        return torch.softmax(logits.view(-1, self.k, self.cout), dim=1)  # [n, K, Cout]

    def fused(self):
        pi = self.coeffs(self.x)
        return torch.einsum("nko,koihw->noihw", pi, self.weight)   # [n, Cout, Cin/g, KH, KW]

    def grouped(self, conv=F.conv2d):
        n = self.n
        wf = self.fused()
        y = conv(self.x.reshape(1, n * self.cin, *self.x.shape[2:]),
                 wf.reshape(n * self.cout, *wf.shape[2:]), self.biasrep,
                 groups=n * self.g, **self.conv)
        return y.view(n, self.cout, *y.shape[2:])

    def per_sample(self, conv=F.conv2d):
        wf = self.fused()
        return torch.cat([conv(self.x[i:i + 1], wf[i], self.bias, groups=self.g, **self.conv)
                          for i in range(self.n)])

    # F.conv2d in Debian's PyTorch 1.13 sends some shapes (1x1 kernels) to
    # its slow path over the generic BLAS; torch.mkldnn_convolution calls
    # the same oneDNN 2.6 convolution directly. Both are candidates.
    def mkldnn_conv(self, x, w, b, groups, stride, padding, dilation):
        return torch.mkldnn_convolution(x, w, b, padding, stride, dilation, groups)

    def grouped_mkldnn(self):
        return self.grouped(self.mkldnn_conv)

    def per_sample_mkldnn(self):
        return self.per_sample(self.mkldnn_conv)

    def time(self, reps):
        ts = []
        with torch.inference_mode():
            for _ in range(reps):
                t0 = time.perf_counter()
                self.f()
                ts.append((time.perf_counter() - t0) * 1e3)
        return {"ms": ts}


def main():
    b = Bench()
    for line in sys.stdin:
        a = line.split()
        if not a:
            continue
        try:
            if a[0] == "setup":
                r = b.setup(a[1:])
            elif a[0] == "time":
                r = b.time(int(a[1]))
            elif a[0] == "quit":
                return
            else:
                raise RuntimeError("unknown command " + a[0])
            print("ok " + json.dumps(r), flush=True)
        except Exception as e:  # report, keep serving
            print("err " + str(e).replace("\n", " "), flush=True)


if __name__ == "__main__":
    main()
