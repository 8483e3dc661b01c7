#!/usr/bin/env python3
"""dygen_export: write a dygen spec and a safetensors weights file from a PyTorch model.

    from dygen_export import export
    report = export(model, example_input, "layers.yaml", "model.safetensors", package="dyconv")

export() walks the model, finds the dynamic convolutions dygen generates code
for, runs the model once (eval mode, torch.no_grad()) on example_input to see
the input size of every conv and what follows it, and writes:

- the spec (YAML): one layer per exported conv, with the conv's
  hyperparameters, its routing (dynet, condconv, dycnn, odconv or static), the
  BatchNorm2d, residual add and activation that follow it (its epilogue), the
  input size it was traced at, and the state-dict paths of its tensors;
- the weights (safetensors, written here without the safetensors package):
  the model's whole state_dict as float32, under its natural names, without
  BatchNorm's num_batches_tracked. Nothing is folded: the Go side folds the BN.

It recognises modules by structure (attributes and submodules), not by class
name:

| routing   | module                                                                 |
| --------- | ---------------------------------------------------------------------- |
| dynet     | the seed's DyNet2D: weight [K, Cout, Cin/g, KH, KW], optional bias     |
|           | [Cout], _coefficient_fn.fc (nn.Linear Cin -> K*Cout)                   |
| condconv  | timm's CondConv2d: weight [K, Cout*Cin/g*KH*KW], bias [K, Cout] or     |
|           | None, num_experts; its routing is the routing_fn nn.Linear of an       |
|           | enclosing block (timm's CondConvResidual), sigmoid of it on the mean-  |
|           | pooled block input, shared by the block's convs                        |
| dycnn     | DY-CNN's Dynamic_conv2d (kaijieshi7): weight [K, Cout, Cin/g, k, k],   |
|           | attention.fc1, attention.fc2, attention.temperature                    |
| odconv    | ODConv2d (OSVAI): weight [K, Cout, Cin/g, k, k], attention.fc, .bn,    |
|           | .channel_fc, .filter_fc, .spatial_fc, .kernel_fc, .temperature         |
| static    | plain nn.Conv2d                                                        |

What follows a conv is read from the trace (data flow, not module order): a
BatchNorm2d (eval, running statistics) fed only by the conv's output, then a
residual add (a same-shape `a + b` / `a += b` / torch.add seen through
torch.overrides.TorchFunctionMode), then an activation: ReLU, ReLU6 (or
Hardtanh(0, 6)), Hardswish, SiLU, Sigmoid, as modules or as torch.nn.functional
calls. timm's BatchNormAct2d (a BatchNorm2d with an `act` submodule) counts as
BN + activation. When two convs meet at one add (e.g. a ResNet block with a
downsample conv), the conv whose value reaches the add last takes the add and
the activation after it; the other operand is its residual tensor.

Residual adds are not modules. On PyTorch builds without TorchFunctionMode the
exporter cannot see them at all, and in general it cannot tell what the other
operand is (the report says what it saw). Declare them with
residual=["layer1.0.conv2", ...] (module paths of the convs whose BN output
takes the add): a given list is authoritative, and every difference from what
the trace shows is reported.

Every exported conv is checked: the exporter recomputes the conv's output in
float64 from the hyperparameters it read and the module's tensors, and compares
it with what the module computed in the trace. A conv it cannot reproduce is
skipped, with the error. For DyNet2D this check also tells the gate (softmax or
sigmoid), which the module does not store.

It reports what it skipped and why (stderr, and the returned ExportReport):
modules with weights that are not supported convs (nn.Linear heads, transposed
or 1-D convs, ...), convs it cannot express (timm's dynamic TF-"SAME" padding,
nn.Conv2d subclasses with their own forward, inconsistent shapes), convs that
never ran in the trace, BatchNorms it could not attach to a conv, and the
weightless modules (pooling, unfused activations) that stay outside the
generated layers.

Run with Debian's /usr/bin/python3 (python3-torch 1.13); it needs only torch.
`python3 dygen_export.py --help` shows the command-line form.
"""

import argparse
import importlib
import importlib.util
import json
import math
import os
import re
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

__version__ = "0.1"

__all__ = [
    "export", "ExportReport", "ExportError", "Skipped",
    "write_safetensors", "read_safetensors", "read_spec", "go_layer_name",
]

ROUTINGS = ("dynet", "condconv", "dycnn", "odconv", "static")
ACTIVATIONS = ("none", "relu", "relu6", "hardswish", "silu", "sigmoid")
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")

# A conv is exported only if the float64 recomputation of its output from
# the exported hyperparameters agrees with the module's own output to this
# fraction of max |output| (float32 rounding is around 1e-6 of it).
CHECK_TOL = 1e-3

# ODConv's attention BatchNorm eps, which the Go side fixes.
ODCONV_ATTN_EPS = 1e-5


# ---------------------------------------------------------------------------
# safetensors


_ST_NUMPY = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?",
}
_ST_TORCH = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}
_TORCH_ST = {v: k for k, v in _ST_TORCH.items()}


def write_safetensors(path, tensors, metadata=None):
    """Writes tensors (a dict name -> torch.Tensor, in that order) to path in
    the safetensors format: an 8-byte little-endian header length, a JSON
    header (dtype, shape, data_offsets per tensor, and __metadata__, a dict
    of strings), padded with spaces to a multiple of 8 bytes, then the raw
    little-endian data. The file is written to path + ".tmp" and renamed."""
    header = {}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError("bad tensor name %r" % (name,))
        t = t.detach().cpu().contiguous()
        dt = _TORCH_ST.get(t.dtype)
        if dt is None:
            raise ValueError("tensor %s: dtype %s has no safetensors form here" % (name, t.dtype))
        if dt == "BF16":
            data = t.view(torch.int16).numpy().astype("<i2").tobytes()
        else:
            data = t.numpy().astype(_ST_NUMPY[dt], copy=False).tobytes()
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        meta = {}
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise ValueError("safetensors metadata must map strings to strings, got %r: %r" % (k, v))
            meta[k] = v
        header = dict([("__metadata__", meta)] + list(header.items()))
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path):
    """Reads a safetensors file. Returns (tensors, metadata): a dict name ->
    torch.Tensor in file order and the __metadata__ dict ({} when absent)."""
    import numpy as np

    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError("%s: too short for a safetensors file" % path)
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ValueError("%s: header length %d past the end of the file" % (path, n))
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = memoryview(raw)[8 + n:]
    meta = header.pop("__metadata__", None) or {}
    out = {}
    for name, info in header.items():
        dt, shape = info["dtype"], [int(s) for s in info["shape"]]
        lo, hi = info["data_offsets"]
        if not 0 <= lo <= hi <= len(data):
            raise ValueError("%s: tensor %s: data_offsets %r outside the data" % (path, name, [lo, hi]))
        buf = data[lo:hi]
        count = math.prod(shape)
        if dt == "BF16":
            if hi - lo != 2 * count:
                raise ValueError("%s: tensor %s: %d bytes for shape %r BF16" % (path, name, hi - lo, shape))
            u = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
            t = torch.from_numpy(u.view(np.float32).copy()).to(torch.bfloat16)
        elif dt in _ST_NUMPY:
            a = np.frombuffer(buf, dtype=_ST_NUMPY[dt])
            if a.size != count:
                raise ValueError("%s: tensor %s: %d bytes for shape %r %s" % (path, name, hi - lo, shape, dt))
            t = torch.from_numpy(a.astype(a.dtype.newbyteorder("="), copy=True))
        else:
            raise ValueError("%s: tensor %s: unsupported dtype %s" % (path, name, dt))
        out[name] = t.reshape(shape)
    return out, meta


# ---------------------------------------------------------------------------
# the spec


