"""Tests of dygen_export.py (and the modules of dygen_blocks.py it is tested on).

Run: /usr/bin/python3 -m unittest discover -s python

DYGEN_EXPORT_KEEP=DIR keeps every spec and weights file the tests export in
DIR (for example, to run them through the Go parser or dygen generate).

The golden files (../shared/golden-blocks, ../shared/golden-family, or
$DYGEN_GOLDEN_BLOCKS / $DYGEN_GOLDEN_FAMILY) are needed by the golden tests;
without them those tests skip, unless DYGEN_REQUIRE_GOLDEN=1.
"""

import contextlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import dygen_blocks as B  # noqa: E402
import dygen_export as E  # noqa: E402

try:
    import yaml  # only to cross-check the written YAML when present
except ImportError:  # pragma: no cover
    yaml = None

REQUIRE_GOLDEN = os.environ.get("DYGEN_REQUIRE_GOLDEN") == "1"


def _need(path):
    if not os.path.isdir(path):
        if REQUIRE_GOLDEN:
            raise AssertionError("golden directory %s is missing" % path)
        raise unittest.SkipTest("golden directory %s is missing" % path)


def _rel(y, want, floor=1.0):
    return ((y.double() - want.double()).abs().max() / max(floor, want.double().abs().max().item())).item()


