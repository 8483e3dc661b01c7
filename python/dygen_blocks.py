"""dygen_blocks: PyTorch re-implementations of the dynamic convs dygen supports
and of the golden blocks, with loaders for the golden files.

The modules copy the forward code of the references the golden READMEs name
(../shared/golden-family/README.md, ../shared/golden-blocks/README.md):

- DyNet2D: the seed's DyNet2D (the 0809zheng blog post), a _ConvNd with a
  [K, Cout, Cin/g, KH, KW] weight, a static [Cout] bias and
  _coefficient_fn.fc (nn.Linear Cin -> K*Cout); gate softmax over K per
  output channel, or sigmoid (the DyNet paper's text);
- CondConv2d, BatchNormAct2d, CondConvResidual: timm's
  (timm/layers/cond_conv2d.py, timm/layers/norm_act.py,
  timm/models/_efficientnet_blocks.py), trimmed to what these blocks use;
- attention2d, Dynamic_conv2d: DY-CNN (kaijieshi7/Dynamic-convolution-Pytorch,
  dynamic_conv.py);
- Attention, ODConv2d: ODConv (OSVAI/ODConv, modules/odconv.py);
- DyBasicBlock: torchvision's ResNet BasicBlock with DyNet2D convs;
- DyInvertedResidual: MobileNetV2's inverted residual as one flat Sequential
  named conv, with DyNet2D convs.

Extensions over the references, all off by default: padding_mode for
CondConv2d and Dynamic_conv2d (applied as PyTorch's Conv2d applies it: F.pad,
then the conv without padding; the golden family's generator does the same),
attention_channels for Dynamic_conv2d and ODConv2d (the references derive the
width from a ratio), and gate for DyNet2D.

The loaders build a block or a family layer from a golden file's metadata
and fill it from the file's tensors:

    model, inputs, want, meta = golden_block("dyresnet_basic")
    y = model.double()(*[t.double() for t in inputs])   # compare with want (output_f64)

    model, inputs, want, spec = family_case("case000")

Golden files are looked up in $DYGEN_GOLDEN_BLOCKS / $DYGEN_GOLDEN_FAMILY, or
../../shared/golden-blocks and ../../shared/golden-family relative to this
file.
"""

import functools
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules.conv import _ConvNd
from torch.nn.modules.utils import _pair

from dygen_export import read_safetensors

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN_BLOCKS = os.environ.get("DYGEN_GOLDEN_BLOCKS", os.path.join(HERE, "..", "..", "shared", "golden-blocks"))
GOLDEN_FAMILY = os.environ.get("DYGEN_GOLDEN_FAMILY", os.path.join(HERE, "..", "..", "shared", "golden-family"))


# ---------------------------------------------------------------------------
# DyNet2D (the seed)


class _CoefficientFn(nn.Module):
    """DyNet's coefficient prediction from the pooled input: dropout, an FC to
    K*Cout logits viewed as [K, Cout], and a gate over the experts."""

    def __init__(self, in_channels, out_channels, num_experts, dropout_rate, gate="softmax"):
        super().__init__()
        self.num_experts, self.out_channels, self.gate = num_experts, out_channels, gate
        self.dropout = nn.Dropout(dropout_rate)
        self.fc = nn.Linear(in_channels, num_experts * out_channels)

    def forward(self, x):
        x = torch.flatten(x, 1)
        x = self.dropout(x)
        x = self.fc(x).view(-1, self.num_experts, self.out_channels)
        if self.gate == "softmax":
            return torch.softmax(x, dim=1)
        return torch.sigmoid(x)