def _yaml_value(v):
    """A value in JSON form, which is also YAML flow form. Floats always carry
    a '.' so that YAML 1.1 readers see a float too."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError("non-finite number %r in the spec" % v)
        s = repr(v)
        if "e" in s:
            m, e = s.split("e")
            if "." not in m:
                m += ".0"
            if e[0] not in "+-":
                e = "+" + e
            s = m + "e" + e
        elif "." not in s:
            s += ".0"
        return s
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_yaml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(json.dumps(str(k)) + ": " + _yaml_value(x) for k, x in v.items()) + "}"
    raise TypeError("cannot write %r in the spec" % (v,))


def _comment(s):
    return "# " + " ".join(str(s).split())


def _write_spec(path, package, layers, comments, layer_comments):
    lines = [_comment(c) for c in comments]
    lines.append("package: " + _yaml_value(package))
    lines.append("layers:")
    for layer, lc in zip(layers, layer_comments):
        for c in lc:
            lines.append("  " + _comment(c))
        first = True
        for k, v in layer.items():
            lines.append(("  - " if first else "    ") + k + ": " + _yaml_value(v))
            first = False
    text = "\n".join(lines) + "\n"
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def read_spec(path):
    """Reads a spec as export() writes it (block YAML whose values are JSON
    flow values, comments on their own lines). Returns {"package": ...,
    "layers": [dict, ...]}. It is not a general YAML reader."""
    spec = {"layers": []}
    cur = None
    with open(path, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            item = s.startswith("- ")
            if item:
                s = s[2:]
            key, sep, val = s.partition(":")
            if not sep:
                raise ValueError("%s:%d: expected key: value, got %r" % (path, no, line.rstrip()))
            key, val = key.strip(), val.strip()
            if not line.startswith(" "):
                if key == "layers":
                    continue
                spec[key] = json.loads(val)
                continue
            if item:
                cur = {}
                spec["layers"].append(cur)
            if cur is None:
                raise ValueError("%s:%d: a layer field before the first layer" % (path, no))
            cur[key] = json.loads(val)
    return spec


# The module paths the Go parser takes in state_dict (gen/parse.go).
_MODULE_PATH = re.compile(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*")

_GO_KEYWORDS = {
    "break", "case", "chan", "const", "continue", "default", "defer", "else", "fallthrough", "for",
    "func", "go", "goto", "if", "import", "interface", "map", "package", "range", "return", "select",
    "struct", "switch", "type", "var",
}


def go_layer_name(path, fallback="Layer"):
    """An exported Go identifier for a module path: the path's parts (split at
    '.', '_' and any other character that is not an ASCII letter or digit),
    each with its first letter upper-cased, joined; an '_' separates two
    parts when the first ends and the second starts with a digit. conv1 ->
    Conv1, conv.0 -> Conv0, conv_pw -> ConvPw, layer1.0.conv1 -> Layer1_0Conv1.
    fallback names the root (path "") and prefixes a name that would start
    with a digit."""
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", path) if p]
    name = ""
    for p in parts:
        if name and name[-1].isdigit() and p[0].isdigit():
            name += "_"
        name += p[0].upper() + p[1:]
    if not name:
        name = fallback
    if not name[0].isalpha():
        name = fallback + name
    return name[0].upper() + name[1:]


# ---------------------------------------------------------------------------
# the report


class Skipped:
    """A module the exporter did not turn into a layer, and why."""

    def __init__(self, path, type_name, reason):
        self.path, self.type, self.reason = path, type_name, reason

    def __repr__(self):
        return "Skipped(%r, %r, %r)" % (self.path, self.type, self.reason)

    def __str__(self):
        return "%s (%s): %s" % (self.path or "<model>", self.type, self.reason)


class ExportReport:
    """What export() did.

    layers:     the spec's layers as written (dicts in spec key order);
    traced:     per layer name, what the trace showed: module path, class,
                batch, input and output shapes, number of calls, the residual
                operand's origin, the check's relative error;
    skipped:    Skipped entries for modules with weights (or convs) that are
                not in the spec;
    unexported: Skipped entries for weightless modules (pooling, unfused
                activations, ...) that stay outside the generated layers;
    warnings:   things to look at: assumptions, undetermined values, the
                DY-CNN temperature, declared residuals the trace disagrees with;
    notes:      informational lines;
    tensors:    the names written to the weights file;
    spec_path, weights_path, package.
    """

    def __init__(self):
        self.layers = []
        self.traced = {}
        self.skipped = []
        self.unexported = []
        self.warnings = []
        self.notes = []
        self.tensors = []
        self.spec_path = self.weights_path = self.package = None

    def layer(self, path_or_name):
        """The spec layer for a module path or a layer name, or None."""
        for l in self.layers:
            if l["name"] == path_or_name or l["state_dict"].get("conv", "") == path_or_name:
                return l
        return None

    def skipped_paths(self):
        return [s.path for s in self.skipped]

    def __str__(self):
        out = []
        if self.spec_path:
            out.append("wrote %d layer(s) to %s and %d tensor(s) to %s" % (
                len(self.layers), self.spec_path, len(self.tensors), self.weights_path))
        for l in self.layers:
            t = self.traced.get(l["name"], {})
            epi = []
            if l.get("batch_norm"):
                epi.append("bn " + l["state_dict"].get("batch_norm", ""))
            if l.get("residual"):
                epi.append("+ residual")
            if l.get("activation", "none") != "none":
                epi.append(l["activation"])
            out.append("  layer %s <- %s (%s, %s%s)%s" % (
                l["name"], l["state_dict"].get("conv") or "<model>", t.get("class", "?"), l["routing"],
                ", routing_input " + l["routing_input"] if "routing_input" in l else "",
                ": " + ", ".join(epi) if epi else ""))
        for s in self.skipped:
            out.append("skipped " + str(s))
        for s in self.unexported:
            out.append("not exported " + str(s))
        for w in self.warnings:
            out.append("warning: " + w)
        for n in self.notes:
            out.append("note: " + n)
        return "\n".join(out)


class ExportError(Exception):
    """export() could not write a spec. .report holds what it found."""

    def __init__(self, msg, report=None):
        super().__init__(msg)
        self.report = report


class _Unsupported(Exception):
    pass


# ---------------------------------------------------------------------------
# recognising modules and reading their hyperparameters


_MISSING = object()


def _get(m, names, default=_MISSING):
    """The first of the attributes names that m has and that is not None:
    (name, value), or (None, default)."""
    for n in names:
        v = getattr(m, n, None)
        if v is not None:
            return n, v
    return None, default


def _is_tensor(v):
    return isinstance(v, torch.Tensor)


def _param(m, name):
    v = getattr(m, name, None)
    return v if _is_tensor(v) else None


def _kind(m):
    """The routing a module is a conv of, or None."""
    w = _param(m, "weight")
    if w is None:
        return None
    cf = getattr(m, "_coefficient_fn", None)
    if cf is not None and isinstance(getattr(cf, "fc", None), nn.Linear) and w.dim() == 5:
        return "dynet"
    att = getattr(m, "attention", None)
    if isinstance(att, nn.Module) and w.dim() == 5:
        if all(isinstance(getattr(att, n, None), nn.Module) for n in ("fc", "bn", "channel_fc")):
            return "odconv"
        if all(isinstance(getattr(att, n, None), nn.Module) for n in ("fc1", "fc2")):
            return "dycnn"
    if w.dim() == 2 and getattr(m, "num_experts", None) is not None and getattr(m, "kernel_size", None) is not None \
            and getattr(m, "out_channels", None) is not None:
        return "condconv"
    if isinstance(m, nn.Conv2d):
        return "static"
    return None


def _pair(v, what):
    if isinstance(v, torch.Size):
        v = tuple(v)
    if isinstance(v, bool):
        raise _Unsupported("%s %r is not an int or a pair" % (what, v))
    if isinstance(v, int):
        return (v, v)
    if isinstance(v, (tuple, list)) and len(v) in (1, 2) and all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        return (v[0], v[-1])
    raise _Unsupported("%s %r is not an int or a pair of ints" % (what, v))


class _Conv:
    """An exportable conv: its module, routing and hyperparameters."""

    def __init__(self, path, module, kind):
        self.path, self.module, self.kind = path, module, kind
        self.type = type(module).__name__
        self.warnings = []
        self.calls = []         # per call: dict(inp, out, in_shape, out_shape, errs, r)
        self.gate = None        # dynet, decided by the check
        self.gate_hint = None
        self.T = None
        self.A = None
        self.extra_tensors = {}  # tensors the module lacks, written as zeros (name relative to the conv)
        self.block = None       # condconv: (block path, block module, routing_fn path)
        self.bad = None         # a reason to skip it found after reading

    def describe(self):
        return "%s (%s)" % (self.path or "<model>", self.type)


def _read_conv(path, m, kind):
    """Reads a conv's hyperparameters; raises _Unsupported with the reason."""
    c = _Conv(path, m, kind)
    w = m.weight
    warn = c.warnings.append

    def attr(names, what, default=_MISSING):
        n, v = _get(m, names)
        if n is None:
            if default is _MISSING:
                raise _Unsupported("no %s attribute (looked for %s)" % (what, ", ".join(names)))
            warn("%s: no %s attribute (looked for %s); assumed %r (checked against the trace)" % (
                c.describe(), what, ", ".join(names), default))
            return default
        return v

    groups = attr(("groups",), "groups", 1)
    if not isinstance(groups, int) or groups < 1:
        raise _Unsupported("groups %r is not a positive int" % (groups,))
    if kind == "condconv":
        K = w.shape[0]
    elif kind == "static":
        K = 1
    else:
        K = w.shape[0]
        if w.dim() != 5:
            raise _Unsupported("weight of shape %s is not [K, Cout, Cin/groups, KH, KW]" % list(w.shape))
    k_attr = {"dynet": ("num_experts", "K", "kernel_num"), "condconv": ("num_experts",),
              "dycnn": ("K", "num_experts"), "odconv": ("kernel_num", "num_experts", "K"), "static": ()}[kind]
    n, kv = _get(m, k_attr)
    if n is not None and kv != K:
        raise _Unsupported("%s = %r, but the weight has %d experts" % (n, kv, K))
    inc = _get(m, ("in_channels", "in_planes", "inplanes", "in_chs"), None)[1]
    outc = _get(m, ("out_channels", "out_planes", "outplanes", "out_chs"), None)[1]
    ks = _get(m, ("kernel_size",), None)[1]
    if ks is not None:
        ks = _pair(ks, "kernel_size")
    if kind == "condconv":
        if inc is None or outc is None or ks is None:
            raise _Unsupported("a CondConv2d needs in_channels, out_channels and kernel_size: its weight is flattened")
        if list(w.shape) != [K, outc * (inc // groups) * ks[0] * ks[1]] or inc % groups:
            raise _Unsupported("weight of shape %s is not [K, Cout*Cin/groups*KH*KW] = [%d, %d]" % (
                list(w.shape), K, outc * (inc // max(groups, 1)) * ks[0] * ks[1]))
    else:
        wk = w if kind == "static" else w[0]
        if wk.dim() != 4:
            raise _Unsupported("weight of shape %s is not a 2-D conv kernel" % list(w.shape))
        d_out, d_in, d_kh, d_kw = wk.shape
        if outc is None:
            outc = d_out
        if inc is None:
            inc = d_in * groups
        if ks is None:
            ks = (d_kh, d_kw)
        if (d_out, d_in * groups, d_kh, d_kw) != (outc, inc, ks[0], ks[1]):
            raise _Unsupported("weight of shape %s does not match in %d, out %d, groups %d, kernel %s" % (
                list(w.shape), inc, outc, groups, list(ks)))
    if inc % groups or outc % groups:
        raise _Unsupported("groups %d does not divide in %d and out %d" % (groups, inc, outc))
    c.inc, c.outc, c.groups, c.K = inc, outc, groups, K
    c.kh, c.kw = ks
    c.sh, c.sw = _pair(attr(("stride",), "stride", 1), "stride")
    c.dh, c.dw = _pair(attr(("dilation",), "dilation", 1), "dilation")
    if kind == "condconv" and getattr(m, "dynamic_padding", False):
        raise _Unsupported("dynamic TF-'SAME' padding (timm's padding='same' with a stride or an even dilated "
                           "window): its padding depends on the input size and may be asymmetric, which the "
                           "spec cannot express")
    pad = attr(("padding",), "padding", 0)
    if isinstance(pad, str):
        if pad == "valid":
            c.padding = (0, 0)
        elif pad == "same":
            if (c.sh, c.sw) != (1, 1):
                raise _Unsupported("padding='same' with stride %s" % [c.sh, c.sw])
            c.padding = "same"
        else:
            raise _Unsupported("padding string %r (only 'same' and 'valid' are PyTorch's)" % pad)
    else:
        c.padding = _pair(pad, "padding")
    mode = getattr(m, "padding_mode", None) or "zeros"
    if mode not in PADDING_MODES:
        raise _Unsupported("padding_mode %r is not one of %s" % (mode, ", ".join(PADDING_MODES)))
    c.mode = mode
    # Bias.
    b = getattr(m, "bias", None)
    if b is not None and not _is_tensor(b):
        if b is False:
            b = None
        else:
            raise _Unsupported("bias attribute %r is neither a tensor nor None" % (b,))
    c.bias = b is not None
    want_bias = {"dynet": [outc], "static": [outc], "condconv": [K, outc], "dycnn": [K, outc], "odconv": None}[kind]
    if c.bias:
        if want_bias is None:
            raise _Unsupported("ODConv2d has no conv bias, but this module has one of shape %s" % list(b.shape))
        if list(b.shape) != want_bias:
            raise _Unsupported("bias of shape %s, expected %s for %s" % (list(b.shape), want_bias, kind))
    # The routing.
    if kind == "dynet":
        cf = m._coefficient_fn
        fc = cf.fc
        if list(fc.weight.shape) != [K * outc, inc]:
            raise _Unsupported("_coefficient_fn.fc.weight of shape %s, expected [K*Cout, Cin] = [%d, %d]" % (
                list(fc.weight.shape), K * outc, inc))
        if fc.bias is None:
            c.extra_tensors["_coefficient_fn.fc.bias"] = torch.zeros(K * outc)
            warn("%s: _coefficient_fn.fc has no bias; the weights file gets a zero %s._coefficient_fn.fc.bias" % (
                c.describe(), path))
        for owner in (m, cf):
            for n in ("gate", "gate_fn", "normalize", "normalization", "activation"):
                v = getattr(owner, n, None)
                name = v if isinstance(v, str) else getattr(v, "__name__", type(v).__name__ if v is not None else "")
                name = str(name).lower()
                if "softmax" in name:
                    c.gate_hint = "softmax"
                elif "sigmoid" in name:
                    c.gate_hint = "sigmoid"
    elif kind == "dycnn":
        att = m.attention
        fc1, fc2 = att.fc1, att.fc2
        w1, w2 = _param(fc1, "weight"), _param(fc2, "weight")
        if w1 is None or w2 is None or w1.dim() not in (2, 4) or w2.dim() not in (2, 4):
            raise _Unsupported("attention.fc1/fc2 are not 1x1 convs or linears")
        A = w1.shape[0]
        if w1.reshape(A, -1).shape[1] != inc or list(w2.reshape(w2.shape[0], -1).shape) != [K, A]:
            raise _Unsupported("attention.fc1.weight %s / fc2.weight %s do not fit Cin %d, K %d" % (
                list(w1.shape), list(w2.shape), inc, K))
        if _param(fc1, "bias") is not None:
            raise _Unsupported("attention.fc1 has a bias (the reference's has none)")
        if _param(fc2, "bias") is None:
            c.extra_tensors["attention.fc2.bias"] = torch.zeros(K)
            warn("%s: attention.fc2 has no bias (DY-CNN before 2020-10-17); the weights file gets a zero "
                 "%s.attention.fc2.bias" % (c.describe(), path))
        if isinstance(getattr(att, "bn", None), nn.Module):
            raise _Unsupported("its attention has a BatchNorm (a DY-CNN variant the spec does not describe)")
        c.A = A
        c.T = _temperature(c, att)
    elif kind == "odconv":
        att = m.attention
        A = att.fc.weight.shape[0]
        if att.fc.weight.reshape(A, -1).shape[1] != inc:
            raise _Unsupported("attention.fc.weight %s does not fit Cin %d" % (list(att.fc.weight.shape), inc))
        if _param(att.fc, "bias") is not None:
            raise _Unsupported("attention.fc has a bias (the reference's has none)")
        bn = att.bn
        if not isinstance(bn, nn.modules.batchnorm._BatchNorm) or bn.running_mean is None or not bn.affine:
            raise _Unsupported("attention.bn is not an affine BatchNorm with running statistics")
        if abs(bn.eps - ODCONV_ATTN_EPS) > 1e-12:
            warn("%s: attention.bn.eps is %g; the Go side fixes it at %g (the reference's), so its outputs will "
                 "differ slightly" % (c.describe(), bn.eps, ODCONV_ATTN_EPS))
        filt = not (inc == groups and outc == groups)
        spat = c.kh * c.kw != 1
        kern = K != 1
        for name, want, rows in (("filter_fc", filt, outc), ("spatial_fc", spat, c.kh * c.kw), ("kernel_fc", kern, K)):
            have = isinstance(getattr(att, name, None), nn.Module)
            if have != want:
                raise _Unsupported("attention.%s is %s, but the reference %s it for this shape" % (
                    name, "present" if have else "absent", "has" if want else "skips"))
            if have:
                fw = getattr(att, name).weight
                if list(fw.reshape(fw.shape[0], -1).shape) != [rows, A]:
                    raise _Unsupported("attention.%s.weight %s, expected [%d, %d, 1, 1]" % (name, list(fw.shape), rows, A))
        c.A = A
        c.T = _temperature(c, att)
        if c.mode != "zeros":
            raise _Unsupported("ODConv with padding_mode %s (it has zero padding only)" % c.mode)
    elif kind == "static":
        if type(m).forward is not nn.Conv2d.forward:
            raise _Unsupported("a subclass of nn.Conv2d with its own forward (e.g. timm's Conv2dSame or "
                               "StdConv2d): exporting it as a plain conv could be wrong")
    if kind in ("dycnn", "odconv"):
        if c.padding == "same" or (c.kh, c.sh, c.dh, c.padding[0]) != (c.kw, c.sw, c.dw, c.padding[1]):
            raise _Unsupported("%s takes a square kernel, stride, padding and dilation (the reference's are ints)" % kind)
    return c


def _temperature(c, att):
    n, T = _get(att, ("temperature", "T", "temp"))
    if n is None:
        c.warnings.append("%s: its attention has no temperature attribute; assumed 1 (checked against the trace)" % c.describe())
        return 1.0
    T = float(T)
    if not (T > 0 and math.isfinite(T)):
        raise _Unsupported("attention temperature %r is not a positive number" % T)
    if T != 1.0:
        if c.kind == "dycnn":
            c.warnings.append(
                "%s: attention.temperature is %g, and the spec records %g because that is what this module runs at. "
                "DY-CNN pitfall: T is a plain attribute, not in the state_dict. A freshly built Dynamic_conv2d has "
                "T = 34 (the constructor default) even after load_state_dict, while a checkpoint trained to "
                "convergence (update_temperature() each epoch, 34 -> 1 after 11 epochs) is meant to run at T = 1. "
                "If this model is trained, set module.attention.temperature = 1 and export again." % (c.describe(), T, T))
        else:
            c.warnings.append(
                "%s: attention.temperature is %g, and the spec records it. ODConv's T is not in the state_dict "
                "either: training anneals it from 30 to 1 over the first 10 epochs and evaluates at 1. If this model "
                "is trained, call update_temperature(1.0) and export again." % (c.describe(), T))
    return T


# ---------------------------------------------------------------------------
# the float64 recomputation of a conv's output (the check)


def _pads(c):
    if c.padding == "same":
        th, tw = c.dh * (c.kh - 1), c.dw * (c.kw - 1)
        return th // 2, th - th // 2, tw // 2, tw - tw // 2
    ph, pw = c.padding
    return ph, ph, pw, pw


def _conv_per_sample(c, x, w, b):
    """conv2d of each sample n of x [N, Cin, H, W] with its own kernel w[n]
    [Cout, Cin/g, KH, KW] and bias b[n] [Cout] (or None), with the layer's
    stride, padding (and padding mode), dilation and groups."""
    N = x.shape[0]
    t, bo, l, r = _pads(c)
    if t or bo or l or r:
        x = F.pad(x, (l, r, t, bo), mode="constant" if c.mode == "zeros" else c.mode)
    H, W = x.shape[2:]
    y = F.conv2d(x.reshape(1, N * c.inc, H, W), w.reshape(N * c.outc, c.inc // c.groups, c.kh, c.kw),
                 None if b is None else b.reshape(-1), (c.sh, c.sw), 0, (c.dh, c.dw), c.groups * N)
    return y.reshape(N, c.outc, y.shape[2], y.shape[3])


def _reference(c, x, r=None, gate="softmax"):
    """The conv's output in float64 from the exported hyperparameters."""
    m = c.module
    d = torch.float64
    x = x.detach().to(d)
    N = x.shape[0]
    pooled = x.mean(dim=(2, 3))
    w = m.weight.detach().to(d)
    b = m.bias.detach().to(d) if c.bias else None
    if c.kind == "static":
        return _conv_per_sample(c, x, w.unsqueeze(0).expand(N, *w.shape), None if b is None else b.expand(N, -1))
    if c.kind == "dynet":
        fc = m._coefficient_fn.fc
        fb = fc.bias.detach().to(d) if fc.bias is not None else 0
        z = (pooled @ fc.weight.detach().to(d).t() + fb).reshape(N, c.K, c.outc)
        pi = torch.softmax(z, dim=1) if gate == "softmax" else torch.sigmoid(z)
        wf = torch.einsum("nko,koihw->noihw", pi, w)
        return _conv_per_sample(c, x, wf, None if b is None else b.expand(N, -1))
    if c.kind == "condconv":
        r = r.detach().to(d).reshape(N, c.K)
        wf = (r @ w).reshape(N, c.outc, c.inc // c.groups, c.kh, c.kw)
        return _conv_per_sample(c, x, wf, None if b is None else r @ b)
    att = m.attention
    T = c.T
    if c.kind == "dycnn":
        w1 = att.fc1.weight.detach().to(d).reshape(c.A, c.inc)
        w2 = att.fc2.weight.detach().to(d).reshape(c.K, c.A)
        b2 = att.fc2.bias.detach().to(d) if _param(att.fc2, "bias") is not None else 0
        pi = torch.softmax((torch.relu(pooled @ w1.t()) @ w2.t() + b2) / T, dim=1)
        wf = (pi @ w.reshape(c.K, -1)).reshape(N, c.outc, c.inc // c.groups, c.kh, c.kw)
        return _conv_per_sample(c, x, wf, None if b is None else pi @ b)
    # odconv
    bn = att.bn
    v = pooled @ att.fc.weight.detach().to(d).reshape(c.A, c.inc).t()
    a = (v - bn.running_mean.to(d)) / torch.sqrt(bn.running_var.to(d) + bn.eps) * bn.weight.detach().to(d) + bn.bias.detach().to(d)
    a = torch.relu(a)

    def head(name):
        fc = getattr(att, name, None)
        if not isinstance(fc, nn.Module):
            return None
        hw = fc.weight.detach().to(d)
        return (a @ hw.reshape(hw.shape[0], -1).t() + fc.bias.detach().to(d)) / T

    ac = torch.sigmoid(head("channel_fc"))
    af = head("filter_fc")
    af = torch.sigmoid(af) if af is not None else torch.ones(N, c.outc, dtype=d, device=x.device)
    asp = head("spatial_fc")
    asp = torch.sigmoid(asp) if asp is not None else torch.ones(N, c.kh * c.kw, dtype=d, device=x.device)
    aw = head("kernel_fc")
    aw = torch.softmax(aw, dim=1) if aw is not None else torch.ones(N, c.K, dtype=d, device=x.device)
    wf = torch.einsum("nk,koihw->noihw", aw, w) * asp.reshape(N, 1, 1, c.kh, c.kw)
    y = _conv_per_sample(c, x * ac.reshape(N, c.inc, 1, 1), wf, None)
    return y * af.reshape(N, c.outc, 1, 1)


def _rel_err(y, ref):
    if tuple(y.shape) != tuple(ref.shape):
        return float("inf")  # another output size: the stride, padding or dilation read is wrong
    scale = ref.abs().max().item() if ref.numel() else 0.0
    diff = (y.detach().to(torch.float64) - ref).abs().max().item() if ref.numel() else 0.0
    return diff / scale if scale > 0 else diff


# ---------------------------------------------------------------------------
# the epilogue modules


def _activation_of(m):
    """The spec activation a module is, "none" for an identity, or None."""
    if isinstance(m, (nn.Identity,)) or type(m).__name__ in ("Identity",):
        return "none"
    if isinstance(m, nn.ReLU6):
        return "relu6"
    if isinstance(m, nn.Hardtanh):
        return "relu6" if (m.min_val, m.max_val) == (0.0, 6.0) else None
    if isinstance(m, nn.ReLU):
        return "relu"
    if isinstance(m, nn.Hardswish):
        return "hardswish"
    if isinstance(m, nn.SiLU):
        return "silu"
    if isinstance(m, nn.Sigmoid):
        return "sigmoid"
    n = type(m).__name__
    # timm's own activation modules (timm/layers/activations*.py).
    if n in ("Swish", "SwishMe", "SwishAuto", "SiLU"):
        return "silu"
    if n in ("HardSwish", "HardSwishMe", "HardSwishAuto", "Hardswish"):
        return "hardswish"
    if n in ("ReLU6",):
        return "relu6"
    if n in ("Sigmoid",):
        return "sigmoid"
    return None


def _is_passthrough(m):
    """Modules that return their input unchanged in eval mode."""
    if isinstance(m, (nn.Identity, nn.Dropout, nn.Dropout2d, nn.Dropout1d if hasattr(nn, "Dropout1d") else nn.Dropout,
                      nn.AlphaDropout, nn.FeatureAlphaDropout)):
        return True
    return type(m).__name__ in ("DropPath", "DropBlock2d", "Identity")


def _is_bn(m):
    return isinstance(m, nn.modules.batchnorm._BatchNorm) and not isinstance(m, (nn.BatchNorm1d, nn.BatchNorm3d))


_ADD = {"add", "add_", "__add__", "__iadd__", "__radd__"}
_FUNC_ACT = {"relu": "relu", "relu_": "relu", "relu6": "relu6", "hardswish": "hardswish", "hardswish_": "hardswish",
             "silu": "silu", "silu_": "silu", "sigmoid": "sigmoid", "sigmoid_": "sigmoid"}
_FUNC_PASS = {"dropout", "dropout_", "alpha_dropout", "feature_alpha_dropout", "dropout2d", "dropout1d",
              "feature_dropout", "contiguous"}


def _arg(args, kwargs, i, name, default=None):
    if name in kwargs:
        return kwargs[name]
    return args[i] if len(args) > i else default


def _func_tag(name, args, kwargs, out):
    """Classifies a torch function call: ("add", None), ("act", kind),
    ("pass", None) or ("other", None)."""
    if name in _ADD:
        a, b = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "other")
        if _is_tensor(a) and _is_tensor(b) and a.shape == b.shape and kwargs.get("alpha", 1) == 1 and len(args) <= 2:
            return "add", None
        return "other", None
    if name in _FUNC_ACT:
        return "act", _FUNC_ACT[name]
    if name in ("hardtanh", "hardtanh_"):
        lo, hi = _arg(args, kwargs, 1, "min_val", -1.0), _arg(args, kwargs, 2, "max_val", 1.0)
        return ("act", "relu6") if (lo, hi) == (0, 6) else ("other", None)
    if name in ("clamp", "clamp_", "clip", "clip_"):
        lo, hi = _arg(args, kwargs, 1, "min"), _arg(args, kwargs, 2, "max")
        if lo == 0 and hi is None:
            return "act", "relu"
        if lo == 0 and hi == 6:
            return "act", "relu6"
        return "other", None
    if name in _FUNC_PASS:
        if name == "contiguous":
            return ("pass", None) if out is _arg(args, kwargs, 0, "self") else ("other", None)
        training = _arg(args, kwargs, 2, "training", True) if "dropout" in name else True
        return ("pass", None) if training is False else ("other", None)
    return "other", None


def _tensors_in(x, depth=0):
    if _is_tensor(x):
        return [x]
    if depth < 2 and isinstance(x, (list, tuple)):
        return [t for v in x for t in _tensors_in(v, depth + 1)]
    if depth < 2 and isinstance(x, dict):
        return [t for v in x.values() for t in _tensors_in(v, depth + 1)]
    return []


# ---------------------------------------------------------------------------
# the trace


class _Event:
    __slots__ = ("idx", "tag", "act", "path", "module", "name", "ins", "outs", "conv")

    def __init__(self, tag, path=None, module=None, name=None, ins=(), outs=(), act=None, conv=None):
        self.idx = -1
        self.tag, self.path, self.module, self.name = tag, path, module, name
        self.ins, self.outs, self.act, self.conv = list(ins), list(outs), act, conv

    def describe(self):
        if self.path is not None:
            return "%s (%s)" % (self.path or "<model>", type(self.module).__name__)
        return "torch function %s" % self.name


try:
    from torch.overrides import TorchFunctionMode as _TFMode
except ImportError:  # older PyTorch: module hooks only
    _TFMode = None


class _Tracer:
    def __init__(self):
        self.events = []
        self.val = {}       # id(tensor) -> value number
        self.keep = []      # every tracked tensor, kept alive so that ids stay unique
        self.origin = {}    # value number -> description
        self.producer = {}  # value number -> event index
        self.nval = 0
        self.depth = 0
        self.stack = []
        self.busy = False
        self.block_inputs = {}  # block path -> list of (value, pooled float64)
        self.errors = []

    def value(self, t, desc):
        v = self.val.get(id(t))
        if v is None:
            v = self.new_value(t, desc)
        return v

    def new_value(self, t, desc, producer=None):
        self.nval += 1
        self.val[id(t)] = self.nval
        self.keep.append(t)
        self.origin[self.nval] = desc
        if producer is not None:
            self.producer[self.nval] = producer
        return self.nval

    def add(self, ev, out_tensors, desc):
        ev.idx = len(self.events)
        self.events.append(ev)
        ev.outs = [self.new_value(t, desc, ev.idx) for t in out_tensors]
        return ev

    # Module hooks: tracked modules (convs, BNs, activations, pass-throughs)
    # are events; what runs inside them is not traced.
    def pre_hook(self, path, tag):
        def pre(mod, args):
            if self.busy:
                return
            self.busy = True
            try:
                top = self.depth == 0
                ins = [self.value(t, "the input of %s" % (path or "<model>")) for t in _tensors_in(args)] if top else None
                self.stack.append((top, ins))
                self.depth += 1
            finally:
                self.busy = False
        return pre

    def post_hook(self, path, tag, conv=None):
        def post(mod, args, out):
            if self.busy:
                return
            self.busy = True
            try:
                top, ins = self.stack.pop()
                self.depth -= 1
                if not top:
                    return
                act = _activation_of(mod) if tag == "act" else None
                ev = _Event(tag, path=path, module=mod, ins=ins, act=act, conv=conv)
                outs = _tensors_in(out)
                self.add(ev, outs[:1], "the output of %s" % (path or "<model>"))
                if conv is not None:
                    self.conv_call(conv, ev, args, outs[0] if outs else None)
            except Exception as e:  # never break the user's forward
                self.errors.append("%s: %s: %s" % (path, type(e).__name__, e))
            finally:
                self.busy = False
        return post

    def block_pre_hook(self, path, routing_fn):
        def pre(mod, args):
            if self.busy:
                return
            self.busy = True
            try:
                ts = _tensors_in(args)
                if ts and ts[0].dim() == 4:
                    x = ts[0]
                    v = self.value(x, "the input of %s" % (path or "<model>"))
                    pooled = x.detach().to(torch.float64).mean(dim=(2, 3))
                    rw = routing_fn.weight.detach().to(torch.float64)
                    rb = routing_fn.bias.detach().to(torch.float64) if routing_fn.bias is not None else 0
                    self.block_inputs.setdefault(path, []).append((v, torch.sigmoid(pooled @ rw.t() + rb)))
            finally:
                self.busy = False
        return pre

    def conv_call(self, c, ev, args, out):
        ts = _tensors_in(args)
        x = ts[0]
        call = {"ev": ev.idx, "in_shape": list(x.shape), "out_shape": list(out.shape) if out is not None else None,
                "inp": ev.ins[0] if ev.ins else None, "out": ev.outs[0] if ev.outs else None, "errs": {}, "r": None}
        if c.kind == "condconv":
            if len(ts) < 2:
                call["errs"]["condconv"] = None
                c.calls.append(call)
                return
            call["r"] = ts[1].detach().to(torch.float64).reshape(x.shape[0], -1).clone()
        if out is None:
            c.calls.append(call)
            return
        try:
            with torch.no_grad():
                if c.kind == "dynet":
                    for g in ("softmax", "sigmoid"):
                        call["errs"][g] = _rel_err(out, _reference(c, x, gate=g))
                else:
                    call["errs"][c.kind] = _rel_err(out, _reference(c, x, r=call["r"]))
        except Exception as e:  # the hyperparameters read do not even make a conv
            call["check_error"] = "%s: %s" % (type(e).__name__, e)
        c.calls.append(call)

    def on_func(self, func, args, kwargs, out):
        ins_t = _tensors_in(args) + _tensors_in(kwargs)
        ins = [self.val[id(t)] for t in ins_t if id(t) in self.val]
        if not ins:
            return
        outs_t = _tensors_in(out)
        if not outs_t:
            return  # shape queries and the like
        name = getattr(func, "__name__", str(func))
        tag, act = _func_tag(name, args, kwargs, out)
        ev = _Event(tag, name=name, ins=ins, act=act)
        if tag == "other":
            # A tracked tensor changed in place (or returned as is) is a new
            # value, produced by this event.
            outs_t = [t for t in outs_t if id(t) in self.val]
        self.add(ev, outs_t[:1] if tag != "other" else outs_t, "the result of %s" % name)


if _TFMode is not None:
    class _Mode(_TFMode):
        def __init__(self, tracer):
            super().__init__()
            self.tracer = tracer

        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            tr = self.tracer
            if tr.busy or tr.depth > 0:
                return out
            tr.busy = True
            try:
                tr.on_func(func, args, kwargs, out)
            except Exception as e:
                tr.errors.append("torch function %s: %s: %s" % (getattr(func, "__name__", func), type(e).__name__, e))
            finally:
                tr.busy = False
            return out


# ---------------------------------------------------------------------------
# export


def _unwrap(model, report):
    while isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        report.notes.append("unwrapped %s: paths and tensor names are those of .module (no 'module.' prefix)" %
                            type(model).__name__)
        model = model.module
    return model


def _run(model, example_input):
    if isinstance(example_input, dict):
        return model(**example_input)
    if isinstance(example_input, (tuple, list)):
        return model(*example_input)
    return model(example_input)


def _shape_of(example_input):
    ts = _tensors_in(example_input)
    return [list(t.shape) for t in ts]


def export(model, example_input, spec_path, weights_path, package="dyconv", residual=None,
           input_size=True, verbose=True):
    """Exports model's supported convs to a dygen spec and its state_dict to
    a safetensors file.

    model:         an nn.Module (DataParallel/DDP wrappers are unwrapped).
    example_input: what to call the model with once: a tensor, a tuple/list
                   of positional arguments, or a dict of keyword arguments.
                   Use a small batch: the trace keeps every traced
                   activation alive.
    spec_path:     where to write the spec (YAML).
    weights_path:  where to write the weights (safetensors, float32).
    package:       the Go package name written into the spec.
    residual:      None to take the residual adds from the trace, or the
                   module paths of the convs whose epilogue has a residual
                   add (authoritative: the trace's adds are then fused only
                   into these, and every disagreement is a warning).
    input_size:    write each layer's traced [H, W] as input_size (kernels
                   specialised to it); False leaves sizes to run time.
    verbose:       print the report to stderr.

    Returns an ExportReport. Raises ExportError (with .report) when no layer
    can be exported, and ValueError for a bad package name or residual path.
    """
    if not (isinstance(package, str) and re.fullmatch(r"[a-z][a-z0-9_]*", package) and package not in _GO_KEYWORDS):
        raise ValueError("package %r is not a Go package name (a lower-case identifier, not a keyword)" % (package,))
    report = ExportReport()
    report.package = package
    model = _unwrap(model, report)
    if not isinstance(model, nn.Module):
        raise TypeError("model must be an nn.Module, got %s" % type(model).__name__)

    # 1. Walk the model: convs, and the modules inside them.
    convs = []          # _Conv, in module order
    inside = []         # path prefixes of recognised convs
    kinds = {}
    modules = list(model.named_modules())

    def within(p):
        return any(p == q or q == "" or p.startswith(q + ".") for q in inside)

    for path, m in modules:
        if within(path):
            continue
        kind = _kind(m)
        if kind is None:
            continue
        inside.append(path)
        try:
            if path and not _MODULE_PATH.fullmatch(path):
                raise _Unsupported("its module path %r has characters the spec's state_dict paths do not take "
                                   "(names and indices of letters, digits and _, joined by dots)" % path)
            c = _read_conv(path, m, kind)
        except _Unsupported as e:
            report.skipped.append(Skipped(path, type(m).__name__, "%s conv not exported: %s" % (kind, e)))
            kinds[path] = None
            continue
        kinds[path] = c
        convs.append(c)

    # CondConv: the routing_fn of an enclosing block.
    for c in convs:
        if c.kind != "condconv":
            continue
        parts = c.path.split(".") if c.path else []
        for i in range(len(parts) - 1, -1, -1):
            bpath = ".".join(parts[:i])
            block = model.get_submodule(bpath) if bpath else model
            rf = getattr(block, "routing_fn", None)
            if isinstance(rf, nn.Linear):
                c.block = (bpath, block, (bpath + "." if bpath else "") + "routing_fn", rf)
                break
        if c.block is None:
            c.bad = ("CondConv2d takes its routing weights as an argument, and no enclosing module has a "
                     "routing_fn nn.Linear (timm's CondConvResidual layout): cannot tell how they are computed")
        elif c.block[3].out_features != c.K:
            c.bad = "routing_fn %s has %d outputs, but the conv has %d experts" % (c.block[2], c.block[3].out_features, c.K)

    # 2. Trace.
    tracer = _Tracer()
    handles = []
    for c in convs:
        handles.append(c.module.register_forward_pre_hook(tracer.pre_hook(c.path, "conv")))
        handles.append(c.module.register_forward_hook(tracer.post_hook(c.path, "conv", conv=c)))
    epi_modules = {}
    blocks = {}
    for path, m in modules:
        if within(path):
            continue
        tag = "bn" if _is_bn(m) else "act" if _activation_of(m) not in (None, "none") else \
            "pass" if _is_passthrough(m) else None
        if tag:
            epi_modules[path] = (m, tag)
            handles.append(m.register_forward_pre_hook(tracer.pre_hook(path, tag)))
            handles.append(m.register_forward_hook(tracer.post_hook(path, tag)))
    for c in convs:
        if c.block is not None and c.block[0] not in blocks:
            bpath, block, _, rf = c.block
            blocks[bpath] = block
            handles.append(block.register_forward_pre_hook(tracer.block_pre_hook(bpath, rf)))
    was_training = model.training
    model.eval()
    mode = _Mode(tracer) if _TFMode is not None else None
    for i, t in enumerate(_tensors_in(example_input)):
        tracer.value(t, "the model's input" if i == 0 else "the model's input #%d" % (i + 1))
    try:
        with torch.no_grad():
            if mode is not None:
                with mode:
                    _run(model, example_input)
            else:
                _run(model, example_input)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    if mode is None:
        report.warnings.append("this PyTorch (%s) has no torch.overrides.TorchFunctionMode: residual adds and "
                               "functional activations are invisible; declare residual convs with residual=[...]"
                               % torch.__version__)
    for e in tracer.errors:
        report.warnings.append("trace: " + e)

    events = tracer.events
    consumers = {}
    for ev in events:
        for v in ev.ins:
            consumers.setdefault(v, []).append(ev.idx)

    # 3. Decide each conv: its check, gate, epilogue.
    exported = []
    for c in convs:
        if c.bad:
            report.skipped.append(Skipped(c.path, c.type, "%s conv not exported: %s" % (c.kind, c.bad)))
            continue
        if not c.calls:
            report.skipped.append(Skipped(c.path, c.type, "%s conv never ran in the trace (no input size, no "
                                                          "epilogue): not exported" % c.kind))
            continue
        bad = None
        failed = [call["check_error"] for call in c.calls if "check_error" in call]
        if failed:
            bad = "recomputing its output from the hyperparameters read failed: " + failed[0]
        elif c.kind == "dynet":
            ok = [g for g in ("softmax", "sigmoid") if all(call["errs"].get(g, 1) <= CHECK_TOL for call in c.calls)]
            if len(ok) == 1:
                c.gate = ok[0]
            elif len(ok) == 2:
                c.gate = c.gate_hint or "softmax"
                report.warnings.append("%s: softmax and sigmoid gates both reproduce its output; wrote %s" % (
                    c.describe(), c.gate))
            else:
                errs = {g: max(call["errs"].get(g, float("inf")) for call in c.calls) for g in ("softmax", "sigmoid")}
                bad = ("could not reproduce its output from the hyperparameters read (relative error %.3g with a "
                       "softmax gate, %.3g with a sigmoid gate)" % (errs["softmax"], errs["sigmoid"]))
        else:
            errs = [call["errs"].get(c.kind) for call in c.calls]
            if any(e is None for e in errs):
                bad = "its routing weights were not a positional argument of its forward, so they could not be read"
            elif max(errs) > CHECK_TOL:
                bad = "could not reproduce its output from the hyperparameters read (relative error %.3g)" % max(errs)
        if bad:
            report.skipped.append(Skipped(c.path, c.type, "%s conv not exported: %s" % (c.kind, bad)))
            continue
        exported.append(c)

    # Order: execution order of the first call.
    exported.sort(key=lambda c: c.calls[0]["ev"])
    declared = None
    if residual is not None:
        if isinstance(residual, str):
            residual = [residual]
        declared = set(residual)
        known = {c.path for c in convs} | {p for p, k in kinds.items() if k is None}
        for r in residual:
            if r not in known:
                raise ValueError("residual=%r: %r is not the module path of a conv (convs: %s)" % (
                    list(residual), r, ", ".join(sorted(known)) or "none"))
            if all(c.path != r for c in exported):
                report.warnings.append("residual=[...] names %s, which is not exported (see skipped)" % r)

    def follow(v):
        """Skips pass-through events; returns (value, its consumer events)."""
        while True:
            cons = consumers.get(v, [])
            if len(cons) == 1 and events[cons[0]].tag == "pass" and events[cons[0]].outs:
                v = events[cons[0]].outs[0]
                continue
            return v, cons

    chains = {}
    add_claims = {}
    fused_modules = {}
    for c in exported:
        call = c.calls[0]
        ch = {"bn": None, "act": "none", "act_ev": None, "add": None, "pre_add": None, "stop": None,
              "bn_act_module": None}
        v, cons = follow(call["out"])
        if len(cons) > 1:
            ch["stop"] = "its output feeds %d operations (%s)" % (len(cons), ", ".join(events[i].describe() for i in cons[:3]))
        done = False
        if len(cons) == 1 and events[cons[0]].tag == "bn":
            ev = events[cons[0]]
            bn = ev.module
            why = None
            if bn.running_mean is None or not bn.track_running_stats:
                why = "it has no running statistics (track_running_stats=False), so eval mode uses batch statistics"
            elif bn.num_features != c.outc:
                why = "it has %d features, the conv %d outputs" % (bn.num_features, c.outc)
            act_m = getattr(bn, "act", None)
            bn_act = None
            if why is None and isinstance(act_m, nn.Module):
                bn_act = _activation_of(act_m)
                if bn_act is None:
                    why = "its activation %s is not one dygen fuses" % type(act_m).__name__
                drop = getattr(bn, "drop", None)
                if why is None and isinstance(drop, nn.Module) and not _is_passthrough(drop):
                    why = "its drop module %s is not an identity in eval mode" % type(drop).__name__
            if why is None:
                ch["bn"] = ev
                fused_modules[ev.path] = True
                if bn_act not in (None, "none"):
                    ch["act"] = bn_act
                    done = True
                v, cons = follow(ev.outs[0])
                if len(cons) > 1 and not done:
                    ch["stop"] = "the output of %s feeds %d operations" % (ev.path, len(cons))
            else:
                ch["stop"] = "%s not fused: %s" % (ev.describe(), why)
                report.skipped.append(Skipped(ev.path, type(bn).__name__,
                                              "BatchNorm not fused into %s: %s" % (c.path, why)))
                fused_modules[ev.path] = False
                done = True
        if not done and len(cons) == 1 and events[cons[0]].tag == "add":
            ev = events[cons[0]]
            ch["add"] = ev
            ch["pre_add"] = v
            add_claims.setdefault(ev.idx, []).append(c)
        elif not done and len(cons) == 1 and events[cons[0]].tag == "act" and events[cons[0]].act:
            ev = events[cons[0]]
            ch["act"], ch["act_ev"] = ev.act, ev
        chains[c.path] = ch

    # Adds: one conv per add; the operand produced last takes it.
    for idx, claimants in add_claims.items():
        ok = [c for c in claimants if declared is None or c.path in declared]
        winner = max(ok, key=lambda c: tracer.producer.get(chains[c.path]["pre_add"], -1)) if ok else None
        for c in claimants:
            if c is not winner:
                chains[c.path]["add"] = None
                why = ("another conv (%s) takes the same add" % winner.path if winner is not None else
                       "it is not in residual=[...]")
                report.warnings.append("%s: its output goes into a residual add that is not fused into it: %s; "
                                       "the add and what follows run outside this layer" % (c.describe(), why))
    for c in exported:
        ch = chains[c.path]
        ev = ch["add"]
        if ev is None:
            continue
        other = [v for v in ev.ins if v != ch["pre_add"]]
        ch["residual_from"] = tracer.origin.get(other[0], "?") if other else "the same tensor"
        v, cons = follow(ev.outs[0]) if ev.outs else (None, [])
        if len(cons) == 1 and events[cons[0]].tag == "act" and events[cons[0]].act:
            ch["act"], ch["act_ev"] = events[cons[0]].act, events[cons[0]]

    for c in exported:
        ch = chains[c.path]
        res = ch["add"] is not None
        if declared is not None:
            if c.path in declared and not res:
                report.warnings.append(
                    "%s: declared residual, but the trace shows no same-shape add right after its %s; written as "
                    "declared (BN, then the residual, then the activation %s)" % (
                        c.describe(), "BN" if ch["bn"] else "output", ch["act"]))
                res = True
        ch["residual"] = res
        if ch["act_ev"] is not None and ch["act_ev"].path is not None:
            fused_modules.setdefault(ch["act_ev"].path, True)
        if ch["add"] is not None:
            report.notes.append("%s: residual add detected (%s); the residual operand is %s" % (
                c.describe(), ch["add"].describe(), ch["residual_from"]))

    # Other calls of a conv used more than once.
    for c in exported:
        if len(c.calls) > 1:
            sizes = {tuple(call["in_shape"][2:]) for call in c.calls}
            report.notes.append("%s ran %d times; its layer is described from the first call%s" % (
                c.describe(), len(c.calls), "" if len(sizes) == 1 else
                " (input sizes differ: %s, so no input_size is written)" % sorted(sizes)))

    # CondConv routing: own or external.
    routing_used = set()
    for bpath in blocks:
        members = [c for c in exported if c.kind == "condconv" and c.block[0] == bpath]
        if not members:
            continue
        calls = tracer.block_inputs.get(bpath, [])
        rpath = members[0].block[2]
        if not calls:
            for c in members:
                c.bad = "its block %s never ran" % bpath
            continue
        bval, r_expect = calls[0]
        own = None
        for c in members:
            call = c.calls[0]
            err = (call["r"] - r_expect).abs().max().item() if call["r"] is not None and call["r"].shape == r_expect.shape else float("inf")
            if err > CHECK_TOL:
                c.bad = ("the routing weights it got are not sigmoid(%s(mean of the block input)) (max difference "
                         "%.3g): the spec's condconv routing cannot reproduce them" % (rpath, err))
                continue
            if own is None and call["inp"] == bval and c.inc == c.block[3].in_features:
                own = c
                c.routing_input = "own"
                routing_used.add(rpath)
            else:
                c.routing_input = "external"
        if own is None:
            report.warnings.append(
                "block %s: no exported CondConv takes the block input, so none computes the shared routing: compute "
                "r = sigmoid(%s(mean_hw(block input))) yourself and pass it to every layer of the block "
                "(routing_input: external)" % (bpath or "<model>", rpath))
        else:
            report.notes.append("block %s: %s computes the shared routing from the block input (%s); %s take it "
                                "from outside (routing_input: external)" % (
                                    bpath or "<model>", own.path, rpath,
                                    ", ".join(c.path for c in members if c is not own and not c.bad) or "no other conv"))
    for c in list(exported):
        if c.bad:
            report.skipped.append(Skipped(c.path, c.type, "%s conv not exported: %s" % (c.kind, c.bad)))
            exported.remove(c)
            ch = chains.pop(c.path)
            if ch["bn"] is not None:
                fused_modules[ch["bn"].path] = False

    if not exported:
        _finish_report(report, model, modules, kinds, within, fused_modules, routing_used, epi_modules, tracer)
        if verbose:
            print(_prefixed(report), file=sys.stderr)
        raise ExportError("no layer to export (see the report)", report)

    # 4. Names and spec entries.
    names = set()
    layers, layer_comments = [], []
    for c in exported:
        ch = chains[c.path]
        base = go_layer_name(c.path, fallback=go_layer_name(c.type, "Layer"))
        name, i = base, 2
        while name in names:
            name, i = "%s_%d" % (base, i), i + 1
        if name != base:
            report.notes.append("%s: name %s was taken; named %s" % (c.describe(), base, name))
        names.add(name)
        call = c.calls[0]
        L = {"name": name, "routing": c.kind}
        if c.kind == "dynet":
            L["gate"] = c.gate
        L["in_channels"] = c.inc
        L["out_channels"] = c.outc
        L["kernel_size"] = [c.kh, c.kw]
        L["stride"] = [c.sh, c.sw]
        L["padding"] = "same" if c.padding == "same" else list(c.padding)
        L["dilation"] = [c.dh, c.dw]
        L["groups"] = c.groups
        L["bias"] = c.bias
        L["padding_mode"] = c.mode
        L["num_experts"] = c.K
        if c.kind in ("dycnn", "odconv"):
            L["temperature"] = float(c.T)
            L["attention_channels"] = c.A
        L["batch_norm"] = ch["bn"] is not None
        if ch["bn"] is not None:
            L["batch_norm_eps"] = float(ch["bn"].module.eps)
        L["activation"] = ch["act"]
        L["residual"] = ch["residual"]
        sizes = {tuple(cl["in_shape"][2:]) for cl in c.calls}
        if input_size and len(sizes) == 1:
            L["input_size"] = list(call["in_shape"][2:])
        sd = {"conv": c.path} if c.path else {}  # the root conv: tensors without a prefix
        if ch["bn"] is not None:
            sd["batch_norm"] = ch["bn"].path
        if c.kind == "condconv" and c.routing_input == "own":
            sd["routing"] = c.block[2]
        L["state_dict"] = sd
        if c.kind == "condconv":
            L["routing_input"] = c.routing_input
        layers.append(L)
        lc = ["%s: %s, traced input %s -> output %s" % (c.path or "<model>", c.type, call["in_shape"], call["out_shape"])]
        if ch["residual"]:
            lc.append("residual: %s" % ch.get("residual_from", "declared by the caller"))
        layer_comments.append(lc)
        err = max(max(v for v in cl["errs"].values() if v is not None) if c.kind != "dynet" else cl["errs"][c.gate]
                  for cl in c.calls)
        report.traced[name] = {"path": c.path, "class": c.type, "batch": call["in_shape"][0],
                               "input_shape": call["in_shape"], "output_shape": call["out_shape"],
                               "calls": len(c.calls), "check_rel_err": err,
                               "residual_from": ch.get("residual_from")}
        report.warnings.extend(c.warnings)

    _finish_report(report, model, modules, kinds, within, fused_modules, routing_used, epi_modules, tracer)

    # 5. Weights.
    tensors = {}
    skipped_tensors = []
    for k, t in model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        if not t.is_floating_point():
            skipped_tensors.append("%s (%s)" % (k, t.dtype))
            continue
        tensors[k] = t.detach().to("cpu", torch.float32).contiguous()
    for c in exported:
        for k, t in c.extra_tensors.items():
            tensors[(c.path + "." if c.path else "") + k] = t.to(torch.float32)
        ch = chains[c.path]
        if ch["bn"] is not None and not ch["bn"].module.affine:
            p = ch["bn"].path + "."
            tensors[p + "weight"] = torch.ones(c.outc)
            tensors[p + "bias"] = torch.zeros(c.outc)
            report.notes.append("%s is not affine: the weights file gets %sweight = 1 and %sbias = 0" % (
                ch["bn"].path, p, p))
    if skipped_tensors:
        report.notes.append("non-float state_dict entries not written: " + ", ".join(skipped_tensors))
    meta = {"format": "pt", "producer": "dygen_export.py " + __version__, "spec_package": package}
    write_safetensors(weights_path, tensors, meta)
    report.tensors = list(tensors)

    comments = ["dygen spec written by dygen_export.py %s (PyTorch %s)" % (__version__, torch.__version__),
                "model: %s; example input %s" % (type(model).__name__, _shape_of(example_input)),
                "weights: %s" % os.path.basename(weights_path)]
    if report.skipped:
        comments.append("not in this spec:")
        comments.extend("  " + str(s) for s in report.skipped)
    _write_spec(spec_path, package, layers, comments, layer_comments)
    report.layers = layers
    report.spec_path, report.weights_path = spec_path, weights_path
    if verbose:
        print(_prefixed(report), file=sys.stderr)
    return report


def _finish_report(report, model, modules, kinds, within, fused_modules, routing_used, epi_modules, tracer):
    """Adds the modules with weights that are in no layer, and the
    weightless ones left outside the layers."""
    skipped_paths = {s.path for s in report.skipped}
    fused_bns = [p for p, ok in fused_modules.items() if ok]
    for path, m in modules:
        if path in kinds or within(path) or path in skipped_paths:
            continue
        if any(path.startswith(p + ".") for p in fused_bns):
            continue  # the act and drop of timm's BatchNormAct2d
        own = [n for n, _ in list(m.named_parameters(recurse=False)) + list(m.named_buffers(recurse=False))
               if not n.endswith("num_batches_tracked")]
        is_leaf = not any(True for _ in m.children())
        if own:
            if path in fused_modules and fused_modules[path]:
                continue
            if path.split(".")[-1] == "routing_fn" and path in routing_used:
                continue
            t = type(m).__name__
            if isinstance(m, nn.Linear):
                if path.split(".")[-1] == "routing_fn":
                    why = "a CondConv routing_fn that no exported layer computes from its own input"
                else:
                    why = "nn.Linear (e.g. a classifier head): dygen generates conv layers only; run it yourself"
            elif _is_bn(m):
                why = "a BatchNorm that does not directly follow an exported conv's output (nothing to fuse it into)"
            elif isinstance(m, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
                why = "a transposed conv: not supported"
            elif isinstance(m, (nn.Conv1d, nn.Conv3d)):
                why = "not a 2-D conv: not supported"
            elif not is_leaf:
                why = "holds its own tensors (%s) outside any supported layer" % ", ".join(own)
            else:
                why = "unsupported module with weights"
            report.skipped.append(Skipped(path, t, why + "; its tensors are still in the weights file"))
        elif is_leaf and not isinstance(m, nn.Identity) and not _is_passthrough(m):
            if fused_modules.get(path):
                continue
            a = _activation_of(m)
            if a not in (None, "none"):
                why = "an activation not fused into any layer (it does not follow an exported conv's epilogue)"
            else:
                why = "no weights, not part of any layer: run it yourself between the generated layers"
            report.unexported.append(Skipped(path, type(m).__name__, why))


def _prefixed(report):
    return "\n".join("dygen_export: " + line for line in str(report).splitlines())


# ---------------------------------------------------------------------------
# command line


def _load_callable(spec):
    mod, sep, attr = spec.rpartition(":")
    if not sep or not mod or not attr:
        raise SystemExit("--model wants MODULE:CALLABLE (e.g. mymodels:build or path/to/file.py:build), got %r" % spec)
    if mod.endswith(".py") or os.sep in mod:
        s = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(mod))[0], mod)
        module = importlib.util.module_from_spec(s)
        sys.path.insert(0, os.path.dirname(os.path.abspath(mod)))
        s.loader.exec_module(module)
    else:
        sys.path.insert(0, os.getcwd())
        module = importlib.import_module(mod)
    obj = module
    for a in attr.split("."):
        obj = getattr(obj, a)
    return obj


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="dygen_export.py",
        description="Write a dygen spec (YAML) and a safetensors weights file from a PyTorch model. The model "
                    "comes from a Python callable that returns an nn.Module; it is run once on a random input "
                    "of the given shape.")
    p.add_argument("--model", required=True, metavar="MODULE:CALLABLE",
                   help="a module (dotted name or .py file) and a callable in it that returns the model, "
                        "e.g. mymodels:build_resnet or models/net.py:Net")
    p.add_argument("--input", required=True, metavar="N,C,H,W", help="the shape of the example input")
    p.add_argument("--spec", required=True, metavar="FILE", help="the spec to write")
    p.add_argument("--weights", required=True, metavar="FILE", help="the safetensors file to write")
    p.add_argument("--package", default="dyconv", help="the Go package name in the spec (default dyconv)")
    p.add_argument("--checkpoint", metavar="FILE",
                   help="a state_dict to load first (torch.save'd dict, or a dict holding it under "
                        "'state_dict' or 'model'; a 'module.' prefix is removed)")
    p.add_argument("--residual", metavar="PATH[,PATH...]",
                   help="the convs whose BN output takes a residual add (module paths); default: from the trace")
    p.add_argument("--no-input-size", action="store_true", help="leave input sizes to run time")
    p.add_argument("--seed", type=int, default=0, help="seed of the random example input")
    a = p.parse_args(argv)
    model = _load_callable(a.model)()
    if a.checkpoint:
        sd = torch.load(a.checkpoint, map_location="cpu")
        for k in ("state_dict", "model"):
            if isinstance(sd, dict) and isinstance(sd.get(k), dict):
                sd = sd[k]
        if all(k.startswith("module.") for k in sd):
            sd = {k[len("module."):]: v for k, v in sd.items()}
        model.load_state_dict(sd)
    try:
        shape = [int(s) for s in a.input.split(",")]
    except ValueError:
        raise SystemExit("--input wants N,C,H,W, got %r" % a.input)
    g = torch.Generator().manual_seed(a.seed)
    x = torch.randn(*shape, generator=g)
    res = [s for s in a.residual.split(",") if s] if a.residual else None
    try:
        export(model, x, a.spec, a.weights, package=a.package, residual=res, input_size=not a.no_input_size)
    except ExportError as e:
        print("dygen_export: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
