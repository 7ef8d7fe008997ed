"""Meta-SpikeFormer (Spike-driven Transformer V2) in plain PyTorch.

Mirrors `Spiking_vit_MetaFormer` of BICLab/Spike-Driven-Transformer-V2 classification/models.py
at 35f245f module for module, so `state_dict()` keys and shapes equal the official ones and an
official checkpoint loads unchanged. spikingjelly is not available here, so the multi-step LIF
(tau 2, decay_input, hard reset to 0, fire on H >= v_th) is re-implemented with an arctan
surrogate gradient (spikingjelly's ATan, alpha 2) so the model also trains.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

VARIANTS = {
    "8_384": [96, 192, 384, 480],
    "8_512": [128, 256, 512, 640],
    "8_768": [192, 384, 768, 960],
    "15M": [64, 128, 256, 360],
}


# Strides of downsample1_1, 1_2, 2, 3 and 4 in the official code. Other strides (`strides=`) are
# a spikechip option for small inputs: the weights' shapes do not record them, so a checkpoint
# keeps them in its 'config' (scripts/train_fashion_mnist --strides) and the exporter reads them.
OFFICIAL_STRIDES = (2, 2, 2, 2, 1)


class _SpikeFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, alpha):
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        # spikingjelly's ATan surrogate: heavy tails keep gradients alive through deep stacks
        # of rarely firing LIFs (the sigmoid's exponential tails stalled training here)
        return grad * (ctx.alpha / 2) / (1 + (math.pi / 2 * ctx.alpha * x) ** 2), None


class MultiStepLIFNode(nn.Module):
    """spikingjelly 0.0.0.0.12 MultiStepLIFNode semantics over the leading time axis."""

    def __init__(self, tau=2.0, v_threshold=1.0, v_reset=0.0, detach_reset=True, alpha=2.0):
        super().__init__()
        self.tau, self.v_threshold, self.v_reset = tau, v_threshold, v_reset
        self.detach_reset, self.alpha = detach_reset, alpha
        self.record = False   # when True, the last output spikes are kept in .last_spikes
        self.last_spikes = None

    def forward(self, x_seq):
        v = torch.zeros_like(x_seq[0])
        out = []
        for t in range(x_seq.shape[0]):
            h = v + (x_seq[t] - (v - self.v_reset)) / self.tau
            s = _SpikeFn.apply(h - self.v_threshold, self.alpha)
            sr = s.detach() if self.detach_reset else s
            v = h * (1 - sr) + self.v_reset * sr
            out.append(s)
        out = torch.stack(out)
        if self.record:
            self.last_spikes = out.detach()
        return out


class BNAndPadLayer(nn.Module):
    """BatchNorm followed by padding with the BN's value of 0 (official RepConv helper)."""

    def __init__(self, pad_pixels, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features, eps, momentum)
        self.pad_pixels = pad_pixels

    def forward(self, x):
        out = self.bn(x)
        p = self.pad_pixels
        if p > 0:
            bn = self.bn
            pad_values = bn.bias.detach() - bn.running_mean * bn.weight.detach() / torch.sqrt(
                bn.running_var + bn.eps)
            out = F.pad(out, [p] * 4)
            pv = pad_values.view(1, -1, 1, 1)
            out[:, :, 0:p, :] = pv
            out[:, :, -p:, :] = pv
            out[:, :, :, 0:p] = pv
            out[:, :, :, -p:] = pv
        return out


class RepConv(nn.Module):
    def __init__(self, in_channel, out_channel, bias=False):
        super().__init__()
        conv1x1 = nn.Conv2d(in_channel, in_channel, 1, 1, 0, bias=False, groups=1)
        bn = BNAndPadLayer(pad_pixels=1, num_features=in_channel)
        conv3x3 = nn.Sequential(
            nn.Conv2d(in_channel, in_channel, 3, 1, 0, groups=in_channel, bias=False),
            nn.Conv2d(in_channel, out_channel, 1, 1, 0, groups=1, bias=False),
            nn.BatchNorm2d(out_channel),
        )
        self.body = nn.Sequential(conv1x1, bn, conv3x3)

    def forward(self, x):
        return self.body(x)


class SepConv(nn.Module):
    def __init__(self, dim, expansion_ratio=2, bias=False, kernel_size=7, padding=3):
        super().__init__()
        med = int(expansion_ratio * dim)
        self.lif1 = MultiStepLIFNode()
        self.pwconv1 = nn.Conv2d(dim, med, kernel_size=1, stride=1, bias=bias)
        self.bn1 = nn.BatchNorm2d(med)
        self.lif2 = MultiStepLIFNode()
        self.dwconv = nn.Conv2d(med, med, kernel_size=kernel_size, padding=padding, groups=med,
                                bias=bias)
        self.pwconv2 = nn.Conv2d(med, dim, kernel_size=1, stride=1, bias=bias)
        self.bn2 = nn.BatchNorm2d(dim)

    def forward(self, x):
        T, B, C, H, W = x.shape
        x = self.lif1(x)
        x = self.bn1(self.pwconv1(x.flatten(0, 1))).reshape(T, B, -1, H, W)
        x = self.lif2(x)
        x = self.dwconv(x.flatten(0, 1))
        x = self.bn2(self.pwconv2(x)).reshape(T, B, -1, H, W)
        return x