class _TmpDir(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.dir = self._tmp.name
        torch.manual_seed(0)

    def tearDown(self):
        self._tmp.cleanup()

    def export(self, model, inputs, name="m", **kw):
        """Exports quietly; returns (report, spec read back)."""
        spec, weights = os.path.join(self.dir, name + ".yaml"), os.path.join(self.dir, name + ".safetensors")
        kw.setdefault("verbose", False)
        r = E.export(model, inputs, spec, weights, **kw)
        keep = os.environ.get("DYGEN_EXPORT_KEEP")
        if keep:  # keep every written spec and weights file, e.g. for the Go parser
            os.makedirs(keep, exist_ok=True)
            self._kept = getattr(self, "_kept", 0) + 1
            base = os.path.join(keep, "%s_%d" % (self.id().split(".", 1)[1].replace(".", "_"), self._kept))
            shutil.copyfile(spec, base + ".yaml")
            shutil.copyfile(weights, base + ".safetensors")
        s = E.read_spec(spec)
        if yaml is not None:
            with open(spec) as f:
                self.assertEqual(yaml.safe_load(f), s, "PyYAML reads the spec differently")
        return r, s

    def assertWarned(self, report, *words):
        for w in report.warnings:
            if all(x in w for x in words):
                return w
        self.fail("no warning with %s in %s" % (words, report.warnings))


# ---------------------------------------------------------------------------


class SafetensorsTest(_TmpDir):
    def test_round_trip(self):
        ts = {
            "a.f32": torch.randn(3, 4),
            "b.f64": torch.randn(2, 1, 5, dtype=torch.float64),
            "c.f16": torch.randn(7).half(),
            "d.bf16": torch.randn(2, 3).bfloat16(),
            "e.i64": torch.arange(6).reshape(2, 3),
            "f.bool": torch.tensor([True, False, True]),
            "g.empty": torch.zeros(0, 4),
            "h.scalar": torch.tensor(2.5),
            "i.strided": torch.randn(4, 6)[:, ::2],
        }
        p = os.path.join(self.dir, "t.safetensors")
        E.write_safetensors(p, ts, {"k": "v"})
        back, meta = E.read_safetensors(p)
        self.assertEqual(meta, {"k": "v"})
        self.assertEqual(list(back), list(ts))
        for k, t in ts.items():
            self.assertEqual(back[k].dtype, t.dtype, k)
            self.assertEqual(back[k].shape, t.shape, k)
            self.assertTrue(torch.equal(back[k], t), k)

    def test_layout(self):
        """The bytes: u64 LE header length, JSON header padded to 8 bytes,
        data_offsets contiguous from 0, raw little-endian F32."""
        p = os.path.join(self.dir, "t.safetensors")
        a, b = torch.tensor([1.0, -2.0, 3.5]), torch.tensor([[0.25]])
        E.write_safetensors(p, {"a": a, "b": b})
        with open(p, "rb") as f:
            raw = f.read()
        (n,) = struct.unpack("<Q", raw[:8])
        self.assertEqual(n % 8, 0)
        h = json.loads(raw[8:8 + n])
        self.assertEqual(h["a"], {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]})
        self.assertEqual(h["b"], {"dtype": "F32", "shape": [1, 1], "data_offsets": [12, 16]})
        self.assertEqual(raw[8 + n:], struct.pack("<4f", 1.0, -2.0, 3.5, 0.25))

    def test_reads_golden(self):
        _need(B.GOLDEN_BLOCKS)
        ts, meta = E.read_safetensors(os.path.join(B.GOLDEN_BLOCKS, "dyresnet_basic.safetensors"))
        self.assertEqual(list(ts["input"].shape), [2, 64, 14, 14])
        self.assertEqual(ts["output_f64"].dtype, torch.float64)
        self.assertEqual(json.loads(meta["block"])["kind"], "dyresnet_basic")

    def test_rejects_bad_files(self):
        p = os.path.join(self.dir, "bad.safetensors")
        with open(p, "wb") as f:
            f.write(struct.pack("<Q", 1 << 40) + b"{}")
        with self.assertRaises(ValueError):
            E.read_safetensors(p)
        h = json.dumps({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
        with open(p, "wb") as f:
            f.write(struct.pack("<Q", len(h)) + h + b"\0" * 8)
        with self.assertRaises(ValueError):
            E.read_safetensors(p)


# ---------------------------------------------------------------------------


class GoldenBlocksTest(_TmpDir):
    @classmethod
    def setUpClass(cls):
        _need(B.GOLDEN_BLOCKS)

    def test_modules_are_faithful(self):
        """The re-implementations give the file's output_f64 in float64 (and
        its float32 output in float32)."""
        for name in B.BLOCK_NAMES:
            with self.subTest(block=name):
                model, inputs, want, _ = B.golden_block(name)
                ts, _ = E.read_safetensors(os.path.join(B.GOLDEN_BLOCKS, name + ".safetensors"))
                with torch.no_grad():
                    y32 = model(*inputs)
                    y64 = model.double()(*[t.double() for t in inputs])
                self.assertLess(_rel(y64, want), 1e-13)
                self.assertLess(_rel(y32, ts["output"]), 1e-5)
                self.assertLess(_rel(y32, want), 1e-5)

    def test_export_matches_metadata(self):
        """The spec has the file's convs, in order, with the same keys and
        values (all but batch, which is not a spec key), and nothing is skipped."""
        for name in B.BLOCK_NAMES:
            with self.subTest(block=name):
                model, inputs, _, block = B.golden_block(name)
                r, spec = self.export(model, inputs, name, package="blocks")
                self.assertEqual(spec["package"], "blocks")
                want = [{k: v for k, v in c["spec"].items() if k != "batch"} for c in block["convs"]]
                self.assertEqual(spec["layers"], want)
                self.assertEqual(r.layers, want)
                for c in block["convs"]:
                    sd = c["spec"]["state_dict"]
                    self.assertEqual(sd["conv"], c["path"])
                    self.assertEqual(sd["batch_norm"], c["batch_norm"])
                    self.assertEqual(c["spec"]["residual"], c["residual"] == "block_input")
                self.assertEqual(r.skipped, [])
                self.assertEqual(r.unexported, [])
                self.assertEqual(r.warnings, [])
                for c in block["convs"]:
                    t = r.traced[c["spec"]["name"]]
                    self.assertEqual(t["batch"], c["spec"]["batch"])
                    self.assertLess(t["check_rel_err"], 1e-5)
                    if c["residual"]:
                        self.assertEqual(t["residual_from"], "the model's input")

    def test_weights_round_trip(self):
        """The weights file holds the state_dict, float32, under its natural
        names, without num_batches_tracked: equal to the model's and to the
        golden file's tensors."""
        for name in B.BLOCK_NAMES:
            with self.subTest(block=name):
                model, inputs, _, _ = B.golden_block(name)
                r, _ = self.export(model, inputs, name)
                back, meta = E.read_safetensors(os.path.join(self.dir, name + ".safetensors"))
                sd = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
                self.assertEqual(sorted(back), sorted(sd))
                self.assertEqual(r.tensors, list(back))
                for k, v in sd.items():
                    self.assertEqual(back[k].dtype, torch.float32)
                    self.assertTrue(torch.equal(back[k], v), k)
                gold, _ = E.read_safetensors(os.path.join(B.GOLDEN_BLOCKS, name + ".safetensors"))
                for k in back:
                    self.assertTrue(torch.equal(back[k], gold[k]), k)
                self.assertIn("dygen_export", meta["producer"])

    def test_float64_model(self):
        """A float64 model exports the same spec, and float32 weights."""
        model, inputs, _, block = B.golden_block("condconv_residual")
        model = model.double()
        _, spec = self.export(model, tuple(t.double() for t in inputs))
        self.assertEqual([l["name"] for l in spec["layers"]], ["ConvPw", "ConvDw", "ConvPwl"])
        back, _ = E.read_safetensors(os.path.join(self.dir, "m.safetensors"))
        self.assertTrue(all(t.dtype == torch.float32 for t in back.values()))

    def test_residual_declared(self):
        model, inputs, _, block = B.golden_block("dyresnet_basic")
        want = [{k: v for k, v in c["spec"].items() if k != "batch"} for c in block["convs"]]
        r, spec = self.export(model, inputs, residual=["conv2"])
        self.assertEqual(spec["layers"], want)
        self.assertEqual(r.warnings, [])
        # Declaring none: the add (and the ReLU after it) stay outside.
        r, spec = self.export(model, inputs, residual=[])
        l2 = spec["layers"][1]
        self.assertEqual((l2["residual"], l2["activation"]), (False, "none"))
        self.assertWarned(r, "conv2", "not fused", "not in residual=[...]")
        # Declaring one the trace does not show: written as declared, with a warning.
        r, spec = self.export(model, inputs, residual=["conv1", "conv2"])
        self.assertTrue(spec["layers"][0]["residual"])
        self.assertWarned(r, "conv1", "declared residual")
        with self.assertRaises(ValueError):
            self.export(model, inputs, residual=["conv3"])

    def test_without_function_mode(self):
        """On a PyTorch without TorchFunctionMode only module hooks run: the
        adds are invisible, declared residuals still give the golden spec."""
        saved = E._TFMode
        E._TFMode = None
        try:
            for name, res in (("dyresnet_basic", ["conv2"]), ("dymobilenetv2_ir", ["conv.6"]),
                              ("condconv_residual", ["conv_pwl"])):
                with self.subTest(block=name):
                    model, inputs, _, block = B.golden_block(name)
                    want = [{k: v for k, v in c["spec"].items() if k != "batch"} for c in block["convs"]]
                    r, spec = self.export(model, inputs, residual=res)
                    self.assertEqual(spec["layers"], want)
                    self.assertWarned(r, "TorchFunctionMode")
        finally:
            E._TFMode = saved

    def test_input_size_optional(self):
        model, inputs, _, _ = B.golden_block("dymobilenetv2_ir")
        _, spec = self.export(model, inputs, input_size=False)
        self.assertTrue(all("input_size" not in l for l in spec["layers"]))

    def test_blocks_cli(self):
        """dygen_blocks.py export DIR: what CI runs before the Go round trip."""
        with contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(B.main(["export", self.dir, "--blocks", "dyresnet_basic,condconv_residual"]), 0)
        for name in ("dyresnet_basic", "condconv_residual"):
            _, _, _, block = B.golden_block(name)
            spec = E.read_spec(os.path.join(self.dir, name + ".yaml"))
            self.assertEqual(spec["package"], "blocks")
            self.assertEqual(spec["layers"], [{k: v for k, v in c["spec"].items() if k != "batch"}
                                              for c in block["convs"]])
            self.assertTrue(os.path.exists(os.path.join(self.dir, name + ".safetensors")))

    def test_stderr_report(self):
        model, inputs, _, _ = B.golden_block("condconv_residual")
        buf = io.StringIO()
        with contextlib.redirect_stderr(buf):
            self.export(model, inputs, verbose=True)
        out = buf.getvalue()
        self.assertIn("wrote 3 layer(s)", out)
        self.assertIn("routing_input own", out)
        self.assertIn("conv_pw computes the shared routing", out)


# ---------------------------------------------------------------------------


class FamilyTest(_TmpDir):
    """The 48 single-layer golden cases: every routing, gate, padding mode,
    epilogue and special path."""

    @classmethod
    def setUpClass(cls):
        _need(B.GOLDEN_FAMILY)
        cls.names = B.family_names()
        if not cls.names:
            raise AssertionError("no golden family cases in %s" % B.GOLDEN_FAMILY)

    def test_modules_are_faithful(self):
        for name in self.names:
            with self.subTest(case=name):
                model, inputs, want, spec = B.family_case(name)
                with torch.no_grad():
                    y = model.double()(*[t.double() for t in inputs])
                self.assertLess(_rel(y, want), 1e-12)

    def test_export(self):
        """Every case exports as one layer with the case's keys (name, batch
        and state_dict aside): the routing, gate, temperature, attention
        width, BN, residual and activation (as a module in even cases, a
        functional call in odd ones) are all read from the model and the trace."""
        routings = set()
        for i, name in enumerate(self.names):
            with self.subTest(case=name):
                model, inputs, _, spec = B.family_case(name, functional_act=bool(i % 2))
                r, out = self.export(model, inputs)
                self.assertEqual(len(out["layers"]), 1)
                layer = dict(out["layers"][0])
                sd = layer.pop("state_dict")
                layer.pop("name")
                routing_input = layer.pop("routing_input", None)
                want = {k: v for k, v in spec.items() if k not in ("name", "batch")}
                self.assertEqual(layer, want)
                self.assertEqual(sd["conv"], "conv")
                self.assertEqual(sd.get("batch_norm"), "bn" if spec["batch_norm"] else None)
                if spec["routing"] == "condconv":
                    self.assertEqual((routing_input, sd["routing"]), ("own", "routing_fn"))
                else:
                    self.assertIsNone(routing_input)
                    self.assertNotIn("routing", sd)
                self.assertEqual(r.skipped, [])
                self.assertEqual(r.unexported, [])
                T = spec.get("temperature", 1.0)
                temp_warnings = [w for w in r.warnings if "temperature" in w]
                self.assertEqual(len(temp_warnings), 0 if T == 1.0 else 1, r.warnings)
                routings.add(spec["routing"])
        self.assertEqual(routings, {"dynet", "condconv", "dycnn", "odconv"})


# ---------------------------------------------------------------------------


class DyCNNTest(_TmpDir):
    def test_temperature_warning(self):
        conv = B.Dynamic_conv2d(8, 16, 3, padding=1, K=4)  # T = 34, the constructor default
        model = nn.Sequential(conv, nn.BatchNorm2d(16), nn.ReLU6())
        x = torch.randn(2, 8, 9, 9)
        r, spec = self.export(model, x)
        l = spec["layers"][0]
        self.assertEqual((l["routing"], l["temperature"], l["attention_channels"]), ("dycnn", 34.0, 3))
        w = self.assertWarned(r, "0 (Dynamic_conv2d)", "temperature is 34")
        for word in ("not in the state_dict", "load_state_dict", "T = 1", "attention.temperature = 1"):
            self.assertIn(word, w)
        conv.attention.temperature = 1
        r, spec = self.export(model, x)
        self.assertEqual(spec["layers"][0]["temperature"], 1.0)
        self.assertEqual([w for w in r.warnings if "temperature" in w], [])

    def test_export(self):
        """A DY-CNN conv in a block: hyperparameters, epilogue, tensors."""

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = B.Dynamic_conv2d(3, 12, 3, stride=2, padding=1, bias=True, K=4, temperature=1)
                self.bn1 = nn.BatchNorm2d(12, eps=1e-3)
                self.conv2 = B.Dynamic_conv2d(12, 12, 3, padding=2, dilation=2, groups=3, bias=False, K=3,
                                              temperature=4, padding_mode="replicate")

            def forward(self, x):
                return self.conv2(F.hardswish(self.bn1(self.conv1(x))))

        r, spec = self.export(Net(), torch.randn(2, 3, 11, 11))
        l1, l2 = spec["layers"]
        self.assertEqual(l1, {
            "name": "Conv1", "routing": "dycnn", "in_channels": 3, "out_channels": 12, "kernel_size": [3, 3],
            "stride": [2, 2], "padding": [1, 1], "dilation": [1, 1], "groups": 1, "bias": True,
            "padding_mode": "zeros", "num_experts": 4, "temperature": 1.0, "attention_channels": 4,
            "batch_norm": True, "batch_norm_eps": 1e-3, "activation": "hardswish", "residual": False,
            "input_size": [11, 11], "state_dict": {"conv": "conv1", "batch_norm": "bn1"}})
        self.assertEqual((l2["groups"], l2["dilation"], l2["padding_mode"], l2["bias"], l2["num_experts"]),
                         (3, [2, 2], "replicate", False, 3))
        self.assertEqual((l2["attention_channels"], l2["temperature"], l2["input_size"]), (4, 4.0, [6, 6]))
        self.assertEqual((l2["batch_norm"], l2["activation"]), (False, "none"))
        back, _ = E.read_safetensors(os.path.join(self.dir, "m.safetensors"))
        for k in ("conv1.weight", "conv1.bias", "conv1.attention.fc1.weight", "conv1.attention.fc2.weight",
                  "conv1.attention.fc2.bias", "bn1.running_var"):
            self.assertIn(k, back)

    def test_old_reference_without_fc2_bias(self):
        conv = B.Dynamic_conv2d(8, 8, 1, K=2, temperature=1)
        conv.attention.fc2 = nn.Conv2d(conv.attention.fc2.in_channels, 2, 1, bias=False)
        r, spec = self.export(conv, torch.randn(1, 8, 4, 4))
        self.assertEqual(spec["layers"][0]["state_dict"], {})  # the root conv: no prefix
        self.assertEqual(spec["layers"][0]["name"], "DynamicConv2d")  # the root takes its class name
        back, _ = E.read_safetensors(os.path.join(self.dir, "m.safetensors"))
        self.assertTrue(torch.equal(back["attention.fc2.bias"], torch.zeros(2)))
        self.assertWarned(r, "fc2 has no bias")


class ODConvTest(_TmpDir):
    def test_export(self):
        """The common path, the pw1x path (1x1, K = 1) and depthwise, with the
        reference's default attention width max(Cin/16, 16)."""

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.pw = B.ODConv2d(8, 32, 1, kernel_num=1)
                self.bn = nn.BatchNorm2d(32)
                self.dw = B.ODConv2d(32, 32, 3, padding=1, groups=32, kernel_num=4)
                self.conv = B.ODConv2d(32, 16, 5, stride=2, padding=2, kernel_num=3, reduction=0.5)
                self.act = nn.SiLU()

            def forward(self, x):
                y = F.relu(self.bn(self.pw(x)))
                return self.act(self.conv(self.dw(y)))

        net = Net()
        for m in net.modules():  # non-trivial attention BN statistics
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2)
        r, spec = self.export(net, torch.randn(2, 8, 10, 10))
        pw, dw, conv = spec["layers"]
        self.assertEqual([pw["routing"], dw["routing"], conv["routing"]], ["odconv"] * 3)
        self.assertEqual((pw["num_experts"], pw["kernel_size"], pw["attention_channels"], pw["bias"]),
                         (1, [1, 1], 16, False))
        self.assertEqual((pw["batch_norm"], pw["activation"]), (True, "relu"))
        self.assertEqual((dw["groups"], dw["num_experts"], dw["activation"]), (32, 4, "none"))
        self.assertEqual((conv["stride"], conv["padding"], conv["attention_channels"], conv["activation"]),
                         ([2, 2], [2, 2], 16, "silu"))
        self.assertEqual(conv["temperature"], 1.0)
        self.assertEqual(r.warnings, [])
        for name in ("Pw", "Dw", "Conv"):
            self.assertLess(r.traced[name]["check_rel_err"], 1e-5)

    def test_temperature_warning(self):
        conv = B.ODConv2d(8, 8, 3, padding=1)
        conv.update_temperature(30.0)
        r, spec = self.export(conv, torch.randn(1, 8, 5, 5))
        self.assertEqual(spec["layers"][0]["temperature"], 30.0)
        self.assertWarned(r, "temperature is 30", "update_temperature(1.0)")


# ---------------------------------------------------------------------------


class Conv2dSame(nn.Conv2d):
    """timm's Conv2dSame: TF 'SAME' padding computed per input."""

    def forward(self, x):
        return B.conv2d_same(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class TFSameBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = B.CondConv2d(8, 8, 3, stride=2, padding="same", num_experts=2)
        self.routing_fn = nn.Linear(8, 2)

    def forward(self, x):
        return self.conv(x, torch.sigmoid(self.routing_fn(x.mean((2, 3)))))


class SkipNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = B.DyNet2D(3, 8, 3, padding=1, num_experts=2, gate="sigmoid")
        self.stem_bn = nn.BatchNorm2d(8)
        self.same = nn.Conv2d(8, 8, 4, padding="same", padding_mode="reflect")
        self.gelu = nn.GELU()
        self.tf_same = Conv2dSame(8, 8, 3, stride=2)
        self.block = TFSameBlock()
        self.unused = nn.Conv2d(8, 8, 1)
        self.up = nn.ConvTranspose2d(8, 8, 2, stride=2)
        self.lonely = nn.BatchNorm2d(8)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = F.relu(self.stem_bn(self.stem(x)))
        x = self.gelu(self.same(x))
        x = self.lonely(self.up(self.block(x) + self.tf_same(x)))
        return self.fc(self.pool(x).flatten(1))


class SkipReportTest(_TmpDir):
    def test_skips(self):
        r, spec = self.export(SkipNet(), torch.randn(2, 3, 8, 8))
        self.assertEqual([l["state_dict"]["conv"] for l in spec["layers"]], ["stem", "same"])
        stem, same = spec["layers"]
        self.assertEqual((stem["gate"], stem["bias"], stem["batch_norm"], stem["activation"]),
                         ("sigmoid", True, True, "relu"))
        self.assertEqual((same["routing"], same["padding"], same["padding_mode"], same["num_experts"]),
                         ("static", "same", "reflect", 1))
        why = {s.path: s.reason for s in r.skipped}
        self.assertEqual(set(why), {"tf_same", "block.conv", "block.routing_fn", "unused", "up", "lonely", "fc"})
        self.assertIn("its own forward", why["tf_same"])
        self.assertIn("TF-'SAME'", why["block.conv"])
        self.assertIn("never ran", why["unused"])
        self.assertIn("transposed", why["up"])
        self.assertIn("does not directly follow an exported conv", why["lonely"])
        self.assertIn("nn.Linear", why["fc"])
        self.assertEqual({s.path for s in r.unexported}, {"gelu", "pool"})
        # Skipped modules' tensors are still written.
        back, _ = E.read_safetensors(os.path.join(self.dir, "m.safetensors"))
        self.assertIn("fc.weight", back)
        self.assertNotIn("stem_bn.num_batches_tracked", back)
        # The spec says what it left out.
        with open(os.path.join(self.dir, "m.yaml")) as f:
            text = f.read()
        self.assertIn("# not in this spec:", text)
        self.assertIn("fc (Linear)", text)

    def test_nothing_to_export(self):
        model = nn.Sequential(nn.Flatten(), nn.Linear(12, 4))
        with self.assertRaises(E.ExportError) as cm:
            self.export(model, torch.randn(2, 3, 2, 2))
        self.assertEqual([s.path for s in cm.exception.report.skipped], ["1"])
        self.assertFalse(os.path.exists(os.path.join(self.dir, "m.yaml")))

    def test_unreproducible_conv_is_skipped(self):
        """A module that looks like DyNet2D but computes something else."""

        class Odd(B.DyNet2D):
            def forward(self, x):
                return super().forward(x) * 2

        r, _ = self.export(nn.Sequential(B.DyNet2D(4, 4, 1, num_experts=2), Odd(4, 4, 1, num_experts=2)),
                           torch.randn(1, 4, 3, 3))
        self.assertEqual([s.path for s in r.skipped], ["1"])
        self.assertIn("could not reproduce its output", r.skipped[0].reason)

    def test_misread_hyperparameters(self):
        """Attributes that disagree with what the module computes are caught
        by the check: a wrong padding gives another output, and a padding the
        recomputation cannot even apply fails it."""
        lying = B.DyNet2D(4, 4, 3, padding=1, num_experts=2)
        lying.padding = (2, 2)  # the forward pads by _reversed_padding_repeated_twice only with a mode
        lying.padding_mode = "replicate"
        lying._reversed_padding_repeated_twice = [1, 1, 1, 1]
        r, _ = self.export(nn.Sequential(B.DyNet2D(4, 4, 3, padding=1, num_experts=2), lying),
                           torch.randn(1, 4, 5, 5))
        self.assertEqual([s.path for s in r.skipped], ["1"])
        self.assertIn("could not reproduce its output", r.skipped[0].reason)
        lying.padding = (5, 5)
        lying.padding_mode = "reflect"  # reflect by 5 on a 5x5 input: F.pad refuses
        r, _ = self.export(nn.Sequential(B.DyNet2D(4, 4, 3, padding=1, num_experts=2), lying),
                           torch.randn(1, 4, 5, 5))
        self.assertEqual([s.path for s in r.skipped], ["1"])
        self.assertIn("failed", r.skipped[0].reason)

    def test_condconv_without_routing_fn(self):
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = B.CondConv2d(4, 4, 3, num_experts=2)
                self.gate = nn.Linear(4, 2)

            def forward(self, x):
                return self.conv(x, torch.sigmoid(self.gate(x.mean((2, 3)))))

        with self.assertRaises(E.ExportError) as cm:
            self.export(Net(), torch.randn(1, 4, 5, 5))
        why = {s.path: s.reason for s in cm.exception.report.skipped}
        self.assertIn("no enclosing module has a routing_fn", why["conv"])

    def test_condconv_other_routing(self):
        """routing_fn present, but the block routes with softmax: caught."""

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = B.CondConv2d(4, 4, 3, num_experts=2)
                self.routing_fn = nn.Linear(4, 2)

            def forward(self, x):
                return self.conv(x, torch.softmax(self.routing_fn(x.mean((2, 3))), 1))

        with self.assertRaises(E.ExportError) as cm:
            self.export(Net(), torch.randn(2, 4, 5, 5))
        self.assertIn("are not sigmoid(routing_fn", cm.exception.report.skipped[0].reason)


# ---------------------------------------------------------------------------


class EpilogueTest(_TmpDir):
    def test_downsample_add(self):
        """Two convs meet at one add: the one whose value reaches it last (the
        downsample, computed after bn2) takes the add and the ReLU."""
        ds = nn.Sequential(nn.Conv2d(8, 16, 1, stride=2, bias=False), nn.BatchNorm2d(16))
        block = B.DyBasicBlock(8, 16, stride=2, downsample=ds, num_experts=2)
        r, spec = self.export(block, torch.randn(2, 8, 8, 8))
        layers = {l["state_dict"]["conv"]: l for l in spec["layers"]}
        self.assertEqual(list(layers), ["conv1", "conv2", "downsample.0"])
        self.assertEqual((layers["conv2"]["residual"], layers["conv2"]["activation"]), (False, "none"))
        d = layers["downsample.0"]
        self.assertEqual((d["routing"], d["residual"], d["activation"], d["name"]),
                         ("static", True, "relu", "Downsample0"))
        self.assertEqual(d["state_dict"], {"conv": "downsample.0", "batch_norm": "downsample.1"})
        self.assertWarned(r, "conv2", "another conv (downsample.0) takes the same add")
        self.assertEqual(r.traced["Downsample0"]["residual_from"], "the output of bn2")
        # Declared, conv2 takes it.
        r, spec = self.export(block, torch.randn(2, 8, 8, 8), residual=["conv2"])
        layers = {l["state_dict"]["conv"]: l for l in spec["layers"]}
        self.assertEqual((layers["conv2"]["residual"], layers["conv2"]["activation"]), (True, "relu"))
        self.assertEqual((layers["downsample.0"]["residual"], layers["downsample.0"]["activation"]), (False, "none"))

    def test_output_used_twice(self):
        """A conv output that also feeds something else keeps its BN outside."""

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(4, 4, 3, padding=1)
                self.bn = nn.BatchNorm2d(4)

            def forward(self, x):
                y = self.conv(x)
                return self.bn(y) * y.sigmoid()

        r, spec = self.export(Net(), torch.randn(1, 4, 6, 6))
        self.assertFalse(spec["layers"][0]["batch_norm"])
        self.assertIn("bn", [s.path for s in r.skipped])

    def test_in_place_change_breaks_the_chain(self):
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(4, 4, 3, padding=1)
                self.bn = nn.BatchNorm2d(4)

            def forward(self, x):
                y = self.conv(x)
                y.mul_(2)
                return self.bn(y)

        r, spec = self.export(Net(), torch.randn(1, 4, 6, 6))
        self.assertFalse(spec["layers"][0]["batch_norm"])

    def test_bn_without_running_stats(self):
        model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, track_running_stats=False), nn.ReLU())
        r, spec = self.export(model, torch.randn(2, 3, 6, 6))
        self.assertEqual((spec["layers"][0]["batch_norm"], spec["layers"][0]["activation"]), (False, "none"))
        self.assertIn("track_running_stats=False", {s.path: s.reason for s in r.skipped}["1"])

    def test_activations(self):
        """Module and functional activations, ReLU6 as Hardtanh(0, 6) and
        clamp, timm's BatchNormAct2d, and dropout / identity in between."""
        cases = [
            (nn.Hardtanh(0.0, 6.0), "relu6"), (nn.Sigmoid(), "sigmoid"), (nn.Hardswish(), "hardswish"),
            (lambda y: y.clamp(min=0, max=6), "relu6"), (lambda y: torch.relu_(y), "relu"),
            (nn.LeakyReLU(), "none"), (lambda y: y * 2, "none"),
        ]
        for act, want in cases:
            with self.subTest(act=act):
                class Net(nn.Module):
                    def __init__(self):
                        super().__init__()
                        self.conv = B.DyNet2D(3, 4, 3, num_experts=2)
                        self.bn = nn.BatchNorm2d(4)
                        self.drop = nn.Dropout(0.3)
                        self.act = act if isinstance(act, nn.Module) else None

                    def forward(self, x):
                        y = self.drop(self.bn(self.conv(x)))
                        return self.act(y) if self.act is not None else act(y)

                _, spec = self.export(Net(), torch.randn(2, 3, 5, 5))
                self.assertEqual((spec["layers"][0]["batch_norm"], spec["layers"][0]["activation"]), (True, want))
        model = nn.Sequential(nn.Conv2d(3, 4, 1), B.BatchNormAct2d(4, act_layer=nn.Hardswish))
        _, spec = self.export(model, torch.randn(1, 3, 4, 4))
        self.assertEqual((spec["layers"][0]["batch_norm"], spec["layers"][0]["activation"]), (True, "hardswish"))

    def test_non_affine_bn(self):
        model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4, affine=False))
        r, spec = self.export(model, torch.randn(1, 3, 4, 4))
        self.assertTrue(spec["layers"][0]["batch_norm"])
        back, _ = E.read_safetensors(os.path.join(self.dir, "m.safetensors"))
        self.assertTrue(torch.equal(back["1.weight"], torch.ones(4)))
        self.assertTrue(torch.equal(back["1.bias"], torch.zeros(4)))