class DyNet2D(_ConvNd):
    """The seed's dynamic conv: each sample's kernel is W'[o] = sum_k pi[k, o] * weight[k, o]."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", num_experts=3, dropout_rate=0.2, gate="softmax"):
        kernel_size = _pair(kernel_size)
        stride = _pair(stride)
        padding = padding if isinstance(padding, str) else _pair(padding)
        dilation = _pair(dilation)
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, False, _pair(0),
                         groups, bias, padding_mode)
        self.num_experts = num_experts
        self._avg_pooling = functools.partial(F.adaptive_avg_pool2d, output_size=(1, 1))
        self._coefficient_fn = _CoefficientFn(in_channels, out_channels, num_experts, dropout_rate, gate)
        self.weight = nn.Parameter(torch.empty(num_experts, out_channels, in_channels // groups, *kernel_size))
        self.reset_parameters()

    def _conv_forward(self, input, weight, bias):
        if self.padding_mode != "zeros":
            return F.conv2d(F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode),
                            weight, bias, self.stride, _pair(0), self.dilation, self.groups)
        return F.conv2d(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, inputs):
        pooled = self._avg_pooling(inputs)
        coefficients = self._coefficient_fn(pooled)                             # [N, K, Cout]
        kernels = torch.einsum("nko,koihw->noihw", coefficients, self.weight)   # [N, Cout, Cin/g, KH, KW]
        res = [self._conv_forward(inputs[i:i + 1], kernels[i], self.bias) for i in range(inputs.shape[0])]
        return torch.cat(res, dim=0)


# ---------------------------------------------------------------------------
# timm: CondConv2d, BatchNormAct2d, CondConvResidual


def get_padding(kernel_size, stride=1, dilation=1, **_):
    return ((stride - 1) + dilation * (kernel_size - 1)) // 2


def is_static_pad(kernel_size, stride=1, dilation=1, **_):
    return stride == 1 and (dilation * (kernel_size - 1)) % 2 == 0


def get_padding_value(padding, kernel_size, **kwargs):
    dynamic = False
    if isinstance(padding, str):
        padding = padding.lower()
        if padding == "same":
            if is_static_pad(kernel_size, **kwargs):
                padding = get_padding(kernel_size, **kwargs)
            else:
                padding = 0
                dynamic = True
        elif padding == "valid":
            padding = 0
        else:
            padding = get_padding(kernel_size, **kwargs)
    return padding, dynamic


def _same_pad(x, k, s, d):
    return max((math.ceil(x / s) - 1) * s + (k - 1) * d + 1 - x, 0)


def conv2d_same(x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    ih, iw = x.shape[-2:]
    kh, kw = weight.shape[-2:]
    ph, pw = _same_pad(ih, kh, stride[0], dilation[0]), _same_pad(iw, kw, stride[1], dilation[1])
    x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
    return F.conv2d(x, weight, bias, stride, (0, 0), dilation, groups)


class CondConv2d(nn.Module):
    """timm's CondConv2d: weight [K, Cout*Cin/g*KH*KW], bias [K, Cout]; forward(x, routing_weights [N, K])."""

    __constants__ = ["in_channels", "out_channels", "dynamic_padding"]

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding="", dilation=1, groups=1,
                 bias=False, num_experts=4, padding_mode="zeros"):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        padding_val, is_padding_dynamic = get_padding_value(padding, kernel_size, stride=stride, dilation=dilation)
        self.dynamic_padding = is_padding_dynamic
        self.padding = _pair(padding_val)
        self.dilation = _pair(dilation)
        self.groups = groups
        self.num_experts = num_experts
        self.padding_mode = padding_mode  # extension: not in timm

        self.weight_shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        weight_num_param = 1
        for wd in self.weight_shape:
            weight_num_param *= wd
        self.weight = nn.Parameter(torch.Tensor(self.num_experts, weight_num_param))
        if bias:
            self.bias_shape = (self.out_channels,)
            self.bias = nn.Parameter(torch.Tensor(self.num_experts, self.out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        fan_in = self.weight_shape[1] * self.kernel_size[0] * self.kernel_size[1]
        bound = 1 / math.sqrt(fan_in)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x, routing_weights):
        B, C, H, W = x.shape
        weight = torch.matmul(routing_weights, self.weight)
        new_weight_shape = (B * self.out_channels, self.in_channels // self.groups) + self.kernel_size
        weight = weight.view(new_weight_shape)
        bias = None
        if self.bias is not None:
            bias = torch.matmul(routing_weights, self.bias)
            bias = bias.view(B * self.out_channels)
        x = x.reshape(1, B * C, H, W)
        if self.dynamic_padding:
            out = conv2d_same(x, weight, bias, stride=self.stride, padding=self.padding,
                              dilation=self.dilation, groups=self.groups * B)
        elif self.padding_mode != "zeros":
            ph, pw = self.padding
            out = F.conv2d(F.pad(x, (pw, pw, ph, ph), mode=self.padding_mode), weight, bias, stride=self.stride,
                           padding=0, dilation=self.dilation, groups=self.groups * B)
        else:
            out = F.conv2d(x, weight, bias, stride=self.stride, padding=self.padding,
                           dilation=self.dilation, groups=self.groups * B)
        out = out.permute([1, 0, 2, 3]).view(B, self.out_channels, out.shape[-2], out.shape[-1])
        return out


class BatchNormAct2d(nn.BatchNorm2d):
    """timm's BatchNormAct2d: BatchNorm2d, then drop, then act."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 apply_act=True, act_layer=nn.ReLU, inplace=True, drop_layer=None):
        super().__init__(num_features, eps=eps, momentum=momentum, affine=affine,
                         track_running_stats=track_running_stats)
        self.drop = drop_layer() if drop_layer is not None else nn.Identity()
        self.act = act_layer(inplace=inplace) if apply_act else nn.Identity()

    def forward(self, x):
        if self.momentum is None:
            exponential_average_factor = 0.0
        else:
            exponential_average_factor = self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                exponential_average_factor = 1.0 / float(self.num_batches_tracked)
            else:
                exponential_average_factor = self.momentum
        if self.training:
            bn_training = True
        else:
            bn_training = (self.running_mean is None) and (self.running_var is None)
        x = F.batch_norm(
            x,
            self.running_mean if not self.training or self.track_running_stats else None,
            self.running_var if not self.training or self.track_running_stats else None,
            self.weight, self.bias, bn_training, exponential_average_factor, self.eps)
        x = self.drop(x)
        x = self.act(x)
        return x


def make_divisible(v, divisor=8, min_value=None, round_limit=0.9):
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < round_limit * v:
        new_v += divisor
    return new_v


class CondConvResidual(nn.Module):
    """timm's CondConvResidual (an InvertedResidual with CondConv2d convs and a
    routing_fn on the block input shared by the three convs), without
    squeeze-excite, anti-aliasing or drop path."""

    def __init__(self, in_chs, out_chs, dw_kernel_size=3, stride=1, dilation=1, group_size=1, pad_type="",
                 noskip=False, exp_ratio=1.0, exp_kernel_size=1, pw_kernel_size=1, act_layer=nn.ReLU,
                 norm_layer=BatchNormAct2d, num_experts=0):
        super().__init__()
        self.num_experts = num_experts
        mid_chs = make_divisible(in_chs * exp_ratio)
        groups = mid_chs // group_size if group_size else 1
        self.has_skip = (in_chs == out_chs and stride == 1) and not noskip
        self.conv_pw = CondConv2d(in_chs, mid_chs, exp_kernel_size, padding=pad_type, num_experts=num_experts)
        self.bn1 = norm_layer(mid_chs, act_layer=act_layer)
        self.conv_dw = CondConv2d(mid_chs, mid_chs, dw_kernel_size, stride=stride, dilation=dilation,
                                  groups=groups, padding=pad_type, num_experts=num_experts)
        self.bn2 = norm_layer(mid_chs, act_layer=act_layer)
        self.aa = nn.Identity()
        self.se = nn.Identity()
        self.conv_pwl = CondConv2d(mid_chs, out_chs, pw_kernel_size, padding=pad_type, num_experts=num_experts)
        self.bn3 = norm_layer(out_chs, apply_act=False)
        self.drop_path = nn.Identity()
        self.routing_fn = nn.Linear(in_chs, self.num_experts)

    def forward(self, x):
        shortcut = x
        pooled_inputs = F.adaptive_avg_pool2d(x, 1).flatten(1)
        routing_weights = torch.sigmoid(self.routing_fn(pooled_inputs))
        x = self.conv_pw(x, routing_weights)
        x = self.bn1(x)
        x = self.conv_dw(x, routing_weights)
        x = self.bn2(x)
        x = self.aa(x)
        x = self.se(x)
        x = self.conv_pwl(x, routing_weights)
        x = self.bn3(x)
        if self.has_skip:
            x = self.drop_path(x) + shortcut
        return x


# ---------------------------------------------------------------------------
# DY-CNN (kaijieshi7/Dynamic-convolution-Pytorch)


class attention2d(nn.Module):
    def __init__(self, in_planes, ratios, K, temperature, init_weight=True, hidden_planes=None):
        super().__init__()
        assert temperature % 3 == 1
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        if hidden_planes is None:  # extension: the reference always derives it
            if in_planes != 3:
                hidden_planes = int(in_planes * ratios) + 1
            else:
                hidden_planes = K
        self.fc1 = nn.Conv2d(in_planes, hidden_planes, 1, bias=False)
        self.fc2 = nn.Conv2d(hidden_planes, K, 1, bias=True)
        self.temperature = temperature
        if init_weight:
            self._initialize_weights()

    def _initialize_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)

    def updata_temperature(self):
        if self.temperature != 1:
            self.temperature -= 3

    def forward(self, x):
        x = self.avgpool(x)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.fc2(x).view(x.size(0), -1)
        return F.softmax(x / self.temperature, 1)


class Dynamic_conv2d(nn.Module):
    def __init__(self, in_planes, out_planes, kernel_size, ratio=0.25, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, K=4, temperature=34, init_weight=True, padding_mode="zeros", attention_channels=None):
        super().__init__()
        assert in_planes % groups == 0
        self.in_planes = in_planes
        self.out_planes = out_planes
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.bias = bias
        self.K = K
        self.padding_mode = padding_mode  # extension
        self.attention = attention2d(in_planes, ratio, K, temperature, hidden_planes=attention_channels)
        self.weight = nn.Parameter(torch.randn(K, out_planes, in_planes // groups, kernel_size, kernel_size),
                                   requires_grad=True)
        if bias:
            self.bias = nn.Parameter(torch.zeros(K, out_planes))
        else:
            self.bias = None
        if init_weight:
            self._initialize_weights()

    def _initialize_weights(self):
        for i in range(self.K):
            nn.init.kaiming_uniform_(self.weight[i])

    def update_temperature(self):
        self.attention.updata_temperature()

    def forward(self, x):
        softmax_attention = self.attention(x)
        batch_size, in_planes, height, width = x.size()
        if self.padding_mode != "zeros":
            p = self.padding
            x = F.pad(x, (p, p, p, p), mode=self.padding_mode)
            height, width = x.shape[-2:]
            padding = 0
        else:
            padding = self.padding
        x = x.reshape(1, -1, height, width)
        weight = self.weight.view(self.K, -1)
        aggregate_weight = torch.mm(softmax_attention, weight).view(
            batch_size * self.out_planes, self.in_planes // self.groups, self.kernel_size, self.kernel_size)
        if self.bias is not None:
            aggregate_bias = torch.mm(softmax_attention, self.bias).view(-1)
            output = F.conv2d(x, weight=aggregate_weight, bias=aggregate_bias, stride=self.stride, padding=padding,
                              dilation=self.dilation, groups=self.groups * batch_size)
        else:
            output = F.conv2d(x, weight=aggregate_weight, bias=None, stride=self.stride, padding=padding,
                              dilation=self.dilation, groups=self.groups * batch_size)
        output = output.view(batch_size, self.out_planes, output.size(-2), output.size(-1))
        return output


# ---------------------------------------------------------------------------
# ODConv (OSVAI/ODConv)


class Attention(nn.Module):
    def __init__(self, in_planes, out_planes, kernel_size, groups=1, reduction=0.0625, kernel_num=4, min_channel=16):
        super().__init__()
        attention_channel = max(int(in_planes * reduction), min_channel)
        self.kernel_size = kernel_size
        self.kernel_num = kernel_num
        self.temperature = 1.0

        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Conv2d(in_planes, attention_channel, 1, bias=False)
        self.bn = nn.BatchNorm2d(attention_channel)
        self.relu = nn.ReLU(inplace=True)

        self.channel_fc = nn.Conv2d(attention_channel, in_planes, 1, bias=True)
        self.func_channel = self.get_channel_attention

        if in_planes == groups and in_planes == out_planes:  # depth-wise convolution
            self.func_filter = self.skip
        else:
            self.filter_fc = nn.Conv2d(attention_channel, out_planes, 1, bias=True)
            self.func_filter = self.get_filter_attention

        if kernel_size == 1:  # point-wise convolution
            self.func_spatial = self.skip
        else:
            self.spatial_fc = nn.Conv2d(attention_channel, kernel_size * kernel_size, 1, bias=True)
            self.func_spatial = self.get_spatial_attention

        if kernel_num == 1:
            self.func_kernel = self.skip
        else:
            self.kernel_fc = nn.Conv2d(attention_channel, kernel_num, 1, bias=True)
            self.func_kernel = self.get_kernel_attention

        self._initialize_weights()

    def _initialize_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            if isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def update_temperature(self, temperature):
        self.temperature = temperature

    @staticmethod
    def skip(_):
        return 1.0

    def get_channel_attention(self, x):
        return torch.sigmoid(self.channel_fc(x).view(x.size(0), -1, 1, 1) / self.temperature)

    def get_filter_attention(self, x):
        return torch.sigmoid(self.filter_fc(x).view(x.size(0), -1, 1, 1) / self.temperature)

    def get_spatial_attention(self, x):
        spatial_attention = self.spatial_fc(x).view(x.size(0), 1, 1, 1, self.kernel_size, self.kernel_size)
        return torch.sigmoid(spatial_attention / self.temperature)

    def get_kernel_attention(self, x):
        kernel_attention = self.kernel_fc(x).view(x.size(0), -1, 1, 1, 1, 1)
        return F.softmax(kernel_attention / self.temperature, dim=1)

    def forward(self, x):
        x = self.avgpool(x)
        x = self.fc(x)
        x = self.bn(x)
        x = self.relu(x)
        return self.func_channel(x), self.func_filter(x), self.func_spatial(x), self.func_kernel(x)


class ODConv2d(nn.Module):
    def __init__(self, in_planes, out_planes, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 reduction=0.0625, kernel_num=4, attention_channels=None):
        super().__init__()
        self.in_planes = in_planes
        self.out_planes = out_planes
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.kernel_num = kernel_num
        if attention_channels is None:
            self.attention = Attention(in_planes, out_planes, kernel_size, groups=groups,
                                       reduction=reduction, kernel_num=kernel_num)
        else:  # extension: any width
            self.attention = Attention(in_planes, out_planes, kernel_size, groups=groups,
                                       reduction=0.0, kernel_num=kernel_num, min_channel=attention_channels)
        self.weight = nn.Parameter(torch.randn(kernel_num, out_planes, in_planes // groups, kernel_size, kernel_size),
                                   requires_grad=True)
        self._initialize_weights()

        if self.kernel_size == 1 and self.kernel_num == 1:
            self._forward_impl = self._forward_impl_pw1x
        else:
            self._forward_impl = self._forward_impl_common

    def _initialize_weights(self):
        for i in range(self.kernel_num):
            nn.init.kaiming_normal_(self.weight[i], mode="fan_out", nonlinearity="relu")

    def update_temperature(self, temperature):
        self.attention.update_temperature(temperature)

    def _forward_impl_common(self, x):
        channel_attention, filter_attention, spatial_attention, kernel_attention = self.attention(x)
        batch_size, in_planes, height, width = x.size()
        x = x * channel_attention
        x = x.reshape(1, -1, height, width)
        aggregate_weight = spatial_attention * kernel_attention * self.weight.unsqueeze(dim=0)
        aggregate_weight = torch.sum(aggregate_weight, dim=1).view(
            [-1, self.in_planes // self.groups, self.kernel_size, self.kernel_size])
        output = F.conv2d(x, weight=aggregate_weight, bias=None, stride=self.stride, padding=self.padding,
                          dilation=self.dilation, groups=self.groups * batch_size)
        output = output.view(batch_size, self.out_planes, output.size(-2), output.size(-1))
        output = output * filter_attention
        return output

    def _forward_impl_pw1x(self, x):
        channel_attention, filter_attention, spatial_attention, kernel_attention = self.attention(x)
        x = x * channel_attention
        output = F.conv2d(x, weight=self.weight.squeeze(dim=0), bias=None, stride=self.stride, padding=self.padding,
                          dilation=self.dilation, groups=self.groups)
        output = output * filter_attention
        return output

    def forward(self, x):
        return self._forward_impl(x)


# ---------------------------------------------------------------------------
# the golden blocks


class DyBasicBlock(nn.Module):
    """torchvision's ResNet BasicBlock with both 3x3 convs replaced by DyNet2D."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, num_experts=4):
        super().__init__()
        self.conv1 = DyNet2D(inplanes, planes, 3, stride=stride, padding=1, bias=False, num_experts=num_experts)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = DyNet2D(planes, planes, 3, padding=1, bias=False, num_experts=num_experts)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        out = self.relu(out)
        return out


class DyInvertedResidual(nn.Module):
    """MobileNetV2's inverted residual as one flat Sequential named conv, with DyNet2D convs."""

    def __init__(self, inp, oup, stride=1, expand_ratio=6, num_experts=4):
        super().__init__()
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        self.conv = nn.Sequential(
            DyNet2D(inp, hidden_dim, 1, 1, 0, bias=False, num_experts=num_experts),
            nn.BatchNorm2d(hidden_dim),
            nn.ReLU6(inplace=True),
            DyNet2D(hidden_dim, hidden_dim, 3, stride, 1, groups=hidden_dim, bias=False, num_experts=num_experts),
            nn.BatchNorm2d(hidden_dim),
            nn.ReLU6(inplace=True),
            DyNet2D(hidden_dim, oup, 1, 1, 0, bias=False, num_experts=num_experts),
            nn.BatchNorm2d(oup),
        )

    def forward(self, x):
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


def _golden_path(dir_, name):
    if os.path.exists(name):
        return name
    if not name.endswith(".safetensors"):
        name += ".safetensors"
    return os.path.join(dir_, name)


def load_golden(path):
    """(tensors, metadata) of a golden file, with the JSON metadata values
    (block, spec) decoded."""
    tensors, meta = read_safetensors(path)
    meta = dict(meta)
    for k in ("block", "spec"):
        if k in meta:
            meta[k] = json.loads(meta[k])
    return tensors, meta


def build_block(block):
    """An untrained block for a golden file's __metadata__.block."""
    kind = block["kind"]
    convs = [c["spec"] for c in block["convs"]]
    K = convs[0]["num_experts"]
    if kind == "dyresnet_basic":
        return DyBasicBlock(convs[0]["in_channels"], convs[0]["out_channels"], stride=convs[0]["stride"][0],
                            num_experts=K)
    if kind == "dymobilenetv2_ir":
        inp, hidden, oup = convs[0]["in_channels"], convs[0]["out_channels"], convs[2]["out_channels"]
        return DyInvertedResidual(inp, oup, stride=convs[1]["stride"][0], expand_ratio=hidden / inp, num_experts=K)
    if kind == "condconv_residual":
        inp, mid, oup = convs[0]["in_channels"], convs[0]["out_channels"], convs[2]["out_channels"]
        return CondConvResidual(inp, oup, dw_kernel_size=convs[1]["kernel_size"][0], stride=convs[1]["stride"][0],
                                exp_ratio=mid / inp, act_layer=nn.SiLU, num_experts=K)
    raise ValueError("unknown block kind %r" % kind)


def load_state(model, tensors, names=None):
    """Loads tensors into model (names: file name -> state_dict name); every
    state_dict entry but num_batches_tracked must be given, and every given
    tensor must be used."""
    sd = {}
    for k, t in tensors.items():
        n = names(k) if names else k
        if n is not None:
            sd[n] = t
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [m for m in missing if not m.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ValueError("state dict mismatch: missing %s, unexpected %s" % (missing, unexpected))
    return model


BLOCK_NAMES = ("dyresnet_basic", "dymobilenetv2_ir", "condconv_residual")


def golden_block(name, directory=None):
    """(model, inputs, output_f64, block metadata) for a golden block file:
    the block in eval mode, float32, filled from the file; inputs is the
    tuple of forward arguments."""
    path = _golden_path(directory or GOLDEN_BLOCKS, name)
    tensors, meta = load_golden(path)
    block = meta["block"]
    model = build_block(block)
    skip = {"input", "output", "output_f64", "routing"}
    load_state(model, tensors, lambda k: None if k in skip else k)
    model.eval()
    return model, (tensors["input"],), tensors["output_f64"], block


# ---------------------------------------------------------------------------
# the golden family: one layer with its epilogue


_ACT_MODULES = {"relu": nn.ReLU, "relu6": nn.ReLU6, "hardswish": nn.Hardswish, "silu": nn.SiLU, "sigmoid": nn.Sigmoid}
_ACT_FUNCS = {"relu": F.relu, "relu6": F.relu6, "hardswish": F.hardswish, "silu": F.silu, "sigmoid": torch.sigmoid}


def build_conv(spec):
    """The conv of a family spec (hyperparameters only)."""
    r = spec.get("routing", "dynet")
    cin, cout, K, g = spec["in_channels"], spec["out_channels"], spec.get("num_experts", 3), spec.get("groups", 1)
    ks, st, pd, dl = (tuple(spec[k]) if isinstance(spec.get(k), list) else spec.get(k, d)
                      for k, d in (("kernel_size", 1), ("stride", 1), ("padding", 0), ("dilation", 1)))
    bias, mode = spec.get("bias", True), spec.get("padding_mode", "zeros")
    if r == "dynet":
        return DyNet2D(cin, cout, ks, st, pd, dl, g, bias, mode, num_experts=K, gate=spec.get("gate", "softmax"))
    if r == "condconv":
        return CondConv2d(cin, cout, ks, st, pd, dl, g, bias, num_experts=K, padding_mode=mode)
    sq = lambda v: v[0] if isinstance(v, tuple) else v  # the references take ints
    if r == "dycnn":
        T = spec.get("temperature", 1.0)
        m = Dynamic_conv2d(cin, cout, sq(ks), stride=sq(st), padding=sq(pd), dilation=sq(dl), groups=g, bias=bias,
                           K=K, padding_mode=mode, attention_channels=spec.get("attention_channels"))
        m.attention.temperature = T
        return m
    if r == "odconv":
        m = ODConv2d(cin, cout, sq(ks), sq(st), sq(pd), sq(dl), g, kernel_num=K,
                     attention_channels=spec.get("attention_channels"))
        m.update_temperature(spec.get("temperature", 1.0))
        return m
    if r == "static":
        return nn.Conv2d(cin, cout, ks, st, pd, dl, g, bias, mode)
    raise ValueError("unknown routing %r" % r)


class FamilyLayer(nn.Module):
    """One family layer: conv (condconv: with routing_fn on its own input), an
    optional BatchNorm2d bn, an optional residual add, the activation (a
    module act, or the functional form when functional_act)."""

    def __init__(self, spec, functional_act=False):
        super().__init__()
        self.routing = spec.get("routing", "dynet")
        self.conv = build_conv(spec)
        if self.routing == "condconv":
            self.routing_fn = nn.Linear(spec["in_channels"], spec.get("num_experts", 3))
        if spec.get("batch_norm"):
            self.bn = nn.BatchNorm2d(spec["out_channels"], eps=spec.get("batch_norm_eps", 1e-5))
        a = spec.get("activation", "none")
        self.act_fn = None
        if a != "none":
            if functional_act:
                self.act_fn = _ACT_FUNCS[a]
            else:
                self.act = _ACT_MODULES[a]()

    def forward(self, x, residual=None):
        if self.routing == "condconv":
            r = torch.sigmoid(self.routing_fn(F.adaptive_avg_pool2d(x, 1).flatten(1)))
            y = self.conv(x, r)
        else:
            y = self.conv(x)
        if hasattr(self, "bn"):
            y = self.bn(y)
        if residual is not None:
            y = y + residual
        if self.act_fn is not None:
            y = self.act_fn(y)
        elif hasattr(self, "act"):
            y = self.act(y)
        return y


def family_names():
    """The golden family case names present, sorted."""
    if not os.path.isdir(GOLDEN_FAMILY):
        return []
    return sorted(f[:-len(".safetensors")] for f in os.listdir(GOLDEN_FAMILY) if f.endswith(".safetensors"))


def family_case(name, directory=None, functional_act=False):
    """(model, inputs, output_f64, spec) for a golden family case: a
    FamilyLayer in eval mode, float32, filled from the file; inputs is
    (input,) or (input, residual)."""
    path = _golden_path(directory or GOLDEN_FAMILY, name)
    tensors, meta = load_golden(path)
    spec = meta["spec"]
    model = FamilyLayer(spec, functional_act=functional_act)

    def rename(k):
        if k in ("input", "output", "output_f64", "residual") or k == "routing" or k.startswith("routing."):
            return None
        if k.startswith("bn.") or k.startswith("routing_fn."):
            return k
        return "conv." + k

    load_state(model, tensors, rename)
    model.eval()
    inputs = (tensors["input"],) + ((tensors["residual"],) if spec.get("residual") else ())
    return model, inputs, tensors["output_f64"], spec


# ---------------------------------------------------------------------------
# command line: export the golden blocks (for the Go round trip in CI)


def main(argv=None):
    """dygen_blocks.py export DIR [--package NAME]: for each golden block,
    builds it, fills it from its golden file, checks it against output_f64,
    and exports DIR/<block>.yaml and DIR/<block>.safetensors. The golden
    file itself holds the input and output_f64 to compare the Go side with."""
    import argparse
    import sys

    from dygen_export import export

    p = argparse.ArgumentParser(prog="dygen_blocks.py", description=main.__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export", help="export the golden blocks")
    e.add_argument("dir")
    e.add_argument("--package", default="blocks", help="the Go package name in the specs")
    e.add_argument("--blocks", default=",".join(BLOCK_NAMES), help="which blocks (comma-separated)")
    a = p.parse_args(argv)
    os.makedirs(a.dir, exist_ok=True)
    for name in a.blocks.split(","):
        model, inputs, want, _ = golden_block(name)
        with torch.no_grad():
            y = model.double()(*[t.double() for t in inputs])
        model.float()
        err = ((y - want).abs().max() / max(1.0, want.abs().max().item())).item()
        if err > 1e-12:
            print("%s: the module does not reproduce output_f64 (relative error %.3g)" % (name, err), file=sys.stderr)
            return 1
        export(model, inputs, os.path.join(a.dir, name + ".yaml"), os.path.join(a.dir, name + ".safetensors"),
               package=a.package)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