class MS_ConvBlock(nn.Module):
    def __init__(self, dim, mlp_ratio=4):
        super().__init__()
        self.Conv = SepConv(dim=dim)
        self.lif1 = MultiStepLIFNode()
        self.conv1 = nn.Conv2d(dim, dim * mlp_ratio, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(dim * mlp_ratio)
        self.lif2 = MultiStepLIFNode()
        self.conv2 = nn.Conv2d(dim * mlp_ratio, dim, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(dim)
        self.mlp_ratio = mlp_ratio

    def forward(self, x):
        T, B, C, H, W = x.shape
        x = self.Conv(x) + x
        x_feat = x
        x = self.bn1(self.conv1(self.lif1(x).flatten(0, 1))).reshape(T, B, self.mlp_ratio * C, H, W)
        x = self.bn2(self.conv2(self.lif2(x).flatten(0, 1))).reshape(T, B, C, H, W)
        return x_feat + x


class MS_MLP(nn.Module):
    def __init__(self, in_features, hidden_features):
        super().__init__()
        self.fc1_conv = nn.Conv1d(in_features, hidden_features, kernel_size=1, stride=1)
        self.fc1_bn = nn.BatchNorm1d(hidden_features)
        self.fc1_lif = MultiStepLIFNode()
        self.fc2_conv = nn.Conv1d(hidden_features, in_features, kernel_size=1, stride=1)
        self.fc2_bn = nn.BatchNorm1d(in_features)
        self.fc2_lif = MultiStepLIFNode()
        self.c_hidden = hidden_features

    def forward(self, x):
        T, B, C, H, W = x.shape
        N = H * W
        x = x.flatten(3)
        x = self.fc1_lif(x)
        x = self.fc1_bn(self.fc1_conv(x.flatten(0, 1))).reshape(T, B, self.c_hidden, N)
        x = self.fc2_lif(x)
        x = self.fc2_bn(self.fc2_conv(x.flatten(0, 1))).reshape(T, B, C, H, W)
        return x


class MS_Attention_RepConv_qkv_id(nn.Module):
    def __init__(self, dim, num_heads=8):
        super().__init__()
        assert dim % num_heads == 0, f"dim {dim} should be divided by num_heads {num_heads}."
        self.dim, self.num_heads, self.scale = dim, num_heads, 0.125
        self.head_lif = MultiStepLIFNode()
        self.q_conv = nn.Sequential(RepConv(dim, dim), nn.BatchNorm2d(dim))
        self.k_conv = nn.Sequential(RepConv(dim, dim), nn.BatchNorm2d(dim))
        self.v_conv = nn.Sequential(RepConv(dim, dim), nn.BatchNorm2d(dim))
        self.q_lif = MultiStepLIFNode()
        self.k_lif = MultiStepLIFNode()
        self.v_lif = MultiStepLIFNode()
        self.attn_lif = MultiStepLIFNode(v_threshold=0.5)
        self.proj_conv = nn.Sequential(RepConv(dim, dim), nn.BatchNorm2d(dim))

    def _heads(self, s, T, B, C, N):
        h = self.num_heads
        return s.flatten(3).transpose(-1, -2).reshape(T, B, N, h, C // h).permute(0, 1, 3, 2, 4)

    def forward(self, x):
        T, B, C, H, W = x.shape
        N = H * W
        x = self.head_lif(x)
        xf = x.flatten(0, 1)
        q = self.q_lif(self.q_conv(xf).reshape(T, B, C, H, W))
        k = self.k_lif(self.k_conv(xf).reshape(T, B, C, H, W))
        v = self.v_lif(self.v_conv(xf).reshape(T, B, C, H, W))
        q, k, v = (self._heads(a, T, B, C, N) for a in (q, k, v))
        x = k.transpose(-2, -1) @ v
        x = (q @ x) * self.scale
        x = x.transpose(3, 4).reshape(T, B, C, N)
        x = self.attn_lif(x).reshape(T, B, C, H, W)
        return self.proj_conv(x.flatten(0, 1)).reshape(T, B, C, H, W)


class MS_Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio=4):
        super().__init__()
        self.attn = MS_Attention_RepConv_qkv_id(dim, num_heads=num_heads)
        self.mlp = MS_MLP(in_features=dim, hidden_features=int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(x)
        return x + self.mlp(x)


class MS_DownSampling(nn.Module):
    def __init__(self, in_channels, embed_dims, kernel_size=3, stride=2, padding=1,
                 first_layer=True):
        super().__init__()
        self.encode_conv = nn.Conv2d(in_channels, embed_dims, kernel_size=kernel_size,
                                     stride=stride, padding=padding)
        self.encode_bn = nn.BatchNorm2d(embed_dims)
        if not first_layer:
            self.encode_lif = MultiStepLIFNode()

    def forward(self, x):
        T, B = x.shape[:2]
        if hasattr(self, "encode_lif"):
            x = self.encode_lif(x)
        x = self.encode_conv(x.flatten(0, 1))
        _, _, H, W = x.shape
        return self.encode_bn(x).reshape(T, B, -1, H, W)


class Spiking_vit_MetaFormer(nn.Module):
    """Official structure; `blocks3`/`blocks4` generalise the fixed 6/2 of the official code."""

    def __init__(self, img_size_h=224, img_size_w=224, embed_dim=(96, 192, 384, 480),
                 num_heads=8, mlp_ratios=4, in_channels=3, num_classes=1000, blocks3=6,
                 blocks4=2, T=1, kd=False, strides=None):
        super().__init__()
        e = list(embed_dim)
        st = list(strides) if strides is not None else list(OFFICIAL_STRIDES)
        if len(st) != 5 or not all(isinstance(v, int) and v >= 1 for v in st):
            raise ValueError(f"strides {strides!r}: five positive integers (downsample1_1, 1_2, 2, 3, 4)")
        self.strides = st
        self.config = dict(img_size_h=img_size_h, img_size_w=img_size_w, embed_dim=e,
                           num_heads=num_heads, mlp_ratios=mlp_ratios, in_channels=in_channels,
                           num_classes=num_classes, blocks3=blocks3, blocks4=blocks4, T=T, kd=kd)
        if st != list(OFFICIAL_STRIDES):     # recorded only when not the official layout
            self.config["strides"] = st
        self.T = T
        self.num_classes = num_classes
        self.downsample1_1 = MS_DownSampling(in_channels, e[0] // 2, 7, st[0], 3, first_layer=True)
        self.ConvBlock1_1 = nn.ModuleList([MS_ConvBlock(e[0] // 2, mlp_ratios)])
        self.downsample1_2 = MS_DownSampling(e[0] // 2, e[0], 3, st[1], 1, first_layer=False)
        self.ConvBlock1_2 = nn.ModuleList([MS_ConvBlock(e[0], mlp_ratios)])
        self.downsample2 = MS_DownSampling(e[0], e[1], 3, st[2], 1, first_layer=False)
        self.ConvBlock2_1 = nn.ModuleList([MS_ConvBlock(e[1], mlp_ratios)])
        self.ConvBlock2_2 = nn.ModuleList([MS_ConvBlock(e[1], mlp_ratios)])
        self.downsample3 = MS_DownSampling(e[1], e[2], 3, st[3], 1, first_layer=False)
        self.block3 = nn.ModuleList([MS_Block(e[2], num_heads, mlp_ratios) for _ in range(blocks3)])
        self.downsample4 = MS_DownSampling(e[2], e[3], 3, st[4], 1, first_layer=False)
        self.block4 = nn.ModuleList([MS_Block(e[3], num_heads, mlp_ratios) for _ in range(blocks4)])
        self.lif = MultiStepLIFNode()
        self.head = nn.Linear(e[3], num_classes) if num_classes > 0 else nn.Identity()
        self.kd = kd
        if kd:
            self.head_kd = nn.Linear(e[3], num_classes) if num_classes > 0 else nn.Identity()
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)

    def forward_features(self, x):
        x = self.downsample1_1(x)
        for blk in self.ConvBlock1_1:
            x = blk(x)
        x = self.downsample1_2(x)
        for blk in self.ConvBlock1_2:
            x = blk(x)
        x = self.downsample2(x)
        for blk in self.ConvBlock2_1:
            x = blk(x)
        for blk in self.ConvBlock2_2:
            x = blk(x)
        x = self.downsample3(x)
        for blk in self.block3:
            x = blk(x)
        x = self.downsample4(x)
        for blk in self.block4:
            x = blk(x)
        return x

    def forward(self, x):
        x = x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)
        return self.forward_seq(x)

    def forward_seq(self, x):
        """x: [T, B, C, H, W] (per-timestep input, e.g. event frames)."""
        x = self.forward_features(x)
        x = x.flatten(3).mean(3)
        self.final_lif_input = x.detach()
        x_lif = self.lif(x)
        out = self.head(x_lif).mean(0)
        if self.kd:
            out_kd = self.head_kd(x_lif).mean(0)
            if self.training:
                return out, out_kd
            return (out + out_kd) / 2
        return out

    def lif_modules(self):
        """(module path, LIF) in forward order, as the official names."""
        return [(n, m) for n, m in self.named_modules() if isinstance(m, MultiStepLIFNode)]

    def record_spikes(self, on=True):
        for _, m in self.lif_modules():
            m.record = on
            m.last_spikes = None


def build(variant=None, **kw):
    """Model of a named official variant (8_384, 8_512, 8_768, 15M) or custom dims."""
    if variant is not None:
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
        kw.setdefault("embed_dim", VARIANTS[variant])
    return Spiking_vit_MetaFormer(**kw)