class MiscTest(_TmpDir):
    def test_names(self):
        for path, want in [("conv1", "Conv1"), ("conv.0", "Conv0"), ("conv_pw", "ConvPw"),
                           ("layer1.0.conv1", "Layer1_0Conv1"), ("blocks.1.0.conv_dw", "Blocks1_0ConvDw"),
                           ("0.conv", "Layer0Conv"), ("features.3", "Features3"), ("", "Layer"),
                           ("a-b.c", "ABC")]:
            self.assertEqual(E.go_layer_name(path), want, path)

    def test_unique_names(self):
        class Inner(nn.Module):
            def __init__(self):
                super().__init__()
                self.pw = nn.Conv2d(4, 4, 1)

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv_pw = nn.Conv2d(4, 4, 1)
                self.conv = Inner()

            def forward(self, x):
                return self.conv.pw(self.conv_pw(x))

        r, spec = self.export(Net(), torch.randn(1, 4, 3, 3))
        self.assertEqual([l["name"] for l in spec["layers"]], ["ConvPw", "ConvPw_2"])

    def test_conv_called_twice(self):
        conv = nn.Conv2d(3, 3, 3, padding=1)

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = conv

            def forward(self, x):
                return self.conv(F.avg_pool2d(self.conv(x), 2))

        r, spec = self.export(Net(), torch.randn(1, 3, 8, 8))
        self.assertEqual(len(spec["layers"]), 1)
        self.assertNotIn("input_size", spec["layers"][0])
        self.assertTrue(any("ran 2 times" in n for n in r.notes))

    def test_dataparallel(self):
        model = nn.DataParallel(nn.Sequential(B.DyNet2D(3, 4, 3, num_experts=2)))
        r, spec = self.export(model, torch.randn(1, 3, 5, 5))
        self.assertEqual(spec["layers"][0]["state_dict"], {"conv": "0"})
        self.assertIn("0.weight", r.tensors)

    def test_bad_package(self):
        with self.assertRaises(ValueError):
            self.export(nn.Conv2d(1, 1, 1), torch.randn(1, 1, 2, 2), package="Bad")
        with self.assertRaises(ValueError):
            self.export(nn.Conv2d(1, 1, 1), torch.randn(1, 1, 2, 2), package="func")

    def test_training_mode_restored(self):
        model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4)).train()
        mean = model[1].running_mean.clone()
        self.export(model, torch.randn(2, 3, 4, 4))
        self.assertTrue(model.training)
        self.assertTrue(torch.equal(model[1].running_mean, mean))

    def test_cli(self):
        py = os.path.join(self.dir, "netmod.py")
        with open(py, "w") as f:
            f.write("import sys\nsys.path.insert(0, %r)\nimport dygen_blocks as B\n"
                    "def build():\n    return B.DyBasicBlock(8, 8, num_experts=2)\n" % HERE)
        exe = os.path.join(HERE, "dygen_export.py")
        h = subprocess.run([sys.executable, exe, "--help"], capture_output=True, text=True)
        self.assertEqual(h.returncode, 0, h.stderr)
        self.assertIn("--model", h.stdout)
        spec, weights = os.path.join(self.dir, "c.yaml"), os.path.join(self.dir, "c.safetensors")
        run = subprocess.run([sys.executable, exe, "--model", py + ":build", "--input", "1,8,6,6",
                              "--spec", spec, "--weights", weights, "--package", "cli"],
                             capture_output=True, text=True)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn("wrote 2 layer(s)", run.stderr)
        s = E.read_spec(spec)
        self.assertEqual((s["package"], [l["name"] for l in s["layers"]]), ("cli", ["Conv1", "Conv2"]))
        self.assertTrue(s["layers"][1]["residual"])


if __name__ == "__main__":
    unittest.main()
